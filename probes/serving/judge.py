"""Judgements: the facts of every format turned into evidence for the INF controls, by the catalog's rules.

Why the probe computes some effects itself: the engine lets ``pass`` win over ``partial``. Where the catalog says
"mixed = partial" (validation on some routes only, limits covering some model routes only), every piece of
evidence of that control is emitted with the combined effect, so a single good route cannot hide the others.
"""

from __future__ import annotations

from collections.abc import Iterator

from mlposture.probes.serving.codehints import Hint
from mlposture.probes.serving.facts import Facts, KeyKind, RateLimit, Route, Window
from mlposture.probes.serving.nginx import Tls
from mlposture.probes.serving.surface import Surface
from mlposture.scanner.probe import Effect, Evidence, Finding, NotApplicable, ProbeItem, Searched, Severity

INF_CONTROLS = tuple(f"INF-{i:02d}" for i in range(1, 15))
HOUR = 3600
DAY = 86400
WEEK = 604800
WEAK_TLS = {"SSLv2", "SSLv3", "TLSv1", "TLSv1.1"}


def _not_enforced(lim: RateLimit) -> bool:
    return "disabled" in lim.detail or "not enforced" in lim.key_detail


def _windows(ws: tuple[Window, ...]) -> str:
    return ", ".join(w.label() for w in ws) or "no window"


def _key_text(limit: RateLimit) -> str:
    return {KeyKind.CONSUMER: "per consumer", KeyKind.IP: "per client IP", KeyKind.GLOBAL: "shared by all clients",
            KeyKind.UNKNOWN: "key unknown"}[limit.key]


def _routes_text(routes: list[Route], limit: int = 5) -> str:
    shown = ", ".join(r.label() for r in routes[:limit])
    return shown + (f" and {len(routes) - limit} more" if len(routes) > limit else "")


class Judge:
    """Turns merged facts and hints into probe items."""

    def __init__(self, surface: Surface, facts: Facts, hints: list[Hint], monitors: list[tuple[str, int, str]],
                 mtls: list[tuple[str, int, str, bool]], tls: list[Tls], eu_risk_tier: str | None = None) -> None:
        self.eu_risk_tier = eu_risk_tier
        self.surface = surface
        self.facts = facts
        self.hints = hints
        self.monitors = monitors
        self.mtls = mtls
        self.tls = tls
        self.model_routes = [r for r in facts.routes if r.is_model]

    def items(self) -> Iterator[ProbeItem]:
        """Every item for the INF controls (and weak TLS for DATA-02)."""
        yield from self.weak_tls()
        if not self.surface.has_surface:
            for control in INF_CONTROLS:
                yield NotApplicable(control, self.surface.reason())
            return
        yield from self.inf01()
        yield from self.inf02()
        yield from self.inf03()
        yield from self.hinted("INF-04")
        yield from self.inf05()
        yield from self.inf06()
        yield from self.inf07()
        yield from self.inf08()
        yield from self.inf09()
        yield from self.inf10()
        yield from self.inf11()
        yield from self.inf12()
        yield from self.inf13()
        yield from self.inf14()

    # ------------------------------------------------------------------ INF-01
    def inf01(self) -> Iterator[ProbeItem]:
        limits = [lim for lim in self.facts.limits if not lim.quota]
        if not limits:
            yield Searched("INF-01", "rate limits: nginx limit_req, ingress-nginx limit-rps/rpm, Envoy/Istio "
                                     "ratelimit filters, Kong rate-limiting, Traefik rateLimit, Azure APIM "
                                     "rate-limit(-by-key), slowapi, flask-limiter, fastapi-limiter, DRF throttles, "
                                     "django-ratelimit")
            return
        uncovered = [r for r in self.model_routes if not any(lim.scope.covers(r) for lim in limits)]
        # "aggregate tracking": an hour-or-longer window per consumer anywhere (a quota counts too)
        aggregate = next((lim for lim in self.facts.limits if lim.key is KeyKind.CONSUMER and not _not_enforced(lim)
                          and any(w.seconds >= HOUR for w in lim.windows)), None)
        for lim in limits:
            effect, why = self._rate_effect(lim, aggregate)
            if uncovered and effect is Effect.PASS:
                effect, why = Effect.PARTIAL, why + "; some model routes have no limit"
            yield Evidence("INF-01", effect, f"{lim.detail}: {_key_text(lim)} ({lim.key_detail}), "
                                             f"{_windows(lim.windows)}{why}", lim.path, lim.line,
                           "serving.rate-limit")
        if uncovered:
            first = uncovered[0]
            yield Evidence("INF-01", Effect.PARTIAL, f"model routes without any rate limit: {_routes_text(uncovered)}",
                           first.path, first.line, "serving.rate-limit-coverage")

    @staticmethod
    def _rate_effect(lim: RateLimit, aggregate: RateLimit | None) -> tuple[Effect, str]:
        if _not_enforced(lim):
            return Effect.PARTIAL, " -- not enforced"
        if lim.key is KeyKind.IP:
            return Effect.PARTIAL, " -- per IP only, the control asks per user or API key"
        if lim.key is not KeyKind.CONSUMER:
            return Effect.PARTIAL, " -- not keyed per consumer"
        if not lim.windows:
            return Effect.PARTIAL, " -- window not visible here"
        if aggregate is None:
            return Effect.PARTIAL, " -- no hour/day window per consumer for aggregate tracking"
        if (aggregate.path, aggregate.line) != (lim.path, lim.line):
            return Effect.PASS, f"; aggregate tracking by {aggregate.detail} ({aggregate.path}:{aggregate.line})"
        return Effect.PASS, ""

    # ------------------------------------------------------------------ INF-11
    def inf11(self) -> Iterator[ProbeItem]:
        relevant = [lim for lim in self.facts.limits if lim.quota or any(w.seconds >= DAY for w in lim.windows)]
        ledgers = [h for h in self.hints if h.control == "INF-11"]
        for h in ledgers:
            yield Evidence("INF-11", Effect.PARTIAL, f"custom quota ledger: {h.detail} (period not visible)", h.path,
                           h.line, "serving.query-budget")
        if not relevant and not ledgers:
            yield Searched("INF-11", "daily/weekly/monthly per-consumer quotas: Kong config.day/month/year, Azure "
                                     "APIM quota-by-key, DRF /day rates, slowapi/flask-limiter day/month limits, "
                                     "fastapi-limiter long windows, quota ledgers checked in handlers")
            return
        if not relevant:
            return
        consumer_windows = [w.seconds for lim in relevant if lim.key is KeyKind.CONSUMER and not _not_enforced(lim)
                            for w in lim.windows]
        has_daily = any(DAY <= s < WEEK for s in consumer_windows)
        has_long = any(s >= WEEK for s in consumer_windows)
        for lim in relevant:
            long_ws = tuple(w for w in lim.windows if w.seconds >= DAY)
            text = f"{lim.detail}: {_key_text(lim)} ({lim.key_detail}), {_windows(long_ws)}"
            if lim.key is not KeyKind.CONSUMER or _not_enforced(lim):
                why = " -- not enforced" if _not_enforced(lim) else " -- not a per-consumer budget"
                yield Evidence("INF-11", Effect.PARTIAL, text + why, lim.path, lim.line, "serving.query-budget")
            elif has_daily and has_long:
                yield Evidence("INF-11", Effect.PASS, text, lim.path, lim.line, "serving.query-budget")
            else:
                missing = "no weekly or monthly window" if has_daily else "no daily quota"
                yield Evidence("INF-11", Effect.PARTIAL, f"{text} -- {missing}", lim.path, lim.line,
                               "serving.query-budget")

    # ------------------------------------------------------------------ INF-07
    def inf07(self) -> Iterator[ProbeItem]:
        gateway = [a for a in self.facts.auth if a.ok]
        for a in gateway:
            yield Evidence("INF-07", Effect.PASS, f"{a.source}: {a.detail}", a.path, a.line, "serving.gateway-auth")
        for r in self.model_routes:
            covering = [a for a in gateway if a.scope.covers(r)]
            if r.auth:
                yield Evidence("INF-07", Effect.PASS, f"{r.method} {r.url} requires {r.auth[0]}", r.path,
                               r.auth_line or r.line, "serving.route-auth")
            elif covering:
                continue
            else:
                why = r.auth_denied or "no authentication dependency, decorator or permission class"
                yield Finding("serving.unauthenticated-model-route", Severity.HIGH,
                              f"model route {r.method} {r.url} ({r.handler}) is unauthenticated: {why}", r.path,
                              r.auth_line or r.line, ("INF-07",), f"{r.method} {r.url} {r.handler}")
        for h in self.hints:
            if h.control == "INF-07" and h.kind == "gradio-public-share":
                yield Finding("serving.gradio-public-share", Severity.HIGH, h.detail, h.path, h.line, ("INF-07",),
                              h.detail)
        if not gateway and not self.model_routes:
            yield Searched("INF-07", "authentication: FastAPI security dependencies, Flask/Django decorators, DRF "
                                     "permission classes, nginx auth_request/auth_basic, ingress auth-url, Kong "
                                     "auth plugins, Traefik forwardAuth, Envoy jwt_authn/ext_authz, Istio "
                                     "AuthorizationPolicy, APIM validate-jwt")

    # ------------------------------------------------------------------ INF-02
    def inf02(self) -> Iterator[ProbeItem]:
        judged = [r for r in self.model_routes if r.validation != "none"]
        raw = [r for r in judged if r.validation == "raw"]
        good = [r for r in judged if r.validation in ("validated", "typed")]
        mixed = bool(raw) and bool(good)
        for r in good:
            effect = Effect.PARTIAL if mixed else Effect.PASS
            extra = f"; raw input on {_routes_text(raw, 3)}" if mixed else ""
            yield Evidence("INF-02", effect, f"{r.method} {r.url} input {r.validation}: {r.validation_detail}{extra}",
                           r.path, r.validation_line, "serving.input-validation")
        for r in raw:
            yield Finding("serving.raw-model-input", Severity.HIGH,
                          f"{r.method} {r.url} passes unvalidated input to the model: {r.validation_detail}"
                          + (" (other routes are validated)" if mixed else ""), r.path, r.validation_line,
                          ("INF-02",), f"{r.method} {r.url} {r.handler}",
                          Effect.PARTIAL if mixed else Effect.FAIL)
        for path, line, detail in self.facts.validation:
            yield Evidence("INF-02", Effect.PARTIAL, f"payload cap {detail} (size only, no schema)", path, line,
                           "serving.payload-cap")
        if not judged and not self.facts.validation:
            yield Searched("INF-02", "request schemas on model routes (pydantic Field constraints, conint/constr, "
                                     "marshmallow, jsonschema, DRF serializers) and payload caps")

    # ------------------------------------------------------------------ INF-03
    def inf03(self) -> Iterator[ProbeItem]:
        found = False
        for r in self.model_routes:
            if r.output == "exposes":
                found = True
                yield Finding("serving.model-output-exposed", Severity.MEDIUM,
                              f"{r.method} {r.url} exposes raw model output: {r.output_detail}",
                              r.output_path or r.path, r.output_line, ("INF-03",),
                              f"{r.method} {r.url} {r.output_detail}")
            elif r.output == "minimised":
                found = True
                yield Evidence("INF-03", Effect.PASS, f"{r.method} {r.url}: {r.output_detail}",
                               r.output_path or r.path, r.output_line, "serving.output-minimised")
        if not found:
            yield Searched("INF-03", "response models and returns of model routes (logits, probabilities, "
                                     "embeddings, hidden states, logprobs; rounding or top-1)")

    # ------------------------------------------------------------------ hint-based controls
    def hinted(self, control: str) -> Iterator[ProbeItem]:
        """Controls decided by hints alone: on the serving path = pass, elsewhere = partial."""
        hints = [h for h in self.hints if h.control == control]
        rule = {"INF-04": "serving.adversarial-detection", "INF-13": "serving.transparency-notice"}[control]
        for h in hints:
            if h.serving:
                yield Evidence(control, Effect.PASS, f"{h.kind}: {h.detail}", h.path, h.line, rule)
            else:
                yield Evidence(control, Effect.PARTIAL, f"{h.kind}: {h.detail} -- not on the serving path", h.path,
                               h.line, rule)
        if not hints:
            what = {"INF-04": "adversarial-input detection in the serving path: ART detectors and preprocessors, "
                              "alibi-detect adversarial detectors, input-gradient checks, ensemble disagreement",
                    "INF-13": "AI-interaction notices in code/templates ('you are chatting with an AI', "
                              "'AI-generated'), ai_generated fields, TRANSPARENCY.md"}[control]
            yield Searched(control, what)

    def inf05(self) -> Iterator[ProbeItem]:
        thresholds = [h for h in self.hints if h.control == "INF-05" and h.kind == "rejection threshold"]
        calib = [h for h in self.hints if h.control == "INF-05" and h.kind == "calibration"]
        on_path = [h for h in thresholds if h.serving]
        for h in thresholds:
            ok = h.serving and bool(calib)
            why = "" if ok else (" -- not on the serving path" if not h.serving else " -- no calibration found")
            yield Evidence("INF-05", Effect.PASS if ok else Effect.PARTIAL, f"rejection threshold {h.detail}{why}",
                           h.path, h.line, "serving.confidence-threshold")
        for h in calib:
            ok = bool(on_path)
            yield Evidence("INF-05", Effect.PASS if ok else Effect.PARTIAL,
                           f"calibration: {h.detail}" + ("" if ok else " -- no rejection threshold in serving code"),
                           h.path, h.line, "serving.calibration")
        if not thresholds and not calib:
            yield Searched("INF-05", "confidence threshold with rejection in serving code and calibration "
                                     "(CalibratedClassifierCV, temperature scaling, netcal)")

    def inf06(self) -> Iterator[ProbeItem]:
        for path, line, detail in self.monitors:
            yield Evidence("INF-06", Effect.PASS, f"per-consumer query monitoring: {detail}", path, line,
                           "serving.query-monitoring")
        hints = [h for h in self.hints if h.control == "INF-06"]
        for h in hints:
            what = "per-consumer long-window counter" if h.kind == "per-consumer-counter" else \
                "extraction analytics by name"
            yield Evidence("INF-06", Effect.PARTIAL, f"{what}: {h.detail}", h.path, h.line,
                           "serving.query-monitoring")
        if not self.monitors and not hints:
            yield Searched("INF-06", "per-consumer query analytics: Prometheus rules aggregated by api_key/consumer/"
                                     "user on request metrics, extraction-detection jobs")

    def inf08(self) -> Iterator[ProbeItem]:
        found = False
        for log in self.facts.logs:
            if log.ok:
                found = True
                yield Evidence("INF-08", Effect.PARTIAL, f"request logging: {log.detail} (retention is judged from "
                                                          "the log store's configuration)", log.path, log.line,
                               "serving.request-logging")
        for h in self.hints:
            if h.control == "INF-08":
                found = True
                yield Evidence("INF-08", Effect.PARTIAL, f"request logging: {h.detail}", h.path, h.line,
                               "serving.request-logging")
        if not found:
            yield Searched("INF-08", "request logging: nginx access_log, KServe logger, ingress access logs, "
                                     "logging middleware, OpenTelemetry instrumentation")

    def inf09(self) -> Iterator[ProbeItem]:
        if not self.surface.has_llm:
            yield NotApplicable("INF-09", self.surface.llm_reason())
            return
        hints = [h for h in self.hints if h.control == "INF-09"]
        for h in hints:
            if h.kind == "guardrail":
                yield Evidence("INF-09", Effect.PASS, f"prompt-injection defence: {h.detail}", h.path, h.line,
                               "serving.prompt-guardrail")
            elif h.kind == "red-team":
                yield Evidence("INF-09", Effect.PARTIAL, f"LLM red-team configuration: {h.detail}", h.path, h.line,
                               "serving.prompt-redteam")
            elif h.kind == "user-input-in-system-prompt":
                yield Finding("serving.user-input-in-system-prompt", Severity.HIGH,
                              f"user input concatenated into the system prompt: {h.detail}", h.path, h.line,
                              ("INF-09",), h.detail)
            elif h.kind == "unrestricted-tool":
                yield Finding("serving.unrestricted-agent-tool", Severity.HIGH,
                              f"LLM agent with an unrestricted tool: {h.detail}", h.path, h.line, ("INF-09",),
                              h.detail)
        if not hints:
            yield Searched("INF-09", "NeMo Guardrails input rails, Guardrails AI, LLM Guard, Rebuff, Lakera, Llama "
                                     "Guard/Prompt Guard classifiers, Azure Prompt Shields; user input in system "
                                     "prompts")

    def inf10(self) -> Iterator[ProbeItem]:
        for g in self.facts.guards:
            if g.ok:
                yield Evidence("INF-10", Effect.PARTIAL, f"{g.kind} guard: {g.detail} (edge protection such as a "
                                                         "WAF/CDN is judged from infrastructure code)", g.path,
                               g.line, "serving.resource-guard")
            else:
                yield Finding("serving.body-size-unlimited", Severity.MEDIUM, f"request size check disabled: "
                              f"{g.detail}", g.path, g.line, ("INF-10",), g.detail)
        if not self.facts.guards:
            yield Searched("INF-10", "request size limits, timeouts, connection limits and autoscaling bounds "
                                     "(nginx, ingress-nginx, Traefik, Kong, HPA/KServe maxReplicas)")

    def inf12(self) -> Iterator[ProbeItem]:
        found = False
        for path, line, detail, strict in self.mtls:
            if strict:
                found = True
                yield Evidence("INF-12", Effect.PASS, f"strict mTLS: {detail}", path, line, "serving.output-integrity")
        for h in self.hints:
            if h.control == "INF-12" and h.serving:
                found = True
                yield Evidence("INF-12", Effect.PASS, f"signed output: {h.detail}", h.path, h.line,
                               "serving.output-integrity")
        for t in self.tls:
            if t.protocols and not set(t.protocols) & WEAK_TLS:
                found = True
                yield Evidence("INF-12", Effect.PARTIAL, f"TLS only: ssl_protocols {' '.join(t.protocols)}", t.path,
                               t.line, "serving.output-integrity")
        if not found:
            yield Searched("INF-12", "signed responses (hmac/JWS), Istio PeerAuthentication STRICT, TLS on the "
                                     "serving hop")

    def inf13(self) -> Iterator[ProbeItem]:
        """Art. 50 applies to systems that interact with people or generate content."""
        if self.surface.interacts_with_people is None:
            yield NotApplicable("INF-13", "no conversational or generative surface: no LLM, no chat/generation "
                                          "endpoint, no synthetic-media library")
            return
        yield from self.hinted("INF-13")

    def inf14(self) -> Iterator[ProbeItem]:
        tier = (self.eu_risk_tier or "").strip().lower()
        if tier and tier not in ("high", "high-risk", "high_risk") and not self.surface.has_agents:
            yield NotApplicable("INF-14", f"EU AI Act risk tier '{self.eu_risk_tier}' is not high-risk and no "
                                          "agent or tool-calling code was found")
            return
        hints = [h for h in self.hints if h.control == "INF-14"]
        docs = [h for h in hints if h.kind == "oversight-doc"]
        mech = [h for h in hints if h.kind != "oversight-doc"]
        for h in hints:
            ok = bool(docs) and bool(mech)
            why = "" if ok else (" -- no HUMAN_OVERSIGHT document" if h in mech else
                                 " -- no review/override/stop mechanism in code")
            yield Evidence("INF-14", Effect.PASS if ok else Effect.PARTIAL, f"{h.kind}: {h.detail}{why}", h.path,
                           h.line, "serving.human-oversight")
        if not hints:
            yield Searched("INF-14", "review queues, override/feedback endpoints, kill switches, agent "
                                     "interrupts, HUMAN_OVERSIGHT.md")

    # ------------------------------------------------------------------ DATA-02 (nginx TLS)
    def weak_tls(self) -> Iterator[ProbeItem]:
        for t in self.tls:
            weak = sorted(set(t.protocols) & WEAK_TLS)
            if weak:
                yield Finding("serving.nginx-weak-tls", Severity.HIGH,
                              f"ssl_protocols {' '.join(t.protocols)} allows {', '.join(weak)}", t.path, t.line,
                              ("DATA-02",), f"ssl_protocols {' '.join(t.protocols)}")
