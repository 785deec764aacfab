"""Serving's share of the one Python pass: which modules it reads, and whether the repository uses ML at all.

A module is indexed only when its text mentions something the serving judgements read (:data:`RELEVANT`: a web
or serving framework, an LLM or agent library, auth, limits, model outputs or guards); other modules (training
code, utilities) are never parsed for serving. Every module still counts toward "the repository uses an ML
library" through a second, tiny reader of its imports.

The fact of a relevant module is its :class:`~mlposture.probes.serving.pyindex.ModuleIndex`, *with its tree*:
the route reader follows names across modules (a route's dependency defined in another module, a handler's
helper imported from ``inference.py``, a schema class subclassing one from ``schemas.py``, ``include_router``
prefixes given where the app is built), so it needs the trees of the relevant modules together. Only those
modules carry a tree; the rest of the repository is read for the needle check and its imports alone. From a
forked worker a relevant module comes back as its path and text and is parsed again here: unpickling a tree
costs more than parsing its text (and the pickle is several times larger).

Registered as the source ``serving.python``: built once per scan, shared by the surface and the probe.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlposture.probes.serving.pyindex import ModuleIndex, index_module
from mlposture.scanner.repo import RepoView
from mlposture.scanner.sources import Sources, register_source
from mlposture.scanner.sources.python import PyModule, PythonVisitor

__all__ = ["LLM_MODULES", "ML_LIBRARIES", "ML_VISITOR", "RELEVANT", "SOURCE", "VISITOR", "PythonModules",
           "python_modules"]

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

# Lower-case words; a module whose lower-cased text contains none of them is not parsed for serving.
RELEVANT = ("fastapi", "flask", "django", "rest_framework", "starlette", "slowapi", "limiter", "gradio",
            "streamlit", "kserve", "bentoml", "aiplatform", "onlineendpoint", "torch_handler", "basehandler",
            "sagemaker", "seldon", "ray.serve",
            "from ray", "import ray", "litserve", "litapi", "mlserver", "triton", "openai", "anthropic", "langchain",
            "llama_index", "litellm", "vllm", "transformers", "pipeline(", "guard", "rebuff", "lakera", "art.",
            "alibi", "depends", "httpbearer", "apikey", "api_key", "oauth2", "login_required", "permission_classes",
            "throttl", "uvicorn", "gunicorn", "aiohttp", "tornado", "sanic", "grpc", "predict", "logits", "proba",
            "embedding", "hidden_state", "confiden", "threshold", "calibrat", "isotonic", "temperature", "abstain",
            "reject", "min_conf", "cutoff", "prompt", "injection", "repl", "shelltool", "allow_dangerous", "you are",
            "ai_generated", "interrupt_before", "kill_switch", "killswitch", "approval", "escalat", "extraction",
            "stealing", "query_pattern", "signature", "quota", "budget", "credits", "usage_limit", "daily_limit",
            "prometheus", "diffusers", "audiocraft", "import tts", "from tts", "elevenlabs", "crewai", "autogen",
            "smolagents", "langgraph", "agent", "max_content_length", "data_upload_max", "route", "urlpatterns",
            "viewset", "apiview", "launch(", "@app.", "human", "review", "override", "disclos", "notice",
            "watermark", "detector", "ensemble", "squeez", "smoothing")


def _imports_ml(mod: PyModule) -> bool | None:
    return True if any(name.split(".", 1)[0] in ML_LIBRARIES for name in mod.imported) else None


VISITOR: PythonVisitor[ModuleIndex] = PythonVisitor("serving.modules", index_module, needles=RELEVANT,
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
    """Read serving's facts of the Python pass (runs the pass now when the engine did not)."""
    sources = Sources.of(repo)
    sources.run_python([VISITOR, ML_VISITOR])
    rows = sources.python(VISITOR)
    if len(rows) > MAX_PY_FILES:
        repo.note(f"more than {MAX_PY_FILES} serving-related Python modules; the rest were not read",
                  rows[MAX_PY_FILES][0])
        rows = rows[:MAX_PY_FILES]
    indexed = {path for path, _ in rows}
    ml_in_skipped = any(path not in indexed for path, _ in sources.python(ML_VISITOR))
    return PythonModules(tuple(idx for _, idx in rows), ml_in_skipped)


def python_modules(repo: RepoView) -> PythonModules:
    """Serving's modules of ``repo`` (built once per scan)."""
    found: PythonModules = Sources.of(repo).get(SOURCE)
    return found


register_source(SOURCE, build_modules)
