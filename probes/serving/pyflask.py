"""Flask routes (``@app.route``, ``@bp.post``): auth decorators, ``before_request`` hooks that reject with
401/403, body validation and flask-limiter limits."""

from __future__ import annotations

import ast
import re
from dataclasses import replace

from mlposture.probes.serving.facts import Route
from mlposture.probes.serving.pyindex import unparse
from mlposture.probes.serving.pyreader import ReaderBase, named_for_inference
from mlposture.probes.serving.pywords import AUTH_DECORATORS, CONSUMER_KEY


class FlaskRoutes(ReaderBase):
    """Flask routes of one module."""

    def _flask_route(self, func: ast.FunctionDef | ast.AsyncFunctionDef, dec: ast.Call, method: str,
                     url: str) -> Route:
        model = self.model_call(func)
        route = Route("flask", method, url, func.name, self.mod.path, dec.lineno,
                      bool(model) or named_for_inference(url, func.name), model)
        auth = [unparse(d) for d in func.decorator_list if AUTH_DECORATORS.search(unparse(d))]
        before = self._before_request_auth()
        if before:
            auth.append(before)
        filled = self._with_io(route, func, dec.lineno)
        return replace(filled, auth=tuple(auth), auth_line=dec.lineno,
                       limits=tuple(self._decorator_limits(func, route)), exempt=self._exempt(func))

    def _before_request_auth(self) -> str:
        for func in self.mod.functions.values():
            if any(unparse(d).endswith("before_request") for d in func.decorator_list):
                body = unparse(func)
                if re.search(r"(401|403|Unauthorized|Forbidden)", body) and CONSUMER_KEY.search(body):
                    return f"@before_request {func.name}() rejects with 401/403"
        return ""
