"""Errors about user input (answers, configuration, catalog files) that name the file and line.

They map to exit code 2 in the CLI; one base class keeps the ``file:line: message`` format identical everywhere.
"""

from __future__ import annotations


class InputError(ValueError):
    """Unusable input; ``str()`` is ``path:line: message`` (or ``path: message`` without a line)."""

    def __init__(self, path: str, message: str, line: int | None = None) -> None:
        where = f"{path}:{line}" if line else path
        super().__init__(f"{where}: {message}")
        self.path = path
        self.line = line
        self.message = message
