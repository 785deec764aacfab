"""The repository's declared Python dependencies, through the ``dependencies`` probe's manifest parser.

The manifest parsers (requirements, pyproject, Pipfile, lock files...) belong to ``probes.dependencies``; this
module only adapts their output to what the SBOM comparison and the AI-BOM need, so that a change there is
absorbed here. When that package is not installed, the result says so (``None`` and a reason) instead of
guessing.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from scanner.repo import RepoView


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
_READERS = ("read_manifests", "load_manifests", "parse_manifests", "collect_manifests", "scan_manifests",
            "read_repository", "parse_repository")


def _reader(module: Any) -> Any:
    for name in _READERS:
        fn = getattr(module, name, None)
        if callable(fn):
            return fn
    for name in dir(module):  # any public function annotated to return Manifests
        fn = getattr(module, name)
        if not name.startswith("_") and callable(fn) and "Manifests" in str(getattr(fn, "__annotations__", {})
                                                                            .get("return", "")):
            return fn
    return None


def _value(obj: Any) -> str:
    return str(getattr(obj, "value", obj))


def from_manifests(manifests: Any) -> list[DeclaredDependency]:
    """Direct runtime PyPI requirements of the manifests, then every locked package."""
    out: list[DeclaredDependency] = []
    for req in getattr(manifests, "requirements", ()):
        if not getattr(req, "is_runtime", True) or getattr(req, "ecosystem", "pypi") != "pypi":
            continue
        if getattr(req, "local", False) or _value(getattr(req, "source_kind", "")) in _NOT_MANIFESTS:
            continue
        out.append(DeclaredDependency(str(req.name), getattr(req, "version_pinned", None), str(req.path),
                                      getattr(req, "line", None), tuple(getattr(req, "hashes", ()))))
    for pkg in getattr(manifests, "locked", ()):
        if getattr(pkg, "ecosystem", "pypi") != "pypi":
            continue
        out.append(DeclaredDependency(str(pkg.name), str(pkg.version), str(pkg.path), getattr(pkg, "line", None),
                                      tuple(getattr(pkg, "hashes", ())), locked=True, direct=False))
    return out


def declared_dependencies(repo: RepoView) -> tuple[list[DeclaredDependency] | None, str | None]:
    """(dependencies, None), or (None, why not) when the manifest parser is unavailable or fails."""
    try:
        module = importlib.import_module("probes.dependencies.manifests")
    except ImportError:
        return None, "declared dependencies not compared (the dependencies probe is not installed)"
    reader = _reader(module)
    if reader is None:
        return None, "declared dependencies not compared (no manifest reader found in probes.dependencies)"
    try:
        manifests = reader(repo)
    except Exception as exc:  # another probe's parser failing must not break this one
        repo.note(f"manifest parser failed for the SBOM comparison: {type(exc).__name__}: {exc}")
        return None, "declared dependencies not compared (the manifest parser failed)"
    return from_manifests(manifests), None
