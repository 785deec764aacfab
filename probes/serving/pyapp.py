"""Python serving code read with ``ast``: routes and what protects, validates and limits each of them.

Frameworks, one module each: FastAPI (:mod:`~mlposture.probes.serving.pyfastapi`), Flask
(:mod:`~mlposture.probes.serving.pyflask`), Django REST framework and Django views
(:mod:`~mlposture.probes.serving.pydjango`); what they share (limiters, model calls, outputs) is in
:mod:`~mlposture.probes.serving.pyreader`, the cross-module index in :mod:`~mlposture.probes.serving.pyrepo`.
Limiters: slowapi, flask-limiter, fastapi-limiter, DRF throttles, django-ratelimit. Nothing is imported or executed.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable

from mlposture.probes.serving.facts import Facts, KeyKind, RateLimit, Route, Scope
from mlposture.probes.serving.pydjango import DjangoRoutes
from mlposture.probes.serving.pyfastapi import FastApiRoutes
from mlposture.probes.serving.pyflask import FlaskRoutes
from mlposture.probes.serving.pyindex import ModuleIndex, const_str, kwarg, unparse
from mlposture.probes.serving.pyreader import pyrate_rates
from mlposture.probes.serving.pyrepo import build_repo_index, read_routers
from mlposture.probes.serving.pywords import MODELISH

__all__ = ["MODELISH", "ModuleReader", "read_python_app"]


class ModuleReader(FastApiRoutes, FlaskRoutes, DjangoRoutes):
    """Reads one module's routes, with the repository index for cross-module names."""

    def read(self) -> Facts:
        """Every route of the module, plus module-level limits."""
        for func in self._functions():
            for route in self._routes_of(func):
                self.facts.routes.append(route)
        for cls in self.mod.classes.values():
            self._drf_class(cls)
        self._plain_django_views()
        return self.facts

    def _functions(self) -> Iterable[ast.FunctionDef | ast.AsyncFunctionDef]:
        """Decorated functions anywhere but directly in a class (app factories register routes in a function)."""
        methods = {id(s) for n in self.mod.nodes if isinstance(n, ast.ClassDef) for s in n.body}
        for node in self.mod.nodes:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.decorator_list \
                    and id(node) not in methods:
                yield node

    def _routes_of(self, func: ast.FunctionDef | ast.AsyncFunctionDef) -> list[Route]:
        out: list[Route] = []
        for dec in func.decorator_list:
            found = self._route_decorator(dec)
            if found is None:
                continue
            framework, method, call, owner = found
            url = const_str(call.args[0]) if call.args else const_str(kwarg(call, "path") or kwarg(call, "rule"))
            url = (url or "/")
            prefix = self._prefix(owner, framework)
            full = (prefix.rstrip("/") + "/" + url.lstrip("/")) if prefix else url
            if framework == "fastapi":
                out.append(self._fastapi_route(func, call, method, full or "/", owner))
            else:
                out.append(self._flask_route(func, call, method, full or "/"))
        if not out and any(self._is_drf_api_view(d) for d in func.decorator_list):
            out.append(self._drf_function(func))
        return out

    def _prefix(self, owner: str, framework: str) -> str:
        call = self.mod.calls.get(owner)
        prefix = ""
        if call is not None:
            prefix = const_str(kwarg(call, "prefix") or kwarg(call, "url_prefix")) or ""
        outer = self.prefixes.get((self.mod.module_name, owner), "")
        return outer.rstrip("/") + prefix if outer else prefix


def read_python_app(modules: list[ModuleIndex]) -> Facts:
    """Routes and app-level limits of every module, with default limits scoped to the routes they cover."""
    ri = build_repo_index(modules)
    prefixes, deps = read_routers(modules)
    facts = Facts()
    readers = [ModuleReader(m, ri, prefixes, deps) for m in modules]
    for reader in readers:
        facts.extend(reader.read())
    slowapi_middleware = any(
        isinstance(node, ast.Call) and unparse(node.func).endswith("add_middleware") and node.args
        and unparse(node.args[0]).endswith(("SlowAPIMiddleware", "SlowAPIASGIMiddleware"))
        for m in modules if "SlowAPI" in m.source or not m.source for node in m.nodes)
    for reader in readers:
        for name, lim in reader.limiters.items():
            if not lim.defaults:
                continue
            # flask-limiter documents default limits as applying to every route *not* decorated with its own
            # limit; slowapi copies that, and applies them only through SlowAPIMiddleware.
            framework = "fastapi" if lim.source == "slowapi" else "flask"
            covered = tuple(r.ident for r in facts.routes if r.framework == framework and not r.exempt
                            and not any(x.source == lim.source for x in r.limits))
            key_detail = lim.key_detail
            if lim.source == "slowapi" and not slowapi_middleware:
                covered = ()
                key_detail += "; no SlowAPIMiddleware, so default limits are not enforced"
            facts.limits.append(RateLimit(lim.source, reader.mod.path, lim.line, lim.key, key_detail,
                                          lim.defaults, f'{name} default_limits "{lim.default_text}"',
                                          Scope("route", covered)))
        for node in reader.mod.nodes if "RateLimiterMiddleware" in reader.mod.source or not reader.mod.source \
                else []:
            if isinstance(node, ast.Call) and unparse(node.func).endswith("add_middleware") and node.args and \
                    unparse(node.args[0]).endswith("RateLimiterMiddleware"):
                lim_node = kwarg(node, "limiter")
                windows = tuple(pyrate_rates(lim_node, reader.mod)) if lim_node is not None else ()
                key, detail = reader.classify_key(kwarg(node, "identifier"), (KeyKind.IP, "default identifier (IP)"))
                facts.limits.append(RateLimit("fastapi-limiter", reader.mod.path, node.lineno, key, detail, windows,
                                              "RateLimiterMiddleware", Scope.everywhere()))
    for route in facts.routes:
        facts.limits.extend(route.limits)
    return facts
