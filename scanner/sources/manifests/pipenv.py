"""``Pipfile`` (``[packages]``, ``[dev-packages]``, ``[[source]]``) and ``Pipfile.lock`` (JSON).

Pipfile values are PEP 440 specifiers (``"*"`` means any version) or tables (``{version = ..., git = ...,
ref = ..., path = ..., editable = ...}``). The first ``[[source]]`` is pipenv's default index.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from mlposture.scanner.sources.manifests.model import (
    DeclaredRequirement,
    IndexRole,
    IndexSetting,
    LockedPackage,
    ManifestNote,
    SourceKind,
)
from mlposture.scanner.sources.manifests.pep508 import COMMIT_RE, PACKAGING_TOOLS, exact_version, mask_url
from mlposture.scanner.sources.manifests.pyproject import load_toml
from mlposture.scanner.sources.manifests.textpos import LineIndex


@dataclass
class PipenvResult:
    """Requirements, indexes, locked packages and notes from Pipfile / Pipfile.lock."""

    requirements: list[DeclaredRequirement] = field(default_factory=list)
    indexes: list[IndexSetting] = field(default_factory=list)
    locked: list[LockedPackage] = field(default_factory=list)
    notes: list[ManifestNote] = field(default_factory=list)
    local_paths: list[str] = field(default_factory=list)  # in-tree projects a Pipfile.lock resolved (``-e .``)


def _spec(value: str) -> str:
    return "" if value.strip() == "*" else value.strip()


def read_pipfile(path: str, text: str) -> PipenvResult:
    """Requirements and sources of a Pipfile."""
    out = PipenvResult()
    data = load_toml(text, path, out.notes)
    if data is None:
        return out
    idx = LineIndex(text)
    for section, runtime in (("packages", True), ("dev-packages", False)):
        table = data.get(section)
        if not isinstance(table, dict):
            continue
        start = idx.toml_table(section) or 1
        for name, value in table.items():
            line = idx.find_key(str(name), start, start) or start
            rt = runtime and str(name).lower() not in PACKAGING_TOOLS
            common: dict[str, Any] = {"path": path, "line": line, "source_kind": SourceKind.PIPFILE,
                                      "is_runtime": rt, "group": None if runtime else "dev"}
            if isinstance(value, str):
                spec = _spec(value)
                out.requirements.append(DeclaredRequirement(
                    name=str(name), specifier=spec, version_pinned=_exact(spec), raw=f'{name} = "{value}"',
                    **common))
            elif isinstance(value, dict):
                if "git" in value:
                    ref = value.get("ref")
                    out.requirements.append(DeclaredRequirement(
                        name=str(name), specifier="", version_pinned=None, vcs="git", url=mask_url(str(value["git"])),
                        vcs_ref=str(ref) if ref else None, vcs_commit=bool(ref and COMMIT_RE.match(str(ref))),
                        editable=value.get("editable") is True, raw=f"{name} = {{git = ..., ref = {ref!r}}}",
                        **common))
                elif "path" in value or "file" in value:
                    out.requirements.append(DeclaredRequirement(
                        name=str(name), specifier="", version_pinned=None, local=True,
                        raw=f"{name} = {{path = ...}}", **common))
                else:
                    spec = _spec(str(value.get("version", "*")))
                    extras = tuple(str(e) for e in value.get("extras", []) if isinstance(e, str))
                    out.requirements.append(DeclaredRequirement(
                        name=str(name), specifier=spec, version_pinned=_exact(spec), extras=extras,
                        markers=value.get("markers") if isinstance(value.get("markers"), str) else None,
                        raw=f'{name} = {{version = "{value.get("version", "*")}"}}', **common))
    sources = data.get("source")
    if isinstance(sources, list):
        lines = idx.all_matching(r"\[\[\s*source\s*\]\](\s*#.*)?")
        for i, src in enumerate(sources):
            if isinstance(src, dict) and isinstance(src.get("url"), str):
                out.indexes.append(IndexSetting(mask_url(src["url"]), IndexRole.PRIMARY if i == 0 else IndexRole.EXTRA,
                                                path, lines[i] if i < len(lines) else 1, "pipfile", path,
                                                str(src.get("name", ""))))
    return out


def _exact(spec: str) -> str | None:
    try:
        return exact_version(spec) if spec else None
    except Exception:
        return None


def read_pipfile_lock(path: str, text: str) -> PipenvResult:
    """Locked packages of a Pipfile.lock (``default`` and ``develop``)."""
    out = PipenvResult()
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        out.notes.append(ManifestNote(f"malformed JSON: {exc.msg}", path, exc.lineno))
        return out
    except RecursionError:
        out.notes.append(ManifestNote("JSON nested too deeply, not read", path))
        return out
    if not isinstance(data, dict):
        out.notes.append(ManifestNote("Pipfile.lock is not a JSON object", path, 1))
        return out
    idx = LineIndex(text)
    for section in ("default", "develop"):
        table = data.get(section)
        if not isinstance(table, dict):
            continue
        start = idx.find_string(section) or 1
        cursor = start
        for name, entry in table.items():
            if not isinstance(entry, dict):
                continue
            line = idx.find_string(str(name), cursor, start) or start
            cursor = max(cursor, line)
            if isinstance(entry.get("path"), str):  # the project itself or a path dependency (pipenv install -e .)
                out.local_paths.append(str(entry["path"]))
                continue
            version = str(entry.get("version", "")).lstrip("=")
            hashes = tuple(h for h in entry.get("hashes", []) if isinstance(h, str))
            if version:
                out.locked.append(LockedPackage(str(name), version, path, line, SourceKind.PIPFILE_LOCK, hashes))
    return out
