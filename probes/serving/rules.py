"""The rules of the serving probe: the ids its evidence and findings carry, what each looks for, and its controls.

Listed in control order (INF-01 .. INF-14, then DATA-02), so that the controls derived from them keep that order.
``severity`` is what a finding of the rule carries; evidence-only rules have none.
"""

from __future__ import annotations

from mlposture.scanner.probe import Rule, Severity

RULES: tuple[Rule, ...] = (
    Rule("serving.rate-limit", ("INF-01",),
         "a rate limit in code or a gateway, keyed per user or API key with an hour-or-longer window (pass)"),
    Rule("serving.rate-limit-coverage", ("INF-01",), "model routes that no rate limit covers"),
    Rule("serving.input-validation", ("INF-02",),
         "a request schema with constraints on a model route (pydantic, marshmallow, jsonschema, DRF serializer)"),
    Rule("serving.payload-cap", ("INF-02",), "a request-size cap without a schema (nginx, ingress, framework)"),
    Rule("serving.raw-model-input", ("INF-02",), "a model route that passes unvalidated request input to the model",
         Severity.HIGH),
    Rule("serving.output-minimised", ("INF-03",),
         "a model route that reduces what it returns (rounding, top-1, a response model without scores)"),
    Rule("serving.model-output-exposed", ("INF-03",),
         "a model route that returns raw model output (logits, probabilities, embeddings, logprobs)",
         Severity.MEDIUM),
    Rule("serving.adversarial-detection", ("INF-04",),
         "adversarial-input detection or preprocessing on the serving path (ART, alibi-detect)"),
    Rule("serving.confidence-threshold", ("INF-05",),
         "a confidence threshold that rejects low-confidence predictions in serving code"),
    Rule("serving.calibration", ("INF-05",), "probability calibration (CalibratedClassifierCV, temperature scaling)"),
    Rule("serving.query-monitoring", ("INF-06",),
         "per-consumer query monitoring for model extraction (alert rules aggregated by API key or user)"),
    Rule("serving.route-auth", ("INF-07",),
         "a model route that requires authentication (security dependency, decorator, permission class)"),
    Rule("serving.gateway-auth", ("INF-07",),
         "authentication at a gateway in front of the model (nginx, ingress, Kong, Traefik, Envoy, Istio, APIM)"),
    Rule("serving.unauthenticated-model-route", ("INF-07",),
         "a model route that neither the code nor a gateway authenticates", Severity.HIGH),
    Rule("serving.gradio-public-share", ("INF-07",), "a Gradio app launched with a public share link and no auth",
         Severity.HIGH),
    Rule("serving.request-logging", ("INF-08",),
         "request logging on the serving path (access logs, KServe logger, logging middleware, OpenTelemetry)"),
    Rule("serving.prompt-guardrail", ("INF-09",),
         "a prompt-injection defence in front of the LLM (NeMo Guardrails, Guardrails AI, LLM Guard, Prompt Guard)"),
    Rule("serving.prompt-redteam", ("INF-09",), "an LLM red-team configuration (promptfoo redteam)"),
    Rule("serving.user-input-in-system-prompt", ("INF-09",), "user input concatenated into an LLM system prompt",
         Severity.HIGH),
    Rule("serving.unrestricted-agent-tool", ("INF-09",),
         "an LLM agent given an unrestricted tool (shell, Python REPL, arbitrary requests)", Severity.HIGH),
    Rule("serving.resource-guard", ("INF-10",),
         "request size limits, timeouts, connection limits and autoscaling bounds on the serving path"),
    Rule("serving.body-size-unlimited", ("INF-10",), "a request-size check switched off (0 or None)",
         Severity.MEDIUM),
    Rule("serving.query-budget", ("INF-11",),
         "daily and weekly or monthly query quotas per consumer (gateway, limiter, quota ledger)"),
    Rule("serving.output-integrity", ("INF-12",),
         "signed responses or strict mTLS on the serving hop (TLS alone is partial)"),
    Rule("serving.transparency-notice", ("INF-13",),
         "a notice telling people they interact with AI or that content is AI-generated"),
    Rule("serving.human-oversight", ("INF-14",),
         "human oversight: a HUMAN_OVERSIGHT document and a review, override or stop mechanism in code"),
    Rule("serving.nginx-weak-tls", ("DATA-02",), "nginx ssl_protocols that still accept TLS 1.0 or 1.1",
         Severity.HIGH),
)
