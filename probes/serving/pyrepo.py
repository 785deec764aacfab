"""Cross-module knowledge of the Python serving code: schema classes, DRF settings and throttles, Django URL
patterns, app-level dependencies and auth middleware, and the prefixes/dependencies given by ``include_router``.

Built once from every indexed module before any route is read, so a route in one module is judged with what
another module says about it (its router's prefix, a dependency defined elsewhere, a schema imported).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

from mlposture.probes.serving.facts import KeyKind
from mlposture.probes.serving.pyindex import ModuleIndex, const_str, kwarg, unparse
from mlposture.probes.serving.pywords import (
    CONSTRAINED_TYPES,
    CONSTRAINT_KW,
    CONSUMER_KEY,
    DRF_THROTTLES,
    SENSITIVE_FIELDS,
)


@dataclass(frozen=True)
class SchemaInfo:
    """A request/response schema class (pydantic, marshmallow, DRF serializer) found in the repository."""

    name: str
    path: str
    line: int
    constrained: bool
    sensitive: tuple[tuple[str, int], ...]


@dataclass
class RepoIndex:
    """Cross-module knowledge: schemas, DRF settings, custom throttles, Django URL names."""

    modules: list[ModuleIndex]
    schemas: dict[str, SchemaInfo] = field(default_factory=dict)
    drf_settings: dict[str, tuple[ast.expr, str, int]] = field(default_factory=dict)
    throttles: dict[str, tuple[str, KeyKind]] = field(default_factory=dict)
    urls: dict[str, tuple[str, str, int]] = field(default_factory=dict)  # view name -> (url, path, line)
    app_deps: list[tuple[ModuleIndex, ast.expr]] = field(default_factory=list)  # FastAPI(dependencies=[...])
    app_auth: list[tuple[str, int, str]] = field(default_factory=list)  # HTTP middleware that rejects 401/403

    def resolve_function(self, mod: ModuleIndex, name: str) -> tuple[ModuleIndex, ast.FunctionDef |
                                                                      ast.AsyncFunctionDef] | None:
        """A function by name: defined in ``mod`` or imported into it from another module of the repository."""
        func = mod.functions.get(name)
        if func is not None:
            return mod, func
        target = mod.imports.get(name, "")
        owner, _, attr = target.rpartition(".")
        if not owner:
            return None
        tail = owner.lstrip(".")
        for other in self.modules:
            if other is not mod and (other.module_name == tail or other.module_name.endswith("." + tail)):
                found = other.functions.get(attr)
                if found is not None:
                    return other, found
        return None


def build_repo_index(modules: list[ModuleIndex]) -> RepoIndex:
    """First pass over every module: schema classes, DRF settings and throttles, Django URL patterns."""
    ri = RepoIndex(modules)
    pending: list[tuple[ModuleIndex, ast.ClassDef]] = [(m, c) for m in modules for c in m.classes.values()]
    known_bases = {"BaseModel", "Schema", "Serializer", "ModelSerializer", "SQLModel", "RootModel"}
    for _ in range(4):  # subclasses of subclasses, bounded
        left: list[tuple[ModuleIndex, ast.ClassDef]] = []
        for mod, cls in pending:
            bases = {unparse(b).rsplit(".", 1)[-1] for b in cls.bases}
            if bases & known_bases or bases & set(ri.schemas):
                ri.schemas[cls.name] = _schema_info(mod, cls, ri)
                known_bases.add(cls.name)
            else:
                left.append((mod, cls))
        pending = left
    for mod in modules:
        for cls in mod.classes.values():
            bases = {unparse(b).rsplit(".", 1)[-1] for b in cls.bases}
            for base in bases:
                if base in DRF_THROTTLES:
                    scope = class_attr_str(cls, "scope") or DRF_THROTTLES[base][0]
                    ri.throttles[cls.name] = (scope, DRF_THROTTLES[base][1])
        rf = mod.assigns.get("REST_FRAMEWORK")
        if isinstance(rf, ast.Dict):
            for k, v in zip(rf.keys, rf.values, strict=False):
                key = const_str(k)
                if key is not None:
                    ri.drf_settings[key] = (v, mod.path, (k or v).lineno)
        _collect_urls(mod, ri)
        for call in mod.calls.values():
            if mod.call_name(call).endswith("FastAPI"):
                ri.app_deps.extend((mod, d) for d in list_items(kwarg(call, "dependencies")))
        for func in mod.functions.values():
            decos = " ".join(unparse(d) for d in func.decorator_list)
            if re.search(r"\.middleware\(\s*['\"]http", decos):
                body = unparse(func)
                if re.search(r"(401|403|HTTP_401|HTTP_403|UNAUTHORIZED|FORBIDDEN)", body) and \
                        CONSUMER_KEY.search(body):
                    ri.app_auth.append((mod.path, func.lineno, f"HTTP middleware {func.name}() rejects with 401/403"))
    return ri


def class_attr(cls: ast.ClassDef, name: str) -> ast.expr | None:
    """The value assigned to ``name`` in a class body."""
    for stmt in cls.body:
        if isinstance(stmt, ast.Assign):
            for t in stmt.targets:
                if isinstance(t, ast.Name) and t.id == name:
                    return stmt.value
        elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.target.id == name:
            return stmt.value
    return None


def class_attr_str(cls: ast.ClassDef, name: str) -> str | None:
    """The string assigned to ``name`` in a class body."""
    return const_str(class_attr(cls, name))


def _schema_info(mod: ModuleIndex, cls: ast.ClassDef, ri: RepoIndex) -> SchemaInfo:
    constrained = False
    sensitive: list[tuple[str, int]] = []
    for base in cls.bases:
        parent = ri.schemas.get(unparse(base).rsplit(".", 1)[-1])
        if parent is not None:
            constrained = constrained or parent.constrained
            sensitive.extend(parent.sensitive)
    for stmt in cls.body:
        name: str | None = None
        if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            name = stmt.target.id
            if CONSTRAINED_TYPES.search(unparse(stmt.annotation)):
                constrained = True
            value = stmt.value
        elif isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            name = stmt.targets[0].id
            value = stmt.value
        elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if any(re.search(r"validator|validates", unparse(d)) for d in stmt.decorator_list):
                constrained = True
            continue
        else:
            continue
        if isinstance(value, ast.Call) and any(kw.arg in CONSTRAINT_KW for kw in value.keywords):
            constrained = True
        if name.lower() in SENSITIVE_FIELDS:
            sensitive.append((name, stmt.lineno))
    return SchemaInfo(cls.name, mod.path, cls.lineno, constrained, tuple(sensitive))


def _collect_urls(mod: ModuleIndex, ri: RepoIndex) -> None:
    for node in mod.nodes:
        if not isinstance(node, ast.Call) or not node.args:
            continue
        fname = unparse(node.func).rsplit(".", 1)[-1]
        if fname in ("path", "re_path", "url") and len(node.args) >= 2:
            url = const_str(node.args[0])
            view = node.args[1]
            if isinstance(view, ast.Call):  # PredictView.as_view()
                view = view.func.value if isinstance(view.func, ast.Attribute) else view.func
            if url is not None:
                name = unparse(view).rsplit(".", 1)[-1]
                ri.urls.setdefault(name, ("/" + url.lstrip("^/").rstrip("$"), mod.path, node.lineno))
        elif fname == "register" and len(node.args) >= 2 and isinstance(node.func, ast.Attribute):
            url = const_str(node.args[0])
            if url is not None:
                name = unparse(node.args[1]).rsplit(".", 1)[-1]
                ri.urls.setdefault(name, ("/" + url.lstrip("^r/").rstrip("$"), mod.path, node.lineno))


def list_items(node: ast.expr | None) -> list[ast.expr]:
    """The items of a list or tuple literal."""
    if isinstance(node, (ast.List, ast.Tuple)):
        return list(node.elts)
    return []


def read_routers(modules: list[ModuleIndex]) -> tuple[dict[tuple[str, str], str],
                                                     dict[tuple[str, str], list[tuple[ModuleIndex, ast.expr]]]]:
    """Prefixes and dependencies given by ``include_router(x.router, prefix=..., dependencies=[...])``.

    Keys are (module name of the router, router variable); the router module is found by the last part of
    the included expression's owner (``routes.predict.router`` -> module ``*.predict``).
    """
    prefixes: dict[tuple[str, str], str] = {}
    deps: dict[tuple[str, str], list[tuple[ModuleIndex, ast.expr]]] = {}
    names = {m.module_name for m in modules}
    for mod in modules:
        for node in mod.nodes:
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in ("include_router", "register_blueprint") and node.args):
                continue
            target = node.args[0]
            text = unparse(target)
            owner, _, var = text.rpartition(".")
            if not owner:
                owner_mod, var = mod.module_name, text
                imported = mod.imports.get(text, "")
                if imported:
                    owner, _, var = imported.rpartition(".")
                    owner_mod = _match_module(owner, names) or owner_mod
            else:
                imported = mod.imports.get(owner.split(".")[0], owner)
                owner_mod = _match_module(imported + owner[len(owner.split(".")[0]):], names) or owner
            prefix = const_str(kwarg(node, "prefix") or kwarg(node, "url_prefix"))
            if prefix:
                prefixes[(owner_mod, var)] = prefix
            extra = list_items(kwarg(node, "dependencies"))
            if extra:
                deps.setdefault((owner_mod, var), []).extend((mod, e) for e in extra)
    return prefixes, deps


def _match_module(dotted: str, names: set[str]) -> str | None:
    tail = dotted.lstrip(".")
    for name in names:
        if name == tail or name.endswith("." + tail) or (tail and name.rsplit(".", 1)[-1] == tail.rsplit(".", 1)[-1]):
            return name
    return None
