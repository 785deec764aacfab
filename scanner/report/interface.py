"""The writer interface: a format turns a :class:`~mlposture.scanner.results.ScanResult` into text."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from mlposture.scanner.results import ScanResult


class Writer(ABC):
    """Renders a scan result. ``name`` is the ``--format`` value, ``extension`` the file suffix."""

    name: ClassVar[str]
    extension: ClassVar[str]

    @abstractmethod
    def render(self, result: ScanResult) -> str:
        """The whole document as text."""


def location(path: str | None, line: int | None) -> str:
    """``path:line`` as the reports print it (``.`` for the repository as a whole)."""
    if path is None:
        return "."
    return f"{path}:{line}" if line else path


MAX_LINES_SHOWN = 20
NOT_COUNTED_TITLE = "Not counted: tests, examples, docs, fixtures, vendored code"


def finding_location(path: str | None, lines: tuple[int, ...]) -> str:
    """``path:3, 9, 14`` for a finding with several lines in one file (the first 20, then a count)."""
    if path is None:
        return "."
    if not lines:
        return path
    shown = ", ".join(str(n) for n in lines[:MAX_LINES_SHOWN])
    more = f" (+{len(lines) - MAX_LINES_SHOWN} more)" if len(lines) > MAX_LINES_SHOWN else ""
    return f"{path}:{shown}{more}"
