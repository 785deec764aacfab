"""The rules of the model_lifecycle probe: the ids its evidence and findings carry, what each looks for, its controls.

Listed in control order (a rule that speaks for two controls sits with the later one), so that the controls derived
from them read MODEL-01, MODEL-02, MODEL-04 .. MODEL-13 (MODEL-03 is the serialization probe's). ``severity`` is
what a finding of the rule usually carries (a mutable deploy reference beside versioned ones is ``low``).
"""

from __future__ import annotations

from mlposture.scanner.probe import Rule, Severity

RULES: tuple[Rule, ...] = (
    # MODEL-01: model hashes verified before load
    Rule("model_lifecycle.verified-load", ("MODEL-01",),
         "a model load preceded in its function by a digest or signature check, or a helper that does one"),
    Rule("model_lifecycle.model-digest", ("MODEL-01",),
         "digests of model files recorded (manifests, DVC hashes) without a load-time check"),
    # MODEL-02: model registry
    Rule("model_lifecycle.registry", ("MODEL-02",),
         "models registered in a registry (MLflow, W&B, SageMaker, Vertex AI, Unity Catalog)"),
    Rule("model_lifecycle.registry-access", ("MODEL-02",),
         "access control on the model registry (Unity Catalog grants, MLflow basic-auth app)"),
    # MODEL-04 .. MODEL-06
    Rule("model_lifecycle.watermark", ("MODEL-04",),
         "model watermarking code (trigger sets, key inputs, verification)"),
    Rule("model_lifecycle.dp-epsilon", ("MODEL-05",),
         "the differential-privacy epsilon in code or config, compared with dp_epsilon_max"),
    Rule("model_lifecycle.dp-training", ("MODEL-05",),
         "DP training (Opacus, TF Privacy, DP-SGD noise with clipping) with no epsilon stated"),
    Rule("model_lifecycle.dp-secure-mode-off", ("MODEL-05",),
         "Opacus PrivacyEngine without secure_mode=True (non-cryptographic noise)", Severity.INFO),
    Rule("model_lifecycle.versioned-deploy-ref", ("MODEL-06",),
         "a deploy that references a fixed model version or an image pinned by digest"),
    Rule("model_lifecycle.rollout", ("MODEL-06",),
         "rollback support: progressive delivery, kept revisions, helm rollback, auto-rollback configuration"),
    Rule("model_lifecycle.no-rollback-history", ("MODEL-06",),
         "revisionHistoryLimit: 0, which removes every revision to roll back to", Severity.MEDIUM),
    Rule("model_lifecycle.mutable-deploy-ref", ("MODEL-06",),
         "a deploy that references a mutable model stage or image tag (Production, latest)", Severity.MEDIUM),
    # MODEL-07: pre-trained model provenance
    Rule("model_lifecycle.pinned-pretrained", ("MODEL-07",), "a pre-trained model download pinned to a commit"),
    Rule("model_lifecycle.unpinned-pretrained", ("MODEL-07",),
         "a pre-trained model download (hub, torch.hub) without a revision, or with a branch or tag", Severity.HIGH),
    Rule("model_lifecycle.model-scan", ("MODEL-07",),
         "a model scanner (modelscan, ModelAudit, picklescan, fickling) run in CI or a pipeline"),
    Rule("model_lifecycle.unverified-weights-download", ("MODEL-01", "MODEL-07"),
         "weights downloaded by a shell command with no digest check", Severity.HIGH),
    # MODEL-08 .. MODEL-10
    Rule("model_lifecycle.model-card", ("MODEL-08",),
         "a model card and which of its sections it covers (a security section is required to pass)"),
    Rule("model_lifecycle.classification", ("MODEL-09",),
         "a model classification recorded in the model card or as a registry tag"),
    Rule("model_lifecycle.compression-robustness", ("MODEL-10",),
         "robustness of the compressed model tested with an attack library"),
    # MODEL-11: signing
    Rule("model_lifecycle.signature-verify", ("MODEL-11",),
         "a model signature verified (cosign verify-blob, model_signing, sigstore) before use"),
    Rule("model_lifecycle.signature-sign", ("MODEL-11",), "a signing step for model files, with no verification"),
    Rule("model_lifecycle.signature-bundle", ("MODEL-11",), "a committed signature or Sigstore bundle"),
    # MODEL-12, MODEL-13
    Rule("model_lifecycle.adversarial-training", ("MODEL-12",),
         "adversarial training or certified robustness inside a training loop (ART, TextAttack, attack libraries)"),
    Rule("model_lifecycle.license-recorded", ("MODEL-13",), "the licence of a model or dataset recorded in its card"),
    Rule("model_lifecycle.noncommercial-license", ("MODEL-13",), "a model or dataset licence forbidding commercial use",
         Severity.MEDIUM),
    Rule("model_lifecycle.restrictive-license", ("MODEL-13",),
         "a custom or use-restricted model licence to review against the intended use", Severity.LOW),
    Rule("model_lifecycle.third-party-inventory", ("MODEL-13",), "a third-party model inventory or NOTICE file"),
    Rule("model_lifecycle.license-tooling", ("MODEL-13",),
         "licence tooling in CI (pip-licenses, liccheck, scancode, reuse), which covers packages, not models"),
)
