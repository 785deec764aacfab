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
from mlposture.probes.serving.managed import STRONG_INFERENCE_WORD
from mlposture.probes.serving.modules import LLM_MODULES, ML_LIBRARIES, python_modules
from mlposture.probes.serving.pyapp import read_python_app
from mlposture.probes.serving.pyindex import ModuleIndex, short, unparse
from mlposture.probes.serving.sites import Site, file_sites, python_servers, registered_routes
from mlposture.probes.serving.yamldocs import own_line, yaml_files
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
        sites.extend(python_servers(mod))
        sites.extend(registered_routes(mod))
        llm.extend(_llm_uses(mod))
        agents.extend(_agents(mod))
        generative.extend(_imports_of(mod, GENERATIVE_MODULES))
    around = file_sites(repo)
    sites.extend(around.specs)
    sites.extend(s for s in around.gateways if ml_used or STRONG_INFERENCE_WORD.search(s.detail))
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


register_source(APP_SOURCE, _build_app)
register_source(SURFACE_SOURCE, _build_surface)
