"""Gateways and mesh configs in YAML: ingress-nginx annotations, Kong (declarative and CRDs), Traefik (CRD,
file provider and docker labels), Envoy and Istio, plus KServe/HPA bounds and Prometheus rules.

Each reader turns one format into the neutral facts of :mod:`mlposture.probes.serving.facts`; the judge decides.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from mlposture.probes.serving.facts import AuthFact, Facts, Guard, KeyKind, LogFact, RateLimit, Scope, Window
from mlposture.probes.serving.yamldocs import YamlFile, line_of, own_line
from mlposture.probes.serving.yamldocs import as_list as _list
from mlposture.scanner.values import as_number as _num
from mlposture.scanner.yamlsafe import dig

INGRESS = "nginx.ingress.kubernetes.io/"
KONG_AUTH = {"key-auth", "jwt", "oauth2", "openid-connect", "basic-auth", "hmac-auth", "ldap-auth",
             "key-auth-enc", "mtls-auth"}
KONG_WINDOWS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400, "month": 2592000, "year": 31536000}
LOCAL_RL = ("envoy.filters.http.local_ratelimit", "envoy.local_rate_limit")
GLOBAL_RL = ("envoy.filters.http.ratelimit", "envoy.rate_limit")
ENVOY_AUTH = ("envoy.filters.http.jwt_authn", "envoy.filters.http.ext_authz", "envoy.filters.http.oauth2",
              "envoy.filters.http.basic_auth")
CONSUMER_HEADER = re.compile(r"(api[-_]?key|authorization|token|user|consumer|client[-_]?id|tenant|x-key)", re.I)
CONSUMER_LABEL = re.compile(r"\b(api_key|apikey|consumer|user|user_id|client|client_id|tenant|key_id|customer)\b")
MAX_WALK = 20000


@dataclass
class GatewayFacts:
    """Facts from the YAML configs, plus the INF-06/INF-12 signals only these formats carry."""

    facts: Facts = field(default_factory=Facts)
    monitors: list[tuple[str, int, str]] = field(default_factory=list)  # per-consumer query analytics
    mtls: list[tuple[str, int, str, bool]] = field(default_factory=list)  # (path, line, detail, strict)


def duration_seconds(value: Any) -> int | None:
    """``"1m"``, ``"60s"``, ``"1h30m"``, ``"500ms"`` or a number of seconds -> seconds."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value)
    if not isinstance(value, str):
        return None
    total = 0.0
    found = False
    for num, unit in re.findall(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)", value.strip()):
        found = True
        total += float(num) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}[unit]
    if found:
        return max(int(total), 1) if total >= 1 else 1
    return int(value) if value.strip().isdigit() else None


def _map(value: Any) -> dict[str, Any]:
    """The value when it is a mapping, else an empty one (configs are hostile: any key may hold anything)."""
    return value if isinstance(value, dict) else {}


def read_gateways(files: list[YamlFile]) -> GatewayFacts:
    """All gateway facts from the loaded YAML files."""
    out = GatewayFacts()
    for yf in files:
        for doc in yf.docs:
            if not isinstance(doc, dict):
                continue
            kind = str(doc.get("kind", ""))
            if kind == "Ingress":
                _ingress(doc, yf.path, out.facts)
            elif not kind and "values" in yf.path.rsplit("/", 1)[-1].lower():
                _helm_annotations(doc, yf.path, out.facts)
            elif kind in ("KongPlugin", "KongClusterPlugin"):
                _kong_plugin(doc, yf.path, out.facts, Scope.everywhere(), auth_present=_kong_auth_in(yf))
            elif kind in ("Middleware", "MiddlewareTCP") and "traefik" in str(doc.get("apiVersion", "")):
                _traefik_middleware(str(dig(doc, "metadata", "name") or ""), doc.get("spec"), yf.path, out.facts)
            elif kind == "AuthorizationPolicy":
                _istio_authz(doc, yf.path, out.facts)
            elif kind == "PeerAuthentication":
                mode = dig(doc, "spec", "mtls", "mode")
                spec = doc.get("spec")
                out.mtls.append((yf.path, line_of(dig(doc, "spec", "mtls"), "mode", own_line(spec)),
                                 f"PeerAuthentication mtls.mode: {mode}", str(mode).upper() == "STRICT"))
            elif kind == "HorizontalPodAutoscaler":
                spec = doc.get("spec")
                if isinstance(spec, dict) and "maxReplicas" in spec:
                    out.facts.guards.append(Guard("autoscaling", yf.path, line_of(spec, "maxReplicas"),
                                                  f"HorizontalPodAutoscaler maxReplicas: {spec['maxReplicas']}"))
            elif kind == "InferenceService":
                _kserve(doc, yf.path, out.facts)
            elif kind == "PrometheusRule":
                _prom_rules(dig(doc, "spec", "groups"), yf.path, out)
            if "_format_version" in doc:
                _kong_declarative(doc, yf.path, out.facts)
            if isinstance(doc.get("groups"), list) and kind == "":
                _prom_rules(doc.get("groups"), yf.path, out)
            if isinstance(dig(doc, "http", "middlewares"), dict):
                for name, spec in dig(doc, "http", "middlewares").items():
                    _traefik_middleware(str(name), spec, yf.path, out.facts)
            if isinstance(doc.get("services"), dict):
                _compose_labels(doc["services"], yf.path, out.facts)
            if "domain" in doc and isinstance(doc.get("descriptors"), list):
                _envoy_ratelimit_service(doc, yf.path, out.facts)
            _envoy_filters(doc, yf.path, out.facts)
    return out


# ---------------------------------------------------------------------------- ingress-nginx
def _ingress(doc: dict[str, Any], path: str, facts: Facts) -> None:
    meta = doc.get("metadata") or {}
    ann = meta.get("annotations") if isinstance(meta, dict) else None
    if not isinstance(ann, dict):
        return
    paths: list[str] = []
    for rule in _list(dig(doc, "spec", "rules")):
        for p in _list(dig(rule, "http", "paths")):
            if isinstance(p, dict) and isinstance(p.get("path"), str):
                paths.append(p["path"])
    scope = Scope("prefix", tuple(paths)) if paths and "/" not in paths else Scope.everywhere()
    _ingress_annotations(ann, path, facts, scope)


def _helm_annotations(doc: dict[str, Any], path: str, facts: Facts) -> None:
    """Helm values (``ingress.annotations``) carry ingress-nginx annotations outside any ``kind: Ingress``."""
    for node in _walk(doc):
        if any(str(k).startswith(INGRESS) for k in node):
            _ingress_annotations(node, path, facts, Scope.everywhere())
        if "maxReplicas" in node and "enabled" in node and node.get("enabled") is not False:
            facts.guards.append(Guard("autoscaling", path, line_of(node, "maxReplicas"),
                                      f"Helm values autoscaling.maxReplicas: {node['maxReplicas']}"))


def _ingress_annotations(ann: dict[str, Any], path: str, facts: Facts, scope: Scope) -> None:
    for key, value in ann.items():
        if not str(key).startswith(INGRESS):
            continue
        name = str(key)[len(INGRESS):]
        line = line_of(ann, key)
        seconds = {"limit-rps": 1, "limit-rpm": 60}.get(name)
        if seconds is not None:
            count = _num(value)
            facts.limits.append(RateLimit("ingress-nginx", path, line, KeyKind.IP,
                                          "ingress-nginx limits per client IP", (Window(seconds, count),),
                                          f"{key}: \"{value}\"", scope))
        elif name == "limit-connections":
            facts.guards.append(Guard("connections", path, line, f"{key}: \"{value}\""))
        elif name in ("auth-url", "auth-type", "auth-tls-verify-client", "auth-signin"):
            ok = not (name == "auth-tls-verify-client" and str(value) in ("off", "optional_no_ca"))
            facts.auth.append(AuthFact("ingress-nginx", path, line, f"{key}: \"{value}\"", scope, ok))
        elif name == "proxy-body-size":
            ok = str(value).strip() not in ("0", "0m", "0k")
            detail = f"{key}: \"{value}\"" + ("" if ok else " (0 disables the size check)")
            facts.guards.append(Guard("body-size", path, line, detail, ok))
            if ok:
                facts.validation.append((path, line, detail))
        elif name in ("proxy-read-timeout", "proxy-send-timeout", "client-body-timeout"):
            facts.guards.append(Guard("timeout", path, line, f"{key}: \"{value}\""))
        elif name == "enable-access-log":
            facts.logs.append(LogFact(path, line, f"{key}: \"{value}\"", str(value).lower() != "false"))


# ---------------------------------------------------------------------------- Kong
def _kong_auth_in(yf: YamlFile) -> bool:
    return any(isinstance(doc, dict) and str(doc.get("plugin", "")) in KONG_AUTH for doc in yf.docs)


def _kong_declarative(doc: dict[str, Any], path: str, facts: Facts) -> None:
    plugins: list[tuple[dict[str, Any], Scope]] = []

    def collect(container: Any, scope: Scope) -> None:
        for p in _list(container.get("plugins")) if isinstance(container, dict) else []:
            if isinstance(p, dict):
                plugins.append((p, scope))

    collect(doc, Scope.everywhere())
    for svc in _list(doc.get("services")):
        if not isinstance(svc, dict):
            continue
        collect(svc, Scope.everywhere())
        for route in _list(svc.get("routes")):
            if isinstance(route, dict):
                paths = tuple(str(p) for p in _list(route.get("paths")))
                collect(route, Scope("prefix", paths) if paths else Scope.everywhere())
    for route in _list(doc.get("routes")):
        if isinstance(route, dict):
            paths = tuple(str(p) for p in _list(route.get("paths")))
            collect(route, Scope("prefix", paths) if paths else Scope.everywhere())
    for consumer in _list(doc.get("consumers")):
        collect(consumer, Scope.everywhere())
    auth_present = any(str(p.get("name")) in KONG_AUTH for p, _ in plugins)
    for p, scope in plugins:
        _kong_plugin(p, path, facts, scope, auth_present, name_key="name")


def _kong_plugin(p: dict[str, Any], path: str, facts: Facts, scope: Scope, auth_present: bool,
                 name_key: str = "plugin") -> None:
    name = str(p.get(name_key, ""))
    line = line_of(p, name_key, own_line(p))
    config = _map(p.get("config"))
    enabled = p.get("enabled", True) is not False
    if name in KONG_AUTH:
        facts.auth.append(AuthFact("kong", path, line, f"Kong plugin {name}" + ("" if enabled else " (disabled)"),
                                   scope, True))
        return
    if name not in ("rate-limiting", "rate-limiting-advanced", "response-ratelimiting"):
        if name == "request-size-limiting":
            facts.guards.append(Guard("body-size", path, line,
                                      f"Kong request-size-limiting allowed_payload_size: "
                                      f"{config.get('allowed_payload_size', 128)}"))
        return
    windows: list[Window] = []
    if name == "rate-limiting-advanced":
        limits = _list(config.get("limit"))
        sizes = _list(config.get("window_size"))
        for count, size in zip(limits if isinstance(limits, list) else [],
                               sizes if isinstance(sizes, list) else [], strict=False):
            c, s = _num(count), _num(size)
            if c is not None and s:
                windows.append(Window(int(s), c))
        limit_by = str(config.get("identifier", "consumer"))
    else:
        for unit, seconds in KONG_WINDOWS.items():
            c = _num(config.get(unit))
            if c is not None:
                windows.append(Window(seconds, c))
        limit_by = str(config.get("limit_by", "consumer"))
    cline = line_of(config, "limit_by", line_of(config, "identifier", line))
    header = str(config.get("header_name", ""))
    if limit_by in ("consumer", "credential", "consumer-group"):
        if auth_present:
            key, kd = KeyKind.CONSUMER, f"limit_by: {limit_by}"
        else:
            key, kd = KeyKind.IP, (f"limit_by: {limit_by}, but no Kong auth plugin identifies consumers here "
                                   "(Kong falls back to the client IP)")
    elif limit_by == "header" and CONSUMER_HEADER.search(header):
        key, kd = KeyKind.CONSUMER, f"limit_by: header ({header})"
    elif limit_by == "ip":
        key, kd = KeyKind.IP, "limit_by: ip"
    elif limit_by in ("service", "path"):
        key, kd = KeyKind.GLOBAL, f"limit_by: {limit_by} (shared by all clients)"
    else:
        key, kd = KeyKind.UNKNOWN, f"limit_by: {limit_by}"
    text = ", ".join(w.label() for w in windows) or "no window set"
    facts.limits.append(RateLimit("kong", path, cline if "limit_by" in config or "identifier" in config else line,
                                  key, kd, tuple(windows), f"Kong {name} ({text})" + ("" if enabled else
                                                                                     " (disabled)"), scope))


# ---------------------------------------------------------------------------- Traefik
def _traefik_middleware(name: str, spec: Any, path: str, facts: Facts) -> None:
    if not isinstance(spec, dict):
        return
    for key, body in spec.items():
        low = str(key).lower()
        line = line_of(spec, key)
        if low == "ratelimit" and isinstance(body, dict):
            _traefik_rate(name, {str(k).lower(): v for k, v in body.items()}, path, line, facts, body)
        elif low in ("forwardauth", "basicauth", "digestauth"):
            facts.auth.append(AuthFact("traefik", path, line, f"Traefik middleware {name}: {key}"))
        elif low == "buffering" and isinstance(body, dict) and "maxRequestBodyBytes" in body:
            facts.guards.append(Guard("body-size", path, line_of(body, "maxRequestBodyBytes", line),
                                      f"Traefik buffering.maxRequestBodyBytes: {body['maxRequestBodyBytes']}"))


def _traefik_rate(name: str, body: dict[str, Any], path: str, line: int, facts: Facts, raw: Any) -> None:
    average = _num(body.get("average"))
    period = duration_seconds(body.get("period", "1s")) or 1
    crit = body.get("sourcecriterion")
    crit_l = {str(k).lower(): v for k, v in crit.items()} if isinstance(crit, dict) else {}
    header = str(crit_l.get("requestheadername", ""))
    if header and CONSUMER_HEADER.search(header):
        key, kd = KeyKind.CONSUMER, f"sourceCriterion.requestHeaderName: {header}"
    elif header:
        key, kd = KeyKind.UNKNOWN, f"sourceCriterion.requestHeaderName: {header}"
    elif crit_l.get("requesthost"):
        key, kd = KeyKind.GLOBAL, "sourceCriterion.requestHost (per host, shared by all clients)"
    else:
        key, kd = KeyKind.IP, "sourceCriterion by client IP (Traefik default)"
    windows = (Window(period, average),) if average else ()
    facts.limits.append(RateLimit("traefik", path, line_of(raw, "average", line) if hasattr(raw, "line_of")
                                  else line, key, kd, windows,
                                  f"Traefik middleware {name} rateLimit average={body.get('average')} "
                                  f"period={body.get('period', '1s')}"))


def _compose_labels(services: dict[str, Any], path: str, facts: Facts) -> None:
    for svc in services.values():
        labels = svc.get("labels") if isinstance(svc, dict) else None
        pairs: list[tuple[str, str, int]] = []
        if isinstance(labels, dict):
            pairs = [(str(k), str(v), line_of(labels, k)) for k, v in labels.items()]
        elif isinstance(labels, list):
            for i, item in enumerate(labels):
                if isinstance(item, str) and "=" in item:
                    k, v = item.split("=", 1)
                    pairs.append((k.strip(), v.strip(), labels.line_of(i) if hasattr(labels, "line_of") else 0))
        middlewares: dict[str, dict[str, tuple[str, int]]] = {}
        for k, v, line in pairs:
            m = re.match(r"^traefik\.http\.middlewares\.([^.]+)\.(.+)$", k, re.I)
            if m:
                middlewares.setdefault(m.group(1), {})[m.group(2).lower()] = (v, line)
        for name, opts in middlewares.items():
            rate = {k.split(".", 1)[1]: v for k, (v, _) in opts.items() if k.startswith("ratelimit.")}
            if rate:
                first_line = min(line for k, (_, line) in opts.items() if k.startswith("ratelimit."))
                crit = {"requestheadername": rate.get("sourcecriterion.requestheadername", "")}
                crit = {k: v for k, v in crit.items() if v}
                if rate.get("sourcecriterion.requesthost"):
                    crit["requesthost"] = rate["sourcecriterion.requesthost"]
                _traefik_rate(name, {"average": rate.get("average"), "period": rate.get("period", "1s"),
                                     "sourcecriterion": crit}, path, first_line, facts, None)
            for auth in ("forwardauth", "basicauth", "digestauth"):
                hits = [line for k, (_, line) in opts.items() if k.startswith(auth + ".")]
                if hits:
                    facts.auth.append(AuthFact("traefik", path, min(hits), f"Traefik label middleware {name}: {auth}"))


# ---------------------------------------------------------------------------- Envoy / Istio
def _walk(node: Any, depth: int = 0, budget: list[int] | None = None) -> list[dict[str, Any]]:
    budget = budget if budget is not None else [MAX_WALK]
    out: list[dict[str, Any]] = []
    if depth > 60 or budget[0] <= 0:
        return out
    budget[0] -= 1
    if isinstance(node, dict):
        out.append(node)
        for v in node.values():
            out.extend(_walk(v, depth + 1, budget))
    elif isinstance(node, list):
        for v in node:
            out.extend(_walk(v, depth + 1, budget))
    return out


def _envoy_filters(doc: dict[str, Any], path: str, facts: Facts) -> None:
    nodes = _walk(doc)
    consumer_actions: list[str] = []
    ip_actions: list[str] = []
    for node in nodes:
        rh = node.get("request_headers")
        if isinstance(rh, dict) and isinstance(rh.get("header_name"), str) and \
                CONSUMER_HEADER.search(rh["header_name"]):
            consumer_actions.append(f"request_headers {rh['header_name']}")
        if "remote_address" in node:
            ip_actions.append("remote_address")
    for node in nodes:
        name = node.get("name")
        if not isinstance(name, str):
            continue
        line = line_of(node, "name", own_line(node))
        if name in LOCAL_RL:
            tc = _map(node.get("typed_config"))
            if "token_bucket" not in tc:  # Istio EnvoyFilter: udpa TypedStruct wraps the config in "value"
                tc = _map(tc.get("value"))
            bucket = _map(tc.get("token_bucket"))
            fill = duration_seconds(bucket.get("fill_interval"))
            tokens = _num(bucket.get("tokens_per_fill"))
            windows = (Window(fill, tokens),) if fill and tokens else ()
            facts.limits.append(RateLimit(
                "envoy", path, line, KeyKind.GLOBAL, "local token bucket shared by all clients of the instance",
                windows, f"{name} token_bucket max_tokens={bucket.get('max_tokens')} "
                         f"tokens_per_fill={bucket.get('tokens_per_fill')} "
                         f"fill_interval={bucket.get('fill_interval')}"))
        elif name in GLOBAL_RL:
            if consumer_actions:
                key, kd = KeyKind.CONSUMER, f"descriptor from {consumer_actions[0]}"
            elif ip_actions:
                key, kd = KeyKind.IP, "descriptor from remote_address"
            else:
                key, kd = KeyKind.UNKNOWN, "descriptors not in this file"
            facts.limits.append(RateLimit("envoy", path, line, key, kd, (),
                                          f"{name} (global rate limit service; limits live in its config)"))
        elif name in ENVOY_AUTH:
            facts.auth.append(AuthFact("envoy", path, line, f"Envoy filter {name}"))


def _envoy_ratelimit_service(doc: dict[str, Any], path: str, facts: Facts) -> None:
    units = {"second": 1, "minute": 60, "hour": 3600, "day": 86400, "month": 2592000, "year": 31536000}
    for node in _walk(doc.get("descriptors")):
        rl = node.get("rate_limit")
        if not isinstance(rl, dict) or "key" not in node:
            continue
        keyname = str(node.get("key"))
        unit = units.get(str(rl.get("unit", "")).lower())
        count = _num(rl.get("requests_per_unit"))
        if CONSUMER_HEADER.search(keyname):
            key = KeyKind.CONSUMER
        elif re.search(r"(remote_address|ip)", keyname):
            key = KeyKind.IP
        else:
            key = KeyKind.UNKNOWN
        facts.limits.append(RateLimit("envoy-ratelimit", path, line_of(node, "rate_limit", own_line(node)), key,
                                      f"descriptor key {keyname}", (Window(unit, count),) if unit else (),
                                      f"ratelimit domain {doc.get('domain')}: {keyname} "
                                      f"{rl.get('requests_per_unit')}/{rl.get('unit')}"))


def _istio_authz(doc: dict[str, Any], path: str, facts: Facts) -> None:
    spec = _map(doc.get("spec"))
    action = str(spec.get("action", "ALLOW")).upper()
    text = repr(spec.get("rules"))
    if action in ("ALLOW", "CUSTOM") and re.search(r"(requestPrincipals|principals|request\.auth)", text):
        facts.auth.append(AuthFact("istio", path, own_line(spec, own_line(doc)),
                                   f"AuthorizationPolicy {dig(doc, 'metadata', 'name')} requires a principal"))
    elif action == "DENY" and "notRequestPrincipals" in text:
        facts.auth.append(AuthFact("istio", path, own_line(spec, own_line(doc)),
                                   f"AuthorizationPolicy {dig(doc, 'metadata', 'name')} denies requests without "
                                   "a principal"))


# ---------------------------------------------------------------------------- KServe, Prometheus
def _kserve(doc: dict[str, Any], path: str, facts: Facts) -> None:
    for part in ("predictor", "transformer", "explainer"):
        comp = dig(doc, "spec", part)
        if not isinstance(comp, dict):
            continue
        logger = comp.get("logger")
        if isinstance(logger, dict):
            facts.logs.append(LogFact(path, line_of(comp, "logger"),
                                      f"KServe {part}.logger mode: {logger.get('mode', 'all')}"))
        if "maxReplicas" in comp:
            facts.guards.append(Guard("autoscaling", path, line_of(comp, "maxReplicas"),
                                      f"KServe {part}.maxReplicas: {comp['maxReplicas']}"))


def _prom_rules(groups: Any, path: str, out: GatewayFacts) -> None:
    if not isinstance(groups, list):
        return
    for group in groups:
        for rule in _list(group.get("rules")) if isinstance(group, dict) else []:
            if not isinstance(rule, dict) or not isinstance(rule.get("expr"), str):
                continue
            expr = rule["expr"]
            m = re.search(r"\bby\s*\(([^)]*)\)", expr)
            if m and CONSUMER_LABEL.search(m.group(1)) and re.search(r"(request|predict|inference|query|call)",
                                                                      expr, re.I):
                name = rule.get("alert") or rule.get("record") or "rule"
                out.monitors.append((path, line_of(rule, "expr"), f"Prometheus {name}: {' '.join(expr.split())[:120]}"))
