"""DATA-05, 06, 07, 09, 10, 11, 12, 13, 14: data-handling practices shown by tools, pipelines and documents.

Each control is a list of tools (module prefixes from the tools' own documentation, listed per control in
docs/probes.md) judged by :mod:`mlposture.probes.lifecycle.libraries` (wired = pass, unwired or notebook = partial),
plus the control's own extra: the PII sample (DATA-07), retention documents (DATA-09), applicability of synthetic
data (DATA-10) and federated learning (DATA-11), plain FedAvg as negative evidence (DATA-11), datasheet section
coverage (DATA-13).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from mlposture.probes.lifecycle import pii
from mlposture.probes.lifecycle.context import Context
from mlposture.probes.lifecycle.libraries import Library, find_cli, find_usages, searched_text, usage_evidence
from mlposture.probes.lifecycle.pysource import SourceFacts
from mlposture.scanner.probe import Effect, Evidence, Finding, NotApplicable, ProbeItem, Searched, Severity
from mlposture.scanner.sources import markdown

R = "data_lifecycle."

ANOMALY = (
    Library("ART poisoning detector", ("art.defences.detector.poison",)),
    Library("Alibi Detect", ("alibi_detect",)),
    Library("PyOD", ("pyod",)),
    Library("scikit-learn outlier detector", (
        "sklearn.ensemble.IsolationForest", "sklearn.neighbors.LocalOutlierFactor",
        "sklearn.covariance.EllipticEnvelope", "sklearn.svm.OneClassSVM")),
    Library("cleanlab label-issue detection", ("cleanlab",)),
    Library("KS two-sample test", ("scipy.stats.ks_2samp",)),
    Library("whylogs", ("whylogs",)),
    Library("deepchecks data integrity", ("deepchecks.tabular.suites.data_integrity",
                                          "deepchecks.tabular.checks.data_integrity")),
)
SCHEMA = (
    Library("Great Expectations", ("great_expectations",), r"\b(?:great_expectations|gx)\s+checkpoint\s+run\b"),
    Library("pandera", ("pandera",)),
    Library("TensorFlow Data Validation", ("tensorflow_data_validation",)),
    Library("deepchecks data integrity", ("deepchecks.tabular.suites.data_integrity",)),
    Library("Evidently test suite", ("evidently.test_suite", "evidently.tests", "evidently.test_preset")),
    Library("Soda", ("soda.scan",), r"\bsoda\s+scan\b"),
    Library("dbt tests", (), r"\bdbt\s+(?:test|build)\b"),
)
VALIDATE_CALLS = {"validate", "validate_statistics", "run_checkpoint", "run", "validate_df", "validate_data"}
# Generic validators count only in data-handling files (their path says so): pydantic also models API payloads.
GENERIC_SCHEMA = (
    Library("pydantic record model", ("pydantic.BaseModel", "pydantic.dataclasses")),
    Library("jsonschema", ("jsonschema",)),
)
DATA_FILE_HINT = re.compile(r"(?i)(data|ingest|valid|schema|etl|preprocess|clean|feature)")
PII_TOOLS = (
    Library("Microsoft Presidio", ("presidio_analyzer", "presidio_anonymizer")),
    Library("scrubadub", ("scrubadub",)),
    Library("Google Cloud DLP", ("google.cloud.dlp", "google.cloud.dlp_v2")),
    Library("LLM Guard Anonymize", ("llm_guard.input_scanners.Anonymize",)),
    Library("AWS Comprehend PII", ("boto3.client.detect_pii_entities",)),
)
SYNTH_GENERATORS = (
    Library("SDV", ("sdv",)),
    Library("synthcity", ("synthcity.plugins",)),
    Library("ydata-synthetic", ("ydata_synthetic",)),
    Library("Gretel", ("gretel_client",)),
    Library("CTGAN", ("ctgan",)),
    Library("Faker", ("faker",)),
)
SYNTH_VALIDATION = (
    Library("SDMetrics", ("sdmetrics",)),
    Library("SDV evaluation", ("sdv.evaluation",)),
    Library("synthcity metrics", ("synthcity.metrics",)),
)
FEDERATED = ("flwr", "fedml", "tensorflow_federated", "syft", "nvflare")
ROBUST_STRATEGIES = {"FedTrimmedAvg", "FedMedian", "Krum", "MultiKrum", "Bulyan"}
ROBUST_FUNCS = {"trim_mean"}
INFLUENCE = (
    Library("Captum influence (TracIn)", ("captum.influence",)),
    Library("pyDVL", ("pydvl",)),
    Library("torch-influence", ("torch_influence",)),
    Library("Kronfluence", ("kronfluence",)),
    Library("TRAK", ("trak",)),
    Library("Influenciae", ("deel.influenciae", "influenciae")),
    Library("cleanlab", ("cleanlab",)),
)
INFLUENCE_REPORT = re.compile(r"(?i)(^|/)reports?/[^/]*influen")
BIAS = (
    Library("Fairlearn", ("fairlearn",)),
    Library("AIF360", ("aif360",)),
    Library("What-If Tool", ("witwidget",)),
    Library("Giskard", ("giskard",)),
    Library("Fairness Indicators", ("fairness_indicators", "tensorflow_model_analysis")),
)
DATASHEET_SECTIONS = (
    ("motivation / uses", r"motivation|purpose|intended use|uses\b"),
    ("source / provenance", r"source|provenance|origin"),
    ("collection", r"collect"),
    ("preprocessing / labelling", r"pre-?process|clean|label|annotat"),
    ("assumptions", r"assum"),
    ("representativeness", r"represent|suitab|composition|distribution|coverage"),
    ("bias", r"bias|fairness"),
    ("limitations / gaps", r"limitation|gap|known issue|risk"),
)
DATASET_FRONT_KEYS = {
    "source / provenance": ("source_datasets",),
    "collection": ("annotations_creators", "language_creators"),
    "representativeness": ("size_categories",),
}
DATASET_KEYS = ("annotations_creators", "language_creators", "source_datasets", "size_categories",
                "task_categories", "dataset_info")
DATASHEET_NAME = re.compile(r"(?i)^(datasheet|data[_-]?card|dataset[_-]?card)[^/]*\.(md|markdown|rst|txt)$")


def _tests_path(path: str) -> bool:
    parts = path.lower().split("/")
    return any(p in ("tests", "test", "testing") for p in parts[:-1]) or parts[-1].startswith("test_") \
        or parts[-1] == "conftest.py"


def _tool_control(ctx: Context, control: str, rule: str, purpose: str, libs: tuple[Library, ...],
                  facts: list[SourceFacts] | None = None) -> Iterator[ProbeItem]:
    usages = find_usages(list(facts if facts is not None else ctx.facts), libs, ctx.wiring)
    cli = find_cli(list(ctx.commands), libs)
    yield from usage_evidence(control, rule, purpose, usages, cli)
    yield Searched(control, f"{purpose} tools in Python files and notebooks ({searched_text(libs)}), wired into "
                   "DVC stages, CI jobs or orchestrator tasks")


def anomaly(ctx: Context) -> Iterator[ProbeItem]:
    """DATA-05."""
    yield from _tool_control(ctx, "DATA-05", R + "anomaly-detection", "anomaly/poison detection", ANOMALY)


def schema(ctx: Context) -> Iterator[ProbeItem]:
    """DATA-06, including Great Expectations and TFDV configuration files."""
    yield from _tool_control(ctx, "DATA-06", R + "schema-validation", "schema validation", SCHEMA)
    schema_modules = tuple(m for lib in SCHEMA for m in lib.modules)
    for facts in ctx.facts:
        if not facts.uses_module(*schema_modules):
            continue
        for call in facts.calls:
            if call.swallowed and call.attr in VALIDATE_CALLS:
                yield Finding(R + "validation-suppressed", Severity.MEDIUM,
                              f"{call.name}() runs inside a try/except that swallows the error: data that fails "
                              f"validation still reaches training{call.site.suffix()}", call.site.path,
                              call.site.line, ("DATA-06",), f"swallowed:{call.name}")
    data_files = [f for f in ctx.facts if DATA_FILE_HINT.search(f.path)]
    usages = find_usages(data_files, GENERIC_SCHEMA, ctx.wiring)
    for item in usage_evidence("DATA-06", R + "schema-validation", "record validation", usages, []):
        yield Evidence(item.control, Effect.PARTIAL, item.message, item.path, item.line, item.rule)
    for f in ctx.repo.files:
        gx_checkpoint = f.path.startswith("gx/") and "checkpoint" in f.path and f.suffix in (".yml", ".yaml")
        if f.name in ("great_expectations.yml", "great_expectations.yaml") or gx_checkpoint:
            yield Evidence("DATA-06", Effect.PARTIAL, "Great Expectations configuration (a checkpoint run in CI or "
                           "a stage makes it pass)", f.path, 1, R + "schema-validation")
        elif f.name == "schema.pbtxt":
            yield Evidence("DATA-06", Effect.PARTIAL, "TFDV schema file (validation run not seen here)", f.path, 1,
                           R + "schema-validation")


def pii_controls(ctx: Context) -> Iterator[ProbeItem]:
    """DATA-07: PII tools in the pipeline, and the bounded sample of committed data."""
    yield from _tool_control(ctx, "DATA-07", R + "pii-redaction", "PII detection/redaction", PII_TOOLS)
    for call in (c for f in ctx.facts for c in f.calls if c.attr == "detect_pii_entities"):
        yield Evidence("DATA-07", Effect.PARTIAL, f"AWS Comprehend detect_pii_entities(){call.site.suffix()}",
                       call.site.path, call.site.line, R + "pii-redaction")
    report = pii.sample(ctx.repo)
    for hit in report.hits:
        plural = "" if hit.count == 1 else "s"
        yield Finding(R + "pii-in-data", Severity.HIGH,
                      f"{hit.count} {hit.kind}{plural} in the sampled data (first at line {hit.line}: {hit.masked})",
                      hit.path, hit.line, ("DATA-07",), f"{hit.kind}:{hit.masked}")
    yield Searched("DATA-07", f"e-mail, phone, payment card (Luhn), IBAN (mod 97) and SSN-like patterns in the first "
                   f"{pii.SAMPLE_BYTES // 1024} KiB of {len(report.sampled)} committed data file(s) "
                   f"(csv/tsv/jsonl, json/txt under data folders; at most {pii.MAX_FILES} files; Parquet not sampled)")


RETENTION_NAME = re.compile(r"(?i)retention|data[_-]?policy|privacy")
RETENTION_TEXT = re.compile(r"(?i)\bretention\b|\bretain(?:ed)?\s+for\b|\bdeleted?\s+after\b|right to erasure")
RETENTION_CODE = re.compile(r"(?i)^(?:delete_user_data|purge\w*|erase\w*|expire\w*|apply_retention|enforce_retention"
                            r"|delete_expired\w*)$")


def retention(ctx: Context) -> Iterator[ProbeItem]:
    """DATA-09: retention documents and enforcement code (bucket lifecycle rules are the infrastructure probe's)."""
    for f in ctx.repo.files:
        if f.suffix not in (".md", ".rst", ".txt", ".markdown") or not RETENTION_NAME.search(f.name):
            continue
        lines = ctx.repo.lines(f, limit=512 * 1024)
        mention = next((n for n, line in enumerate(lines, start=1) if RETENTION_TEXT.search(line)), None)
        if mention is None:
            continue
        period = next(((n, m.group(0)) for n, line in enumerate(lines, start=1)
                       if (m := re.search(r"\b\d+\s*(?:days?|months?|years?)\b", line))), None)
        where, shown = (period[0], f" ({period[1]})") if period else (mention, "")
        yield Evidence("DATA-09", Effect.PARTIAL, f"documented data retention policy{shown}; enforcement "
                       "(lifecycle rules, deletion jobs) is judged separately", f.path, where,
                       R + "retention-policy")
    for facts in ctx.facts:
        for call in facts.calls:
            if RETENTION_CODE.match(call.attr):
                wired = ctx.wiring.why(facts.path)
                yield Evidence("DATA-09", Effect.PARTIAL, f"deletion/expiry code {call.name}()"
                               + (f" run by {wired}" if wired else "") + call.site.suffix(),
                               call.site.path, call.site.line, R + "retention-enforcement")
                break
    for cmd in ctx.commands:
        if re.search(r"\bdvc\s+gc\b|--expiration|\bexpiration\b", cmd.text):
            yield Evidence("DATA-09", Effect.PARTIAL, f"expiry/garbage collection step in {cmd.describe()}: "
                           f"{cmd.text[:100]}", cmd.path, cmd.line, R + "retention-enforcement")
    yield Searched("DATA-09", "retention/privacy policy documents (*retention*, *data_policy*, *privacy* .md/.rst/"
                   ".txt), deletion/expiry code and commands (dvc gc, expiration); storage lifecycle rules are read "
                   "by the infrastructure probe")


def synthetic(ctx: Context) -> Iterator[ProbeItem]:
    """DATA-10: not applicable without a generator; otherwise validation tools and a data-card section."""
    facts = [f for f in ctx.facts if not _tests_path(f.path)]
    gens = find_usages(facts, SYNTH_GENERATORS, ctx.wiring)
    if not gens:
        yield NotApplicable("DATA-10", f"no synthetic-data generator found ({searched_text(SYNTH_GENERATORS)}; "
                            "test files excluded)")
        return
    g = gens[0]
    yield Searched("DATA-10", f"synthetic data generated with {g.library.label} ({g.where}); looked for validation "
                   f"({searched_text(SYNTH_VALIDATION)}) and a 'synthetic' section in a data card")
    yield from usage_evidence("DATA-10", R + "synthetic-validation", "synthetic-data validation",
                              find_usages(facts, SYNTH_VALIDATION, ctx.wiring), [])
    for f in ctx.repo.files:
        if f.suffix in (".md", ".markdown") and (DATASHEET_NAME.match(f.name) or f.name.lower() == "readme.md"):
            text = ctx.repo.read_text(f, limit=1024 * 1024)
            if text is None:
                continue
            doc = markdown.parse(text, f.path)
            hit = next((h for h in doc.headings if re.search(r"(?i)synthetic", h.text)), None)
            if hit is not None:
                yield Evidence("DATA-10", Effect.PARTIAL, f"synthetic data documented under '{hit.text}'", f.path,
                               hit.line, R + "synthetic-documented")


def aggregation(ctx: Context) -> Iterator[ProbeItem]:
    """DATA-11: not applicable without federated learning; robust strategies pass, plain FedAvg fails."""
    fed = [f for f in ctx.facts if f.uses_module(*FEDERATED)]
    if not fed:
        yield NotApplicable("DATA-11", f"no federated-learning framework imported ({', '.join(FEDERATED)})")
        return
    robust = False
    for f in fed:
        for call in f.calls:
            if call.attr in ROBUST_STRATEGIES or call.attr in ROBUST_FUNCS:
                robust = True
                yield Evidence("DATA-11", Effect.PASS, f"robust aggregation {call.name}(){call.site.suffix()}",
                               call.site.path, call.site.line, R + "robust-aggregation")
    if not robust:
        for f in fed:
            for call in f.calls:
                if call.attr == "FedAvg":
                    yield Finding(R + "plain-fedavg", Severity.MEDIUM,
                                  f"{call.name}() averages client updates with no trimming, median or Krum: one "
                                  f"poisoned client moves the global model{call.site.suffix()}",
                                  call.site.path, call.site.line, ("DATA-11",), "FedAvg")
    yield Searched("DATA-11", "Flower FedTrimmedAvg/FedMedian/Krum/MultiKrum/Bulyan, trim_mean in federated code; "
                   "plain FedAvg as negative evidence")


def influence(ctx: Context) -> Iterator[ProbeItem]:
    """DATA-12, plus saved influence reports."""
    yield from _tool_control(ctx, "DATA-12", R + "influence-analysis", "influence analysis", INFLUENCE)
    for f in ctx.repo.files:
        if INFLUENCE_REPORT.search(f.path):
            yield Evidence("DATA-12", Effect.PASS, "saved influence-analysis report", f.path, None,
                           R + "influence-analysis")


def bias(ctx: Context) -> Iterator[ProbeItem]:
    """DATA-14."""
    yield from _tool_control(ctx, "DATA-14", R + "bias-examination", "bias examination", BIAS)


def datasheets(ctx: Context) -> Iterator[ProbeItem]:
    """DATA-13: datasheets and data cards scored on section coverage (>= 6 of 8 pass, >= 3 partial)."""
    seen = False
    for f in ctx.repo.files:
        if f.suffix not in (".md", ".markdown", ".rst", ".txt"):
            continue
        named = bool(DATASHEET_NAME.match(f.name)) or bool(re.search(r"(?i)(^|/)docs/[^/]*data[^/]*governance", f.path))
        if not named and f.name.lower() != "readme.md":
            continue
        text = ctx.repo.read_text(f, limit=1024 * 1024)
        if text is None:
            continue
        doc = markdown.parse(text, f.path)
        is_dataset_card = doc.front is not None and any(k in doc.front for k in DATASET_KEYS)
        if not named and not is_dataset_card:
            if doc.front_error and f.name.lower() == "readme.md" and "dataset" in f.path.lower():
                ctx.repo.note(f"front matter not parsed ({doc.front_error})", f.path, doc.front_error_line)
            continue
        if doc.front_error:
            ctx.repo.note(f"front matter not parsed ({doc.front_error}); only headings were read", f.path,
                          doc.front_error_line)
        seen = True
        result = markdown.sections(doc, DATASHEET_SECTIONS, DATASET_FRONT_KEYS)
        n = len(result.found)
        effect = Effect.PASS if n >= 6 else Effect.PARTIAL if n >= 3 else None
        kind = "dataset card" if is_dataset_card else "datasheet"
        message = f"{kind}: {n}/{len(DATASHEET_SECTIONS)} sections; {result.describe()}"
        if effect is None:
            yield Searched("DATA-13", f"{f.path} is a {message} (fewer than 3: no credit)")
        else:
            yield Evidence("DATA-13", effect, message, f.path, 1, R + "datasheet")
    yield Searched("DATA-13", "DATASHEET*.md, DATA_CARD*.md, dataset_card*.md, docs/*data*governance*, Hugging Face "
                   "dataset cards (README.md front matter with annotations_creators/source_datasets/...); sections: "
                   + ", ".join(name for name, _ in DATASHEET_SECTIONS) + ("" if seen else " (none found)"))


def practices(ctx: Context) -> Iterator[ProbeItem]:
    """All DATA-05..14 items (DATA-08 is in provenance)."""
    for part in (anomaly, schema, pii_controls, retention, synthetic, aggregation, influence, datasheets, bias):
        yield from part(ctx)
