"""``setup.cfg`` (``[options] install_requires`` and ``[options.extras_require]``) and ``setup.py`` read with
``ast``: only literal lists count; a computed ``install_requires`` (a call, a comprehension, a file read) is
reported as unknown, because evaluating it would mean running repository code.
"""

from __future__ import annotations

import ast
import configparser
import re
from dataclasses import dataclass, field

from mlposture.scanner.sources.manifests.model import DeclaredRequirement, ManifestNote, SourceKind
from mlposture.scanner.sources.manifests.pep508 import RequirementError, parse_requirement
from mlposture.scanner.sources.manifests.pyproject import DEV_GROUP_RE
from mlposture.scanner.sources.manifests.selfref import mark_local
from mlposture.scanner.sources.manifests.textpos import LineIndex


@dataclass
class SetupResult:
    """Requirements and notes from setup.cfg / setup.py."""

    requirements: list[DeclaredRequirement] = field(default_factory=list)
    notes: list[ManifestNote] = field(default_factory=list)
    unknown: list[ManifestNote] = field(default_factory=list)


def read_setup_cfg(path: str, text: str) -> SetupResult:
    """``install_requires`` and ``extras_require`` of a setup.cfg (``file:`` references are noted as unknown)."""
    out = SetupResult()
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(text, source=path)
    except configparser.Error as exc:
        line = getattr(exc, "lineno", None)
        out.notes.append(ManifestNote(f"malformed setup.cfg: {str(exc).splitlines()[0]}", path, line))
        return out
    idx = LineIndex(text)

    def values(section: str, key: str, runtime: bool, group: str | None) -> None:
        raw = parser.get(section, key, fallback=None)
        if raw is None:
            return
        sec_line = idx.section(r"\[\s*" + re.escape(section) + r"\s*\]") or 1
        key_line = idx.find_key(key, sec_line, sec_line) or sec_line
        if raw.strip().startswith("file:"):
            out.unknown.append(ManifestNote(f"{key} read from {raw.strip()}: not followed, unknown", path, key_line))
            return
        cursor = key_line
        for item in raw.splitlines():
            item = item.split(" #", 1)[0].strip()
            if not item or item.startswith("#"):
                continue
            line = idx.find(item, cursor, key_line) or key_line
            cursor = line
            try:
                out.requirements.append(parse_requirement(item, path, line, SourceKind.SETUP_CFG,
                                                          is_runtime=runtime, group=group))
            except RequirementError as exc:
                out.notes.append(ManifestNote(f"not a requirement: {item!r} ({exc})", path, line))

    if parser.has_section("options"):
        values("options", "install_requires", True, None)
    if parser.has_section("options.extras_require"):
        for extra in parser.options("options.extras_require"):
            values("options.extras_require", extra, not DEV_GROUP_RE.search(extra), extra)
    out.requirements = mark_local(out.requirements, [parser.get("metadata", "name", fallback=None)])
    return out


def _literal_strings(node: ast.expr, names: dict[str, ast.expr]) -> list[tuple[str, int]] | None:
    """The strings of a literal list/tuple (a module-level name bound to one is followed once), else None."""
    if isinstance(node, ast.Name) and node.id in names:
        node = names[node.id]
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [(s, node.lineno) for s in node.value.splitlines() if s.strip()]
    if not isinstance(node, (ast.List, ast.Tuple)):
        return None
    out: list[tuple[str, int]] = []
    for elt in node.elts:
        if not (isinstance(elt, ast.Constant) and isinstance(elt.value, str)):
            return None
        out.append((elt.value, elt.lineno))
    return out


def read_setup_py(path: str, tree: ast.Module) -> SetupResult:
    """Literal ``install_requires`` / ``extras_require`` of ``setup(...)`` calls, from the AST only."""
    out = SetupResult()
    own: list[object] = []
    names: dict[str, ast.expr] = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            names[stmt.targets[0].id] = stmt.value
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        fname = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        if fname != "setup":
            continue
        for kw in node.keywords:
            if kw.arg == "name" and isinstance(kw.value, ast.Constant):
                own.append(kw.value.value)
            if kw.arg is None:
                out.unknown.append(ManifestNote("setup() receives **kwargs: its requirements are unknown",
                                                path, node.lineno))
            elif kw.arg in ("install_requires", "requires"):
                _add(out, path, kw.value, names, True, None, kw.arg)
            elif kw.arg == "extras_require":
                value = names.get(kw.value.id, kw.value) if isinstance(kw.value, ast.Name) else kw.value
                if not isinstance(value, ast.Dict):
                    out.unknown.append(ManifestNote(f"extras_require is computed ({type(value).__name__}): "
                                                    "unknown", path, kw.value.lineno))
                    continue
                for key, val in zip(value.keys, value.values, strict=False):
                    group = key.value if isinstance(key, ast.Constant) and isinstance(key.value, str) else None
                    _add(out, path, val, names, not (group and DEV_GROUP_RE.search(group)), group,
                         f"extras_require[{group!r}]")
    out.requirements = mark_local(out.requirements, own)
    return out


def _add(out: SetupResult, path: str, node: ast.expr, names: dict[str, ast.expr], runtime: bool,
         group: str | None, what: str) -> None:
    items = _literal_strings(node, names)
    if items is None:
        out.unknown.append(ManifestNote(f"{what} is computed ({type(node).__name__}), not a literal list: unknown",
                                        path, node.lineno))
        return
    for text, line in items:
        text = text.split(" #", 1)[0].strip()
        if not text:
            continue
        try:
            out.requirements.append(parse_requirement(text, path, line, SourceKind.SETUP_PY, is_runtime=runtime,
                                                      group=group))
        except RequirementError as exc:
            out.notes.append(ManifestNote(f"not a requirement: {text!r} ({exc})", path, line))
