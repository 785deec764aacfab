"""nginx configuration read with crossplane: rate limits, auth, body size, timeouts, TLS and access logs.

Files are recognised by their content (``server {``, ``http {``, ``location``, ``limit_req_zone``), not their
extension. crossplane reads from disk, so the capped text from the repository view is copied to a private
temporary file and parsed in ``single`` mode: ``include`` directives are never followed, least of all outside
the scanned root.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from dataclasses import dataclass
from typing import Any

import crossplane

from mlposture.probes.serving.facts import AuthFact, Facts, Guard, KeyKind, LogFact, RateLimit, Scope, Window
from mlposture.scanner.probe import Note
from mlposture.scanner.repo import RepoFile, RepoView

NGINX_SNIFF = re.compile(r"^[ \t]*(http|server|location|upstream|events)\b[^;{}\n]*\{|^[ \t]*(limit_req_zone|"
                         r"proxy_pass|client_max_body_size)\s", re.M)
CONSUMER_VARS = re.compile(r"\$(http_x_api_key|http_authorization|http_api_key|http_x_\w*key\w*|arg_api_key|"
                           r"arg_key|jwt_\w+|remote_user|ssl_client_\w+|http_x_user\w*|http_x_consumer\w*|"
                           r"cookie_\w*(session|token)\w*|\w*api_key\w*)", re.I)
IP_VARS = re.compile(r"\$(binary_remote_addr|remote_addr|http_x_forwarded_for|realip_remote_addr|"
                     r"proxy_add_x_forwarded_for|http_x_real_ip)")
MAX_BLOCK_DEPTH = 50


@dataclass(frozen=True)
class Tls:
    """An ``ssl_protocols`` directive."""

    path: str
    line: int
    protocols: tuple[str, ...]


def is_nginx(text: str) -> bool:
    """Content sniff: does this text look like nginx configuration?"""
    return bool(NGINX_SNIFF.search(text[:65536])) and "{" in text and ";" in text


def candidate_files(repo: RepoView) -> list[RepoFile]:
    """Files that may hold nginx configuration (by name first, confirmed by content)."""
    out: list[RepoFile] = []
    for f in repo.files:
        low = f.path.lower()
        if f.suffix in (".conf", ".nginx", ".template", "") or "nginx" in low or "sites-" in low:
            if f.suffix in (".py", ".yaml", ".yml", ".json", ".md") or f.size > 2 * 1024 * 1024:
                continue
            if f.suffix == "" and "nginx" not in low and "sites-" not in low:
                continue
            out.append(f)
    return out


class NginxReader:
    """Facts from one repository's nginx files."""

    def __init__(self, repo: RepoView) -> None:
        self.repo = repo
        self.facts = Facts()
        self.notes: list[Note] = []
        self.tls: list[Tls] = []
        self.files: list[str] = []

    def read(self) -> Facts:
        """Parse every nginx file, then collect its facts.

        Zones are gathered from all files first: ``limit_req_zone`` usually sits in ``nginx.conf``'s ``http``
        block while ``limit_req`` sits in a ``conf.d``/``sites-enabled`` file that nginx includes.
        """
        parsed_files: list[tuple[str, list[dict[str, Any]]]] = []
        for f in candidate_files(self.repo):
            text = self.repo.read_text(f)
            if text is None or not is_nginx(text):
                continue
            self.files.append(f.path)
            parsed = parse_text(text)
            if isinstance(parsed, Note):
                self.notes.append(Note(f"nginx configuration not parsed (crossplane): {parsed.message}", f.path,
                                       parsed.line))
                continue
            parsed_files.append((f.path, parsed))
        zones: dict[str, RateLimit] = {}
        for path, parsed in parsed_files:
            zones.update(self._zones(parsed, path))
        for path, parsed in parsed_files:
            self._walk(parsed, path, zones, ("/",), 0)
        return self.facts

    def _zones(self, block: list[dict[str, Any]], path: str) -> dict[str, RateLimit]:
        zones: dict[str, RateLimit] = {}
        maps: dict[str, str] = {}  # map $source $target { ... }: the zone key may be a mapped variable
        for d in _iter(block, 0):
            if d.get("directive") == "map" and len(d.get("args", [])) >= 2:
                values = [" ".join([str(e.get("directive", "")), *map(str, e.get("args", []))])
                          for e in d.get("block") or [] if isinstance(e, dict)]
                maps[str(d["args"][1])] = f"{d['args'][0]} -> {'; '.join(values)}"[:300]
        for d in _iter(block, 0):
            if d.get("directive") != "limit_req_zone":
                continue
            args = [str(a) for a in d.get("args", [])]
            key_var = args[0] if args else ""
            zone = next((a.split("=", 1)[1].split(":")[0] for a in args if a.startswith("zone=")), "")
            rate = next((a.split("=", 1)[1] for a in args if a.startswith("rate=")), "")
            m = re.match(r"^(\d+)r/([sm])$", rate)
            windows = (Window(1 if m.group(2) == "s" else 60, float(m.group(1))),) if m else ()
            mapped = maps.get(key_var, "")
            shown = f"{key_var} (map {mapped})" if mapped else key_var
            if CONSUMER_VARS.search(key_var) or CONSUMER_VARS.search(mapped.split(" -> ")[0]):
                key, kd = KeyKind.CONSUMER, f"key {shown} (per API key/consumer)"
            elif IP_VARS.search(key_var) or IP_VARS.search(mapped):
                key, kd = KeyKind.IP, f"key {shown} (per client IP)"
            elif "$" not in key_var:
                key, kd = KeyKind.GLOBAL, f"key {key_var or '(none)'} (one bucket for all clients)"
            else:
                key, kd = KeyKind.UNKNOWN, f"key {key_var}"
            zones[zone] = RateLimit("nginx", path, int(d.get("line", 0)), key, kd, windows,
                                    f"limit_req_zone {' '.join(args)}")
        return zones

    def _walk(self, block: list[dict[str, Any]], path: str, zones: dict[str, RateLimit],
              prefixes: tuple[str, ...], depth: int) -> None:
        if depth > MAX_BLOCK_DEPTH:
            return
        scope = Scope.everywhere() if prefixes == ("/",) else Scope("prefix", prefixes)
        for d in block:
            name = d.get("directive", "")
            args = [str(a) for a in d.get("args", [])]
            line = int(d.get("line", 0))
            if name == "limit_req":
                zname = next((a.split("=", 1)[1] for a in args if a.startswith("zone=")), "")
                zone = zones.get(zname)
                if zone is None:
                    self.notes.append(Note(f"limit_req uses zone '{zname}', not defined in any nginx file read",
                                           path, line))
                    zone = RateLimit("nginx", path, line, KeyKind.UNKNOWN, "zone defined elsewhere", (),
                                     f"limit_req {' '.join(args)}")
                self.facts.limits.append(RateLimit(
                    "nginx", path, line, zone.key, zone.key_detail, zone.windows,
                    f"limit_req {' '.join(args)} -> {zone.detail} ({zone.path}:{zone.line})", scope))
            elif name in ("auth_request", "auth_basic", "auth_jwt"):
                ok = not (args and args[0] == "off")
                self.facts.auth.append(AuthFact("nginx", path, line, f"{name} {' '.join(args)}", scope, ok))
            elif name == "client_max_body_size":
                value = args[0] if args else ""
                ok = value not in ("0", "0k", "0m", "0M", "0K")
                detail = f"client_max_body_size {value}" + ("" if ok else " (0 disables the size check)")
                self.facts.guards.append(Guard("body-size", path, line, detail, ok))
                if ok:
                    self.facts.validation.append((path, line, detail))
            elif name in ("client_body_timeout", "client_header_timeout", "proxy_read_timeout", "send_timeout",
                          "keepalive_timeout"):
                self.facts.guards.append(Guard("timeout", path, line, f"{name} {' '.join(args)}"))
            elif name == "limit_conn":
                self.facts.guards.append(Guard("connections", path, line, f"limit_conn {' '.join(args)}"))
            elif name == "ssl_protocols":
                self.tls.append(Tls(path, line, tuple(args)))
            elif name == "access_log":
                ok = not (args and args[0] == "off")
                self.facts.logs.append(LogFact(path, line, f"access_log {' '.join(args)}", ok))
            if isinstance(d.get("block"), list):
                sub = prefixes
                if name == "location" and args:
                    sub = (" ".join(args), *_proxied_paths(d["block"]))
                self._walk(d["block"], path, zones, sub, depth + 1)


def _proxied_paths(block: list[dict[str, Any]]) -> tuple[str, ...]:
    """Backend paths a location forwards to: ``proxy_pass http://app/v1/`` replaces the location prefix with
    ``/v1/``, so the app's own routes are matched against that path too."""
    out: list[str] = []
    for d in block:
        if d.get("directive") == "proxy_pass" and d.get("args"):
            m = re.match(r"^[a-z]+://[^/]+(/.*)$", str(d["args"][0]))
            if m and "$" not in m.group(1):
                out.append(m.group(1))
    return tuple(out)


def _iter(block: list[dict[str, Any]], depth: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if depth > MAX_BLOCK_DEPTH:
        return out
    for d in block:
        out.append(d)
        if isinstance(d.get("block"), list):
            out.extend(_iter(d["block"], depth + 1))
    return out


def parse_text(text: str) -> list[dict[str, Any]] | Note:
    """crossplane's parse of one file's text (its top-level directive list), or a Note with the error."""
    fd, tmp = tempfile.mkstemp(suffix=".conf", prefix="mlposture-nginx-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        payload = crossplane.parse(tmp, single=True, check_ctx=False, check_args=False, catch_errors=True,
                                   comments=False)
    except Exception as exc:  # crossplane raises its own errors and may raise others on odd input
        return Note(f"{type(exc).__name__}: {exc}")
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
    configs = payload.get("config") or []
    errors = payload.get("errors") or []
    if errors:
        err = errors[0]
        message = str(err.get("error", "parse error")).replace(tmp, "<file>")
        return Note(message, None, err.get("line"))
    if not configs:
        return Note("no configuration parsed")
    parsed = configs[0].get("parsed")
    return parsed if isinstance(parsed, list) else Note("no configuration parsed")
