"""conda ``environment.yml`` (conda packages and the ``- pip:`` section) and ``conda-lock.yml``.

A conda spec is pinned when exact: ``name==1.2.3``, or ``name=1.2.3`` with at least three release components
(conda reads ``=1.2`` as ``1.2.*``, a range), optionally followed by a build string. ``python`` and ``pip`` are
the interpreter and the installer, not runtime libraries: they are listed but not counted as runtime.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field
from typing import Any

from mlposture.scanner import yamlsafe
from mlposture.scanner.sources.manifests.model import (
    DeclaredRequirement,
    IndexRole,
    IndexSetting,
    LockedPackage,
    ManifestNote,
    SourceKind,
)
from mlposture.scanner.sources.manifests.pep508 import RequirementError, mask_url, parse_requirement

CONDA_SPEC_RE = re.compile(r"^(?:(?P<channel>[\w.\-/:]+)::)?(?P<name>[A-Za-z0-9_.\-]+)\s*(?P<spec>.*)$")
EXACT_CONDA_RE = re.compile(r"^(?:==?)\s*(?P<v>\d+(?:\.\d+){2,}[A-Za-z0-9.+_]*)(?:[= ]\S+)?$")
EXACT_DOUBLE_RE = re.compile(r"^==\s*(?P<v>\d[A-Za-z0-9.+_]*)(?:[= ]\S+)?$")
NOT_RUNTIME = frozenset({"python", "pip", "setuptools", "wheel", "conda"})


@dataclass
class CondaResult:
    """Requirements, locked packages, indexes and notes from conda files."""

    requirements: list[DeclaredRequirement] = field(default_factory=list)
    locked: list[LockedPackage] = field(default_factory=list)
    indexes: list[IndexSetting] = field(default_factory=list)
    notes: list[ManifestNote] = field(default_factory=list)


def is_environment_file(path: str) -> bool:
    """conda environment files by name (``environment*.yml``, ``env*.yaml``, ``conda*.yml``)."""
    name = path.lower().rsplit("/", 1)[-1]
    if not name.endswith((".yml", ".yaml")) or "lock" in name:
        return False
    return name.startswith(("environment", "conda", "env."))


def _load(path: str, text: str, notes: list[ManifestNote]) -> Any:
    try:
        return yamlsafe.load(text)
    except yamlsafe.YamlError as exc:
        notes.append(ManifestNote(f"malformed YAML: {exc.message}", path, exc.line))
    return None


def read_environment(path: str, text: str) -> CondaResult:
    """Requirements of a conda environment file (both sections)."""
    out = CondaResult()
    data = _load(path, text, out.notes)
    if data is None:
        return out
    if not isinstance(data, yamlsafe.YMap) or not isinstance(data.get("dependencies"), yamlsafe.YList):
        if isinstance(data, dict) and "dependencies" in data:
            out.notes.append(ManifestNote("conda 'dependencies' is not a list", path,
                                          data.line_of("dependencies") if isinstance(data, yamlsafe.YMap) else None))
        return out
    deps: yamlsafe.YList = data["dependencies"]
    for i, item in enumerate(deps):
        line = deps.line_of(i)
        if isinstance(item, str):
            req = _conda_spec(item, path, line)
            if req is None:
                out.notes.append(ManifestNote(f"not a conda package spec: {item!r}", path, line))
            else:
                out.requirements.append(req)
        elif isinstance(item, dict) and isinstance(item.get("pip"), list):
            pip: list[Any] = item["pip"]
            for j, entry in enumerate(pip):
                pline = pip.line_of(j) if isinstance(pip, yamlsafe.YList) else line
                if not isinstance(entry, str):
                    continue
                _pip_entry(out, entry.strip(), path, pline)
    return out


def _pip_entry(out: CondaResult, entry: str, path: str, line: int) -> None:
    if entry.startswith(("-i ", "--index-url")):
        out.indexes.append(IndexSetting(mask_url(entry.split()[-1].split("=", 1)[-1]), IndexRole.PRIMARY, path, line,
                                        "conda-pip", path))
        return
    if entry.startswith("--extra-index-url"):
        out.indexes.append(IndexSetting(mask_url(entry.split()[-1].split("=", 1)[-1]), IndexRole.EXTRA, path, line,
                                        "conda-pip", path))
        return
    if entry.startswith("-"):
        if entry.startswith(("-e ", "--editable")):
            entry = entry.split(None, 1)[1] if " " in entry else entry
            with contextlib.suppress(RequirementError):
                out.requirements.append(parse_requirement(entry, path, line, SourceKind.CONDA_PIP, editable=True,
                                                          raw=entry))
        return  # -r files are parsed on their own
    try:
        out.requirements.append(parse_requirement(entry, path, line, SourceKind.CONDA_PIP))
    except RequirementError as exc:
        out.notes.append(ManifestNote(f"not a requirement: {entry!r} ({exc})", path, line))


def _conda_spec(item: str, path: str, line: int) -> DeclaredRequirement | None:
    m = CONDA_SPEC_RE.match(item.strip())
    if m is None:
        return None
    name, spec = m.group("name"), m.group("spec").strip()
    exact = EXACT_DOUBLE_RE.match(spec) or EXACT_CONDA_RE.match(spec)
    return DeclaredRequirement(name=name, specifier=spec, version_pinned=exact.group("v") if exact else None,
                               path=path, line=line, source_kind=SourceKind.CONDA, ecosystem="conda",
                               is_runtime=name.lower() not in NOT_RUNTIME, raw=item.strip())


def read_conda_lock(path: str, text: str) -> CondaResult:
    """Locked packages of a conda-lock.yml (``package:`` list, conda and pip managers)."""
    out = CondaResult()
    data = _load(path, text, out.notes)
    if data is None:
        return out
    packages = data.get("package") if isinstance(data, dict) else None
    if not isinstance(packages, yamlsafe.YList):
        out.notes.append(ManifestNote("conda-lock file without a 'package' list", path, 1))
        return out
    for i, pkg in enumerate(packages):
        if not isinstance(pkg, dict) or not pkg.get("name") or not pkg.get("version"):
            continue
        hashes = pkg.get("hash")
        hash_list = tuple(f"{k}:{v}" for k, v in hashes.items()) if isinstance(hashes, dict) else ()
        eco = "pypi" if pkg.get("manager") == "pip" else "conda"
        out.locked.append(LockedPackage(str(pkg["name"]), str(pkg["version"]), path, packages.line_of(i),
                                        SourceKind.CONDA_LOCK, hash_list, eco))
    return out
