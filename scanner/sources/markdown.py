"""Documents as facts: YAML front matter with file lines, headings, label lines, dates, and section matching.

One reader for every probe that judges cards, datasheets, runbooks and policies (raw facts only: which headings a
document has and which required sections they cover; the controls decide what a missing section means). Headings
are ATX (``#``) and setext (``===``/``---`` underlines), RST underlines in ``.rst`` files; fenced code is skipped.
Front matter is read with :mod:`mlposture.scanner.yamlsafe`; its lines are file lines, so evidence can point at
``license:``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from mlposture.scanner.repo import RepoFile, RepoView
from mlposture.scanner.yamlsafe import YamlError, YMap, load

MAX_DOC_BYTES = 1024 * 1024
DOC_SUFFIXES = (".md", ".markdown", ".rst", ".txt", ".adoc")

# linear by construction: one greedy run to the end of the line, the closing #s are removed by atx_title
_ATX = re.compile(r"^[ \t]{0,3}(#{1,6})[ \t]+([^\n]*)")


def atx_title(raw: str) -> str:
    """The heading text without its optional closing sequence of ``#`` (which needs a space before it)."""
    text = raw.strip()
    bare = text.rstrip("#")
    if bare != text and (not bare or bare[-1] in " \t"):
        return bare.strip()
    return text


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
    front_error: str | None = None  # why the front matter was not read (message), and where
    front_error_line: int | None = None

    @property
    def front(self) -> YMap | None:
        """The front matter (short name)."""
        return self.front_matter

    @property
    def text(self) -> str:
        """The whole document."""
        return "\n".join(self.lines)

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


#: Front matter longer than this many lines is not looked for (the closing ``---`` is searched up to here).
MAX_FRONT_MATTER_LINES = 5000
UNCLOSED = "front matter opened with '---' is never closed"
NOT_MAPPING = "front matter is not a mapping"


def parse(text: str, path: str, rst: bool = False) -> Document:
    """Split front matter (``---`` ... ``---`` at the top) from the body and list the headings.

    A broken front matter is kept as ``front_error`` (message, line) so each caller decides whether it is worth a
    note; the headings are read either way.
    """
    lines = tuple(text.splitlines())
    front: YMap | None = None
    end = 0
    error: str | None = None
    error_line: int | None = None
    if lines and lines[0].strip() == "---":
        close = next((i for i in range(1, min(len(lines), MAX_FRONT_MATTER_LINES))
                      if lines[i].strip() in ("---", "...")), None)
        if close is None:
            error, error_line = UNCLOSED, 1
        else:
            end = close + 1
            try:
                loaded: Any = load("\n".join(lines[1:close]))
            except YamlError as exc:
                error, error_line = exc.message, (exc.line + 1 if exc.line else 1)
                loaded = None
            if loaded is not None and not isinstance(loaded, YMap):
                error, error_line = NOT_MAPPING, 2
            elif isinstance(loaded, YMap):
                front = _shift(loaded, 1)
    return Document(path, lines, _headings(lines, end, rst), front, end, error, error_line)


def parse_document(repo: RepoView, f: RepoFile) -> Document | None:
    """Read and split a document; ``None`` when unreadable. Broken front matter becomes a repo note."""
    text = repo.read_text(f, MAX_DOC_BYTES)
    if text is None:
        return None
    doc = parse(text, f.path, rst=f.suffix == ".rst")
    if doc.front_error in (UNCLOSED, NOT_MAPPING):
        repo.note(f"{doc.front_error}; ignored", f.path, doc.front_error_line)
    elif doc.front_error is not None:
        repo.note(f"front matter not parsed (YAML): {doc.front_error}", f.path, doc.front_error_line)
    return doc


def _shift(node: Any, by: int) -> Any:
    """Line numbers of front matter are relative to its first line; make them file lines."""
    if isinstance(node, YMap):
        node.line += by
        node.key_lines = {k: v + by for k, v in node.key_lines.items()}
        if node.value_lines:
            node.value_lines = {k: v + by for k, v in node.value_lines.items()}
        for v in node.values():
            _shift(v, by)
    elif isinstance(node, list):
        if hasattr(node, "item_lines"):
            node.line += by  # type: ignore[attr-defined]
            node.item_lines = [n + by for n in node.item_lines]
            if getattr(node, "value_lines", None):
                node.value_lines = {k: v + by for k, v in node.value_lines.items()}  # type: ignore[attr-defined]
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
            out.append(Heading(atx_title(m.group(2)), i + 1, len(m.group(1))))
            continue
        underline = _RST_UNDERLINE.match(text) if rst else _SETEXT.match(text)
        if i > start and underline and lines[i - 1].strip() and not _ATX.match(lines[i - 1]):
            prev = lines[i - 1].strip()
            if not prev.startswith(("-", "*", "#", "|", ">")):
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
