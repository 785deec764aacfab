"""The repository's declared Python dependencies, through the shared manifest readers of the core.

The manifest parsers (requirements, pyproject, Pipfile, lock files...) live in
:mod:`mlposture.scanner.sources.manifests`; this module only adapts their output to what the SBOM comparison and the
AI-BOM need, so that a change there is absorbed here. When the parser fails, the result says so (``None`` and a
reason) instead of guessing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from mlposture.scanner.repo import RepoView
from mlposture.scanner.sources.manifests.read import read_manifests

if TYPE_CHECKING:
    from mlposture.scanner.sources.manifests.model import Manifests


@dataclass(frozen=True)
class DeclaredDependency:
    """One Python dependency: name, exact version when pinned or locked, hashes, where it was declared.

    ``direct`` is true for a requirement a manifest declares (what an SBOM must cover), false for a package
    only a lock file lists (a transitive dependency, still part of the AI-BOM).
    """

    name: str
    version: str | None
    path: str
    line: int | None
    hashes: tuple[str, ...] = ()
    locked: bool = False
    direct: bool = True


#: Sources that describe how something is installed in a build, not what the project depends on.
_NOT_MANIFESTS = frozenset({"dockerfile", "ci"})


def from_manifests(manifests: Manifests) -> list[DeclaredDependency]:
    """Direct runtime PyPI requirements of the manifests, then every locked package."""
    out: list[DeclaredDependency] = []
    for req in manifests.requirements:
        if not req.is_runtime or req.ecosystem != "pypi" or req.local or req.source_kind.value in _NOT_MANIFESTS:
            continue
        out.append(DeclaredDependency(req.name, req.version_pinned, req.path, req.line, req.hashes))
    for pkg in manifests.locked:
        if pkg.ecosystem != "pypi":
            continue
        out.append(DeclaredDependency(pkg.name, pkg.version, pkg.path, pkg.line, pkg.hashes, locked=True,
                                      direct=False))
    return out


def declared_dependencies(repo: RepoView) -> tuple[list[DeclaredDependency] | None, str | None]:
    """(dependencies, None), or (None, why not) when the manifest parser fails."""
    try:
        manifests = read_manifests(repo)
    except Exception as exc:  # the shared parser failing must not break this one
        repo.note(f"manifest parser failed for the SBOM comparison: {type(exc).__name__}: {exc}")
        return None, "declared dependencies not compared (the manifest parser failed)"
    return from_manifests(manifests), None
