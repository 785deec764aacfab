"""The rules of the serialization probe: the ids its evidence and findings carry, what each looks for, its controls.

Three sources emit them: artifacts (``serialization.<issue rule>`` from :mod:`.artifacts`, whose controls come
from ``ISSUE_CONTROLS``), code signals (:mod:`.code_signals`) and the git-history scan (:mod:`.history`, with
``--history``). ``malformed``, ``unscanned-archive`` and ``scan-limit`` count against no control: they say a file
was not fully analysed, and block the gate through their severity (fail closed). ``severity`` is what a finding of
the rule usually carries (``scan-limit`` takes ``model_limit_severity``, critical by default).
"""

from __future__ import annotations

from mlposture.scanner.probe import Rule, Severity

RULES: tuple[Rule, ...] = (
    # MODEL-03: model files whose loading cannot run code, and code that loads them safely
    Rule("serialization.pickle-format", ("MODEL-03",),
         "a model file, found by content, that loads through pickle (pickle, PyTorch, joblib, NumPy object arrays)"),
    Rule("serialization.safe-format", ("MODEL-03",),
         "a model file in a format that runs no code on load (safetensors, GGUF, ONNX, Keras without Lambda)"),
    Rule("serialization.dangerous-global", ("MODEL-03",),
         "a pickle whose loading imports something that can run code (os.system, eval, subprocess...)",
         Severity.CRITICAL),
    Rule("serialization.unknown-global", ("MODEL-03",), "a pickle that imports globals not on the allowlist",
         Severity.MEDIUM),
    Rule("serialization.keras-lambda", ("MODEL-03",),
         "a Keras model with a Lambda layer (marshalled Python code) or a function imported on load",
         Severity.CRITICAL),
    Rule("serialization.tf-unsafe-op", ("MODEL-03",),
         "a TensorFlow graph op that reads or writes files or calls Python when the model runs", Severity.HIGH),
    Rule("serialization.onnx-external-data", ("MODEL-03",),
         "an ONNX external-data path that leaves the model's folder", Severity.HIGH),
    Rule("serialization.gguf-template", ("MODEL-03",),
         "a GGUF chat template that reaches Python internals (Jinja2 template injection)", Severity.CRITICAL),
    Rule("serialization.archive-anomaly", ("MODEL-03",),
         "a zip-based model whose archive is inconsistent (CRC failures, mismatched or unreadable directory)",
         Severity.HIGH),
    Rule("serialization.disguised-format", ("MODEL-03",),
         "a file named as a safe format whose content loads through pickle", Severity.HIGH),
    Rule("serialization.history-artifact", ("MODEL-03",),
         "a pickle-based or dangerous model file removed from HEAD but still in git history (--history)",
         Severity.MEDIUM),
    Rule("serialization.pickle-load-call", ("MODEL-03",),
         "code that loads through pickle (pickle/joblib/pandas/shelve loads, numpy.load(allow_pickle=True))",
         Severity.HIGH),
    Rule("serialization.torch-load-unsafe", ("MODEL-03",),
         "torch.load with weights_only=False, or without it on torch < 2.6", Severity.HIGH),
    Rule("serialization.torch-load-weights-only", ("MODEL-03",),
         "torch.load restricted to weights (weights_only=True, or the default of a pinned torch >= 2.6)"),
    Rule("serialization.safetensors-call", ("MODEL-03",),
         "code that stores or loads weights as safetensors (safetensors API, use_safetensors, safe_serialization)"),
    Rule("serialization.unsafe-yaml-load", ("MODEL-03",), "yaml.load without a safe Loader, or yaml.unsafe_load",
         Severity.HIGH),
    Rule("serialization.keras-unsafe-load", ("MODEL-03",), "a Keras load_model(safe_mode=False) call",
         Severity.HIGH),
    Rule("serialization.trust-remote-code", ("MODEL-03", "MODEL-07"),
         "a hub load with trust_remote_code=True (runs Python code shipped with the model)", Severity.HIGH),
    # MODEL-07: pre-trained models pinned to a commit
    Rule("serialization.pinned-revision", ("MODEL-07",),
         "a hub download (from_pretrained, pipeline, hf_hub_download, torch.hub.load) pinned to a commit"),
    Rule("serialization.unpinned-model", ("MODEL-07",),
         "a hub download without a revision, or pinned to a branch or tag that can move"),
    # MODEL-01: digests checked before load
    Rule("serialization.digest-check", ("MODEL-01",),
         "a digest compared in code, or a download helper given the expected hash (check_hash, known_hash)"),
    Rule("serialization.digest-manifest", ("MODEL-01",),
         "a committed digest manifest (SHA256SUMS, *.sha256, checksums) without a verification shown"),
    # the file could not be fully analysed (no control; the severity gates)
    Rule("serialization.malformed", (), "a model file whose content cannot be parsed", Severity.MEDIUM),
    Rule("serialization.unscanned-archive", (), "an archive whose members cannot be scanned (7z)", Severity.MEDIUM),
    Rule("serialization.scan-limit", (),
         "a file or the whole scan past a model-scanning limit (size, time, recursion), not fully analysed",
         Severity.CRITICAL),
)
