"""The reusable surface module: serving specs, LLM use, caching."""

from __future__ import annotations

from pathlib import Path

from mlposture.probes.serving.surface import detect_surface
from mlposture.scanner.repo import RepoView

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "serving"


def write(root: Path, rel: str, text: str) -> None:
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    (root / rel).write_text(text, encoding="utf-8")


def test_serving_specs_without_web_handlers():
    surface = detect_surface(RepoView(FIXTURES / "servers"))
    kinds = {(s.kind, s.path, s.line) for s in surface.sites}
    assert ("bentoml-service", "bento/service.py", 5) in kinds
    assert ("sagemaker-endpoint", "sagemaker/deploy.py", 4) in kinds
    assert ("torchserve-config", "torchserve/config.properties", 1) in kinds
    assert surface.has_surface and not surface.has_llm
    assert surface.reason().startswith("inference surface: ")


def test_triton_and_kserve_are_surfaces():
    triton = detect_surface(RepoView(FIXTURES / "traefik_labels"))
    assert any(s.kind == "triton-config" and "onnxruntime_onnx" in s.detail for s in triton.sites)
    kserve = detect_surface(RepoView(FIXTURES / "k8s_ingress"))
    assert {s.kind for s in kserve.sites} >= {"kserve-inferenceservice", "ingress"}


def test_llm_detection_and_cache(tmp_path):
    write(tmp_path, "gen.py", "from transformers import pipeline\n\ngen = pipeline('text-generation', model='gpt2')\n")
    view = RepoView(tmp_path)
    surface = detect_surface(view)
    assert surface.has_llm and surface.llm[0].detail == 'pipeline("text-generation")' and surface.llm[0].line == 3
    assert not surface.has_surface
    assert detect_surface(view) is surface


def test_classification_pipeline_is_not_an_llm(tmp_path):
    write(tmp_path, "clf.py", "from transformers import pipeline\n\nclf = pipeline('sentiment-analysis')\n")
    assert not detect_surface(RepoView(tmp_path)).has_llm


def test_routes_without_model_calls_are_not_a_surface(tmp_path):
    write(tmp_path, "app.py", "from fastapi import FastAPI\napp = FastAPI()\n\n@app.get('/users')\ndef users():\n"
                              "    return db.list_users()\n")
    assert not detect_surface(RepoView(tmp_path)).has_surface
