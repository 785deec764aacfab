"""MODEL-02 (registry), MODEL-06 (versioned deploy references), MODEL-09 (classification): judgements.

MODEL-02: MLflow (``register_model``, ``log_model(registered_model_name=)``, ``MlflowClient`` registry calls),
W&B model artifacts (``link_model``, ``link_artifact``), SageMaker model package groups, Vertex AI Model Registry
(``aiplatform.Model.upload``), Unity Catalog (``set_registry_uri("databricks-uc")``, ``models:/cat.schema.model``)
are partial alone; with access-control evidence (MLflow ``--app-name basic-auth``, ``databricks_grants`` on a
model) they pass.
MODEL-06: ``models:/name/7``, ``models:/name@alias``, images ``@sha256:``, Argo ``Rollout``, Flagger ``Canary``,
``revisionHistoryLimit > 0``, SageMaker ``auto_rollback_configuration``, ``helm rollback`` pass; ``:latest`` images
and ``models:/name/Production`` stage paths fail when they are the only kind of reference (else partial), and
``revisionHistoryLimit: 0`` fails. Only images that carry or serve a model are judged (``subjects.py``).
MODEL-09: a ``classification``/``sensitivity`` field in a model card or a registry tag passes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from mlposture.probes.lifecycle.cards import CardFile
from mlposture.probes.lifecycle.context import Context
from mlposture.probes.lifecycle.subjects import built_here, carries_model, is_unknown, serving_spec
from mlposture.scanner.probe import Effect, Evidence, Finding, ProbeItem, Searched, Severity

R = "model_lifecycle."
REGISTRY_CALLS = {
    "register_model": "MLflow Model Registry", "create_registered_model": "MLflow Model Registry",
    "set_registered_model_alias": "MLflow Model Registry", "create_model_version": "MLflow Model Registry",
    "transition_model_version_stage": "MLflow Model Registry", "link_model": "W&B Registry",
    "link_artifact": "W&B Registry", "create_model_package_group": "SageMaker Model Registry",
}
CONFIG_SUFFIXES = (".yml", ".yaml", ".json", ".tf", ".cfg", ".toml", ".ini", ".env")
VALUE_LINE = re.compile(r"""^\s*(?:-\s*)?(?:(?:ENV|export)\s+)?(?:["']?[\w.-]+["']?\s*[:=]\s*)?"""
                        r"""["']?(models:/[^\s"']+)["']?\s*,?\s*$""")
MODELS_URI = re.compile(r"models:/([\w.-]+)(?:/([\w.-]+)|@([\w-]+))")
MUTABLE_STAGES = {"production", "staging", "latest", "none", "archived"}
IMAGE_LINE = re.compile(r"^\s*(?:-\s*)?[\"']?image[\"']?\s*[:=]\s*[\"']?([\w./:@-]+)[\"']?\s*(?:#.*)?$")
ROLLOUT = re.compile(r"^\s*kind:\s*(Rollout|Canary)\s*$")
HISTORY = re.compile(r"^\s*revisionHistoryLimit:\s*(\d+)")
ROLLBACK_TEXT = re.compile(r"auto_rollback_configuration|AutoRollbackConfiguration|\bhelm\s+rollback\b")
DEPLOY_WORDS = ("image", "Rollout", "Canary", "revisionHistoryLimit")  # IMAGE_LINE, ROLLOUT, HISTORY
DEPLOY_DOC = re.compile(r"(?i)runbook|rollback|deploy")
CLASS_KEYS = ("classification", "sensitivity", "data_classification", "confidentiality", "ip_classification")


def registry(ctx: Context) -> Iterator[ProbeItem]:
    """MODEL-02."""
    uses: list[Evidence] = []
    for facts in ctx.facts:
        for call in facts.calls:
            label = REGISTRY_CALLS.get(call.attr)
            if call.attr == "log_model" and call.has_kw("registered_model_name"):
                label = "MLflow Model Registry"
            if call.attr == "upload" and "aiplatform" in call.name and "Model" in call.name:
                label = "Vertex AI Model Registry"
            if call.attr == "set_registry_uri" and call.arg(0) == "databricks-uc":
                label = "Unity Catalog"
            if label is not None:
                uses.append(Evidence("MODEL-02", Effect.PARTIAL, f"{label}: {call.name}(){call.site.suffix()}",
                                     call.site.path, call.site.line, R + "registry"))
                break
    access: list[tuple[str, str, int]] = []
    for f in ctx.repo.files:
        if f.suffix == ".tf":
            for number, line in enumerate(ctx.repo.lines(f, limit=1024 * 1024), 1):
                if "aws_sagemaker_model_package_group" in line and line.lstrip().startswith("resource"):
                    uses.append(Evidence("MODEL-02", Effect.PARTIAL, "SageMaker model package group", f.path, number,
                                         R + "registry"))
                if re.search(r"resource\s+\"databricks_grants\"", line):
                    body = "\n".join(ctx.repo.lines(f, limit=1024 * 1024)[number - 1:number + 10])
                    if re.search(r"\bmodel\s*=", body):
                        access.append(("Unity Catalog grants on a model (databricks_grants)", f.path, number))
    for cmd in ctx.commands:
        if re.search(r"mlflow\s+server\b.*--app-name\s+basic-auth", cmd.text):
            access.append(("MLflow server with the basic-auth app", cmd.path, cmd.line))
    for text, path, at in access:
        yield Evidence("MODEL-02", Effect.PASS if uses else Effect.PARTIAL,
                       f"registry access control: {text}" + ("" if uses else " (no registry use seen)"), path, at,
                       R + "registry-access")
    yield from uses
    yield Searched("MODEL-02", "MLflow register_model/log_model(registered_model_name=)/MlflowClient registry calls, "
                   "W&B link_model/link_artifact, SageMaker model package groups, Vertex Model.upload, Unity Catalog; "
                   "access control: mlflow server --app-name basic-auth, databricks_grants on models")


def _mutable_uri(m: re.Match[str]) -> bool:
    return bool(m.group(2)) and m.group(2).lower() in MUTABLE_STAGES


def _uri_sites(ctx: Context) -> Iterator[tuple[re.Match[str], str, int]]:
    """``models:/`` URIs used as values: Python string constants, command lines, and config values that are the
    whole value of a key or list item (prose that merely mentions a URI is not a deploy reference)."""
    seen: set[tuple[str, int, str]] = set()

    def once(m: re.Match[str], path: str, line: int) -> Iterator[tuple[re.Match[str], str, int]]:
        key = (path, line, m.group(0))
        if key not in seen:
            seen.add(key)
            yield m, path, line

    for facts in ctx.facts:
        for value, site in facts.strings:
            m = MODELS_URI.fullmatch(value.strip())
            if m and site.line:
                yield from once(m, site.path, site.line)
    for cmd in ctx.commands:
        for m in MODELS_URI.finditer(cmd.text):
            yield from once(m, cmd.path, cmd.line)
    for f in ctx.repo.files:
        if f.suffix not in CONFIG_SUFFIXES or f.size > 1024 * 1024:
            continue
        text = ctx.repo.read_text(f, limit=1024 * 1024)
        if text is None or "models:/" not in text:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if "models:/" in line:
                whole = VALUE_LINE.match(line)
                uri = MODELS_URI.fullmatch(whole.group(1)) if whole else None
                if uri:
                    yield from once(uri, f.path, number)


def versioning(ctx: Context) -> Iterator[ProbeItem]:
    """MODEL-06."""
    good: list[Evidence] = []
    bad: list[tuple[str, str, int, str]] = []
    for m, path, number in _uri_sites(ctx):
        if _mutable_uri(m):
            bad.append((f"mutable stage reference {m.group(0)}", path, number, m.group(0)))
        else:
            good.append(Evidence("MODEL-06", Effect.PASS, f"deploy references a fixed model version {m.group(0)}",
                                 path, number, R + "versioned-deploy-ref"))
    for f in ctx.repo.files:
        if f.suffix not in (*CONFIG_SUFFIXES, ".md") or f.size > 1024 * 1024:
            continue
        if f.suffix == ".md" and not DEPLOY_DOC.search(f.path):
            continue
        text = ctx.repo.read_text(f, limit=1024 * 1024)
        if text is None:
            continue
        # every pattern below needs one of these words in the line: most files hold none and are not split
        deploy = f.suffix in (".yml", ".yaml", ".json", ".tf")
        if not ("ollback" in text or (deploy and any(w in text for w in DEPLOY_WORDS))):
            continue
        lines = text.splitlines()
        spec: bool | None = None  # computed for the first image line
        for number, line in enumerate(lines, 1):
            if deploy:
                img = IMAGE_LINE.match(line)
                ref = img.group(1) if img else ""
                if img and spec is None:
                    spec = serving_spec("\n".join(lines))
                if img and (is_unknown(ref) or not carries_model(ref, bool(spec)) or built_here(lines, number - 1)):
                    img = None  # a variable, an image that carries no model, or the name of a local build
                if img:
                    if "@sha256:" in ref:
                        good.append(Evidence("MODEL-06", Effect.PASS, f"image pinned by digest {ref[:80]}", f.path,
                                             number, R + "versioned-deploy-ref"))
                    elif ref.endswith(":latest") or (":" not in ref.rsplit("/", 1)[-1] and "$" not in ref
                                                     and "{" not in ref):
                        bad.append((f"image {ref} (latest)", f.path, number, ref))
                if ROLLOUT.match(line):
                    good.append(Evidence("MODEL-06", Effect.PASS, f"progressive delivery with rollback: "
                                         f"{line.strip()}", f.path, number, R + "rollout"))
                hist = HISTORY.match(line)
                if hist and int(hist.group(1)) > 0:
                    good.append(Evidence("MODEL-06", Effect.PASS, f"revisionHistoryLimit: {hist.group(1)} keeps "
                                         "previous revisions for rollback", f.path, number, R + "rollout"))
                elif hist:
                    yield Finding(R + "no-rollback-history", Severity.MEDIUM, "revisionHistoryLimit: 0 removes every "
                                  "previous revision: no rollback", f.path, number, ("MODEL-06",),
                                  "revisionHistoryLimit:0")
            if ROLLBACK_TEXT.search(line):
                good.append(Evidence("MODEL-06", Effect.PASS, f"rollback configured: {line.strip()[:100]}", f.path,
                                     number, R + "rollout"))
    for cmd in ctx.commands:
        if ROLLBACK_TEXT.search(cmd.text):
            good.append(Evidence("MODEL-06", Effect.PASS, f"rollback step in {cmd.describe()}: {cmd.text[:100]}",
                                 cmd.path, cmd.line, R + "rollout"))
    for facts in ctx.facts:
        for value, site in facts.strings:
            if value in ("AutoRollbackConfiguration", "auto_rollback_configuration"):
                good.append(Evidence("MODEL-06", Effect.PASS, f"SageMaker {value} set{site.suffix()}", site.path,
                                     site.line, R + "rollout"))
    yield from good
    for text, path, at, content in bad:
        if good:
            yield Finding(R + "mutable-deploy-ref", Severity.LOW, f"{text}: a mutable reference beside versioned "
                          "ones", path, at, ("MODEL-06",), content, Effect.PARTIAL)
        else:
            yield Finding(R + "mutable-deploy-ref", Severity.MEDIUM, f"{text}: the deployed model can change without "
                          "a version to roll back to, and no versioned reference exists", path, at, ("MODEL-06",),
                          content)
    yield Searched("MODEL-06", "models:/name/<version> and models:/name@alias URIs, image @sha256 digests, Argo "
                   "Rollout / Flagger Canary, revisionHistoryLimit, SageMaker auto_rollback_configuration, helm "
                   "rollback; :latest images and models:/name/Production stage paths as negative evidence")


def classification(ctx: Context, cards: list[CardFile]) -> Iterator[ProbeItem]:
    """MODEL-09."""
    for card in cards:
        front = card.doc.front
        if front is None:
            continue
        for key in CLASS_KEYS:
            if key in front and front[key] not in (None, ""):
                yield Evidence("MODEL-09", Effect.PASS, f"model card {key}: {front[key]!s}", card.path,
                               front.line_of(key), R + "classification")
    for facts in ctx.facts:
        for call in facts.calls:
            if call.attr in ("set_model_version_tag", "set_registered_model_tag", "set_tag"):
                keys = [v for v in (*call.args, call.kw("key")) if isinstance(v, str) and v.lower() in CLASS_KEYS]
                if keys:
                    yield Evidence("MODEL-09", Effect.PASS, f"registry tag '{keys[0]}' set by {call.name}()"
                                   f"{call.site.suffix()}", call.site.path, call.site.line, R + "classification")
    yield Searched("MODEL-09", "classification/sensitivity/confidentiality fields in model-card front matter and "
                   "registry tags (set_model_version_tag, set_registered_model_tag)")
