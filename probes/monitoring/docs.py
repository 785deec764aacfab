"""Markdown facts: headings with their lines, YAML front matter, dated lines, and section matching.

Raw facts only: which headings a document has and which required sections they cover. The controls decide what a
missing section means. Headings are ATX (``#``) and setext (``===``/``---`` underlines); fenced code is skipped.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from mlposture.scanner.repo import RepoFile, RepoView
from mlposture.scanner.yamlsafe import YamlError, YMap, load

MAX_DOC_BYTES = 1024 * 1024
DOC_SUFFIXES = (".md", ".markdown", ".rst", ".txt", ".adoc")

_ATX = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_SETEXT = re.compile(r"^\s{0,3}(=+|-+)\s*$")
_RST_UNDERLINE = re.compile(r"^([=\-~^*+#\"'`:.])\1{2,}\s*$")
_FENCE = re.compile(r"^\s{0,3}(```|~~~)")
_LABEL = re.compile(r"^\s*(?:[-*+]\s+|\d+[.)]\s+|\|\s*)?(?:\*\*|__)?([A-Za-z][A-Za-z /&,()-]{1,60}?)"
                    r"(?:\*\*|__)?\s*[:|]")
ISO_DATE = re.compile(r"\b(20\d\d)-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])\b")


@dataclass(frozen=True)
class Heading:
    """One heading: its text and 1-based line."""

    text: str
    line: int
    level: int


@dataclass(frozen=True)
class Section:
    """A required section: its name and the pattern a heading (or a label line) must match."""

    name: str
    pattern: re.Pattern[str]


@dataclass(frozen=True)
class SectionMatch:
    """Where a required section was found (``line`` is ``None`` when it was not)."""

    name: str
    line: int | None
    via: str = "heading"  # "heading" or "label" (a ``**Containment:**`` or list/table label line)


@dataclass(frozen=True)
class Document:
    """A text document: its lines, headings and front matter (``None`` when absent or broken)."""

    path: str
    lines: tuple[str, ...]
    headings: tuple[Heading, ...]
    front_matter: YMap | None
    front_matter_end: int = 0  # line of the closing ``---``; body starts after it

    def coverage(self, sections: Sequence[Section]) -> tuple[SectionMatch, ...]:
        """For each section, the first heading matching it, else the first label line, else not found."""
        out: list[SectionMatch] = []
        for sec in sections:
            hit = next((h for h in self.headings if sec.pattern.search(h.text)), None)
            if hit is not None:
                out.append(SectionMatch(sec.name, hit.line))
                continue
            label_line = None
            for i, text in enumerate(self.lines, 1):
                if i <= self.front_matter_end:
                    continue
                m = _LABEL.match(text)
                if m and sec.pattern.search(m.group(1)):
                    label_line = i
                    break
            out.append(SectionMatch(sec.name, label_line, "label"))
        return tuple(out)

    def first_line(self, pattern: re.Pattern[str]) -> int | None:
        """1-based line of the first line matching ``pattern`` (front matter excluded)."""
        for i, text in enumerate(self.lines, 1):
            if i > self.front_matter_end and pattern.search(text):
                return i
        return None

    def title(self) -> str:
        """Text of the first heading, or ``""``."""
        return self.headings[0].text if self.headings else ""


def parse_document(repo: RepoView, f: RepoFile) -> Document | None:
    """Read and split a document; ``None`` when unreadable. Broken front matter becomes a repo note."""
    text = repo.read_text(f, MAX_DOC_BYTES)
    if text is None:
        return None
    lines = tuple(text.splitlines())
    front: YMap | None = None
    end = 0
    if lines and lines[0].strip() == "---":
        close = next((i for i in range(1, min(len(lines), 2000)) if lines[i].strip() in ("---", "...")), None)
        if close is None:
            repo.note("front matter opened with '---' is never closed; ignored", f.path, 1)
        else:
            end = close + 1
            try:
                loaded: Any = load("\n".join(lines[1:close]))
            except YamlError as exc:
                line = exc.line + 1 if exc.line else 1
                repo.note(f"front matter not parsed (YAML): {exc.message}", f.path, line)
                loaded = None
            if loaded is not None and not isinstance(loaded, YMap):
                repo.note("front matter is not a mapping; ignored", f.path, 2)
            elif isinstance(loaded, YMap):
                front = _shift(loaded, 1)
    return Document(f.path, lines, _headings(lines, end, rst=f.suffix == ".rst"), front, end)


def _shift(node: Any, by: int) -> Any:
    """Line numbers of front matter are relative to its first line; make them file lines."""
    if isinstance(node, YMap):
        node.line += by
        node.key_lines = {k: v + by for k, v in node.key_lines.items()}
        for v in node.values():
            _shift(v, by)
    elif isinstance(node, list):
        if hasattr(node, "item_lines"):
            node.line += by  # type: ignore[attr-defined]
            node.item_lines = [n + by for n in node.item_lines]
        for v in node:
            _shift(v, by)
    return node


def _headings(lines: Sequence[str], start: int, rst: bool = False) -> tuple[Heading, ...]:
    out: list[Heading] = []
    fenced = False
    for i in range(start, len(lines)):
        text = lines[i]
        if not rst and _FENCE.match(text):
            fenced = not fenced
            continue
        if fenced:
            continue
        m = _ATX.match(text)
        if m:
            out.append(Heading(m.group(2).strip(), i + 1, len(m.group(1))))
            continue
        underline = _RST_UNDERLINE.match(text) if rst else _SETEXT.match(text)
        if i > start and underline and lines[i - 1].strip() and not _ATX.match(lines[i - 1]):
            prev = lines[i - 1].strip()
            if not prev.startswith(("-", "*", "|", ">")):
                out.append(Heading(prev, i, 1 if text.strip().startswith("=") else 2))
    return tuple(out)


def to_date(value: Any) -> date | None:
    """A date from a YAML value (date, datetime or ISO string)."""
    if isinstance(value, date):
        return value if type(value) is date else date(value.year, value.month, value.day)
    if isinstance(value, str):
        m = ISO_DATE.search(value)
        if m:
            try:
                return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
            except ValueError:
                return None
    return None


_DATED_LINE = re.compile(r"(?i)\b(date|dated|updated|last[ _-]updated|reviewed|conducted|performed|completed|"
                         r"issued|version)\b")
_DATE_KEYS = ("date", "last_updated", "updated", "last-updated", "reviewed", "report_date")


def document_date(doc: Document, today: date) -> tuple[date, int] | None:
    """The date a document says it was written: front-matter ``date``, a labelled date line, else the file name.

    Returns the date and its line (0 for a date taken from the file name). Dates after ``today`` are ignored.
    """
    fm = doc.front_matter
    if fm is not None:
        for key in _DATE_KEYS:
            if key in fm:
                d = to_date(fm[key])
                if d is not None and d <= today:
                    return d, fm.line_of(key)
    for i, text in enumerate(doc.lines[:200], 1):
        if i <= doc.front_matter_end or not _DATED_LINE.search(text):
            continue
        d = to_date(text)
        if d is not None and d <= today:
            return d, i
    m = re.search(r"(20\d\d)[-_](0[1-9]|1[0-2])(?:[-_](0[1-9]|[12]\d|3[01]))?", doc.path.rsplit("/", 1)[-1])
    if m:
        try:
            d = date(int(m.group(1)), int(m.group(2)), int(m.group(3) or 1))
        except ValueError:
            return None
        if d <= today:
            return d, 0
    return None


def describe(matches: Sequence[SectionMatch]) -> str:
    """``found: Detection (l.3), Containment (l.9); missing: Communication``."""
    found = [f"{m.name} (line {m.line})" for m in matches if m.line is not None]
    missing = [m.name for m in matches if m.line is None]
    parts = []
    if found:
        parts.append("found: " + ", ".join(found))
    if missing:
        parts.append("missing: " + ", ".join(missing))
    return "; ".join(parts)
