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
