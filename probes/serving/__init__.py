"""Serving probe: reads the inference surface (Python web handlers, serving specs, gateways) for the INF controls.

What it reads:

- Python, with ``ast`` only: FastAPI (routes, ``APIRouter``/``include_router`` prefixes and dependencies, security
  schemes, app-level dependencies, HTTP auth middleware), Flask (routes, blueprints, decorators, ``before_request``),
  Django REST framework (views, viewsets, ``@api_view``, ``REST_FRAMEWORK`` settings), Django views named in
  ``urls.py``, Gradio ``launch``; limiters: slowapi, flask-limiter, fastapi-limiter (both APIs), DRF throttles,
  django-ratelimit; request schemas (pydantic, marshmallow, jsonschema, serializers) and response models; guards
  (``MAX_CONTENT_LENGTH``, ``DATA_UPLOAD_MAX_MEMORY_SIZE``, uvicorn/gunicorn settings and command lines).
- nginx with crossplane; ingress-nginx annotations; Envoy and Istio (``EnvoyFilter``, ``AuthorizationPolicy``,
  ``PeerAuthentication``); Kong declarative config and ``KongPlugin``/``KongClusterPlugin``; Traefik
  ``Middleware``, file provider and docker labels; Azure APIM policy XML with defusedxml; KServe, HPA,
  Prometheus rules; NeMo Guardrails config.

Controls: INF-01 to INF-14, and DATA-02 for nginx ``ssl_protocols``. Applicability first
(:mod:`mlposture.probes.serving.surface`): without an inference surface every INF control is not applicable; without an
LLM, INF-09 is; INF-13 needs a conversational or generative system; INF-14 is not applicable below the
high-risk tier unless agent code is present.

Rule ids: ``serving.rate-limit``, ``serving.rate-limit-coverage``, ``serving.query-budget``,
``serving.route-auth``, ``serving.gateway-auth``, ``serving.unauthenticated-model-route``,
``serving.gradio-public-share``, ``serving.input-validation``, ``serving.raw-model-input``,
``serving.payload-cap``, ``serving.output-minimised``, ``serving.model-output-exposed``,
``serving.adversarial-detection``, ``serving.confidence-threshold``, ``serving.calibration``,
``serving.query-monitoring``, ``serving.request-logging``, ``serving.prompt-guardrail``,
``serving.prompt-redteam``, ``serving.user-input-in-system-prompt``, ``serving.unrestricted-agent-tool``,
``serving.resource-guard``, ``serving.body-size-unlimited``, ``serving.output-integrity``,
``serving.transparency-notice``, ``serving.human-oversight``, ``serving.nginx-weak-tls``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from mlposture.probes.serving.apim import read_apim
from mlposture.probes.serving.codehints import (
    command_guards,
    gradio_launches,
    oversight_routes,
    python_guards,
    python_hints,
    serving_modules,
    text_hints,
    yaml_hints,
)
from mlposture.probes.serving.facts import Facts
from mlposture.probes.serving.gateways import read_gateways
from mlposture.probes.serving.judge import Judge
from mlposture.probes.serving.modules import ML_VISITOR, VISITOR, python_modules
from mlposture.probes.serving.nginx import NginxReader
from mlposture.probes.serving.rules import RULES
from mlposture.probes.serving.sites import FILE_SITES_SOURCE
from mlposture.probes.serving.surface import APP_SOURCE, SURFACE_SOURCE, detect_surface, python_app
from mlposture.probes.serving.yamldocs import YAML_SOURCE, interesting_path, yaml_files
from mlposture.scanner.probe import Probe, ProbeItem
from mlposture.scanner.sources import ScanContext
from mlposture.scanner.sources.python import PythonVisitor

__all__ = ["ServingProbe"]


class ServingProbe(Probe):
    """Reads serving code and gateway configs (FastAPI, Flask, DRF, nginx, ingress-nginx, Envoy/Istio, Kong,
    Traefik, Azure APIM, KServe) for the inference controls INF-01..INF-14, and nginx TLS for DATA-02.

    Every tick or failure names the file, the line and the deciding value (the limit key, the route, the field).
    Applicability first: without an inference surface the INF controls are not applicable, with the reason.
    """

    name: ClassVar[str] = "serving"
    version: ClassVar[str] = "0.1.0"
    rules = RULES
    python_visitors: ClassVar[tuple[PythonVisitor[Any], ...]] = (VISITOR, ML_VISITOR)
    uses: ClassVar[tuple[str, ...]] = (YAML_SOURCE, FILE_SITES_SOURCE, APP_SOURCE, SURFACE_SOURCE)

    def scan(self, ctx: ScanContext) -> Iterable[ProbeItem]:
        """Gather the facts of every format, then judge them."""
        repo, settings = ctx.repo, ctx.settings
        surface = detect_surface(repo)
        app = python_app(repo)
        facts = Facts()
        facts.extend(app)
        nginx = NginxReader(repo)
        facts.extend(nginx.read())
        yield from nginx.notes
        files = yaml_files(repo)
        for yf in files:
            if yf.error is not None and (yf.serving_markers or _interesting(yf.path)):
                yield yf.error
        gw = read_gateways(files)
        facts.extend(gw.facts)
        apim, apim_notes = read_apim(repo)
        facts.extend(apim)
        yield from apim_notes
        modules = list(python_modules(repo).modules)
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
        seen: set[ProbeItem] = set()
        for item in Judge(surface, facts, hints, gw.monitors, gw.mtls, nginx.tls, settings.eu_risk_tier).items():
            if item not in seen:  # one settings line shared by many routes is one piece of evidence
                seen.add(item)
                yield item


def _interesting(path: str) -> bool:
    """YAML parse errors worth a note here: deployment and gateway configs, not every YAML in the tree."""
    return interesting_path(path)
