"""Jupyter notebooks as code: the code cells of an ``.ipynb`` file, read as JSON with caps, never executed.

A thin reader over :func:`mlposture.scanner.sources.python.notebook_cells` (the one implementation the Python
pass uses too), so the caps and the notes on broken notebooks are the same wherever a notebook is read.
"""

from __future__ import annotations

from mlposture.scanner.repo import RepoFile, RepoView
from mlposture.scanner.sources.python import MAX_NOTEBOOK_BYTES, MAX_NOTEBOOK_CELLS, notebook_cells

__all__ = ["MAX_NOTEBOOK_BYTES", "MAX_NOTEBOOK_CELLS", "code_cells"]


def code_cells(repo: RepoView, f: RepoFile, max_bytes: int = MAX_NOTEBOOK_BYTES,
               max_cells: int = MAX_NOTEBOOK_CELLS) -> list[tuple[int, str]] | None:
    """``(cell number, source)`` of the code cells (numbered 1-based among all cells), or ``None`` with a note."""
    text = repo.read_text(f, limit=max_bytes)
    if text is None:
        return None
    try:
        cells, notes = notebook_cells(text, max_cells)
    except ValueError as exc:
        repo.note(str(exc), f.path)
        return None
    for note in notes:
        repo.note(note, f.path)
    return cells
