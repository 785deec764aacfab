"""Output formats by ``--format`` name. The CLI picks writers only through this table."""

from __future__ import annotations

from scanner.report.html import HtmlWriter
from scanner.report.interface import Writer
from scanner.report.json_report import JsonWriter
from scanner.report.junit import JunitWriter
from scanner.report.markdown import MarkdownWriter
from scanner.report.sarif import SarifWriter
from scanner.report.terminal import TerminalWriter

WRITERS: dict[str, type[Writer]] = {
    "md": MarkdownWriter,
    "markdown": MarkdownWriter,
    "json": JsonWriter,
    "terminal": TerminalWriter,
    "sarif": SarifWriter,
    "junit": JunitWriter,
    "html": HtmlWriter,
}


def writer_for(name: str) -> Writer:
    """A writer instance for a format name; raises ``KeyError`` for an unknown one."""
    return WRITERS[name.lower()]()


def format_names() -> list[str]:
    """Accepted ``--format`` values."""
    return sorted(WRITERS)
