"""Documents as facts: YAML front matter (through :mod:`mlposture.scanner.yamlsafe`) and Markdown headings with lines.

Data cards, datasheets and model cards are judged by which sections they have. Headings inside fenced code blocks
are ignored; setext headings (``Title`` over ``===``) count; the front matter keeps key lines so evidence can
point at ``license:``. A broken front matter is reported (message and line) instead of being silently skipped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from mlposture.scanner import yamlsafe

_ATX = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_FENCE = re.compile(r"^\s{0,3}(```|~~~)")


@dataclass(frozen=True)
class Heading:
    """A heading's text and 1-based line."""

    text: str
    line: int
    level: int


@dataclass(frozen=True)
class Document:
    """A Markdown document: front matter (or the error reading it) and headings."""

    path: str
    front: yamlsafe.YMap | None
    front_error: str | None
    front_error_line: int | None
    headings: tuple[Heading, ...]
    text: str


def parse(text: str, path: str) -> Document:
    """Split front matter (``---`` ... ``---`` at the top) from the body and list the headings."""
    lines = text.splitlines()
    front: yamlsafe.YMap | None = None
    error: str | None = None
    error_line: int | None = None
    body_start = 0
    if lines and lines[0].strip() == "---":
        end = next((i for i in range(1, min(len(lines), 5000)) if lines[i].strip() in ("---", "...")), None)
        if end is None:
            error, error_line = "front matter opened with '---' is never closed", 1
        else:
            body_start = end + 1
            try:
                doc = yamlsafe.load("\n".join(lines[1:end]))
            except yamlsafe.YamlError as exc:
                error, error_line = exc.message, (exc.line + 1 if exc.line else 1)
            else:
                if isinstance(doc, yamlsafe.YMap):
                    front = _shift(doc, 1)
                elif doc is not None:
                    error, error_line = "front matter is not a mapping", 2
    headings: list[Heading] = []
    fenced = False
    for i in range(body_start, len(lines)):
        line = lines[i]
        if _FENCE.match(line):
            fenced = not fenced
            continue
        if fenced:
            continue
        m = _ATX.match(line)
        if m:
            headings.append(Heading(m.group(2), i + 1, len(m.group(1))))
        elif i > body_start and re.match(r"^\s{0,3}(=+|-+)\s*$", line) and lines[i - 1].strip() and \
                not lines[i - 1].lstrip().startswith(("-", "*", "#", "|")):
            headings.append(Heading(lines[i - 1].strip(), i, 1 if "=" in line else 2))
    return Document(path, front, error, error_line, tuple(headings), text)


def _shift(node: yamlsafe.YMap, offset: int) -> yamlsafe.YMap:
    """Front-matter lines are relative to the YAML text: move them to file lines (recursively, in place)."""
    node.line += offset
    node.key_lines = {k: v + offset for k, v in node.key_lines.items()}
    for value in node.values():
        if isinstance(value, yamlsafe.YMap):
            _shift(value, offset)
        elif isinstance(value, yamlsafe.YList):
            _shift_list(value, offset)
    return node


def _shift_list(node: yamlsafe.YList, offset: int) -> None:
    node.line += offset
    node.item_lines = [v + offset for v in node.item_lines]
    for value in node:
        if isinstance(value, yamlsafe.YMap):
            _shift(value, offset)
        elif isinstance(value, yamlsafe.YList):
            _shift_list(value, offset)


@dataclass(frozen=True)
class SectionResult:
    """Which required sections a document has (with the heading line) and which it lacks."""

    found: tuple[tuple[str, int], ...]
    missing: tuple[str, ...]

    def describe(self) -> str:
        """``found: intended use (l.5), bias (l.20); missing: security``."""
        found = ", ".join(f"{name} (line {line})" for name, line in self.found) or "none"
        missing = ", ".join(self.missing) or "none"
        return f"sections found: {found}; missing: {missing}"


def sections(doc: Document, required: tuple[tuple[str, str], ...],
             front_keys: Mapping[str, tuple[str, ...]] | None = None) -> SectionResult:
    """Match headings against ``(section name, regex)``; front-matter keys can stand in for a section."""
    found: list[tuple[str, int]] = []
    missing: list[str] = []
    for name, pattern in required:
        rx = re.compile(pattern, re.I)
        hit = next((h for h in doc.headings if rx.search(h.text)), None)
        if hit is not None:
            found.append((name, hit.line))
            continue
        keys = (front_keys or {}).get(name, ())
        key = next((k for k in keys if doc.front is not None and k in doc.front), None)
        if key is not None and doc.front is not None:
            found.append((name, doc.front.line_of(key)))
        else:
            missing.append(name)
    return SectionResult(tuple(found), tuple(missing))
