"""TOML lock files: ``poetry.lock``, ``uv.lock``, ``pdm.lock``: one :class:`LockedPackage` per ``[[package]]``.

The ``n``-th ``[[package]]`` header of the text is the ``n``-th entry tomllib returns, which gives each entry its
line. Hashes come from ``files`` (Poetry, PDM) or ``sdist``/``wheels`` (uv). The project itself (uv's
editable/virtual root) is not a locked dependency; its folder, and the folders of workspace members and path
dependencies the lock resolved (uv ``source = {editable|virtual|directory = ...}``, Poetry ``[package.source]`` of
type ``directory``, PDM ``path``), are what the lock was generated from.
"""

from __future__ import annotations

from typing import Any

from mlposture.scanner.sources.manifests.model import LockedPackage, ManifestNote, SourceKind
from mlposture.scanner.sources.manifests.pyproject import load_toml
from mlposture.scanner.sources.manifests.textpos import LineIndex

LOCK_NAMES = {"poetry.lock": SourceKind.POETRY_LOCK, "uv.lock": SourceKind.UV_LOCK, "pdm.lock": SourceKind.PDM_LOCK}


def _hashes(entry: dict[str, Any]) -> tuple[str, ...]:
    out: list[str] = []
    files = entry.get("files")
    if isinstance(files, list):
        out.extend(str(f["hash"]) for f in files if isinstance(f, dict) and f.get("hash"))
    sdist = entry.get("sdist")
    if isinstance(sdist, dict) and sdist.get("hash"):
        out.append(str(sdist["hash"]))
    wheels = entry.get("wheels")
    if isinstance(wheels, list):
        out.extend(str(w["hash"]) for w in wheels if isinstance(w, dict) and w.get("hash"))
    return tuple(out)


def local_source(entry: dict[str, Any]) -> str | None:
    """The folder of a project the lock resolved from the tree itself (relative to the lock), if ``entry`` is one."""
    source = entry.get("source")
    if isinstance(source, dict):
        for key in ("editable", "virtual", "directory"):
            if isinstance(source.get(key), str):
                return str(source[key])
        if source.get("type") == "directory" and isinstance(source.get("url"), str):
            return str(source["url"])
    if isinstance(entry.get("path"), str) and not str(entry["path"]).endswith((".whl", ".tar.gz", ".zip")):
        return str(entry["path"])
    return None


def read_toml_lock(path: str, text: str, kind: SourceKind,
                   local_folders: list[str] | None = None) -> tuple[list[LockedPackage], list[ManifestNote]]:
    """Locked packages and notes of one TOML lock file; ``local_folders`` collects the in-tree projects it
    resolved (relative to the lock file's folder)."""
    notes: list[ManifestNote] = []
    data = load_toml(text, path, notes)
    if data is None:
        return [], notes
    packages = data.get("package")
    if not isinstance(packages, list):
        notes.append(ManifestNote("lock file without [[package]] entries", path, 1))
        return [], notes
    lines = LineIndex(text).all_matching(r"\[\[\s*package\s*\]\](\s*#.*)?")
    out: list[LockedPackage] = []
    for i, entry in enumerate(packages):
        if not isinstance(entry, dict) or not entry.get("name"):
            continue
        line = lines[i] if i < len(lines) else 1
        local = local_source(entry)
        if local is not None:
            if local_folders is not None:
                local_folders.append(local)
            continue
        version = entry.get("version")
        if not isinstance(version, str) or not version:
            notes.append(ManifestNote(f"locked package {entry['name']!r} has no version", path, line))
            continue
        out.append(LockedPackage(str(entry["name"]), version, path, line, kind, _hashes(entry)))
    return out, notes
