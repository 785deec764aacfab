"""FastAPI routes: dependencies (route, router, ``include_router`` and app level, ``Annotated``), security schemes
followed across modules, fastapi-limiter (``times=/seconds=`` and 0.2's ``limiter=Limiter(Rate(...))``), request
models and their constraints."""

from __future__ import annotations

import ast
import re
from dataclasses import replace

from mlposture.probes.serving.facts import KeyKind, RateLimit, Route, Scope, Window
from mlposture.probes.serving.pyindex import ModuleIndex, const_num, kwarg, short, unparse
from mlposture.probes.serving.pyreader import ReaderBase, line_of, named_for_inference, pyrate_rates
from mlposture.probes.serving.pyrepo import RepoIndex, list_items
from mlposture.probes.serving.pywords import (
    AUTH_NAME,
    CONSTRAINT_KW,
    RAW_BODY,
    SECURITY_SCHEMES,
    VALIDATOR_CALLS,
)


class FastApiRoutes(ReaderBase):
    """FastAPI routes of one module."""

    def _fastapi_route(self, func: ast.FunctionDef | ast.AsyncFunctionDef, dec: ast.Call, method: str,
                       url: str, owner: str) -> Route:
        model = self.model_call(func)
        route = Route("fastapi", method, url, func.name, self.mod.path, dec.lineno,
                      bool(model) or named_for_inference(url, func.name), model)
        mod = self.mod
        deps: list[tuple[ModuleIndex, ast.expr]] = []
        deps.extend((mod, d) for d in list_items(kwarg(dec, "dependencies")))
        owner_call = mod.calls.get(owner)
        if owner_call is not None:
            deps.extend((mod, d) for d in list_items(kwarg(owner_call, "dependencies")))
        deps.extend(self.include_deps.get((mod.module_name, owner), []))
        deps.extend(d for d in self.ri.app_deps if not (d[0] is mod and owner_call is not None
                                                        and mod.call_name(owner_call).endswith("FastAPI")))
        params = _params(func)
        for _, _, default in params:
            if default is not None:
                deps.append((mod, default))
        for _, ann, _ in params:
            if ann is not None and isinstance(ann, ast.Subscript) and unparse(ann.value).endswith("Annotated"):
                deps.extend((mod, m) for m in _annotated_meta(ann))
        auth: list[str] = []
        limits: list[RateLimit] = []
        for dep_mod, dep in deps:
            inner = _depends_target(dep)
            if inner is None:
                continue
            target, is_security = inner
            lim = self._fastapi_limiter(target, route, dep_mod)
            if lim is not None:
                limits.append(lim)
                continue
            desc = auth_dependency(self.ri, dep_mod, target, 0)
            if desc or is_security:
                auth.append(desc or f"Security({short(target, 40)})")
        auth.extend(f"{d} ({p}:{ln})" for p, ln, d in self.ri.app_auth)
        limits.extend(self._decorator_limits(func, route))
        filled = self._with_io(route, func, dec.lineno, self._fastapi_validation(func, params),
                               kwarg(dec, "response_model") or func.returns)
        return replace(filled, auth=tuple(auth), auth_line=dec.lineno, limits=tuple(limits),
                       exempt=self._exempt(func))

    def _fastapi_limiter(self, target: ast.expr, route: Route, mod: ModuleIndex) -> RateLimit | None:
        if not isinstance(target, ast.Call):
            return None
        q = mod.call_name(target)
        if not q.endswith("RateLimiter"):
            return None
        windows: tuple[Window, ...] = ()
        times, seconds = const_num(kwarg(target, "times")), 0.0
        for unit, mult in (("milliseconds", 0.001), ("seconds", 1), ("minutes", 60), ("hours", 3600)):
            v = const_num(kwarg(target, unit))
            if v is not None:
                seconds += v * mult
        if times is not None and seconds:
            windows = (Window(int(seconds), times),)
        lim_node = kwarg(target, "limiter")
        if lim_node is not None:
            windows = tuple(pyrate_rates(lim_node, mod))
        ident = kwarg(target, "identifier")
        if ident is not None:
            key, detail = self.classify_key(ident, (KeyKind.IP, "default identifier (IP)"))
        elif self.fastapi_identifier is not None:
            key, detail = self.fastapi_identifier
        else:
            key, detail = KeyKind.IP, "default identifier (client IP)"
        return RateLimit("fastapi-limiter", mod.path, target.lineno, key, detail, windows,
                         short(target), Scope("route", (route.ident,)))

    def _fastapi_validation(self, func: ast.FunctionDef | ast.AsyncFunctionDef,
                            params: list[tuple[str, ast.expr | None, ast.expr | None]]) -> tuple[str, str, int]:
        verdicts: list[tuple[str, str, int]] = []
        body_text = unparse(func)
        for name, ann, default in params:
            if name in ("self", "cls", "response", "background_tasks", "db"):
                continue
            if default is not None and _depends_target(default) is not None:
                continue
            ann_text = unparse(ann) if ann is not None else ""
            if ann is not None and isinstance(ann, ast.Subscript) and ann_text.startswith("Annotated"):
                meta = _annotated_meta(ann)
                if any(_depends_target(m) is not None for m in meta):
                    continue
                if any(isinstance(m, ast.Call) and any(k.arg in CONSTRAINT_KW for k in m.keywords) for m in meta):
                    verdicts.append(("validated", f"{name}: {short(ann, 60)}", ann.lineno))
                    continue
                inner = ann.slice.elts[0] if isinstance(ann.slice, ast.Tuple) and ann.slice.elts else ann.slice
                ann_text = unparse(inner)
            if isinstance(default, ast.Call) and any(k.arg in CONSTRAINT_KW for k in default.keywords):
                verdicts.append(("validated", f"{name} = {short(default, 60)}", default.lineno))
                continue
            base = re.sub(r"^(typing\.|t\.)", "", ann_text)
            schema_name = re.sub(r"^(List|list|Sequence|Optional)\[(.*)\]$", r"\2", base).rsplit(".", 1)[-1]
            schema = self.ri.schemas.get(schema_name)
            line = ann.lineno if ann is not None else func.lineno
            if schema is not None:
                state = "constrained" if schema.constrained else "no Field constraints"
                verdicts.append(("validated" if schema.constrained else "typed",
                                 f"{name}: {schema.name} ({state}, {schema.path}:{schema.line})", line))
            elif re.match(r"^(dict|Dict|Any|typing\.Any|Json|Mapping|dict\[.*\]|Dict\[.*\]|object)$", base):
                verdicts.append(("raw", f"{name}: {base}", line))
            elif base in ("Request", "starlette.requests.Request") or base.endswith(".Request"):
                m = RAW_BODY.search(body_text)
                if m and not VALIDATOR_CALLS.search(body_text) and not self._schema_call(body_text):
                    verdicts.append(("raw", f"{m.group(0)} read without a schema", line_of(func, m.group(0))))
            elif base in ("UploadFile", "fastapi.UploadFile", "bytes", "File"):
                verdicts.append(("typed", f"{name}: {base} (upload; size checks not recognised)", line))
            elif base in ("str", "int", "float", "bool"):
                verdicts.append(("typed", f"{name}: {base}", line))
        kinds = {v[0] for v in verdicts}
        for kind in ("raw", "validated", "typed"):
            if kind in kinds:
                first = next(v for v in verdicts if v[0] == kind)
                return first
        return "none", "", 0


def auth_dependency(ri: RepoIndex, mod: ModuleIndex, target: ast.expr, depth: int) -> str:
    """Why a FastAPI dependency authenticates the caller, or ``""``.

    Follows security-scheme instances (``APIKeyHeader(...)``), dependency functions whose parameters depend on a
    scheme (also across modules of the repository, three levels deep), functions that reject with 401/403, and
    finally the dependency's name.
    """
    text = unparse(target)
    name = text.rsplit(".", 1)[-1].split("(")[0]
    call = mod.calls.get(text)
    if call is not None:
        scheme = mod.call_name(call).rsplit(".", 1)[-1]
        if scheme in SECURITY_SCHEMES:
            return f"{text} = {scheme}(...)"
    if isinstance(target, ast.Call):
        scheme = mod.call_name(target).rsplit(".", 1)[-1]
        if scheme in SECURITY_SCHEMES:
            return f"{scheme}(...)"
    found = ri.resolve_function(mod, name) if isinstance(target, ast.Name) else None
    if found is not None and depth < 3:
        fmod, func = found
        for _, ann, default in _params(func):
            for dep in [default, *(_annotated_meta(ann) if isinstance(ann, ast.Subscript) else [])]:
                inner = _depends_target(dep) if dep is not None else None
                if inner is not None:
                    why = auth_dependency(ri, fmod, inner[0], depth + 1)
                    if why or inner[1]:
                        return f"{name}() -> {why or 'Security'}"
        body = unparse(func)
        if re.search(r"(401|403|HTTP_401|HTTP_403|UNAUTHORIZED|FORBIDDEN)", body) and \
                re.search(r"(key|token|auth|credential|user)", body, re.I):
            return f"{name}() rejects with 401/403"
    if AUTH_NAME.search(name) and not re.search(r"(rate|limit|throttle)", name, re.I):
        return f"Depends({name})"
    return ""


def _params(func: ast.FunctionDef | ast.AsyncFunctionDef) -> list[tuple[str, ast.expr | None, ast.expr | None]]:
    args = func.args
    positional = [*args.posonlyargs, *args.args]
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    out = [(a.arg, a.annotation, d) for a, d in zip(positional, defaults, strict=False)]
    out.extend((a.arg, a.annotation, d) for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=False))
    return out


def _annotated_meta(ann: ast.expr | None) -> list[ast.expr]:
    if isinstance(ann, ast.Subscript) and isinstance(ann.slice, ast.Tuple):
        return list(ann.slice.elts[1:])
    return []


def _depends_target(node: ast.expr | None) -> tuple[ast.expr, bool] | None:
    """For ``Depends(x)`` / ``Security(x)``: (x, is Security)."""
    if not isinstance(node, ast.Call):
        return None
    name = unparse(node.func).rsplit(".", 1)[-1]
    if name not in ("Depends", "Security"):
        return None
    target = node.args[0] if node.args else kwarg(node, "dependency")
    if target is None:
        return None
    return target, name == "Security"
