"""Judgements over Kubernetes manifests (plain, Kustomize bases, Helm templates after stripping).

Reads ``apiVersion``/``kind`` documents: KServe ``InferenceService`` (request logger, replica caps), RBAC
``Role``/``ClusterRole`` rules and bindings, ``NetworkPolicy`` default-deny, Istio ``PeerAuthentication`` mTLS
mode, ``HorizontalPodAutoscaler`` caps, ingress-nginx ``ConfigMap`` ``ssl-protocols``, Fluent Bit configuration
shipped in a ``ConfigMap``, and whether the manifests declare ML workloads at all (for PIPE-06).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from mlposture.probes.infrastructure.facts import FAIL, PARTIAL, PASS, Retention, Signal, logged, sig
from mlposture.probes.infrastructure.logstores import fluentbit_classic_retention, looks_like_fluentbit_classic
from mlposture.probes.infrastructure.structured import HELM_PLACEHOLDER, as_list
from mlposture.probes.infrastructure.terraform import tls_signal
from mlposture.probes.infrastructure.values import ssl_protocols_minimum
from mlposture.scanner.probe import Severity
from mlposture.scanner.yamlsafe import dig, line_of

Fact = Signal | Retention

ML_KINDS = frozenset({"InferenceService", "ServingRuntime", "ClusterServingRuntime", "InferenceGraph",
                      "TrainedModel", "SeldonDeployment", "PyTorchJob", "TFJob", "MPIJob", "XGBoostJob",
                      "PaddleJob", "JAXJob", "TrainJob", "RayCluster", "RayJob", "RayService", "Notebook",
                      "Experiment", "InferencePool", "InferenceModel", "Model", "Pipeline"})
ML_IMAGE = re.compile(r"tritonserver|torchserve|vllm|tensorflow/serving|text-generation-inference|kserve|seldon|"
                      r"mlflow|bentoml|sagemaker|pytorch|tensorflow|huggingface|nvidia/cuda|ray-ml|jupyter", re.I)
SENSITIVE_RESOURCES = frozenset({"*", "secrets", "persistentvolumeclaims", "persistentvolumes", "configmaps"})


def is_manifest(doc: Any) -> bool:
    """A Kubernetes object (``apiVersion`` and ``kind``)."""
    return isinstance(doc, dict) and isinstance(doc.get("kind"), str) and "apiVersion" in doc


def declares_ml(doc: Any) -> str | None:
    """Why a manifest is ML infrastructure (its kind, a GPU request, a serving image), or None."""
    kind = str(doc.get("kind"))
    if kind in ML_KINDS:
        return f"kind {kind}"
    found: list[str] = []
    _walk_ml(doc.get("spec"), found, 0)
    return found[0] if found else None


def _walk_ml(node: Any, found: list[str], depth: int) -> None:
    if found or depth > 30:
        return
    if isinstance(node, dict):
        for k, v in node.items():
            if k in ("limits", "requests") and isinstance(v, dict) and any("gpu" in str(x) for x in v):
                found.append("a GPU resource request")
                return
            if k == "image" and isinstance(v, str) and ML_IMAGE.search(v):
                found.append(f"image {v}")
                return
            _walk_ml(v, found, depth + 1)
    elif isinstance(node, list):
        for item in node:
            _walk_ml(item, found, depth + 1)


# per line: [ \t] never crosses a line, so a run of blank lines or spaces costs linear time
_KIND_LINE = re.compile(r"^kind:[ \t]*([A-Za-z]+)[ \t]*\r?$", re.M)
_IMAGE_LINE = re.compile(r"^[ \t]*(?:-[ \t]*)?image:[ \t]*\"?([^\s\"]+)", re.M)


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def fallback_scan(text: str) -> tuple[list[tuple[str, int]], tuple[int, str] | None]:
    """Pattern reading of a template that did not load as YAML: its kinds, and a sign of ML workload.

    Only what a line-level match can tell safely is taken (PIPE-06 presence); no control is judged from it.
    """
    kinds = [(m.group(1), _line_of(text, m.start())) for m in _KIND_LINE.finditer(text)]
    ml: tuple[int, str] | None = None
    for kind, line in kinds:
        if kind in ML_KINDS:
            ml = (line, f"kind {kind}")
            break
    if ml is None:
        gpu = text.find("nvidia.com/gpu")
        image = next((m for m in _IMAGE_LINE.finditer(text) if ML_IMAGE.search(m.group(1))), None)
        if gpu >= 0:
            ml = (text.count("\n", 0, gpu) + 1, "a GPU resource request")
        elif image is not None:
            ml = (text.count("\n", 0, image.start()) + 1, f"image {image.group(1)}")
    return kinds, ml


def manifest_facts(doc: dict[Any, Any], path: str) -> Iterator[Fact]:
    """Every fact of one manifest."""
    kind = str(doc.get("kind"))
    name = str(dig(doc, "metadata", "name") or "?").replace(HELM_PLACEHOLDER, "{{...}}")
    subject = f"{kind} {name}"
    handler = _HANDLERS.get(kind)
    if handler is not None:
        yield from handler(doc, subject, path)


def _inference_service(doc: dict[Any, Any], subject: str, path: str) -> Iterator[Fact]:
    spec = doc.get("spec")
    for comp in ("predictor", "transformer", "explainer"):
        part = dig(spec, comp)
        if not isinstance(part, dict):
            continue
        logger = part.get("logger")
        if isinstance(logger, dict):
            mode = str(logger.get("mode", "all")).lower()
            what = "requests and responses" if mode == "all" else f"{mode}s only"
            yield logged(f"{subject} {comp}.logger mode = {mode} ({what}) to {logger.get('url', '?')}", path,
                      line_of(part, "logger"))
        cap = part.get("maxReplicas")
        if isinstance(cap, int) and not isinstance(cap, bool) and cap > 0:
            yield sig("INF-10", PARTIAL, "autoscaling-cap", f"{subject} {comp}.maxReplicas = {cap} bounds autoscaling",
                      path, line_of(part, "maxReplicas"))


def _rbac(doc: dict[Any, Any], subject: str, path: str) -> Iterator[Fact]:
    rules = doc.get("rules")
    if not isinstance(rules, list):
        return
    wild = False
    for i, rule in enumerate(rules):
        if not isinstance(rule, dict):
            continue
        verbs = [str(v) for v in as_list(rule.get("verbs"))]
        res = [str(r) for r in as_list(rule.get("resources"))]
        groups = [str(g) for g in as_list(rule.get("apiGroups"))]
        at = line_of(rules, i, line_of(doc, "rules"))
        if "*" in verbs and ("*" in res or set(res) & SENSITIVE_RESOURCES):
            wild = True
            yield sig("DATA-03", FAIL, "rbac-wildcard", f"{subject} grants verbs [*] on resources {res}", path, at,
                      content=f"{subject} verbs * on {','.join(res)}", severity=Severity.HIGH)
        elif "*" in res and ("*" in groups or "" in groups):
            wild = True
            yield sig("DATA-03", FAIL, "rbac-wildcard", f"{subject} grants {verbs} on resources [*]", path, at,
                      content=f"{subject} {','.join(verbs)} on *", severity=Severity.HIGH)
    if not wild and rules:
        yield sig("DATA-03", PARTIAL, "rbac-scoped",
                  f"{subject} rules are scoped (no wildcard verbs or resources)", path, line_of(doc, "rules"))


def _binding(doc: dict[Any, Any], subject: str, path: str) -> Iterator[Fact]:
    role = dig(doc, "roleRef", "name")
    if role == "cluster-admin":
        who = [f"{s.get('kind')} {s.get('name')}" for s in as_list(doc.get("subjects")) if isinstance(s, dict)]
        yield sig("DATA-03", FAIL, "rbac-wildcard", f"{subject} binds cluster-admin to {', '.join(who) or '?'}",
                  path, line_of(doc.get("roleRef"), "name", line_of(doc, "roleRef")),
                  content=f"{subject} cluster-admin", severity=Severity.HIGH)


def _network_policy(doc: dict[Any, Any], subject: str, path: str) -> Iterator[Fact]:
    spec = doc.get("spec")
    if not isinstance(spec, dict):
        return
    selector = spec.get("podSelector")
    all_pods = selector is None or (isinstance(selector, dict) and not selector.get("matchLabels")
                                    and not selector.get("matchExpressions"))
    types = [str(t) for t in as_list(spec.get("policyTypes"))] or (
        ["Ingress", "Egress"] if "egress" in spec else ["Ingress"])
    ns = dig(doc, "metadata", "namespace")
    where = f" in namespace {ns}" if ns else ""
    at = line_of(spec, "policyTypes", line_of(doc, "spec"))
    if all_pods and "Egress" in types and not spec.get("egress"):
        yield sig("PIPE-07", PASS, "network-policy", f"{subject} denies all egress by default{where}", path, at)
    elif all_pods and "Ingress" in types and not spec.get("ingress"):
        yield sig("PIPE-07", PARTIAL, "network-policy",
                  f"{subject} denies all ingress by default{where} (egress still open)", path, at)
    elif spec.get("egress") or spec.get("ingress"):
        yield sig("PIPE-07", PARTIAL, "network-policy",
                  f"{subject} restricts {'/'.join(types).lower()} for selected pods{where} (no default deny)", path,
                  at)


def _peer_authentication(doc: dict[Any, Any], subject: str, path: str) -> Iterator[Fact]:
    spec = doc.get("spec")
    mtls = dig(spec, "mtls")
    mode = str(dig(mtls, "mode") or "").upper()
    ns = dig(doc, "metadata", "namespace")
    scope = f"namespace {ns}" if ns else "its namespace"
    if isinstance(spec, dict) and spec.get("selector"):
        scope = "selected workloads"
    at = line_of(mtls, "mode", line_of(doc, "spec"))
    if mode == "STRICT":
        yield sig("INF-12", PASS, "mesh-mtls", f"{subject} mtls.mode = STRICT for {scope}", path, at)
    elif mode == "PERMISSIVE":
        yield sig("INF-12", PARTIAL, "mesh-mtls",
                  f"{subject} mtls.mode = PERMISSIVE for {scope}: plaintext is still accepted", path, at)
    elif mode == "DISABLE":
        yield sig("INF-12", FAIL, "mesh-mtls", f"{subject} mtls.mode = DISABLE for {scope}", path, at,
                  content=f"{subject} DISABLE", severity=Severity.MEDIUM)
    ports = dig(spec, "portLevelMtls")
    if isinstance(ports, dict):
        for port, cfg in ports.items():
            pmode = str(dig(cfg, "mode") or "").upper()
            if pmode in ("PERMISSIVE", "DISABLE"):
                yield sig("INF-12", PARTIAL, "mesh-mtls", f"{subject} portLevelMtls {port} mode = {pmode}", path,
                          line_of(ports, port))


def _hpa(doc: dict[Any, Any], subject: str, path: str) -> Iterator[Fact]:
    cap = dig(doc, "spec", "maxReplicas")
    if isinstance(cap, int) and not isinstance(cap, bool):
        yield sig("INF-10", PARTIAL, "autoscaling-cap", f"{subject} maxReplicas = {cap} bounds autoscaling", path,
                  line_of(doc.get("spec"), "maxReplicas"))


def _config_map(doc: dict[Any, Any], subject: str, path: str) -> Iterator[Fact]:
    data = doc.get("data")
    if not isinstance(data, dict):
        return
    protocols = data.get("ssl-protocols")
    if isinstance(protocols, str) and HELM_PLACEHOLDER not in protocols:
        version = ssl_protocols_minimum(protocols)
        if version is not None:
            yield from tls_signal(f"{subject} ssl-protocols = {protocols}", version, path,
                                  line_of(data, "ssl-protocols"))
    for key, value in data.items():
        if isinstance(value, str) and looks_like_fluentbit_classic(value):
            # a block scalar starts on the line after its key
            yield from fluentbit_classic_retention(value, path, line_of(data, key) + 1)


_HANDLERS = {
    "InferenceService": _inference_service,
    "Role": _rbac,
    "ClusterRole": _rbac,
    "RoleBinding": _binding,
    "ClusterRoleBinding": _binding,
    "NetworkPolicy": _network_policy,
    "PeerAuthentication": _peer_authentication,
    "HorizontalPodAutoscaler": _hpa,
    "ConfigMap": _config_map,
}
