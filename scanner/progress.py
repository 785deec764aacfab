"""Progress on stderr for long scans: which probe runs, how long the scan has taken.

Shown only when stderr is a terminal and not ``--quiet``: CI logs and pipes stay clean.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console


@contextmanager
def progress_reporter(enabled: bool = True) -> Iterator[Callable[[str], None] | None]:
    """Yields an ``on_probe(name)`` callback (or None when progress is off)."""
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    console = Console(file=sys.stderr)
    with console.status("walking the repository...") as status:
        count = [0]

        def on_probe(name: str) -> None:
            count[0] += 1
            status.update(f"probe {count[0]}: {name}...")

        yield on_probe
