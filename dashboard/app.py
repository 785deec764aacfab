"""The dashboard's web application: pages, the JSON API, security headers and (optionally) token authentication.

Starlette routes, Jinja2 templates with autoescaping (every string from a scanned repository is text, never
markup), server-rendered SVG charts, and one stylesheet and one small script served from the package: the page
loads nothing from any other origin, and the Content-Security-Policy says so to the browser.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from importlib import resources
from typing import Any
from urllib.parse import parse_qsl, quote

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mlposture.dashboard import charts, pages
from mlposture.dashboard.auth import COOKIE, TokenAuth, session_value
from mlposture.dashboard.data import FleetData
from mlposture.dashboard.values import RISKS, risk_slug
from mlposture.scanner import __version__
from mlposture.scanner.report.html import SCRIPT as REPORT_SCRIPT

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "frame-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
_REPORT_DIGEST = base64.b64encode(hashlib.sha256(REPORT_SCRIPT.strip().encode("utf-8")).digest()).decode("ascii")
# The scanner's HTML report keeps its inline style and its one script (allowed by hash); it is framed by our pages.
REPORT_CSP = (f"default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src 'sha256-{_REPORT_DIGEST}'; "
              "base-uri 'none'; form-action 'none'; frame-ancestors 'self'")
MAX_FORM_BYTES = 4096


def _environment() -> Environment:
    env = Environment(loader=PackageLoader("mlposture.dashboard", "templates"),
                      autoescape=select_autoescape(("html",), default=True), trim_blocks=True, lstrip_blocks=True)
    env.filters["urlpart"] = lambda value: quote(str(value), safe="")
    env.filters["risk_slug"] = risk_slug
    env.filters["pct"] = lambda value: "—" if value is None else f"{round(float(value) * 100)}%"
    env.filters["short"] = lambda value, n=12: "" if not value else str(value)[:n]
    env.filters["when"] = lambda value: "—" if not value else str(value).replace("T", " ").replace("Z", " UTC")
    env.globals.update(version=__version__, risks=RISKS, legend=charts.legend)
    return env


class SecurityHeaders:
    """ASGI middleware: the CSP and the usual hardening headers on every response that did not set its own.

    It also adds ``Server-Timing: app;dur=MS, cpu;dur=MS``: the wall time until the response started and the
    process's CPU time meanwhile (the benchmark reads both; on a busy machine the wall time includes waiting).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, cpu = time.perf_counter(), time.process_time()

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                elapsed = (time.perf_counter() - started) * 1000
                used = (time.process_time() - cpu) * 1000
                headers.append((b"server-timing", f"app;dur={elapsed:.1f}, cpu;dur={used:.1f}".encode()))
                names = {k.lower() for k, _ in headers}
                extra = [(b"content-security-policy", CSP.encode()), (b"x-content-type-options", b"nosniff"),
                         (b"referrer-policy", b"no-referrer"), (b"x-frame-options", b"DENY"),
                         (b"cross-origin-opener-policy", b"same-origin"),
                         (b"cross-origin-resource-policy", b"same-origin"), (b"cache-control", b"no-store")]
                headers += [(k, v) for k, v in extra if k not in names]
                message = dict(message, headers=headers)
            await send(message)

        await self.app(scope, receive, with_headers)


def _safe_next(value: str) -> str:
    """Only a path on this server (``/...`` but not ``//host``) may follow the login."""
    return value if value.startswith("/") and not value.startswith("//") and "\\" not in value else "/"


def create_app(data: FleetData, token: str | None = None) -> ASGIApp:
    """The ASGI application over ``data``; with ``token`` every request needs it."""
    env = _environment()
    env.globals["auth"] = token is not None

    def page(name: str, status: int = 200, **context: Any) -> HTMLResponse:
        return HTMLResponse(env.get_template(name).render(**context), status_code=status)

    def login_form(next_path: str, status: int, message: str = "") -> HTMLResponse:
        return page("login.html", status=status, next=_safe_next(next_path), message=message)

    def home(request: Request) -> Response:
        return page("overview.html", **pages.overview_context(data, request.query_params))

    def repo_page(request: Request) -> Response:
        context = pages.repo_context(data, request.path_params["repo"])
        if context is None:
            raise HTTPException(404, "no repository of that name in the fleet database")
        return page("repo.html", **context)

    def repo_report(request: Request) -> Response:
        html = pages.report_html(data, request.path_params["repo"], request.query_params.get("scan"))
        if html is None:
            raise HTTPException(404, "no stored report for that repository")
        return HTMLResponse(html, headers={"content-security-policy": REPORT_CSP, "x-frame-options": "SAMEORIGIN"})

    def controls_page(request: Request) -> Response:
        return page("controls.html", **pages.controls_context(data))

    def control_page(request: Request) -> Response:
        context = pages.control_context(data, request.path_params["control_id"], request.query_params)
        if context is None:
            raise HTTPException(404, "no control of that id in the catalog or the fleet database")
        return page("control.html", **context)

    def api_repos(request: Request) -> Response:
        return JSONResponse([s.as_dict() for s in data.statuses()])

    def api_scans(request: Request) -> Response:
        name = request.path_params["repo"]
        scans = data.scans(name)
        if not scans:
            return JSONResponse({"error": f"no repository named {name!r}"}, status_code=404)
        return JSONResponse([s.as_dict() for s in scans])

    def api_report(request: Request) -> Response:
        name, scan_id = request.path_params["repo"], request.path_params["scan_id"]
        if not any(s.id == scan_id for s in data.scans(name)):
            return JSONResponse({"error": "no such scan of that repository"}, status_code=404)
        report = data.report(scan_id)
        if report is None:
            return JSONResponse({"error": "that scan failed and has no report"}, status_code=404)
        return JSONResponse(report)

    def api_control(request: Request) -> Response:
        control_id = request.path_params["control_id"].upper()
        rows = data.control_statuses(control_id)
        if not rows and pages.catalog().get(control_id) is None:
            return JSONResponse({"error": f"unknown control {control_id!r}"}, status_code=404)
        return JSONResponse([r.as_json() for r in rows])

    def login_get(request: Request) -> Response:
        if token is None:
            return RedirectResponse("/", status_code=303)
        return login_form(request.query_params.get("next", "/"), 200)

    async def login_post(request: Request) -> Response:
        if token is None:
            return RedirectResponse("/", status_code=303)
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_FORM_BYTES:
                return login_form("/", 413, "The form was too large.")
        form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        given = form.get("token", "")
        expected_digest = hashlib.sha256(token.encode("utf-8")).digest()
        given_digest = hashlib.sha256(given.encode("utf-8", "surrogateescape")).digest()
        if not hmac.compare_digest(given_digest, expected_digest):
            return login_form(form.get("next", "/"), 401, "That token is not valid.")
        response = RedirectResponse(_safe_next(form.get("next", "/")), status_code=303)
        response.set_cookie(COOKIE, session_value(token), httponly=True, samesite="strict", path="/",
                            secure=request.url.scheme == "https")
        return response

    def logout(request: Request) -> Response:
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE, path="/")
        return response

    async def not_found(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        detail = exc.detail if isinstance(exc, HTTPException) else "internal error"
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": detail}, status_code=status)
        return page("error.html", status=status, status_code=status, detail=detail)

    static = StaticFiles(directory=str(resources.files("mlposture.dashboard") / "static"))
    routes = [
        Route("/", home),
        Route("/repos/{repo}", repo_page),
        Route("/repos/{repo}/report", repo_report),
        Route("/controls", controls_page),
        Route("/controls/{control_id}", control_page),
        Route("/api/repos", api_repos),
        Route("/api/repos/{repo}/scans", api_scans),
        Route("/api/repos/{repo}/scans/{scan_id:int}/report", api_report),
        Route("/api/controls/{control_id}", api_control),
        Route("/login", login_get, methods=["GET"]),
        Route("/login", login_post, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Mount("/static", static, name="static"),
    ]
    app: ASGIApp = Starlette(routes=routes, exception_handlers={HTTPException: not_found})
    if token is not None:
        app = TokenAuth(app, token, lambda next_path: login_form(next_path, 401))
    return SecurityHeaders(app)

