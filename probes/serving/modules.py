"""Serving's share of the one Python pass: which modules it reads, and whether the repository uses ML at all.

Serving reads a module only when its text mentions something its judgements use, in two tiers:

- :data:`FRAMEWORK_WORDS` name a web or serving framework, an LLM, agent or generative library, a managed endpoint
  SDK or a route registration. Modules that mention one are always read (:data:`VISITOR`, in the scan's pass).
- :data:`HINT_WORDS` are what the judgements look for once a model is served (predict, threshold, guard, review,
  signature...). They are common in any numerical code, so modules mentioning only them are read
  (:data:`HINT_VISITOR`, a second pass) only when the repository can have an inference surface: a framework
  module imports a serving, web or LLM library or defines a route or a server, or a serving spec, managed
  endpoint, model server or gateway exists outside Python. Otherwise every INF control is not applicable whatever
  those modules say, and reading them (numpy, scipy or pandas hold thousands) only costs time and memory.

Every module still counts toward "the repository uses an ML library" through a second, tiny reader of its imports.

The fact of a read module is its :class:`~mlposture.probes.serving.pyindex.ModuleIndex`, *with its tree*: the
route reader follows names across modules (a route's dependency defined in another module, a handler's helper
imported from ``inference.py``, a schema class subclassing one from ``schemas.py``, ``include_router`` prefixes given
where the app is built), so it needs the trees of the read modules together. From a forked worker a module comes
back as its path and text and is parsed again here: unpickling a tree costs more than parsing its text (and the
pickle is several times larger).

Registered as the source ``serving.python``: built once per scan, shared by the surface and the probe.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlposture.probes.serving.pyapp import read_python_app
from mlposture.probes.serving.pyindex import ModuleIndex, index_module
from mlposture.probes.serving.sites import file_sites, python_servers, registered_routes
from mlposture.scanner.repo import RepoView
from mlposture.scanner.sources import Sources, register_source
from mlposture.scanner.sources.python import PyModule, PythonVisitor

__all__ = ["FRAMEWORK_WORDS", "HINT_VISITOR", "HINT_WORDS", "LLM_MODULES", "ML_LIBRARIES", "ML_VISITOR", "RELEVANT",
           "SOURCE", "VISITOR", "PythonModules", "may_serve", "python_modules"]

SOURCE = "serving.python"
MAX_PY_FILES = 5000

LLM_MODULES = {
    "openai": "openai", "anthropic": "anthropic", "litellm": "litellm", "langchain": "langchain",
    "langchain_core": "langchain", "langchain_openai": "langchain", "langchain_anthropic": "langchain",
    "langchain_community": "langchain", "langgraph": "langgraph", "llama_index": "llama_index", "vllm": "vllm",
    "cohere": "cohere", "mistralai": "mistralai", "google.generativeai": "google-generativeai",
    "google.genai": "google-genai", "ollama": "ollama", "groq": "groq", "together": "together",
    "llama_cpp": "llama-cpp-python", "text_generation": "text-generation (TGI client)", "dspy": "dspy",
    "haystack": "haystack", "semantic_kernel": "semantic-kernel", "crewai": "crewai", "autogen": "autogen",
    "nemoguardrails": "nemoguardrails",
}
LLM_TOP = {k.split(".")[0] for k in LLM_MODULES}
ML_LIBRARIES = frozenset({
    "torch", "tensorflow", "keras", "sklearn", "transformers", "onnxruntime", "xgboost", "lightgbm", "catboost",
    "joblib", "jax", "flax", "mlflow", "sentence_transformers", "spacy", "tritonclient", "kserve", "bentoml", "vllm",
    "diffusers", "timm", "ultralytics", "paddle", "mxnet", "tflite_runtime", "statsmodels", "prophet", "fastai",
    "gensim", "skl2onnx", "optimum", "ctranslate2", *LLM_TOP})

AGENT_TOPS = ("langgraph", "crewai", "autogen", "autogen_agentchat", "smolagents", "pydantic_ai")
GENERATIVE_TOPS = ("diffusers", "audiocraft", "TTS", "bark", "elevenlabs")
# Top-level modules whose import means the repository may serve a model or call an LLM.
SERVING_IMPORTS = frozenset({
    "fastapi", "flask", "django", "rest_framework", "starlette", "slowapi", "flask_limiter", "fastapi_limiter",
    "ratelimit", "django_ratelimit", "gradio", "streamlit", "kserve", "kfserving", "bentoml", "vertexai", "sagemaker",
    "seldon_core", "ray", "litserve", "mlserver", "tritonclient", "ts", "uvicorn", "gunicorn", "aiohttp", "tornado",
    "sanic", "grpc", "quart", "falcon", "bottle", "litestar", "robyn", *AGENT_TOPS, *GENERATIVE_TOPS,
    *(top for top in LLM_TOP if top != "google")})
SERVING_IMPORT_PREFIXES = ("google.cloud.aiplatform", "google.generativeai", "google.genai", "azure.ai.ml")

# Lower-case words naming a framework, library, SDK or route registration: a module mentioning one is always read.
FRAMEWORK_WORDS = (
    "fastapi", "flask", "django", "rest_framework", "starlette", "slowapi", "gradio", "streamlit", "kserve",
    "kfserving", "kfmodel", "bentoml", "aiplatform", "vertexai", "onlineendpoint", "torch_handler", "basehandler",
    "sagemaker", "seldon", "ray.serve", "from ray", "import ray", "litserve", "litapi", "mlserver", "triton",
    "uvicorn", "gunicorn", "aiohttp", "tornado", "sanic", "grpc", "import quart", "from quart", "import falcon",
    "from falcon", "litestar", "robyn", "urlpatterns", "viewset", "apiview", "@app.", "@router.", "@api.",
    "@api_router.", "@bp.", "@blueprint.", "@v1.", "@routes.", "apirouter", "blueprint(", "add_url_rule",
    "add_api_route", "add_route", "add_post", "add_get", "add_put", "route(", "web.get(", "web.post(", "web.put(",
    "web.route(", "login_required", "permission_classes", "httpbearer", "oauth2", "max_content_length",
    "data_upload_max", "rebuff", "lakera", "nemoguardrails", "interrupt_before", "shelltool", "allow_dangerous",
    "openai", "anthropic", "litellm", "langchain", "langgraph", "llama_index", "vllm", "import cohere", "from cohere",
    "mistralai", "google.generativeai", "google.genai", "import genai", "ollama", "import groq", "from groq",
    "import together", "from together", "llama_cpp", "text_generation", "dspy", "import haystack", "from haystack",
    "semantic_kernel", "crewai", "import autogen", "from autogen", "smolagents", "pydantic_ai", "diffusers",
    "audiocraft", "import tts", "from tts", "import bark", "from bark", "elevenlabs", "from transformers",
    "import transformers")
# Lower-case words the judgements read once a model is served; on their own they do not make a module worth
# reading (see the module docstring).
HINT_WORDS = (
    "limiter", "transformers", "pipeline(", "guard", "art.", "alibi", "depends", "apikey", "api_key", "throttl",
    "predict", "logits", "proba", "embedding", "hidden_state", "confiden", "threshold", "calibrat", "isotonic",
    "temperature", "abstain", "reject", "min_conf", "cutoff", "prompt", "injection", "repl", "you are",
    "ai_generated", "kill_switch", "killswitch", "approval", "escalat", "extraction", "stealing", "query_pattern",
    "signature", "quota", "budget", "credits", "usage_limit", "daily_limit", "prometheus", "agent", "route",
    "launch(", "human", "review", "override", "disclos", "notice", "watermark", "detector", "ensemble", "squeez",
    "smoothing")
RELEVANT = FRAMEWORK_WORDS + HINT_WORDS


def _imports_ml(mod: PyModule) -> bool | None:
    return True if any(name.split(".", 1)[0] in ML_LIBRARIES for name in mod.imported) else None


VISITOR: PythonVisitor[ModuleIndex] = PythonVisitor("serving.modules", index_module, needles=FRAMEWORK_WORDS,
                                                    ignore_case=True, notebooks=False)
HINT_VISITOR: PythonVisitor[ModuleIndex] = PythonVisitor("serving.hint-modules", index_module, needles=HINT_WORDS,
                                                         ignore_case=True, notebooks=False)
ML_VISITOR: PythonVisitor[bool] = PythonVisitor("serving.ml-imports", _imports_ml,
                                                needles=tuple(sorted(ML_LIBRARIES)), notebooks=False)


@dataclass(frozen=True)
class PythonModules:
    """The indexed (relevant) modules in path order, and whether some module serving did not index imports an ML
    library (the repository uses ML even when no serving module shows it)."""

    modules: tuple[ModuleIndex, ...]
    ml_in_skipped: bool


def build_modules(repo: RepoView) -> PythonModules:
    """Read serving's facts of the Python pass (runs the pass now when the engine did not); the modules that only
    mention hint words are read when the repository may serve a model."""
    sources = Sources.of(repo)
    sources.run_python([VISITOR, ML_VISITOR])
    rows = sources.python(VISITOR)
    if may_serve(repo, [idx for _, idx in rows]):
        read = {path for path, _ in rows}
        rows = sorted([*rows, *((path, idx) for path, idx in sources.python(HINT_VISITOR) if path not in read)],
                      key=lambda row: row[0])
    if len(rows) > MAX_PY_FILES:
        repo.note(f"more than {MAX_PY_FILES} serving-related Python modules; the rest were not read",
                  rows[MAX_PY_FILES][0])
        rows = rows[:MAX_PY_FILES]
    indexed = {path for path, _ in rows}
    ml_in_skipped = any(path not in indexed for path, _ in sources.python(ML_VISITOR))
    return PythonModules(tuple(idx for _, idx in rows), ml_in_skipped)


def may_serve(repo: RepoView, modules: list[ModuleIndex]) -> bool:
    """Can the repository have an inference surface? True when a framework module imports a serving, web or LLM
    library, defines a server or a route, or a serving site exists outside Python. Everything an inference surface
    is built from is among these, so when this is False no module that only mentions hint words can make one."""
    for mod in modules:
        names = mod.py.imported | set(mod.imports.values())  # ``from google import genai`` imports google.genai
        if any(name.split(".", 1)[0] in SERVING_IMPORTS or name.startswith(SERVING_IMPORT_PREFIXES) for name in names):
            return True
        if python_servers(mod) or registered_routes(mod):
            return True
    around = file_sites(repo)
    if around.specs or around.gateways:
        return True
    return bool(modules) and bool(read_python_app(modules).routes)


def python_modules(repo: RepoView) -> PythonModules:
    """Serving's modules of ``repo`` (built once per scan)."""
    found: PythonModules = Sources.of(repo).get(SOURCE)
    return found


register_source(SOURCE, build_modules)
