"""Where a repository exposes a model, read from one module or from the files around the code.

Two kinds: sites in Python (a KServe/TorchServe/LitServe class, a BentoML or Ray Serve decorator, a managed endpoint
created from code, a Gradio app, a route registered by call) and sites in specification files (Triton
``config.pbtxt``, TorchServe ``config.properties`` and ``.mar``, BentoML ``bentofile``, KServe/Seldon/Ingress/Kong
YAML, managed endpoints in IaC, model-server images, nginx locations). Both decide whether serving reads the rest of
the Python code at all (:mod:`~mlposture.probes.serving.modules`), so they live apart from the surface that
combines them.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from mlposture.probes.serving.managed import STRONG_INFERENCE_WORD, gateway_locations, managed_endpoints, model_servers
from mlposture.probes.serving.pyindex import ModuleIndex, unparse
from mlposture.probes.serving.pywords import MODELISH
from mlposture.probes.serving.yamldocs import as_list as _list
from mlposture.probes.serving.yamldocs import line_of, own_line, yaml_files
from mlposture.scanner.repo import RepoView
from mlposture.scanner.sources import Sources, register_source
from mlposture.scanner.yamlsafe import dig

__all__ = ["FILE_SITES_SOURCE", "FileSites", "Site", "file_sites", "python_servers", "registered_routes"]

FILE_SITES_SOURCE = "serving.file-sites"


@dataclass(frozen=True)
class Site:
    """One place that exposes a model to callers."""

    kind: str  # fastapi-route, kserve-inferenceservice, triton-config, ...
    path: str
    line: int
    detail: str


@dataclass(frozen=True)
class FileSites:
    """Sites in the files around the code: serving specs, managed endpoints and model servers (``specs``), and
    nginx locations named for inference (``gateways``), which count only in a repository that uses ML."""

    specs: tuple[Site, ...]
    gateways: tuple[Site, ...]


def file_sites(repo: RepoView) -> FileSites:
    """The sites of ``repo`` outside Python (built once per scan)."""
    found: FileSites = Sources.of(repo).get(FILE_SITES_SOURCE)
    return found


def _build_file_sites(repo: RepoView) -> FileSites:
    specs = _spec_sites(repo)
    specs.extend(Site(p.kind, p.path, p.line, p.detail) for p in (*managed_endpoints(repo), *model_servers(repo)))
    gateways = tuple(Site(p.kind, p.path, p.line, p.detail) for p in gateway_locations(repo))
    return FileSites(tuple(specs), gateways)


def python_servers(mod: ModuleIndex) -> list[Site]:
    out: list[Site] = []
    for node in mod.nodes:
        if isinstance(node, ast.ClassDef):
            for base in node.bases:
                q = mod.qualify(base)
                if (q.startswith("kserve") and q.endswith("Model")) or q.endswith("KFModel"):
                    out.append(Site("kserve-model", mod.path, node.lineno, f"class {node.name}({unparse(base)})"))
                elif q.endswith("BaseHandler") and ("ts." in q or "torch_handler" in q):
                    out.append(Site("torchserve-handler", mod.path, node.lineno, f"TorchServe handler {node.name}"))
                elif q.endswith("LitAPI"):
                    out.append(Site("litserve-api", mod.path, node.lineno, f"LitServe API {node.name}"))
            for dec in node.decorator_list:
                q = mod.qualify(dec.func if isinstance(dec, ast.Call) else dec)
                if q.startswith("bentoml") and q.endswith("service"):
                    out.append(Site("bentoml-service", mod.path, node.lineno, f"@bentoml.service {node.name}"))
                elif q.startswith("ray.serve") and q.endswith("deployment"):
                    out.append(Site("ray-serve", mod.path, node.lineno, f"@serve.deployment {node.name}"))
        elif isinstance(node, ast.Call):
            q = mod.call_name(node)
            text = unparse(node.func)
            if q in ("bentoml.Service",):
                out.append(Site("bentoml-service", mod.path, node.lineno, "bentoml.Service(...)"))
            elif text.endswith(".deploy") and any(v.startswith("sagemaker") for v in mod.imports.values()):
                out.append(Site("sagemaker-endpoint", mod.path, node.lineno, f"SageMaker {text}(...)"))
            elif (text.endswith(".deploy") or q.endswith("Endpoint.create")) and \
                    any(v.startswith(("google.cloud.aiplatform", "vertexai")) for v in mod.imports.values()):
                out.append(Site("vertex-ai-endpoint", mod.path, node.lineno, f"Vertex AI {text}(...)"))
            elif q.startswith("azure.ai.ml") and q.endswith(("ManagedOnlineEndpoint", "KubernetesOnlineEndpoint")):
                out.append(Site("azureml-online-endpoint", mod.path, node.lineno, f"Azure ML {text}(...)"))
            elif text.endswith("create_endpoint") and _boto_sagemaker(mod):
                out.append(Site("sagemaker-endpoint", mod.path, node.lineno, f"SageMaker {text.rsplit('.', 1)[-1]}"))
            elif q.startswith("gradio") and q.rsplit(".", 1)[-1] in ("Interface", "ChatInterface"):
                out.append(Site("gradio-app", mod.path, node.lineno, f"{text}(...)"))
    return out


ROUTE_REGISTRATIONS = ("add_post", "add_get", "add_put", "add_route", "add_url_rule", "add_api_route", "Route")
AIOHTTP_SHORTCUTS = ("get", "post", "put", "route")


def registered_routes(mod: ModuleIndex) -> list[Site]:
    """Routes registered by call rather than decorator and named for inference: aiohttp ``web.post("/predict",
    h)`` / ``router.add_post``, Starlette ``Route("/predict", ...)``, Flask ``add_url_rule``, FastAPI
    ``add_api_route``, tornado ``(r"/predict", Handler)`` tuples."""
    out: list[Site] = []
    for node in mod.nodes:
        url: str | None = None
        if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) and \
                isinstance(node.args[0].value, str) and (len(node.args) > 1 or node.keywords):
            func = unparse(node.func)
            name = func.rsplit(".", 1)[-1]
            if name in ROUTE_REGISTRATIONS or (name in AIOHTTP_SHORTCUTS and func.startswith("web.")):
                url = node.args[0].value
        elif isinstance(node, ast.Tuple) and len(node.elts) >= 2 and isinstance(node.elts[0], ast.Constant) and \
                isinstance(node.elts[0].value, str) and node.elts[0].value.startswith(("/", "^/")) and \
                isinstance(node.elts[1], (ast.Name, ast.Attribute)) and unparse(node.elts[1]).endswith("Handler"):
            url = str(node.elts[0].value)
        if url and url.startswith(("/", "^/")) and STRONG_INFERENCE_WORD.search(url):
            out.append(Site("http-route", mod.path, getattr(node, "lineno", 1),
                            f"{url} registered in {mod.path} (route named for inference)"))
    return out


def _boto_sagemaker(mod: ModuleIndex) -> bool:
    return any(isinstance(c, ast.Call) and unparse(c).find("'sagemaker'") >= 0 for c in mod.calls.values())


def _spec_sites(repo: RepoView) -> list[Site]:
    out: list[Site] = []
    for f in repo.files:
        if f.name == "config.pbtxt":
            text = repo.read_text(f, 1024 * 1024) or ""
            if re.search(r"^\s*(platform|backend|input|max_batch_size)\s*[:\[]", text, re.M):
                m = re.search(r"^\s*(?:platform|backend)\s*:\s*\"?([\w-]+)", text, re.M)
                out.append(Site("triton-config", f.path, 1, f"Triton model config ({m.group(1) if m else 'model'})"))
        elif f.name == "config.properties":
            lines = repo.lines(f, 256 * 1024)
            for i, ln in enumerate(lines, 1):
                if ln.strip().startswith("inference_address"):
                    out.append(Site("torchserve-config", f.path, i, f"TorchServe {ln.strip()[:80]}"))
                    break
        elif f.name in ("bentofile.yaml", "bentofile.yml"):
            out.append(Site("bentoml-build", f.path, 1, "BentoML bentofile"))
        elif f.suffix == ".mar":
            out.append(Site("torchserve-archive", f.path, 1, "TorchServe model archive"))
    for yf in yaml_files(repo):
        for doc in yf.docs:
            if not isinstance(doc, dict):
                continue
            kind, api = str(doc.get("kind", "")), str(doc.get("apiVersion", ""))
            name = dig(doc, "metadata", "name")
            if kind == "InferenceService" and "serving" in api:
                out.append(Site("kserve-inferenceservice", yf.path, line_of(doc, "kind", own_line(doc)),
                                f"KServe InferenceService {name}"))
            elif kind in ("SeldonDeployment",) or (kind == "Model" and "seldon" in api):
                out.append(Site("seldon", yf.path, line_of(doc, "kind", own_line(doc)), f"Seldon {kind} {name}"))
            elif kind == "Ingress":
                for backend in _ingress_backends(doc):
                    if MODELISH.search(backend) or re.search(r"(predict|infer|serv)", backend):
                        out.append(Site("ingress", yf.path, line_of(doc, "kind", own_line(doc)),
                                        f"Ingress {name} routes to {backend}"))
                        break
            elif "_format_version" in doc:
                for svc in _list(doc.get("services")):
                    if isinstance(svc, dict) and re.search(r"(model|predict|infer|llm|serv)",
                                                           f"{svc.get('name')} {svc.get('url')} {svc.get('host')}"):
                        out.append(Site("kong-service", yf.path, own_line(svc),
                                        f"Kong service {svc.get('name')} ({svc.get('url') or svc.get('host')})"))
    return out


def _ingress_backends(doc: dict[str, object]) -> list[str]:
    out: list[str] = []
    for rule in _list(dig(doc, "spec", "rules")):
        for p in _list(dig(rule, "http", "paths")):
            name = dig(p, "backend", "service", "name") or dig(p, "backend", "serviceName")
            if isinstance(name, str):
                out.append(f"{name} {dig(p, 'path') or ''}")
    return out


register_source(FILE_SITES_SOURCE, _build_file_sites)
