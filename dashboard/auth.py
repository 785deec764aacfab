"""Token authentication: every request needs ``Authorization: Bearer TOKEN`` or the session cookie of the login form.

The cookie holds an HMAC of a fixed label keyed by the token, not the token itself, so a leaked cookie does not
reveal the token that also opens the API. Both checks compare digests of equal length in constant time. Only the
login form and the static stylesheet and script (no data) are served without a token.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from http.cookies import SimpleCookie

from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

COOKIE = "mlposture_session"
SESSION_LABEL = b"mlposture dashboard session v1"


def session_value(token: str) -> str:
    """The cookie value that stands for ``token``."""
    return hmac.new(token.encode("utf-8"), SESSION_LABEL, hashlib.sha256).hexdigest()


def _same(given: str, expected: str) -> bool:
    a = hashlib.sha256(given.encode("utf-8", "surrogateescape")).digest()
    b = hashlib.sha256(expected.encode("utf-8")).digest()
    return hmac.compare_digest(a, b)


def authorised(headers: dict[bytes, bytes], token: str) -> bool:
    """Does the request carry the token (bearer header) or the session cookie?"""
    auth = headers.get(b"authorization", b"").decode("latin-1")
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer" and value and _same(value.strip(), token):
        return True
    raw = headers.get(b"cookie", b"").decode("latin-1")
    if COOKIE in raw:
        cookie: SimpleCookie = SimpleCookie()
        try:
            cookie.load(raw)
        except Exception:  # a malformed Cookie header authorises nothing
            return False
        morsel = cookie.get(COOKIE)
        if morsel is not None and _same(morsel.value, session_value(token)):
            return True
    return False


class TokenAuth:
    """ASGI middleware: 401 for any request without the token (API: JSON; pages: the login form)."""

    def __init__(self, app: ASGIApp, token: str, login_page: Callable[[str], Response]) -> None:
        self.app = app
        self.token = token
        self.login_page = login_page

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        headers = dict(scope.get("headers") or [])
        if path == "/login" or path.startswith("/static/") or authorised(headers, self.token):
            await self.app(scope, receive, send)
            return
        if path.startswith("/api/") or b"text/html" not in headers.get(b"accept", b""):
            body = b'{"error": "authentication required: send Authorization: Bearer TOKEN"}\n'
            await send({"type": "http.response.start", "status": 401, "headers": [
                (b"content-type", b"application/json"), (b"www-authenticate", b'Bearer realm="mlposture"'),
                (b"content-length", str(len(body)).encode()), (b"cache-control", b"no-store")]})
            await send({"type": "http.response.body", "body": body})
            return
        query = scope.get("query_string", b"").decode("latin-1")
        await self.login_page(path + (f"?{query}" if query else ""))(scope, receive, send)
