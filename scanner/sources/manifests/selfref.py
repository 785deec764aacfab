"""The project's own name in its own manifest: ``mypkg[torch]`` in mypkg's extras is built from the tree itself.

An ``all = ["mypkg[torch,serve]"]`` extra, or a uv workspace member named through ``[tool.uv.sources]``
(``{workspace = true}`` or ``{path = ...}``), installs code from this repository, not a release from an index, so
it is a local requirement: never pinned, never unpinned.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from packaging.utils import canonicalize_name

from mlposture.scanner.sources.manifests.model import DeclaredRequirement


def mark_local(reqs: list[DeclaredRequirement], names: Iterable[object]) -> list[DeclaredRequirement]:
    """``reqs`` with every requirement on one of ``names`` (the project itself, workspace members) made local."""
    own = {canonicalize_name(n) for n in names if isinstance(n, str) and n.strip()}
    if not own:
        return reqs
    return [replace(r, local=True) if r.canonical in own and not r.url else r for r in reqs]
