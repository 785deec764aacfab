"""The repository's declared Python dependencies, through the ``dependencies`` probe's manifest parser.

The manifest parsers (requirements, pyproject, Pipfile, lock files...) belong to ``probes.dependencies``; this
module only adapts their output to what the SBOM comparison and the AI-BOM need, so that a change there is
absorbed here. When that package is not installed, the result says so (``None`` and a reason) instead of
guessing.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from scanner.repo import RepoView


@dataclass(frozen=True)
class DeclaredDependency:
    """One declared dependency: name, exact version when pinned or locked, hashes, where it was declared."""

    name: str
    version: str | None
    path: str
    line: int | None
    hashes: tuple[str, ...] = ()
    locked: bool = False


def _first(obj: Any, *names: str) -> Any:
    for n in names:
        value = getattr(obj, n, None)
        if value is not None:
            return value
    return None


def _exact_version(dep: Any) -> str | None:
    version = _first(dep, "version", "pinned_version", "exact_version")
    if isinstance(version, str) and version:
        return version
    spec = _first(dep, "specifier", "spec")
    text = str(spec) if spec is not None else ""
    if text.startswith(("==", "===")) and "," not in text and "*" not in text:
        return text.lstrip("=").strip()
    return None


def _hashes(dep: Any) -> tuple[str, ...]:
    raw = _first(dep, "hashes")
    if not isinstance(raw, Iterable) or isinstance(raw, (str, bytes)):
        return ()
    return tuple(str(h) for h in raw)


def _adapt(dep: Any) -> DeclaredDependency | None:
    name = _first(dep, "name", "project", "normalized_name")
    if not isinstance(name, str) or not name:
        return None
    path = _first(dep, "path", "file", "source")
    line = _first(dep, "line", "lineno")
    locked = bool(_first(dep, "locked", "from_lock", "is_lock"))
    source = str(path or "")
    if not locked and source.rsplit("/", 1)[-1].lower().endswith((".lock", "lock.yml", "lock.yaml", "lock.json")):
        locked = True
    return DeclaredDependency(name, _exact_version(dep), source, line if isinstance(line, int) else None,
                              _hashes(dep), locked)


def declared_dependencies(repo: RepoView) -> tuple[list[DeclaredDependency] | None, str | None]:
    """(dependencies, None), or (None, why not) when the manifest parser is unavailable or fails."""
    try:
        module = importlib.import_module("probes.dependencies.manifests")
    except ImportError:
        return None, "declared dependencies not compared (the dependencies probe is not installed)"
    reader = None
    for fname in ("declared_dependencies", "load_manifests", "read_manifests", "parse_repository", "collect"):
        reader = getattr(module, fname, None)
        if callable(reader):
            break
    if reader is None:
        return None, "declared dependencies not compared (no manifest reader found in probes.dependencies)"
    try:
        raw = reader(repo)
    except Exception as exc:  # another probe's parser failing must not break this one
        repo.note(f"manifest parser failed for the SBOM comparison: {type(exc).__name__}: {exc}")
        return None, "declared dependencies not compared (the manifest parser failed)"
    deps_iter = _first(raw, "dependencies", "requirements")
    items = deps_iter if deps_iter is not None else raw
    out: list[DeclaredDependency] = []
    if isinstance(items, Iterable):
        for dep in items:
            adapted = _adapt(dep)
            if adapted is not None:
                out.append(adapted)
    return out, None
