"""Django REST framework (``APIView``/viewsets, ``@api_view``, permission and throttle classes, ``REST_FRAMEWORK``
settings) and plain Django views named in ``urls.py`` (auth decorators, ``LoginRequiredMixin``, django-ratelimit)."""

from __future__ import annotations

import ast
from dataclasses import replace

from mlposture.probes.serving.facts import KeyKind, RateLimit, Route, Scope, parse_limit_string
from mlposture.probes.serving.pyindex import const_str, str_list, unparse
from mlposture.probes.serving.pyreader import ReaderBase
from mlposture.probes.serving.pyrepo import class_attr, class_attr_str
from mlposture.probes.serving.pywords import AUTH_DECORATORS, DRF_THROTTLES, DRF_VIEW_BASES, HTTP_METHODS, MODEL_URL


class DjangoRoutes(ReaderBase):
    """DRF and Django views of one module."""

    def _is_drf_api_view(self, dec: ast.expr) -> bool:
        target = dec.func if isinstance(dec, ast.Call) else dec
        return unparse(target).rsplit(".", 1)[-1] == "api_view"

    def _drf_function(self, func: ast.FunctionDef | ast.AsyncFunctionDef) -> Route:
        url, methods = self._django_url(func.name, func.lineno)
        for dec in func.decorator_list:
            if isinstance(dec, ast.Call) and unparse(dec.func).endswith("api_view"):
                methods = "/".join(s for s, _ in str_list(dec.args[0] if dec.args else None)) or "GET"
        model = self.model_call(func)
        route = Route("drf", methods, url, func.name, self.mod.path, func.lineno,
                      bool(model) or bool(MODEL_URL.search(url + func.name)), model)
        perms: ast.expr | None = None
        throttles: ast.expr | None = None
        for dec in func.decorator_list:
            if isinstance(dec, ast.Call) and dec.args:
                name = unparse(dec.func).rsplit(".", 1)[-1]
                if name == "permission_classes":
                    perms = dec.args[0]
                elif name == "throttle_classes":
                    throttles = dec.args[0]
        route = self._drf_auth(route, perms, func.lineno, [unparse(d) for d in func.decorator_list])
        filled = self._with_io(route, func, func.lineno)
        limits = self._drf_throttles(route, throttles, None)
        limits.extend(self._decorator_limits(func, route))
        return replace(filled, limits=tuple(limits))

    def _django_url(self, name: str, line: int) -> tuple[str, str]:
        hit = self.ri.urls.get(name)
        return (hit[0] if hit else f"<{name}>"), "POST"

    def _drf_auth(self, route: Route, perms: ast.expr | None, line: int, decorators: list[str]) -> Route:
        names = [s.rsplit(".", 1)[-1] for s, _ in str_list(perms)]
        pline = perms.lineno if perms is not None else line
        where = f"permission_classes = [{', '.join(names)}]"
        if perms is None:
            setting = self.ri.drf_settings.get("DEFAULT_PERMISSION_CLASSES")
            if setting is not None:
                names = [s.rsplit(".", 1)[-1] for s, _ in str_list(setting[0])]
                where = f"DEFAULT_PERMISSION_CLASSES = [{', '.join(names)}] ({setting[1]}:{setting[2]})"
            else:
                names = ["AllowAny"]
                where = "no permission_classes and no DEFAULT_PERMISSION_CLASSES (DRF default AllowAny)"
        if any(AUTH_DECORATORS.search(d) for d in decorators):
            return replace(route, auth=tuple(d for d in decorators if AUTH_DECORATORS.search(d)), auth_line=line)
        if not names or names == ["AllowAny"] or "AllowAny" in names:
            return replace(route, auth_denied=where, auth_line=pline)
        return replace(route, auth=(where,), auth_line=pline)

    def _drf_throttles(self, route: Route, throttles: ast.expr | None, scope_attr: str | None) -> list[RateLimit]:
        out: list[RateLimit] = []
        names = str_list(throttles)
        src_path, base_line = self.mod.path, throttles.lineno if throttles is not None else route.line
        if throttles is None:
            setting = self.ri.drf_settings.get("DEFAULT_THROTTLE_CLASSES")
            if setting is None:
                return out
            names = str_list(setting[0])
            src_path, base_line = setting[1], setting[2]
        rates_setting = self.ri.drf_settings.get("DEFAULT_THROTTLE_RATES")
        rates: dict[str, str] = {}
        if rates_setting is not None and isinstance(rates_setting[0], ast.Dict):
            for k, v in zip(rates_setting[0].keys, rates_setting[0].values, strict=False):
                ks, vs = const_str(k), const_str(v)
                if ks is not None and vs is not None:
                    rates[ks] = vs
        for full, line in names:
            cname = full.rsplit(".", 1)[-1]
            info = self.ri.throttles.get(cname) or DRF_THROTTLES.get(cname)
            if info is None:
                continue
            scope, key = info
            if cname == "ScopedRateThrottle":
                scope = scope_attr or ""
            rate = rates.get(scope, "")
            windows = parse_limit_string(rate, drf=True)
            kdetail = f"{cname} ({'client IP' if key is KeyKind.IP else 'user id, IP for anonymous'})"
            out.append(RateLimit("drf", src_path, line if throttles is not None else base_line, key, kdetail,
                                 windows, f"{cname} rate '{scope}': '{rate or 'missing'}'",
                                 Scope("route", (route.ident,))))
        return out

    def _drf_class(self, cls: ast.ClassDef) -> None:
        bases = [unparse(b).rsplit(".", 1)[-1] for b in cls.bases]
        if not any(DRF_VIEW_BASES.search(b) for b in bases) and not \
                any(b == "View" for b in bases):
            return
        drf = any(DRF_VIEW_BASES.search(b) for b in bases)
        url, _ = self._django_url(cls.name, cls.lineno)
        handlers = [s for s in cls.body if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef))
                    and (s.name in HTTP_METHODS or s.name in ("create", "list", "retrieve", "update")
                         or any("action" in unparse(d) for d in s.decorator_list))]
        for handler in handlers:
            model = self.model_call(handler) or self.model_call(cls)
            method = handler.name.upper() if handler.name in HTTP_METHODS else "POST"
            route = Route("drf" if drf else "django", method, url, f"{cls.name}.{handler.name}", self.mod.path,
                          handler.lineno, bool(model) or bool(MODEL_URL.search(url + cls.name)), model)
            decorators = [unparse(d) for d in [*cls.decorator_list, *handler.decorator_list]]
            if drf:
                route = self._drf_auth(route, class_attr(cls, "permission_classes"), cls.lineno, decorators)
                limits = self._drf_throttles(route, class_attr(cls, "throttle_classes"),
                                             class_attr_str(cls, "throttle_scope"))
            else:
                auth = tuple(d for d in decorators if AUTH_DECORATORS.search(d))
                if any(AUTH_DECORATORS.search(unparse(b)) or "LoginRequiredMixin" in unparse(b) for b in cls.bases):
                    auth = (*auth, "LoginRequiredMixin")
                route = replace(route, auth=auth, auth_line=cls.lineno)
                limits = []
            for dec in [*cls.decorator_list, *handler.decorator_list]:
                if isinstance(dec, ast.Call) and unparse(dec.func).endswith("method_decorator") and dec.args \
                        and isinstance(dec.args[0], ast.Call) and unparse(dec.args[0].func).endswith("ratelimit"):
                    limits.append(self._django_ratelimit(dec.args[0], route))
            limits.extend(self._decorator_limits(handler, route))
            self.facts.routes.append(replace(self._with_io(route, handler, handler.lineno), limits=tuple(limits)))

    def _plain_django_views(self) -> None:
        if not self.mod.path.endswith("views.py"):
            return
        for func in self.mod.functions.values():
            if func.name not in self.ri.urls or any(self._is_drf_api_view(d) for d in func.decorator_list):
                continue
            if any(self._route_decorator(d) for d in func.decorator_list):
                continue
            url, _ = self._django_url(func.name, func.lineno)
            model = self.model_call(func)
            decorators = [unparse(d) for d in func.decorator_list]
            route = Route("django", "ANY", url, func.name, self.mod.path, func.lineno,
                          bool(model) or bool(MODEL_URL.search(url)), model,
                          auth=tuple(d for d in decorators if AUTH_DECORATORS.search(d)), auth_line=func.lineno)
            limits = self._decorator_limits(func, route)
            self.facts.routes.append(replace(self._with_io(route, func, func.lineno), limits=tuple(limits)))
