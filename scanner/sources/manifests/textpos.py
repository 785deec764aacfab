"""Line numbers for parsers that do not keep them (tomllib, configparser, json): search the text itself.

Why: a finding must point at the exact line, and TOML/INI/JSON libraries return values only. Searches are
anchored (a section header first, then the first line after a cursor that holds the quoted value or the key),
which is exact for the way these files are written in practice, and falls back to the section line otherwise.

Bounded on hostile input: quoted strings and keys are indexed once (a dictionary of line lists, searched with
``bisect``), and a plain substring search looks at most ``WINDOW`` lines ahead, so a manifest with tens of
thousands of entries costs linear time, not quadratic.
"""

from __future__ import annotations

import re
from bisect import bisect_left

WINDOW = 500
QUOTED_RE = re.compile(r"\"((?:[^\"\\]|\\.)*)\"|'([^'\n]*)'")
KEY_RE = re.compile(r"^\s*(?:\"([^\"]+)\"|'([^']+)'|([A-Za-z0-9_.\-]+))\s*[=:]")


class LineIndex:
    """Lines of one file, with the searches the parsers need."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        self._quoted: dict[str, list[int]] | None = None
        self._keys: dict[str, list[int]] | None = None

    def _build(self) -> None:
        quoted: dict[str, list[int]] = {}
        keys: dict[str, list[int]] = {}
        for number, line in enumerate(self.lines, 1):
            for m in QUOTED_RE.finditer(line):
                value = m.group(1) if m.group(1) is not None else m.group(2)
                places = quoted.setdefault(value, [])
                if not places or places[-1] != number:
                    places.append(number)
            k = KEY_RE.match(line)
            if k:
                keys.setdefault((k.group(1) or k.group(2) or k.group(3)).lower(), []).append(number)
        self._quoted, self._keys = quoted, keys

    @staticmethod
    def _first_at_or_after(places: list[int] | None, start: int) -> int | None:
        if not places:
            return None
        i = bisect_left(places, start)
        return places[i] if i < len(places) else None

    def section(self, header_re: str, start: int = 1) -> int | None:
        """Line of the first header matching ``header_re`` (whole stripped line) at or after ``start``."""
        pattern = re.compile(header_re)
        for number in range(max(start, 1), len(self.lines) + 1):
            if pattern.fullmatch(self.lines[number - 1].strip()):
                return number
        return None

    def toml_table(self, dotted: str, start: int = 1) -> int | None:
        """Line of ``[a.b.c]`` or ``[[a.b.c]]`` (quoted keys and spaces allowed)."""
        parts = [re.escape(p) for p in dotted.split(".")]
        sep = r"\s*\.\s*"
        body = sep.join(rf"(?:{p}|\"{p}\"|'{p}')" for p in parts)
        return self.section(rf"\[\[?\s*{body}\s*\]\]?(\s*#.*)?", start)

    def find(self, needle: str, start: int = 1, default: int | None = None) -> int | None:
        """First line in ``[start, start + WINDOW)`` containing ``needle``."""
        first = max(start, 1)
        for number in range(first, min(first + WINDOW, len(self.lines) + 1)):
            if needle in self.lines[number - 1]:
                return number
        return default

    def find_string(self, value: str, start: int = 1, default: int | None = None) -> int | None:
        """First line at or after ``start`` holding ``value`` as a quoted string (else a plain search)."""
        if self._quoted is None:
            self._build()
        assert self._quoted is not None
        found = self._first_at_or_after(self._quoted.get(value), max(start, 1))
        return found if found is not None else self.find(value, start, default)

    def find_key(self, key: str, start: int = 1, default: int | None = None) -> int | None:
        """First line at or after ``start`` assigning ``key`` (``key =``, ``"key" =``, ``key:``), any case."""
        if self._keys is None:
            self._build()
        assert self._keys is not None
        found = self._first_at_or_after(self._keys.get(key.lower()), max(start, 1))
        return found if found is not None else default

    def all_matching(self, regex: str) -> list[int]:
        """Every line whose stripped text matches ``regex`` fully."""
        pattern = re.compile(regex)
        return [n for n, line in enumerate(self.lines, 1) if pattern.fullmatch(line.strip())]


def toml_error_line(message: str) -> int | None:
    """The line tomllib names in its error message ("... (at line 3, column 7)")."""
    m = re.search(r"at line (\d+)", message)
    return int(m.group(1)) if m else None
