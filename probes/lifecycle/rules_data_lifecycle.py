"""The rules of the data_lifecycle probe: the ids its evidence and findings carry, what each looks for, its controls.

Listed in control order (rules that speak for two controls sit with the later one), so that the controls derived
from them read DATA-04 .. DATA-14. Tool rules (anomaly detection, schema validation, PII, influence, bias) pass only
when a pipeline runs the tool (DVC stage, CI job, orchestrator task) and are partial elsewhere. ``severity`` is what
a finding of the rule carries; evidence-only rules have none.
"""

from __future__ import annotations

from mlposture.scanner.probe import Rule, Severity

RULES: tuple[Rule, ...] = (
    # DATA-04: provenance and hash verification
    Rule("data_lifecycle.dvc-stage", ("DATA-04",), "a DVC stage that records lineage (deps, outs, params)"),
    Rule("data_lifecycle.dvc-pointer", ("DATA-04",), "a .dvc pointer file that records a data file's hash"),
    Rule("data_lifecycle.lfs-tracked", ("DATA-04",), "data tracked by Git LFS (sha256 pointers in git)"),
    Rule("data_lifecycle.hash-manifest", ("DATA-04",), "a committed manifest of SHA-2 digests of data files"),
    Rule("data_lifecycle.lineage", ("DATA-04",),
         "dataset lineage recorded in code (MLflow dataset logging, OpenLineage, lakeFS)"),
    Rule("data_lifecycle.verify-step", ("DATA-04",),
         "a step that verifies the recorded hashes (dvc pull/status/repro, sha256sum -c, a digest comparison)"),
    Rule("data_lifecycle.mutable-download", ("DATA-04",),
         "data downloaded from a URL (code or shell) with no digest check in the same file", Severity.MEDIUM),
    Rule("data_lifecycle.weak-hash", ("DATA-04",),
         "data hashes recorded with md5, not collision-resistant against tampering", Severity.INFO),
    # DATA-05 .. DATA-07: anomaly detection, schema validation, PII
    Rule("data_lifecycle.anomaly-detection", ("DATA-05",),
         "an anomaly, outlier or label-issue detector on the training data (Alibi Detect, PyOD, IsolationForest, "
         "cleanlab...)"),
    Rule("data_lifecycle.schema-validation", ("DATA-06",),
         "schema or record validation of the data (Great Expectations, pandera, pydantic models...)"),
    Rule("data_lifecycle.validation-suppressed", ("DATA-06",),
         "a validation call inside a try/except that swallows its error", Severity.MEDIUM),
    Rule("data_lifecycle.pii-redaction", ("DATA-07",), "PII detection or redaction tools (Presidio, scrubadub...)"),
    Rule("data_lifecycle.pii-in-data", ("DATA-07",),
         "personal data (e-mail addresses, phone numbers, IBANs, SSN-like numbers) in committed data files",
         Severity.HIGH),
    # DATA-08: immutable dataset versions
    Rule("data_lifecycle.dataset-revision", ("DATA-08",),
         "a hub dataset or dvc.api read pinned to a fixed revision"),
    Rule("data_lifecycle.unpinned-dataset", ("DATA-04", "DATA-08"),
         "load_dataset without a revision, or with a branch or tag instead of a commit", Severity.MEDIUM),
    Rule("data_lifecycle.dvc-lock", ("DATA-04", "DATA-08"),
         "dvc.lock hashes of stage dependencies and outputs (pass with a DVC remote)"),
    Rule("data_lifecycle.dvc-remote", ("DATA-08",), "a DVC remote that dataset versions are pushed to"),
    Rule("data_lifecycle.dvc-import", ("DATA-08",), "a DVC import frozen at a locked revision"),
    Rule("data_lifecycle.lfs-pointer", ("DATA-08",), "a committed Git LFS pointer (content pinned by sha256)"),
    # DATA-09 .. DATA-14
    Rule("data_lifecycle.retention-policy", ("DATA-09",), "a documented data retention policy"),
    Rule("data_lifecycle.retention-enforcement", ("DATA-09",),
         "deletion or expiry code and commands that enforce retention (purge functions, dvc gc)"),
    Rule("data_lifecycle.synthetic-validation", ("DATA-10",),
         "validation of generated synthetic data (SDMetrics, SDV evaluation, synthcity metrics)"),
    Rule("data_lifecycle.synthetic-documented", ("DATA-10",), "synthetic data documented in a datasheet or README"),
    Rule("data_lifecycle.robust-aggregation", ("DATA-11",),
         "robust aggregation in federated learning (FedTrimmedAvg, FedMedian, Krum, Bulyan, trim_mean)"),
    Rule("data_lifecycle.plain-fedavg", ("DATA-11",),
         "federated learning with plain FedAvg (one poisoned client moves the global model)", Severity.MEDIUM),
    Rule("data_lifecycle.influence-analysis", ("DATA-12",),
         "influence analysis of training points (Captum TracIn, pyDVL, Kronfluence, TRAK, cleanlab)"),
    Rule("data_lifecycle.datasheet", ("DATA-13",), "a datasheet or dataset card and how many sections it covers"),
    Rule("data_lifecycle.bias-examination", ("DATA-14",), "bias examination of the data (Fairlearn, AIF360...)"),
)
