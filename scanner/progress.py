"""Progress on stderr for long scans: files walked, which probe runs, time so far.

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
    import time

    console = Console(file=sys.stderr)
    start = time.monotonic()
    walked = [""]
    with console.status("walking the repository...") as status:

        def on_progress(message: str) -> None:
            if "files walked" in message:
                walked[0] = message
            elapsed = time.monotonic() - start
            parts = [p for p in (walked[0], message if message != walked[0] else "") if p]
            status.update(f"{' · '.join(parts)} · {elapsed:.0f}s")

        yield on_progress
