"""Line numbers for parsers that do not keep them (tomllib, configparser, json): search the text itself.

Why: a finding must point at the exact line, and TOML/INI/JSON libraries return values only. The searches are
anchored (a section header first, then the first line after it that holds the quoted value or the key), which
is exact for the way these files are written in practice, and falls back to the section line otherwise.
"""

from __future__ import annotations

import re


class LineIndex:
    """Lines of one file, with the searches the parsers need."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()

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
        """First line at or after ``start`` containing ``needle``."""
        for number in range(max(start, 1), len(self.lines) + 1):
            if needle in self.lines[number - 1]:
                return number
        return default

    def find_string(self, value: str, start: int = 1, default: int | None = None) -> int | None:
        """First line at or after ``start`` holding ``value`` as a quoted string."""
        for quote in ('"', "'"):
            found = self.find(quote + value + quote, start)
            if found is not None:
                return found
        return self.find(value, start, default)

    def find_key(self, key: str, start: int = 1, default: int | None = None) -> int | None:
        """First line at or after ``start`` assigning ``key`` (``key =``, ``"key" =``, ``key:``)."""
        pattern = re.compile(rf"^\s*(?:{re.escape(key)}|\"{re.escape(key)}\"|'{re.escape(key)}')\s*[=:]",
                             re.IGNORECASE)
        for number in range(max(start, 1), len(self.lines) + 1):
            if pattern.match(self.lines[number - 1]):
                return number
        return default

    def all_matching(self, regex: str) -> list[int]:
        """Every line whose stripped text matches ``regex`` fully."""
        pattern = re.compile(regex)
        return [n for n, line in enumerate(self.lines, 1) if pattern.fullmatch(line.strip())]


def toml_error_line(message: str) -> int | None:
    """The line tomllib names in its error message ("... (at line 3, column 7)")."""
    m = re.search(r"at line (\d+)", message)
    return int(m.group(1)) if m else None
