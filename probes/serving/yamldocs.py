"""YAML documents of the repository, loaded once with the project's safe loader and shared by the readers.

A file that does not load becomes a note naming the loader's message and line; its documents are then skipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from mlposture.scanner import yamlsafe
from mlposture.scanner.probe import Note
from mlposture.scanner.repo import RepoView
from mlposture.scanner.sources import Sources, register_source
from mlposture.scanner.yamlsafe import YamlError, load_all

MAX_YAML_BYTES = 2 * 1024 * 1024
# text that marks a file the serving probe reads: a parse failure there deserves a note
SERVING_MARKERS = re.compile(r"(kind:\s*(Ingress|KongPlugin|KongClusterPlugin|Middleware|InferenceService|EnvoyFilter|"
                             r"AuthorizationPolicy|PeerAuthentication|PrometheusRule|HorizontalPodAutoscaler)\b|"
                             r"_format_version|http_filters|traefik\.http\.|nginx\.ingress\.kubernetes\.io|"
                             r"^rails:|^[ \t]*descriptors:)", re.M)


# YAML files are parsed only when they can hold something the serving judgements read (Kubernetes objects,
# gateway, mesh, alerting or LLM configs) or sit where deployment configs live; plain parameter files
# (hyper-parameters, dataset lists) are skipped. Substring tests on the lower-cased text: much faster than one
# large case-insensitive regex on a tree with thousands of YAML files.
YAML_KEYWORDS = ("kind:", "apiversion:", "_format_version", "http_filters", "static_resources", "traefik", "nginx",
                 "kong", "envoy", "istio", "services:", "routers:", "middlewares:", "entrypoints", "groups:", "alert",
                 "rails:", "prompt", "guard", "llm", "openai", "anthropic", "model", "predict", "serving",
                 "inference", "endpoint", "labels:", "annotations:", "ratelimit", "rate_limit", "rate-limit",
                 "limit", "quota", "auth", "ingress", "gateway", "replicas")
PATH_KEYWORDS = ("k8s", "kube", "deploy", "ingress", "kong", "traefik", "envoy", "istio", "gateway", "serving",
                 "kserve", "helm", "charts", "manifests", "compose", "guardrail", "nginx")


def interesting_path(path: str) -> bool:
    """Paths where deployment and gateway configs live (their parse errors are worth a note)."""
    low = path.lower()
    return any(k in low for k in PATH_KEYWORDS)


def _relevant(text: str, path: str) -> bool:
    low = text.lower()
    return any(k in low for k in YAML_KEYWORDS) or interesting_path(path)


@dataclass(frozen=True)
class YamlFile:
    """One YAML file's documents (``docs`` empty and ``error`` set when it did not load)."""

    path: str
    docs: tuple[Any, ...]
    error: Note | None = None
    serving_markers: bool = False


YAML_SOURCE = "serving.yaml"


def yaml_files(repo: RepoView) -> list[YamlFile]:
    """Every ``.yaml``/``.yml`` file serving reads, loaded safely (built once per scan, the source
    ``serving.yaml``)."""
    found: list[YamlFile] = Sources.of(repo).get(YAML_SOURCE)
    return found


def _build_yaml(repo: RepoView) -> list[YamlFile]:
    out: list[YamlFile] = []
    for f in repo.text_files((".yaml", ".yml")):
        text = repo.read_text(f, MAX_YAML_BYTES)
        if text is None:
            continue
        if not _relevant(text, f.path):
            continue
        if "{{" in text:
            text = detemplate(text)
        markers = bool(SERVING_MARKERS.search(text[:MAX_YAML_BYTES]))
        try:
            docs = tuple(load_all(text))
        except YamlError as exc:
            out.append(YamlFile(f.path, (), Note(f"YAML not parsed: {exc.message}", f.path, exc.line), markers))
            continue
        out.append(YamlFile(f.path, docs, None, markers))
    return out


def detemplate(text: str) -> str:
    """Helm/Go templates read tolerantly: control lines (``{{- if ... }}``) are dropped, expressions inside a
    line become the placeholder ``tpl`` so the YAML structure (and every line number) survives."""
    out: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("{{") and stripped.endswith("}}"):
            out.append("")
        else:
            out.append(re.sub(r"\{\{.*?\}\}", "tpl", line))
    return "\n".join(out)


def as_list(value: Any) -> list[Any]:
    """The value when it is a sequence, else an empty list (hostile configs put anything anywhere)."""
    return value if isinstance(value, list) else []


def line_of(container: Any, key: str, default: int = 0) -> int:
    """Line of ``key`` in a loaded mapping (the mapping's own line when the key has none), or ``default`` (0:
    unknown) for anything the YAML loader did not build."""
    return yamlsafe.line_of(container, key, default) or default


def own_line(container: Any, default: int = 0) -> int:
    """Line where a loaded mapping or list starts, or ``default``."""
    return yamlsafe.line_of(container, None, default) or default


register_source(YAML_SOURCE, _build_yaml)
