"""Output formats by ``--format`` name. The CLI picks writers only through this table.

Writers are named as ``module:Class`` and imported on use, so a command that writes no report (``scan-models``
in a pre-commit hook) does not pay for importing every writer and its dependencies.
"""

from __future__ import annotations

from mlposture.scanner.lazy import load_object
from mlposture.scanner.report.interface import Writer

WRITERS: dict[str, str] = {
    "md": "mlposture.scanner.report.markdown:MarkdownWriter",
    "markdown": "mlposture.scanner.report.markdown:MarkdownWriter",
    "json": "mlposture.scanner.report.json_report:JsonWriter",
    "terminal": "mlposture.scanner.report.terminal:TerminalWriter",
    "sarif": "mlposture.scanner.report.sarif:SarifWriter",
    "junit": "mlposture.scanner.report.junit:JunitWriter",
    "html": "mlposture.scanner.report.html:HtmlWriter",
}


def writer_class(name: str) -> type[Writer]:
    """The writer class for a format name; raises ``KeyError`` for an unknown one."""
    cls = load_object(WRITERS[name.lower()])
    if not (isinstance(cls, type) and issubclass(cls, Writer)):
        raise TypeError(f"{WRITERS[name.lower()]} is not a Writer")
    return cls


def writer_for(name: str) -> Writer:
    """A writer instance for a format name; raises ``KeyError`` for an unknown one."""
    return writer_class(name)()


def format_names() -> list[str]:
    """Accepted ``--format`` values."""
    return sorted(WRITERS)
