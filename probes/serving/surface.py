"""Does the repository serve a model, and does it call an LLM? (reusable by other probes)

The INF controls apply only when the repository has an inference surface: web handlers that call a model
(FastAPI, Flask, DRF, Django), serving specs (KServe ``InferenceService``, Seldon, BentoML, TorchServe, Triton
``config.pbtxt``, SageMaker endpoints created from Python, Ray Serve, LitServe) or a gateway/ingress whose backend
is a model service. INF-09 applies only when an LLM is called (openai, anthropic, litellm, langchain, llama_index,
vllm, HF text generation...).

Usage from another probe::

    from mlposture.probes.serving.surface import detect_surface
    surface = detect_surface(repo)          # built once per scan (the source "serving.surface")
    if not surface.has_surface: ...         # surface.reason() says why
    for site in surface.sites: site.kind, site.path, site.line, site.detail
    surface.has_llm, surface.llm            # LlmUse(library, path, line, detail)
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from dataclasses import dataclass

from mlposture.probes.serving.facts import Facts
from mlposture.probes.serving.managed import (
    STRONG_INFERENCE_WORD,
    gateway_locations,
    managed_endpoints,
    model_servers,
)
from mlposture.probes.serving.modules import LLM_MODULES, ML_LIBRARIES, python_modules
from mlposture.probes.serving.pyapp import MODELISH, read_python_app
from mlposture.probes.serving.pyindex import ModuleIndex, short, unparse
from mlposture.probes.serving.yamldocs import as_list as _list
from mlposture.probes.serving.yamldocs import dig, line_of, own_line, yaml_files
from mlposture.scanner.repo import RepoView
from mlposture.scanner.sources import Sources, register_source

AGENT_MODULES = ("langgraph", "crewai", "autogen", "autogen_agentchat", "langchain.agents", "smolagents",
                 "llama_index.core.agent", "pydantic_ai")
AGENT_CALLS = {"initialize_agent", "create_react_agent", "AgentExecutor", "create_tool_calling_agent",
               "create_openai_tools_agent", "create_openai_functions_agent", "ReActAgent", "FunctionCallingAgent",
               "CodeAgent", "ToolCallingAgent", "AssistantAgent"}
GENERATIVE_MODULES = ("diffusers", "audiocraft", "TTS", "bark", "elevenlabs")
CHAT_URL = re.compile(r"(chat|conversation|complet|generat|assistant|ask\b|message)", re.I)
TEXT_GEN_TASKS = {"text-generation", "text2text-generation", "conversational", "summarization", "translation"}


@dataclass(frozen=True)
class Site:
    """One place that exposes a model to callers."""

    kind: str  # fastapi-route, kserve-inferenceservice, triton-config, ...
    path: str
    line: int
    detail: str


@dataclass(frozen=True)
class LlmUse:
    """One place that calls (or imports to call) a large language model."""

    library: str
    path: str
    line: int
    detail: str


@dataclass(frozen=True)
class Surface:
    """The inference surface and LLM use of a repository."""

    sites: tuple[Site, ...]
    llm: tuple[LlmUse, ...]
    agents: tuple[LlmUse, ...] = ()  # agent frameworks or tool-calling LLM requests
    generative: tuple[LlmUse, ...] = ()  # synthetic media generation (diffusers, TTS...)

    @property
    def has_agents(self) -> bool:
        """True when agent or tool-calling code is present (INF-14 applies, ATLAS M0029)."""
        return bool(self.agents)

    @property
    def interacts_with_people(self) -> tuple[str, str, int] | None:
        """(why, path, line) when the system converses with people or generates content (INF-13 applies)."""
        for use in (*self.llm, *self.generative):
            return use.detail, use.path, use.line
        for site in self.sites:
            if CHAT_URL.search(site.detail.split(" calls ")[0]):
                return site.detail, site.path, site.line
        return None

    @property
    def has_surface(self) -> bool:
        """True when at least one inference surface was found."""
        return bool(self.sites)

    @property
    def has_llm(self) -> bool:
        """True when an LLM library or text-generation pipeline is used."""
        return bool(self.llm)

    def reason(self) -> str:
        """Why the INF controls apply or not, in one line."""
        if self.sites:
            s = self.sites[0]
            more = f" and {len(self.sites) - 1} more" if len(self.sites) > 1 else ""
            return f"inference surface: {s.detail} ({s.path}:{s.line}){more}"
        return ("no inference surface: no web handler calling a model or named for inference, no KServe/Seldon/"
                "BentoML/Ray Serve/TorchServe/Triton serving definition or model server image, no SageMaker/Vertex "
                "AI/Azure ML endpoint in code or IaC, and no gateway or ingress in front of a model")

    def llm_reason(self) -> str:
        """Why INF-09 applies or not, in one line."""
        if self.llm:
            u = self.llm[0]
            return f"LLM used: {u.detail} ({u.path}:{u.line})"
        return ("no LLM use: no openai/anthropic/litellm/langchain/llama_index/vllm import or text-generation "
                "pipeline")


APP_SOURCE = "serving.app"
SURFACE_SOURCE = "serving.surface"


def python_app(repo: RepoView) -> Facts:
    """Routes and app-level limits read from the Python code (built once per scan)."""
    found: Facts = Sources.of(repo).get(APP_SOURCE)
    return found


def _build_app(repo: RepoView) -> Facts:
    return read_python_app(list(python_modules(repo).modules))


def detect_surface(repo: RepoView) -> Surface:
    """Inference surface and LLM use of ``repo`` (built once per scan)."""
    found: Surface = Sources.of(repo).get(SURFACE_SOURCE)
    return found


def _build_surface(repo: RepoView) -> Surface:
    sites: list[Site] = []
    modules = python_modules(repo)
    ml_used = _uses_ml(modules.modules) or modules.ml_in_skipped
    ml_used = ml_used or _ml_declared(repo)
    for r in python_app(repo).routes:
        # a route named for inference (/predict, :recommend, def classify) is a surface even when the model call
        # sits in another service; a loosely model-like URL (/chat, /score, /generate) counts only in a
        # repository that uses or declares an ML library at all
        named = bool(STRONG_INFERENCE_WORD.search(r.url) or STRONG_INFERENCE_WORD.search(r.handler))
        if r.is_model and (r.model_call or ml_used or named):
            why = f"calls {r.model_call}" if r.model_call else "route named for inference"
            sites.append(Site(f"{r.framework}-route", r.path, r.line, f"{r.method} {r.url} {why}"))
    llm: list[LlmUse] = []
    agents: list[LlmUse] = []
    generative: list[LlmUse] = []
    for mod in modules.modules:
        sites.extend(_python_servers(mod))
        sites.extend(_registered_routes(mod))
        llm.extend(_llm_uses(mod))
        agents.extend(_agents(mod))
        generative.extend(_imports_of(mod, GENERATIVE_MODULES))
    sites.extend(_file_sites(repo))
    sites.extend(Site(p.kind, p.path, p.line, p.detail) for p in (*managed_endpoints(repo), *model_servers(repo)))
    sites.extend(Site(p.kind, p.path, p.line, p.detail) for p in gateway_locations(repo)
                 if ml_used or STRONG_INFERENCE_WORD.search(p.detail))
    llm.extend(_llm_configs(repo))
    return Surface(tuple(sites), tuple(llm), tuple(agents), tuple(generative))


ML_PACKAGES = frozenset({"torch", "tensorflow", "tensorflow-cpu", "keras", "scikit-learn", "transformers",
                         "onnxruntime", "onnxruntime-gpu", "xgboost", "lightgbm", "catboost", "jax", "mlflow",
                         "sentence-transformers", "spacy", "tritonclient", "kserve", "bentoml", "vllm", "diffusers",
                         "timm", "ultralytics", "fastai", "gensim", "openai", "anthropic", "langchain", "litellm",
                         "llama-index", "implicit", "lightfm", "scikit-surprise", "faiss-cpu", "faiss-gpu",
                         "statsmodels", "prophet", "tflite-runtime", "mlserver", "ray", "sagemaker",
                         "google-cloud-aiplatform", "azure-ai-ml"})


def _ml_declared(repo: RepoView) -> bool:
    """Does any manifest of the repository declare an ML library (a service whose model code is elsewhere)?"""
    from mlposture.scanner.sources.manifests.read import read_manifests

    return any(r.canonical in ML_PACKAGES for r in read_manifests(repo).requirements)


def _uses_ml(modules: Iterable[ModuleIndex]) -> bool:
    return any(target.lstrip(".").split(".")[0] in ML_LIBRARIES for m in modules for target in m.imports.values())


def _python_servers(mod: ModuleIndex) -> list[Site]:
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


def _registered_routes(mod: ModuleIndex) -> list[Site]:
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


def _imports_of(mod: ModuleIndex, prefixes: tuple[str, ...]) -> list[LlmUse]:
    if not any(t.lstrip(".").startswith(prefixes) for t in mod.imports.values()):
        return []
    for node in mod.nodes:
        if isinstance(node, ast.Import):
            names, line = [a.name for a in node.names], node.lineno
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names, line = [node.module], node.lineno
        else:
            continue
        for name in names:
            for prefix in prefixes:
                if name == prefix or name.startswith(prefix + "."):
                    return [LlmUse(prefix, mod.path, line, f"import {name}")]
    return []


def _agents(mod: ModuleIndex) -> list[LlmUse]:
    out = _imports_of(mod, AGENT_MODULES)
    for node in mod.nodes:
        if not isinstance(node, ast.Call):
            continue
        name = unparse(node.func).rsplit(".", 1)[-1]
        if name in AGENT_CALLS:
            out.append(LlmUse("agent", mod.path, node.lineno, f"{name}(...)"))
            break
        if any(k.arg in ("tools", "functions") for k in node.keywords) and \
                name in ("create", "invoke", "ainvoke", "bind_tools", "chat", "completion", "acompletion"):
            out.append(LlmUse("tool-calling", mod.path, node.lineno, f"{short(node.func, 50)}(tools=...)"))
            break
    return out


def _llm_uses(mod: ModuleIndex) -> list[LlmUse]:
    out: list[LlmUse] = []
    seen: set[str] = set()
    imported = any(t.startswith(tuple(LLM_MODULES)) for t in mod.imports.values())
    for node in mod.nodes if imported else []:
        if isinstance(node, ast.Import):
            names, line = [a.name for a in node.names], node.lineno
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names, line = [node.module], node.lineno
        else:
            continue
        for name in names:
            for prefix, lib in LLM_MODULES.items():
                if (name == prefix or name.startswith(prefix + ".")) and lib not in seen:
                    seen.add(lib)
                    out.append(LlmUse(lib, mod.path, line, f"import {name}"))
    uses_transformers = any(t.startswith("transformers") for t in mod.imports.values())
    for sub in mod.nodes if uses_transformers else []:
        if not isinstance(sub, ast.Call):
            continue
        q = mod.call_name(sub)
        if q.endswith("pipeline") and "transformers" in q:
            task = sub.args[0] if sub.args else None
            if isinstance(task, ast.Constant) and task.value in TEXT_GEN_TASKS:
                out.append(LlmUse("transformers", mod.path, sub.lineno, f'pipeline("{task.value}")'))
        elif q.endswith(("AutoModelForCausalLM.from_pretrained", "AutoModelForSeq2SeqLM.from_pretrained")):
            out.append(LlmUse("transformers", mod.path, sub.lineno, q.rsplit(".", 2)[-2] + ".from_pretrained"))
    return out


def _file_sites(repo: RepoView) -> list[Site]:
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


def _llm_configs(repo: RepoView) -> list[LlmUse]:
    """NeMo Guardrails ``config.yml`` names the LLM it drives (``models: - type: main, engine: openai``)."""
    out: list[LlmUse] = []
    for yf in yaml_files(repo):
        for doc in yf.docs:
            models = doc.get("models") if isinstance(doc, dict) else None
            if isinstance(models, list) and isinstance(doc.get("rails"), dict):
                for m in models:
                    if isinstance(m, dict) and m.get("engine"):
                        out.append(LlmUse(str(m["engine"]), yf.path, own_line(m),
                                          f"NeMo Guardrails model {m.get('engine')}/{m.get('model')}"))
                        break
    return out


def _ingress_backends(doc: dict[str, object]) -> list[str]:
    out: list[str] = []
    for rule in _list(dig(doc, "spec", "rules")):
        for p in _list(dig(rule, "http", "paths")):
            name = dig(p, "backend", "service", "name") or dig(p, "backend", "serviceName")
            if isinstance(name, str):
                out.append(f"{name} {dig(p, 'path') or ''}")
    return out


register_source(APP_SOURCE, _build_app)
register_source(SURFACE_SOURCE, _build_surface)
