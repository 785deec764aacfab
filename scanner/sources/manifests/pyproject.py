"""``pyproject.toml``: PEP 621 dependencies and extras, PEP 735 groups, Poetry, PDM and uv sections, and the
package indexes they configure (Poetry sources, PDM sources, uv indexes).

Poetry constraints are translated to PEP 440 only to decide pinning: ``"1.2.3"`` and ``"==1.2.3"`` are exact,
``^``/``~``/``*``/ranges are not; ``{git = ..., rev = <40-hex>}`` is pinned, a branch or tag is not.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from typing import Any

from mlposture.scanner.sources.manifests.model import (
    DeclaredRequirement,
    IndexRole,
    IndexSetting,
    ManifestNote,
    SourceKind,
)
from mlposture.scanner.sources.manifests.pep508 import (
    COMMIT_RE,
    PACKAGING_TOOLS,
    RequirementError,
    mask_url,
    parse_requirement,
)
from mlposture.scanner.sources.manifests.selfref import mark_local
from mlposture.scanner.sources.manifests.textpos import LineIndex, toml_error_line

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

DEV_GROUP_RE = re.compile(r"(dev|test|tests|testing|lint|docs?|typing|mypy|style|qa|ci|bench|format)", re.I)
POETRY_EXACT_RE = re.compile(r"^(?:==?)?\s*(\d+(?:\.\d+)*(?:[a-zA-Z0-9.+-]*)?)$")


@dataclass
class TomlResult:
    """Requirements, indexes and notes from one TOML manifest."""

    requirements: list[DeclaredRequirement] = field(default_factory=list)
    indexes: list[IndexSetting] = field(default_factory=list)
    notes: list[ManifestNote] = field(default_factory=list)
    unknown: list[ManifestNote] = field(default_factory=list)


def load_toml(text: str, path: str, notes: list[ManifestNote]) -> dict[str, Any] | None:
    """Parsed TOML, or ``None`` with a note naming the parser's error and line."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        notes.append(ManifestNote(f"malformed TOML: {exc}", path, toml_error_line(str(exc))))
    except (RecursionError, ValueError) as exc:
        notes.append(ManifestNote(f"TOML not parsed: {type(exc).__name__}", path))
    return None


def _table(data: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _own_names(data: dict[str, Any]) -> list[object]:
    """The project's own name and the in-tree projects ``[tool.uv.sources]`` points at (workspace, path)."""
    names: list[object] = [_table(data, "project", "name"), _table(data, "tool", "poetry", "name")]
    sources = _table(data, "tool", "uv", "sources")
    if isinstance(sources, dict):
        names.extend(k for k, v in sources.items()
                     if isinstance(v, dict) and (v.get("workspace") is True or isinstance(v.get("path"), str)))
    return names


def _runtime_group(group: str) -> bool:
    return not DEV_GROUP_RE.search(group)


class PyprojectReader:
    """Reads one pyproject.toml."""

    def __init__(self, path: str, text: str) -> None:
        self.path = path
        self.idx = LineIndex(text)
        self.out = TomlResult()
        self.text = text

    def read(self) -> TomlResult:
        data = load_toml(self.text, self.path, self.out.notes)
        if data is None:
            return self.out
        self._pep621(data)
        self._pep735(data)
        self._poetry(data)
        self._pdm(data)
        self._uv(data)
        self.out.requirements = mark_local(self.out.requirements, _own_names(data))
        return self.out

    # ---------------------------------------------------------------- PEP 508 lists
    def _pep508_list(self, values: Any, section_line: int | None, kind: SourceKind, runtime: bool,
                     group: str | None, what: str) -> None:
        if not isinstance(values, list):
            if values is not None:
                self.out.notes.append(ManifestNote(f"{what} is not a list", self.path, section_line))
            return
        cursor = section_line or 1
        for value in values:
            if isinstance(value, dict):  # PEP 735 include-group
                continue
            if not isinstance(value, str):
                self.out.notes.append(ManifestNote(f"{what}: {value!r} is not a string", self.path, section_line))
                continue
            line = self.idx.find_string(value, cursor, section_line) or 1
            cursor = line
            try:
                self.out.requirements.append(parse_requirement(value, self.path, line, kind, is_runtime=runtime,
                                                               group=group))
            except RequirementError as exc:
                self.out.notes.append(ManifestNote(f"not a requirement: {value!r} ({exc})", self.path, line))

    def _pep621(self, data: dict[str, Any]) -> None:
        project = data.get("project")
        if not isinstance(project, dict):
            return
        start = self.idx.toml_table("project")
        deps_line = self.idx.find_key("dependencies", start or 1, start)
        self._pep508_list(project.get("dependencies"), deps_line, SourceKind.PEP621, True, None,
                          "[project] dependencies")
        dynamic = project.get("dynamic")
        if isinstance(dynamic, list) and "dependencies" in dynamic:
            from_file = _table(data, "tool", "setuptools", "dynamic", "dependencies", "file")
            if not from_file:  # requirements files named there are read on their own
                self.out.unknown.append(ManifestNote("[project] dependencies are dynamic (computed by the build "
                                                     "backend): unknown", self.path, start))
        optional = project.get("optional-dependencies")
        if isinstance(optional, dict):
            opt_line = self.idx.toml_table("project.optional-dependencies") or start or 1
            for group, values in optional.items():
                line = self.idx.find_key(str(group), opt_line, opt_line)
                self._pep508_list(values, line, SourceKind.PEP621, _runtime_group(str(group)), str(group),
                                  f"optional dependencies {group!r}")

    def _pep735(self, data: dict[str, Any]) -> None:
        groups = data.get("dependency-groups")
        if not isinstance(groups, dict):
            return
        start = self.idx.toml_table("dependency-groups") or 1
        for group, values in groups.items():
            line = self.idx.find_key(str(group), start, start)
            self._pep508_list(values, line, SourceKind.PEP735, False, str(group), f"dependency group {group!r}")

    def _pdm(self, data: dict[str, Any]) -> None:
        pdm = _table(data, "tool", "pdm")
        if not isinstance(pdm, dict):
            return
        dev = pdm.get("dev-dependencies")
        if isinstance(dev, dict):
            start = self.idx.toml_table("tool.pdm.dev-dependencies") or 1
            for group, values in dev.items():
                line = self.idx.find_key(str(group), start, start)
                self._pep508_list(values, line, SourceKind.PDM, False, str(group), f"PDM dev group {group!r}")
        sources = pdm.get("source")
        if isinstance(sources, list):
            lines = self.idx.all_matching(r"\[\[\s*tool\.pdm\.source\s*\]\](\s*#.*)?")
            for i, src in enumerate(sources):
                if not isinstance(src, dict) or not isinstance(src.get("url"), str):
                    continue
                line = lines[i] if i < len(lines) else 1
                name = str(src.get("name", ""))
                stype = str(src.get("type", "index"))
                role = (IndexRole.PRIMARY if name == "pypi" else
                        IndexRole.FIND_LINKS if stype == "find_links" else IndexRole.EXTRA)
                self.out.indexes.append(IndexSetting(mask_url(src["url"]), role, self.path, line, "pdm",
                                                     self.path, name))

    def _uv(self, data: dict[str, Any]) -> None:
        uv = _table(data, "tool", "uv")
        if not isinstance(uv, dict):
            return
        start = self.idx.toml_table("tool.uv") or 1
        dev_line = self.idx.find_key("dev-dependencies", start, start)
        self._pep508_list(uv.get("dev-dependencies"), dev_line, SourceKind.UV, False, "dev", "uv dev-dependencies")
        strategy = str(uv.get("index-strategy", ""))
        if isinstance(uv.get("index-url"), str):
            self.out.indexes.append(IndexSetting(mask_url(uv["index-url"]), IndexRole.PRIMARY, self.path,
                                                 self.idx.find_key("index-url", start, start) or 1, "uv",
                                                 self.path, extra=strategy))
        extra = uv.get("extra-index-url")
        for url in extra if isinstance(extra, list) else []:
            if isinstance(url, str):
                self.out.indexes.append(IndexSetting(mask_url(url), IndexRole.EXTRA, self.path,
                                                     self.idx.find_string(url, start, start) or 1, "uv",
                                                     self.path, extra=strategy))
        indexes = uv.get("index")
        if isinstance(indexes, list):
            lines = self.idx.all_matching(r"\[\[\s*tool\.uv\.index\s*\]\](\s*#.*)?")
            for i, entry in enumerate(indexes):
                if not isinstance(entry, dict) or not isinstance(entry.get("url"), str):
                    continue
                line = lines[i] if i < len(lines) else start
                role = (IndexRole.PRIMARY if entry.get("default") is True else
                        IndexRole.EXPLICIT if entry.get("explicit") is True else IndexRole.EXTRA)
                self.out.indexes.append(IndexSetting(mask_url(entry["url"]), role, self.path, line, "uv",
                                                     self.path, str(entry.get("name", "")), strategy))

    # ---------------------------------------------------------------- Poetry
    def _poetry(self, data: dict[str, Any]) -> None:
        poetry = _table(data, "tool", "poetry")
        if not isinstance(poetry, dict):
            return
        self._poetry_table(poetry.get("dependencies"), "tool.poetry.dependencies", True, None)
        self._poetry_table(poetry.get("dev-dependencies"), "tool.poetry.dev-dependencies", False, "dev")
        groups = poetry.get("group")
        if isinstance(groups, dict):
            for group, body in groups.items():
                deps = body.get("dependencies") if isinstance(body, dict) else None
                self._poetry_table(deps, f"tool.poetry.group.{group}.dependencies", _runtime_group(str(group))
                                   and str(group) == "main", str(group))
        sources = poetry.get("source")
        if isinstance(sources, list):
            lines = self.idx.all_matching(r"\[\[\s*tool\.poetry\.source\s*\]\](\s*#.*)?")
            for i, src in enumerate(sources):
                if isinstance(src, dict) and str(src.get("name", "")).lower() == "pypi" and "url" not in src:
                    src = {**src, "url": "https://pypi.org/simple"}  # Poetry's built-in PyPI source, re-prioritised
                if not isinstance(src, dict) or not isinstance(src.get("url"), str):
                    continue
                line = lines[i] if i < len(lines) else 1
                priority = str(src.get("priority", "")).lower()
                if not priority:
                    priority = ("default" if src.get("default") is True else
                                "secondary" if src.get("secondary") is True else "primary")
                role = {"primary": IndexRole.PRIMARY, "default": IndexRole.PRIMARY,
                        "explicit": IndexRole.EXPLICIT}.get(priority, IndexRole.EXTRA)
                self.out.indexes.append(IndexSetting(mask_url(src["url"]), role, self.path, line, "poetry",
                                                     self.path, str(src.get("name", "")), priority))

    def _poetry_table(self, deps: Any, table: str, runtime: bool, group: str | None) -> None:
        if not isinstance(deps, dict):
            return
        start = self.idx.toml_table(table) or 1
        for name, spec in deps.items():
            if str(name).lower() == "python":
                continue
            line = self.idx.find_key(str(name), start, start) or start
            for one in spec if isinstance(spec, list) else [spec]:
                req = self._poetry_dep(str(name), one, line, runtime, group)
                if req is not None:
                    self.out.requirements.append(req)

    def _poetry_dep(self, name: str, spec: Any, line: int, runtime: bool, group: str | None
                    ) -> DeclaredRequirement | None:
        runtime = runtime and name.lower() not in PACKAGING_TOOLS
        raw_spec = spec if isinstance(spec, str) else ""
        common: dict[str, Any] = {"path": self.path, "line": line, "source_kind": SourceKind.POETRY,
                                  "is_runtime": runtime, "group": group}
        if isinstance(spec, dict):
            if "git" in spec:
                ref = spec.get("rev") or spec.get("tag") or spec.get("branch")
                return DeclaredRequirement(name=name, specifier="", version_pinned=None, vcs="git",
                                           url=mask_url(str(spec["git"])), vcs_ref=str(ref) if ref else None,
                                           vcs_commit=bool(spec.get("rev") and COMMIT_RE.match(str(spec["rev"]))),
                                           raw=f"{name} = {{git = {mask_url(str(spec['git']))!r}, ref = {ref!r}}}",
                                           **common)
            if "path" in spec:
                return DeclaredRequirement(name=name, specifier="", version_pinned=None, local=True,
                                           raw=f"{name} = {{path = {spec['path']!r}}}", **common)
            if "url" in spec:
                return DeclaredRequirement(name=name, specifier="", version_pinned=None,
                                           url=mask_url(str(spec["url"])), raw=f"{name} = {{url = ...}}", **common)
            raw_spec = str(spec.get("version", ""))
            extras = tuple(str(e) for e in spec.get("extras", []) if isinstance(e, str))
            markers = spec.get("markers") if isinstance(spec.get("markers"), str) else None
            if spec.get("optional") is True and group is None:
                common["group"] = "optional"
        else:
            extras, markers = (), None
        exact = POETRY_EXACT_RE.match(raw_spec.strip())
        return DeclaredRequirement(name=name, specifier=raw_spec, version_pinned=exact.group(1) if exact else None,
                                   extras=extras, markers=markers, raw=f'{name} = "{raw_spec}"', **common)


def read_pyproject(path: str, text: str) -> TomlResult:
    """Requirements and indexes of one pyproject.toml (see module docstring)."""
    return PyprojectReader(path, text).read()
