"""Jupyter notebooks as code: the code cells of an ``.ipynb`` file, read as JSON with caps, never executed.

Several probes read notebooks (weaker evidence than pipeline code, but evidence); one reader keeps the caps and
the notes for broken notebooks identical.
"""

from __future__ import annotations

import json

from mlposture.scanner.repo import RepoFile, RepoView

MAX_NOTEBOOK_BYTES = 4 * 1024 * 1024
MAX_NOTEBOOK_CELLS = 500


def code_cells(repo: RepoView, f: RepoFile, max_bytes: int = MAX_NOTEBOOK_BYTES,
               max_cells: int = MAX_NOTEBOOK_CELLS) -> list[tuple[int, str]] | None:
    """``(cell number, source)`` of the code cells (numbered 1-based among all cells), or ``None`` with a note."""
    text = repo.read_text(f, limit=max_bytes)
    if text is None:
        return None
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as exc:
        repo.note(f"notebook is not valid JSON ({type(exc).__name__}: {str(exc)[:120]}); code cells not read", f.path)
        return None
    cells = doc.get("cells") if isinstance(doc, dict) else None
    if not isinstance(cells, list):
        repo.note("notebook has no 'cells' list; code cells not read", f.path)
        return None
    out: list[tuple[int, str]] = []
    for number, cell in enumerate(cells[:max_cells], start=1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        if isinstance(source, list):
            source = "".join(s for s in source if isinstance(s, str))
        if isinstance(source, str):
            out.append((number, source))
    if len(cells) > max_cells:
        repo.note(f"notebook has {len(cells)} cells; only the first {max_cells} were read", f.path)
    return out
