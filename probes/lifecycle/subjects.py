"""Which deploy references are about a model (MODEL-06 judges subjects, not strings).

A ``:latest`` prometheus, grafana, minio or busybox image is a mutable reference, but not a model deployment: the
control asks whether the *deployed model* can be rolled back. An image counts only when it carries or serves a model:

* it is named in a serving spec (the same file declares a KServe ``InferenceService``/``ServingRuntime``, a Seldon
  ``SeldonDeployment``, a SageMaker model, a Ray Serve or BentoML deployment), or
* its name says it serves or holds a model (``model``, ``serv``, ``infer``, ``predict``, serving engines such as
  Triton, TorchServe, TF Serving, vLLM, TGI, Ollama), and it is not a well-known infrastructure image.

A reference the file does not spell out (a Terraform ``var.x_image``, ``${IMAGE}``, a Helm ``{{ .Values }}``
template, a release tag computed in CI) is unknown, not "latest"; and an ``image:`` beside a compose ``build:`` names
what the build produces, not something pulled.
"""

from __future__ import annotations

import re

SERVING_SPEC = re.compile(r"\bkind:\s*[\"']?(?:InferenceService|ServingRuntime|ClusterServingRuntime|TrainedModel|"
                          r"SeldonDeployment|SeldonModel|Model|InferenceGraph|RayService)\b|aws_sagemaker_model\b|"
                          r"AWS::SageMaker::Model\b|aws_sagemaker_endpoint_configuration\b|bentoml\b")
MODEL_WORDS = re.compile(r"model|serv|infer|predict|triton|torchserve|vllm|text-generation|\btgi\b|ollama|llm|"
                         r"embedding|classif|ranker|recommend|kserve|seldon|sagemaker|bento", re.I)
INFRA_IMAGES = frozenset({
    "prometheus", "grafana", "loki", "promtail", "alertmanager", "pushgateway", "node-exporter", "tempo", "mimir",
    "minio", "mc", "postgres", "postgresql", "mysql", "mariadb", "redis", "redis-stack", "mongo", "mongodb",
    "busybox", "curl", "alpine", "ubuntu", "debian", "centos", "fedora", "nginx", "traefik", "envoy", "haproxy",
    "elasticsearch", "opensearch", "kibana", "logstash", "fluentd", "fluent-bit", "rabbitmq", "kafka", "zookeeper",
    "memcached", "jaeger", "all-in-one", "otel", "opentelemetry-collector", "opentelemetry-collector-contrib",
    "localstack", "vault", "consul", "etcd", "clickhouse", "cassandra", "pause", "kubectl", "git", "python",
    "node", "golang", "openjdk", "registry", "docker", "dind", "pgadmin4", "adminer", "mailhog", "selenium",
    "jupyter", "base-notebook", "tensorboard", "airflow", "mlflow", "superset", "metabase", "keycloak",
})
UNKNOWN = re.compile(r"[${}]|^(?:var|local|module|data|each|self|count)\.|^\w+\(")


def is_unknown(ref: str) -> bool:
    """A reference the file does not spell out: a variable, template or expression."""
    return bool(UNKNOWN.search(ref.strip()))


def image_name(ref: str) -> str:
    """The last path segment of an image reference, without tag or digest (``ghcr.io/o/app:1`` -> ``app``)."""
    last = ref.split("@", 1)[0].rsplit("/", 1)[-1]
    return last.split(":", 1)[0].lower()


def serving_spec(text: str) -> bool:
    """True when the file declares a model-serving resource."""
    return bool(SERVING_SPEC.search(text))


def carries_model(ref: str, in_serving_spec: bool) -> bool:
    """True when the image carries or serves a model (see the module docstring)."""
    name = image_name(ref)
    if name in INFRA_IMAGES:
        return False
    if in_serving_spec:
        return True
    repo_path = ref.split("@", 1)[0].rsplit(":", 1)[0] if "/" in ref else name
    return bool(MODEL_WORDS.search(repo_path))


def built_here(lines: list[str], index: int) -> bool:
    """True when the ``image:`` at ``lines[index]`` sits beside a compose ``build:`` key of the same service."""
    line = lines[index]
    indent = len(line) - len(line.lstrip(" -"))
    for step in (-1, 1):
        j = index + step
        while 0 <= j < len(lines) and abs(j - index) <= 30:
            other = lines[j]
            stripped = other.strip()
            if stripped and not stripped.startswith("#"):
                other_indent = len(other) - len(other.lstrip(" "))
                if other_indent < indent:
                    break
                if other_indent == indent and re.match(r"build\s*:", stripped):
                    return True
            j += step
    return False
