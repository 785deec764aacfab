"""Inference surfaces that are not Python handlers: managed endpoints in infrastructure as code, model servers
started from images or commands, and gateway locations in front of an inference route.

A repository can serve a model without a line of web code: a Terraform ``aws_sagemaker_endpoint``, a
CloudFormation ``AWS::SageMaker::Endpoint``, a Vertex AI or Azure ML online endpoint, a Ray ``RayService``, a
Triton/TorchServe/TF Serving/TGI/vLLM container. Each is a :class:`Site`, so the inference controls apply and are
judged on what the files show (log retention, throttling, authentication at the gateway). Text is matched with
bounded reads and line-anchored expressions; nothing is parsed beyond that or executed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mlposture.probes.serving.nginx import candidate_files, is_nginx
from mlposture.scanner.repo import RepoFile, RepoView

MAX_READ = 512 * 1024
MAX_FILES = 4000

# Words that name an inference route: /predict, /v1/infer, /v1/recipes/{name}:recommend, /v1/chat/completions.
INFERENCE_WORD = re.compile(r"(?<![a-z0-9])(predict(?:ion|ions|s)?|infer(?:ence|ences)?|classif(?:y|ier|ication)|"
                            r"recommend(?:ation|ations|s)?|embed(?:ding|dings|s)?|completions?|invocations|"
                            r"generate|generation|score|scoring|chat)(?![a-z0-9])", re.I)
# Of those, the words that say "a model answers here" even in a repository without any ML import: a route named
# /generate, /score or /chat also exists in apps without a model (reports, credit scores, support chat).
STRONG_INFERENCE_WORD = re.compile(r"(?<![a-z0-9])(predict(?:ion|ions|s)?|infer(?:ence|ences)?|"
                                   r"classif(?:y|ication)|recommend(?:ation|ations|s)?|embed(?:ding|dings|s)?|"
                                   r"completions|invocations)(?![a-z0-9])", re.I)

TERRAFORM_RESOURCE = re.compile(
    r"^[ \t]*resource\s+\"(aws_sagemaker_endpoint|aws_sagemaker_endpoint_configuration|aws_sagemaker_model|"
    r"google_vertex_ai_endpoint|google_vertex_ai_endpoint_with_model_garden_deployment|"
    r"azurerm_machine_learning_inference_cluster)\"\s+\"([^\"]+)\"", re.M)
TERRAFORM_JSON = re.compile(r"\"(aws_sagemaker_endpoint|aws_sagemaker_endpoint_configuration|aws_sagemaker_model|"
                            r"google_vertex_ai_endpoint)\"\s*:\s*\{")
AZURE_ONLINE = re.compile(r"Microsoft\.MachineLearningServices/workspaces/(onlineEndpoints|onlineEndpoints/"
                          r"deployments)\b|(managed|kubernetes)OnlineEndpoint\.schema\.json|"
                          r"(managed|kubernetes)OnlineDeployment\.schema\.json", re.I)
CFN_TYPE = re.compile(r"(?<![\w])[\"']?Type[\"']?\s*:\s*[\"']?(AWS::SageMaker::(?:Endpoint|EndpointConfig|Model|"
                      r"InferenceComponent))\b")
MODEL_SERVER = re.compile(r"(nvcr\.io/nvidia/tritonserver|\btritonserver\s+--model-(?:repository|store)|"
                          r"pytorch/torchserve|\btorchserve\s+--start|tensorflow/serving|\btensorflow_model_server\b|"
                          r"huggingface/text-generation-inference|vllm/vllm-openai|\bvllm\s+serve\b|"
                          r"vllm\.entrypoints\.openai|seldonio/mlserver|\bmlserver\s+start\b|"
                          r"kserve/(?:sklearnserver|xgbserver|huggingfaceserver|lgbserver)|ollama/ollama|"
                          r"\bbentoml\s+serve\b|\bserve\s+run\s+\S+:\S+|\bmlflow\s+models\s+serve\b)", re.I)
K8S_KIND = re.compile(r"^kind:\s*(RayService|InferenceGraph|ServingRuntime|ClusterServingRuntime|"
                      r"TrainedModel)\b", re.M)
NGINX_LOCATION = re.compile(r"^[ \t]*location\s+(?:[=~^*]+\s*)?(\S+)\s*\{", re.M)


@dataclass(frozen=True)
class Place:
    """One non-Python inference surface: its kind, file, line and a one-line description."""

    kind: str
    path: str
    line: int
    detail: str


def _line(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _read(repo: RepoView, f: RepoFile) -> str:
    return repo.read_text(f, MAX_READ) or ""


def managed_endpoints(repo: RepoView) -> list[Place]:
    """Managed endpoints in Terraform, CloudFormation/SAM, Bicep, Azure ML YAML and Kubernetes kinds."""
    out: list[Place] = []
    files = [f for f in repo.files if f.suffix in (".tf", ".json", ".yaml", ".yml", ".bicep", ".template")]
    for f in files[:MAX_FILES]:
        if f.suffix == ".json" and not (f.name.endswith(".tf.json") or "template" in f.name.lower()
                                        or "cfn" in f.path.lower() or "cloudformation" in f.path.lower()):
            continue
        text = _read(repo, f)
        if not text:
            continue
        low = text[:MAX_READ].lower()
        if f.suffix == ".tf" and ("sagemaker" in low or "vertex_ai" in low or "machine_learning" in low):
            for m in TERRAFORM_RESOURCE.finditer(text):
                out.append(Place("terraform-endpoint", f.path, _line(text, m.start()),
                                 f"Terraform {m.group(1)}.{m.group(2)}"))
        if f.name.endswith(".tf.json"):
            for m in TERRAFORM_JSON.finditer(text):
                out.append(Place("terraform-endpoint", f.path, _line(text, m.start()), f"Terraform {m.group(1)}"))
        if "aws::sagemaker::" in low:
            for m in CFN_TYPE.finditer(text):
                out.append(Place("cloudformation-endpoint", f.path, _line(text, m.start()),
                                 f"CloudFormation {m.group(1)}"))
        if "machinelearningservices" in low or "onlineendpoint" in low or "onlinedeployment" in low:
            azure = AZURE_ONLINE.search(text)
            if azure:
                out.append(Place("azureml-online-endpoint", f.path, _line(text, azure.start()),
                                 f"Azure ML online endpoint ({azure.group(0)})"))
        if f.suffix in (".yaml", ".yml") and "kind:" in low:
            for m in K8S_KIND.finditer(text):
                out.append(Place("k8s-serving", f.path, _line(text, m.start()), f"Kubernetes {m.group(1)}"))
    return out


# Every alternative of MODEL_SERVER contains one of these (case-folded): a cheap test before the regex.
SERVER_WORDS = ("serve", "serving", "text-generation-inference", "vllm", "ollama/ollama")


def _may_name_server(text: str) -> bool:
    folded = text.casefold()
    return any(w in folded for w in SERVER_WORDS)


def model_servers(repo: RepoView) -> list[Place]:
    """Model servers started from an image or a command (Dockerfile, compose, Kubernetes, Procfile, scripts)."""
    out: list[Place] = []
    for f in repo.files[:50_000]:
        low = f.name.lower()
        if not (f.suffix in (".yaml", ".yml", ".sh") or "dockerfile" in low or "containerfile" in low
                or low == "procfile"):
            continue
        text = _read(repo, f)
        m = MODEL_SERVER.search(text) if text and _may_name_server(text) else None
        if m:
            out.append(Place("model-server", f.path, _line(text, m.start()), f"model server {m.group(0).strip()}"))
        if len(out) >= 100:
            break
    return out


def gateway_locations(repo: RepoView) -> list[Place]:
    """nginx locations whose path names an inference route (a gateway in front of a model)."""
    out: list[Place] = []
    for f in candidate_files(repo):
        text = _read(repo, f)
        if not text or not is_nginx(text):
            continue
        for m in NGINX_LOCATION.finditer(text):
            if INFERENCE_WORD.search(m.group(1)):
                out.append(Place("nginx-location", f.path, _line(text, m.start()),
                                 f"nginx location {m.group(1)} in front of an inference route"))
    return out
