"""Serving probe: reads the inference surface (Python web handlers, serving specs, gateways) for the INF controls.

Reads FastAPI/Flask/Django REST framework/Django handlers with ``ast`` (routes, security dependencies,
permission classes, request and response schemas, slowapi/flask-limiter/fastapi-limiter/DRF/django-ratelimit
limits), nginx with crossplane, ingress-nginx annotations, Envoy/Istio, Kong, Traefik (CRDs, file provider,
docker labels), Azure APIM policy XML with defusedxml, KServe/HPA bounds and Prometheus rules. Speaks for
INF-01 to INF-14 (rate limits, validation, output minimisation, adversarial detection, confidence thresholds,
query monitoring, authentication, request logging, prompt injection, DDoS guards, budgets, output integrity,
transparency, human oversight) and DATA-02 for nginx ``ssl_protocols``. Without an inference surface every INF
control is not applicable; without an LLM, INF-09 is.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from probes.serving.apim import read_apim
from probes.serving.codehints import (
    command_guards,
    gradio_launches,
    oversight_routes,
    python_guards,
    python_hints,
    serving_modules,
    text_hints,
    yaml_hints,
)
from probes.serving.facts import Facts
from probes.serving.gateways import read_gateways
from probes.serving.judge import INF_CONTROLS, Judge
from probes.serving.nginx import NginxReader
from probes.serving.surface import detect_surface, python_app, python_modules
from probes.serving.yamldocs import yaml_files
from scanner.probe import Probe, ProbeItem
from scanner.repo import RepoView
from scanner.settings import Settings

__all__ = ["ServingProbe"]


class ServingProbe(Probe):
    """Reads serving code and gateway configs (FastAPI, Flask, DRF, nginx, ingress-nginx, Envoy/Istio, Kong,
    Traefik, Azure APIM, KServe) for the inference controls INF-01..INF-14, and nginx TLS for DATA-02.

    Every tick or failure names the file, the line and the deciding value (the limit key, the route, the field).
    Applicability first: without an inference surface the INF controls are not applicable, with the reason.
    """

    name: ClassVar[str] = "serving"
    version: ClassVar[str] = "0.1.0"
    controls: ClassVar[tuple[str, ...]] = (*INF_CONTROLS, "DATA-02")

    def run(self, repo: RepoView, settings: Settings) -> Iterable[ProbeItem]:
        """Gather the facts of every format, then judge them."""
        surface = detect_surface(repo)
        app = python_app(repo)
        facts = Facts()
        facts.extend(app)
        nginx = NginxReader(repo)
        facts.extend(nginx.read())
        yield from nginx.notes
        files = yaml_files(repo)
        for yf in files:
            if yf.error is not None and _interesting(yf.path):
                yield yf.error
        gw = read_gateways(files)
        facts.extend(gw.facts)
        apim, apim_notes = read_apim(repo)
        facts.extend(apim)
        yield from apim_notes
        modules = python_modules(repo)
        facts.guards.extend(python_guards(modules))
        facts.guards.extend(command_guards(repo))
        server_paths = {s.path for s in surface.sites if s.path.endswith(".py")}
        serving = serving_modules(modules, app.routes, server_paths)
        handlers = frozenset((r.path, r.handler) for r in app.routes)
        hints = python_hints(modules, serving, handlers)
        hints.extend(text_hints(repo))
        hints.extend(yaml_hints(files))
        hints.extend(oversight_routes(app.routes))
        gradio_auth, gradio_hints = gradio_launches(modules)
        facts.auth.extend(gradio_auth)
        hints.extend(gradio_hints)
        yield from Judge(surface, facts, hints, gw.monitors, gw.mtls, nginx.tls, settings.eu_risk_tier).items()


def _interesting(path: str) -> bool:
    """YAML parse errors worth a note here: deployment and gateway configs, not every YAML in the tree."""
    low = path.lower()
    return any(k in low for k in ("k8s", "kube", "deploy", "ingress", "kong", "traefik", "envoy", "istio",
                                  "gateway", "serving", "kserve", "helm", "charts", "manifests", "compose",
                                  "guardrail", "nginx"))
