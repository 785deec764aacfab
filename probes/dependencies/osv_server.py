"""A local OSV-compatible HTTP endpoint on 127.0.0.1, so the real pip-audit can audit without the Internet.

pip-audit's OSV service (``-s osv --osv-url URL``) sends one ``POST`` per package to the URL with
``{"package": {"name": <canonical name>, "ecosystem": "PyPI"}, "version": "<version>"}`` and reads
``{"vulns": [<OSV advisory>, ...]}`` (``{}`` when none). This server answers ``POST /v1/query`` that way, plus
``POST /v1/querybatch`` (ids only, as OSV does) and ``GET /v1/vulns/<id>``, from a *backend*:

- :class:`~mlposture.probes.dependencies.osv.OsvDatabase`: a local export (``--vuln-db``, air-gapped);
- :class:`UpstreamOsv`: forwards each query to a real OSV service (online mode), so every advisory pip-audit
  reports passes through here and its severity can be read.

The server keeps every advisory it served (``served``) and every upstream failure (``errors``): an unreachable
service is then reported as "not checked" with the reason, never as "no vulnerabilities". Advisories are served
with ``affected[].package.name`` rewritten to the canonical name pip-audit compares against, so its fixed
versions are found even when the advisory spells the name differently.
"""

from __future__ import annotations

import copy
import json
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

from packaging.utils import canonicalize_name

MAX_REQUEST_BYTES = 1024 * 1024
MAX_UPSTREAM_BYTES = 32 * 1024 * 1024
OSV_API = "https://api.osv.dev/v1/query"


class OsvBackend(Protocol):
    """Answers one package/version query with the advisories that affect it."""

    def query(self, name: str, version: str) -> list[dict[str, Any]]:
        """Advisories affecting ``name`` at ``version``; raise :class:`UpstreamError` when it cannot answer."""
        ...


class UpstreamError(Exception):
    """The upstream OSV service did not answer (network, HTTP status, malformed reply)."""


class UpstreamOsv:
    """Forwards queries to an OSV ``/v1/query`` URL (``https://api.osv.dev/v1/query`` by default)."""

    def __init__(self, url: str = OSV_API, timeout: float = 15.0) -> None:
        self.url = url
        self.timeout = timeout

    def query(self, name: str, version: str) -> list[dict[str, Any]]:
        body = json.dumps({"package": {"name": name, "ecosystem": "PyPI"}, "version": version}).encode()
        request = urllib.request.Request(self.url, data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                data = response.read(MAX_UPSTREAM_BYTES + 1)
        except urllib.error.HTTPError as exc:
            raise UpstreamError(f"{self.url} answered HTTP {exc.code}") from None
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            reason = getattr(exc, "reason", exc)
            raise UpstreamError(f"{self.url} unreachable: {reason}") from None
        if len(data) > MAX_UPSTREAM_BYTES:
            raise UpstreamError(f"{self.url} answered more than {MAX_UPSTREAM_BYTES} bytes")
        try:
            parsed = json.loads(data or b"{}")
        except ValueError:
            raise UpstreamError(f"{self.url} answered something that is not JSON") from None
        vulns = parsed.get("vulns", []) if isinstance(parsed, dict) else []
        return [v for v in vulns if isinstance(v, dict)]


def _served_copy(advisory: dict[str, Any], name: str) -> dict[str, Any]:
    out = copy.deepcopy(advisory)
    for affected in out.get("affected") or []:
        pkg = affected.get("package") if isinstance(affected, dict) else None
        if isinstance(pkg, dict) and canonicalize_name(str(pkg.get("name", ""))) == name:
            pkg["name"] = name
    return out


class LocalOsvEndpoint:
    """``with LocalOsvEndpoint(backend) as ep:`` serves on ``ep.query_url`` until the block ends."""

    def __init__(self, backend: OsvBackend) -> None:
        self.backend = backend
        self.served: dict[str, dict[str, Any]] = {}
        self.errors: list[str] = []
        self.queries = 0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def query_url(self) -> str:
        """The URL to give pip-audit as ``--osv-url``."""
        assert self._server is not None, "endpoint not started"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1/query"

    def __enter__(self) -> LocalOsvEndpoint:
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def _reply(self, status: int, payload: Any) -> None:
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _body(self) -> Any:
                length = int(self.headers.get("Content-Length") or 0)
                if length <= 0 or length > MAX_REQUEST_BYTES:
                    return None
                try:
                    return json.loads(self.rfile.read(length))
                except ValueError:
                    return None

            def do_POST(self) -> None:
                path = self.path.split("?", 1)[0].rstrip("/")
                body = self._body()
                if path.endswith("/v1/query") and isinstance(body, dict):
                    status, payload = endpoint.answer(body)
                    self._reply(status, payload)
                elif path.endswith("/v1/querybatch") and isinstance(body, dict):
                    results = []
                    for query in body.get("queries") or []:
                        status, payload = endpoint.answer(query if isinstance(query, dict) else {})
                        if status != 200:
                            self._reply(status, payload)
                            return
                        results.append({"vulns": [{"id": v["id"], "modified": v.get("modified", "")}
                                                  for v in payload.get("vulns", [])]})
                    self._reply(200, {"results": results})
                else:
                    self._reply(400, {"code": 3, "message": "invalid request"})

            def do_GET(self) -> None:
                vid = self.path.rsplit("/", 1)[-1]
                if "/v1/vulns/" in self.path and vid in endpoint.served:
                    self._reply(200, endpoint.served[vid])
                else:
                    self._reply(404, {"code": 5, "message": "Bug not found."})

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="local-osv", daemon=True)
        self._thread.start()
        return self

    def answer(self, query: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """(HTTP status, JSON body) for one ``/v1/query`` body."""
        pkg = query.get("package")
        version = query.get("version")
        if not isinstance(pkg, dict) or not isinstance(pkg.get("name"), str) or not isinstance(version, str):
            return 200, {}  # commit queries and the like: nothing known here
        if pkg.get("ecosystem") not in (None, "PyPI"):
            return 200, {}
        name = canonicalize_name(pkg["name"])
        with self._lock:
            self.queries += 1
        try:
            vulns = self.backend.query(name, version)
        except UpstreamError as exc:
            with self._lock:
                self.errors.append(str(exc))
            return 502, {"code": 14, "message": str(exc)}
        served = [_served_copy(v, name) for v in vulns if isinstance(v.get("id"), str)]
        with self._lock:
            for v in served:
                self.served[v["id"]] = v
        return 200, ({"vulns": served} if served else {})

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
