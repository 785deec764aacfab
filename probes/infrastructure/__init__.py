"""Infrastructure probe: encryption, access, network and log-retention evidence from IaC and log configs.

Reads Terraform (python-hcl2, with variable defaults and ``.tfvars``), CloudFormation/SAM templates (YAML or
JSON), ``serverless.yml``, Kubernetes manifests and Helm templates, Grafana Loki configuration, Elasticsearch
ILM / OpenSearch ISM policies, Fluent Bit, logrotate, DVC remotes and Python data code. Speaks for DATA-01
(encryption at rest), DATA-02 (in transit), DATA-03 (least privilege), PIPE-06 (IaC for ML), PIPE-07 (network
segmentation), INF-08 (request logging and retention against 90 / 183 days), INF-10 (edge DDoS protection),
INF-12 (strict mTLS) and the API Gateway / WAF parts of INF-01 and INF-11.

Module map: ``hcl``, ``structured``, ``logstores`` and ``datacode`` read formats; ``terraform``,
``cloudformation`` and ``kubernetes`` turn parsed resources into facts; ``judge`` compares retention with the
thresholds and turns facts into evidence and findings.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

from mlposture.probes.infrastructure import cloudformation, datacode, hcl, kubernetes, logstores, terraform
from mlposture.probes.infrastructure.facts import PARTIAL, Retention, Signal
from mlposture.probes.infrastructure.iam import statements_of
from mlposture.probes.infrastructure.judge import Thresholds, judge_retention, judge_signal
from mlposture.probes.infrastructure.rules import RULES
from mlposture.probes.infrastructure.structured import is_helm_template, load_text
from mlposture.scanner.probe import Effect, Evidence, Finding, NotApplicable, Note, Probe, ProbeItem, Searched
from mlposture.scanner.repo import RepoFile, RepoView
from mlposture.scanner.sources import ScanContext
from mlposture.scanner.sources.python import PythonVisitor
from mlposture.scanner.yamlsafe import item_lines, line_of

MAX_CONFIG_BYTES = 1024 * 1024
HEAD_BYTES = 16 * 1024
YAML_MARKERS = re.compile(r"AWSTemplateFormatVersion|AWS::Serverless|^Resources[ \t]*:|\"Resources\"\s*:|"
                          r"^[ \t]*apiVersion[ \t]*:|\"apiVersion\"|"
                          r"limits_config|^[ \t]*compactor[ \t]*:|^pipeline\s*:|^provider\s*:|"
                          r"\"phases\"|^[ \t]*phases[ \t]*:|\"states\"|\"Statement\"|^[ \t]*Statement[ \t]*:", re.M)
SKIP_FOLDERS = (".github/", ".gitlab/", ".circleci/")
SKIP_NAMES = frozenset({"package-lock.json", "composer.lock", "yarn.lock", "pnpm-lock.yaml", "poetry.lock"})
ML_CODE = re.compile(r"sagemaker|aiplatform|vertex_?ai|MachineLearningServices|machinelearning|bedrock", re.I)

Fact = Signal | Retention


@dataclass
class _Iac:
    """IaC formats seen, where, and whether they declare ML infrastructure (for PIPE-06)."""

    seen: dict[str, tuple[str, int]] = field(default_factory=dict)  # format -> first path and line
    files: dict[str, set[str]] = field(default_factory=dict)  # format -> files
    ml: dict[str, tuple[str, int, str]] = field(default_factory=dict)  # format -> path, line, what

    def add(self, fmt: str, path: str, line: int = 1) -> None:
        self.seen.setdefault(fmt, (path, line))
        self.files.setdefault(fmt, set()).add(path)

    def add_ml(self, fmt: str, path: str, line: int, what: str) -> None:
        self.ml.setdefault(fmt, (path, line, what))


class InfrastructureProbe(Probe):
    """Encryption, least privilege, segmentation and log retention read from IaC and log configurations.

    Terraform (HCL2), CloudFormation/SAM, serverless.yml, Kubernetes manifests and Helm templates, Loki,
    Elasticsearch ILM / OpenSearch ISM, Fluent Bit, logrotate, DVC remotes and Python data code. Controls:
    DATA-01, DATA-02, DATA-03, PIPE-06, PIPE-07, INF-08 (retention vs 90 / 183 days), INF-10, INF-12, and the
    API Gateway / WAF evidence of INF-01 and INF-11.
    """

    name: ClassVar[str] = "infrastructure"
    version: ClassVar[str] = "0.1.0"
    rules = RULES
    python_visitors: ClassVar[tuple[PythonVisitor[Any], ...]] = (datacode.VISITOR,)

    def scan(self, ctx: ScanContext) -> Iterable[ProbeItem]:
        """Read every supported format, then judge the facts."""
        repo, settings = ctx.repo, ctx.settings
        notes: list[Note] = []
        iac = _Iac()
        facts: list[Fact] = []
        facts.extend(self._terraform(repo, notes, iac))
        facts.extend(self._documents(repo, notes, iac))
        facts.extend(self._text_configs(repo))
        facts.extend(self._python(ctx))
        yield from notes
        yield from _judge(facts, Thresholds.of(settings))
        yield from _pipe06(repo, iac)
        if not iac.seen:
            yield NotApplicable("PIPE-07", "no infrastructure as code (Terraform, CloudFormation, Kubernetes, Helm, "
                                           "Pulumi, CDK, Bicep) in the repository")
        yield from _searched()

    # ------------------------------------------------------------------ Terraform
    def _terraform(self, repo: RepoView, notes: list[Note], iac: _Iac) -> list[Fact]:
        variables = terraform.Variables()
        resources: list[hcl.Resource] = []
        tfvars: list[tuple[RepoFile, dict[str, Any]]] = []
        for f in repo.find("*.tf", "*.tfvars", "*.tf.json"):
            text = repo.read_text(f, MAX_CONFIG_BYTES)
            if text is None:
                continue
            try:
                parsed = self._parse_tf(text, f)
            except hcl.HclError as exc:
                parser = "JSON" if f.name.endswith(".tf.json") else "python-hcl2"
                notes.append(Note(f"Terraform not parsed ({parser}): {exc.message}", f.path, exc.line))
                continue
            if f.suffix == ".tfvars":
                tfvars.append((f, parsed.attrs))
                continue
            iac.add("terraform", f.path)
            variables.add_defaults(f.parent, parsed.blocks)
            for r in hcl.resources(parsed.blocks, f.path):
                resources.append(r)
                if terraform.ml_resource(r):
                    iac.add_ml("terraform", f.path, r.block.line, r.address)
        for tf, attrs in sorted(tfvars, key=lambda t: (t[0].name.endswith(".auto.tfvars"), t[0].path)):
            variables.add_tfvars(tf.parent, attrs)
        rules = terraform.TerraformRules(resources, variables)
        facts: list[Fact] = []
        for r in resources:
            facts.extend(_guarded(rules.facts_of(r), r.path, notes))
        return facts

    @staticmethod
    def _parse_tf(text: str, f: RepoFile) -> hcl.HclFile:
        if not f.name.endswith(".tf.json"):
            return hcl.parse(text)
        loaded = load_text(text, f.path)
        if loaded.error is not None:
            raise hcl.HclError(loaded.error, loaded.error_line)
        return hcl.from_json(loaded.docs[0] if loaded.docs else None)

    # ------------------------------------------------------------------ YAML / JSON
    def _documents(self, repo: RepoView, notes: list[Note], iac: _Iac) -> list[Fact]:
        facts: list[Fact] = []
        chart_dirs = [f.parent for f in repo.find("Chart.yaml")]
        kustom_dirs = [f.parent for f in repo.find("kustomization.yaml", "kustomization.yml", "Kustomization")]
        for f in repo.find("Chart.yaml"):
            iac.add("helm", f.path)
        for f in repo.find("kustomization.yaml", "kustomization.yml", "Kustomization"):
            iac.add("kustomize", f.path)
        for f in repo.find("*.yaml", "*.yml", "*.json", "*.template"):
            if f.name in SKIP_NAMES or f.name.endswith(".tf.json") or any(f.path.startswith(p)
                                                                             for p in SKIP_FOLDERS):
                continue
            if f.size > MAX_CONFIG_BYTES or not _head_has_marker(repo, f):
                continue
            text = repo.read_text(f, MAX_CONFIG_BYTES)
            if text is None or not YAML_MARKERS.search(text):
                continue
            loaded = load_text(text, f.path)
            if loaded.error is not None and is_helm_template(f.path):
                kinds, ml = kubernetes.fallback_scan(text)
                read = f"; read by pattern: kind {', '.join(k for k, _ in kinds)}" if kinds else ""
                notes.append(Note(f"Helm template not parsed after stripping {{{{ }}}} directives: {loaded.error}"
                                  f"{read}", f.path, loaded.error_line))
                if kinds:
                    iac.add("helm", f.path, kinds[0][1])
                if ml is not None:
                    iac.add_ml("helm", f.path, ml[0], f"{ml[1]} (pattern match)")
                continue
            if loaded.error is not None:
                notes.append(Note(f"not parsed: {loaded.error}", f.path, loaded.error_line))
                continue
            fmt_k8s = _k8s_format(f.path, chart_dirs, kustom_dirs)
            for doc in loaded.docs:
                facts.extend(_guarded(_document_facts(doc, f, fmt_k8s, iac), f.path, notes))
        return facts

    # ------------------------------------------------------------------ line-based configs
    def _text_configs(self, repo: RepoView) -> list[Fact]:
        facts: list[Fact] = []
        for f in repo.files:
            low = f.path.lower()
            if f.size > MAX_CONFIG_BYTES:
                continue
            if ("logrotate" in f.name.lower() or "/logrotate.d/" in "/" + low) and f.suffix not in (".py", ".md"):
                text = repo.read_text(f, MAX_CONFIG_BYTES)
                if text is not None and logstores.looks_like_logrotate(f.path, text):
                    facts.extend(logstores.logrotate_retention(text, f.path))
            elif f.suffix == ".conf" and ("fluent" in low or "td-agent" in low):
                text = repo.read_text(f, MAX_CONFIG_BYTES)
                if text is not None and logstores.looks_like_fluentbit_classic(text):
                    facts.extend(logstores.fluentbit_classic_retention(text, f.path))
            elif f.path == ".dvc/config" or f.path.endswith("/.dvc/config"):
                text = repo.read_text(f, MAX_CONFIG_BYTES)
                if text is not None:
                    facts.extend(datacode.dvc_signals(text, f.path))
        return facts

    # ------------------------------------------------------------------ Python
    @staticmethod
    def _python(ctx: ScanContext) -> list[Fact]:
        """Signals of the Python data code, read by :data:`datacode.VISITOR` in the one Python pass."""
        facts: list[Fact] = []
        for _path, signals in ctx.sources.python(datacode.VISITOR):
            facts.extend(signals)
        return facts


def _head_has_marker(repo: RepoView, f: RepoFile) -> bool:
    """Cheap look at the first 16 KiB, so that thousands of JSON/YAML data files cost one small read each."""
    head = repo.read_bytes(f, HEAD_BYTES)
    return head is not None and YAML_MARKERS.search(head.decode("utf-8", "replace")) is not None


def _guarded(facts: Iterable[Fact], path: str, notes: list[Note]) -> list[Fact]:
    """The facts of one file or resource; an unexpected shape becomes a note instead of stopping the probe."""
    try:
        return list(facts)
    except (TypeError, ValueError, KeyError, AttributeError, IndexError, RecursionError) as exc:
        notes.append(Note(f"infrastructure probe could not read this file ({type(exc).__name__}: {exc}); "
                          "no evidence taken from it", path))
        return []


def _k8s_format(path: str, chart_dirs: list[str], kustom_dirs: list[str]) -> str:
    for d in chart_dirs:
        if not d or path.startswith(d + "/"):
            return "helm"
    for d in kustom_dirs:
        if not d or path.startswith(d + "/"):
            return "kustomize"
    return "kubernetes"


def _document_facts(doc: Any, f: RepoFile, fmt_k8s: str, iac: _Iac) -> Iterator[Fact]:
    if not isinstance(doc, dict):
        return
    if cloudformation.is_serverless(f.path, doc):
        iac.add("serverless", f.path)
        yield from cloudformation.serverless_facts(doc, f.path)
        embedded = doc.get("resources")
        if isinstance(embedded, dict) and isinstance(embedded.get("Resources"), dict):
            yield from cloudformation.TemplateRules(embedded["Resources"], f.path).run()
        return
    if cloudformation.is_template(doc):
        iac.add("cloudformation", f.path)
        rules = cloudformation.TemplateRules(doc.get("Resources") or {}, f.path)
        ml = rules.ml_resources()
        if ml:
            iac.add_ml("cloudformation", f.path, line_of(doc.get("Resources"), ml[0]), ml[0])
        yield from rules.run()
        return
    if kubernetes.is_manifest(doc):
        iac.add(fmt_k8s, f.path, line_of(doc))
        why = kubernetes.declares_ml(doc)
        if why:
            iac.add_ml(fmt_k8s, f.path, line_of(doc), why)
        yield from kubernetes.manifest_facts(doc, f.path)
        return
    loki = logstores.loki_config(doc)
    if loki is not None:
        yield from logstores.loki_retention(loki, f.path)
        return
    if logstores.is_lifecycle_policy(doc):
        yield from logstores.lifecycle_retention(doc, f.path)
        return
    if isinstance(doc.get("pipeline"), dict):
        yield from logstores.fluentbit_yaml_retention(doc, f.path)
        return
    if "Statement" in doc and ("Version" in doc or "Id" in doc):
        at = line_of(doc, "Statement")
        yield from terraform.policy_signals(f"IAM policy {f.name}", statements_of(doc), f.path, at,
                                            item_lines(doc.get("Statement"), at))


def _judge(facts: list[Fact], thresholds: Thresholds) -> Iterator[ProbeItem]:
    """Judge every fact; failing signals that share rule, file and content become one multi-control finding."""
    merged: dict[tuple[str, str, str], Finding] = {}
    seen: set[tuple[Any, ...]] = set()
    for fact in facts:
        item = judge_retention(fact, thresholds) if isinstance(fact, Retention) else judge_signal(fact)
        if isinstance(item, Finding):
            key = (item.rule, item.path or "", item.content)
            if key in merged:
                old = merged[key]
                controls = tuple(dict.fromkeys((*old.controls, *item.controls)))
                merged[key] = Finding(old.rule, old.severity, old.message, old.path, old.line, controls,
                                      old.content, old.effect)
            else:
                merged[key] = item
            continue
        ident = (item.control, item.effect, item.message, item.path, item.line)
        if ident not in seen:
            seen.add(ident)
            yield item
    yield from merged.values()


_LABEL = {"terraform": "Terraform", "cloudformation": "CloudFormation/SAM", "serverless": "Serverless Framework",
          "kubernetes": "Kubernetes manifests", "helm": "Helm chart", "kustomize": "Kustomize",
          "pulumi": "Pulumi", "cdk": "AWS CDK", "bicep": "Bicep"}


def _pipe06(repo: RepoView, iac: _Iac) -> Iterator[Evidence]:
    for f in repo.find("Pulumi.yaml", "Pulumi.yml", "cdk.json", "*.bicep"):
        fmt = "pulumi" if f.name.lower().startswith("pulumi") else "cdk" if f.name == "cdk.json" else "bicep"
        iac.add(fmt, f.path)
        candidates = [f] if fmt == "bicep" else [
            g for g in repo.under(f.parent) if g.suffix in (".py", ".ts", ".js", ".go", ".cs", ".java")][:200] \
            if f.parent else [g for g in repo.files if g.suffix in (".py", ".ts", ".js", ".go", ".cs")][:200]
        for g in candidates:
            text = repo.read_text(g, 256 * 1024)
            m = ML_CODE.search(text) if text else None
            if m and text is not None:
                iac.add_ml(fmt, g.path, text.count("\n", 0, m.start()) + 1, f"mentions {m.group(0)}")
                break
    for fmt, (path, line) in sorted(iac.seen.items()):
        label = _LABEL.get(fmt, fmt)
        count = len(iac.files[fmt])
        if fmt in iac.ml:
            mpath, mline, what = iac.ml[fmt]
            yield Evidence("PIPE-06", Effect.PASS, f"{label} declares ML infrastructure: {what}", mpath, mline,
                           "infrastructure.iac-present")
        else:
            yield Evidence("PIPE-06", PARTIAL,
                           f"{label} present ({count} file{'s' if count != 1 else ''}) but no ML resource recognised",
                           path, line, "infrastructure.iac-present")



def _searched() -> Iterator[Searched]:
    yield Searched("INF-08", "CloudWatch/GCP/Azure log retention in Terraform and CloudFormation, serverless.yml, "
                             "Loki, ILM/ISM, Fluent Bit, logrotate; SageMaker data capture, KServe logger, API "
                             "Gateway logs")
    yield Searched("DATA-01", "S3/EBS/EFS/RDS/SageMaker/GCS/BigQuery/Azure storage encryption in Terraform and "
                              "CloudFormation; DVC remote sse")
    yield Searched("DATA-02", "aws:SecureTransport bucket policies, TLS policies and minimum versions, verify=False "
                              "and http:// data endpoints in Python, DVC endpoints")
    yield Searched("DATA-03", "IAM policies (Terraform, CloudFormation, JSON), public ACLs and access blocks, "
                              "Kubernetes RBAC")
    yield Searched("PIPE-06", "Terraform, CloudFormation/SAM, serverless, Kubernetes, Helm, Kustomize, Pulumi, "
                              "CDK, Bicep")
    yield Searched("PIPE-07", "SageMaker network isolation/VPC config, NetworkPolicy default deny, security groups")
    yield Searched("INF-10", "Shield, WAFv2, Cloud Armor, Azure WAF, API Gateway throttling, autoscaling caps")
    yield Searched("INF-12", "Istio PeerAuthentication mTLS mode, CloudTrail log file validation")
    yield Searched("INF-01", "API Gateway usage plans and method throttling, WAF rate-based rules (IaC)")
    yield Searched("INF-11", "API Gateway usage plan quota periods (IaC)")
