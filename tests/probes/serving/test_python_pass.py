"""Serving on the one Python pass: which modules it parses, and routes followed across modules read in workers."""

from __future__ import annotations

from pathlib import Path

from mlposture.probes.serving import ServingProbe
from mlposture.probes.serving.modules import HINT_VISITOR, ML_VISITOR, VISITOR, python_modules
from mlposture.probes.serving.pyapp import read_python_app
from mlposture.probes.serving.surface import detect_surface
from mlposture.scanner.repo import RepoView
from mlposture.scanner.sources import Sources
from mlposture.scanner.sources.python import run_python_pass

MAIN = """\
from fastapi import Depends, FastAPI
from app.routers import predict
from app.security import verify_token

app = FastAPI()
app.include_router(predict.router, prefix="/api", dependencies=[Depends(verify_token)])
"""
ROUTER = """\
from fastapi import APIRouter

router = APIRouter(prefix="/v1")


@router.post("/score")
def score(x: dict):
    return model.predict([x])
"""
FILLER = '"""Helper {n}."""\n\n\ndef helper_{n}(values):\n    return sum(values) + {n}\n'


def _write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_broken_relevant_module_is_noted_and_a_broken_irrelevant_one_is_not_parsed(tmp_path, probe_scan):
    _write(tmp_path, "api/serve.py", "from fastapi import FastAPI\napp = FastAPI(\n@app.post('/predict')\n")
    _write(tmp_path, "tools/broken_helper.py", "def total(values:\n    return sum(values)\n")
    _write(tmp_path, "tools/ok.py", "def total(values):\n    return sum(values)\n")

    facts = run_python_pass(RepoView(tmp_path), [VISITOR, ML_VISITOR])
    assert facts.files == 3 and facts.parsed == 0  # the one module serving wants does not parse; the rest not read

    result = probe_scan(ServingProbe, tmp_path)
    assert [(n.path, n.line) for n in result.notes if "syntax error" in n.message] == [("api/serve.py", 2)]
    assert result.note_for("tools/broken_helper.py") == []
    assert result.status("INF-01") == "not_applicable"  # nothing readable serves a model


def test_route_and_its_app_in_different_modules_read_in_two_workers(tmp_path):
    _write(tmp_path, "app/main.py", MAIN)
    _write(tmp_path, "app/routers/predict.py", ROUTER)
    _write(tmp_path, "app/security.py", "def verify_token(token: str):\n    return token\n")
    for n in range(240):  # sorted between app/main.py and app/routers/: the two land in different chunks
        _write(tmp_path, f"app/mods/m{n:03d}.py", FILLER.format(n=n))

    facts = run_python_pass(RepoView(tmp_path), [VISITOR, ML_VISITOR], jobs=2)
    assert facts.files == 243
    modules = [idx for _, idx in facts.of(VISITOR)]
    assert [m.path for m in modules] == ["app/main.py", "app/routers/predict.py"]

    (route,) = read_python_app(modules).routes
    assert (route.method, route.url, route.path, route.line) == ("POST", "/api/v1/score", "app/routers/predict.py", 6)
    assert route.auth and "verify_token" in route.auth[0]
    assert route.model_call == "model.predict([x])"


# ------------------------------------------------ hint-only modules are read only when a model may be served
NUMERIC = ("def predict(coef, x, threshold=0.5):\n"
           "    proba = sum(c * v for c, v in zip(coef, x))\n"
           "    if proba > threshold:\n"
           "        raise ValueError('rejected: low confidence')\n"
           "    return proba\n")
GATED = ("def score(clf, x):\n"
         "    proba = clf.predict_proba([x])[0].max()\n"
         "    if proba < MIN_CONFIDENCE_THRESHOLD:\n"
         "        raise HTTPException(status_code=422, detail='low confidence')\n"
         "    return proba\n")
INFERENCE_SERVICE = ("apiVersion: serving.kserve.io/v1beta1\nkind: InferenceService\nmetadata:\n  name: scorer\n"
                     "spec:\n  predictor:\n    sklearn:\n      storageUri: s3://models/scorer\n")


def _hint_pass_ran(root: Path) -> tuple[bool, list[str]]:
    repo = RepoView(root)
    modules = python_modules(repo)
    ran = HINT_VISITOR.name in Sources.of(repo).python_pass.results
    return ran, [m.path for m in modules.modules]


def test_numeric_code_without_any_serving_framework_is_not_read_for_serving(tmp_path, probe_scan):
    for n in range(3):
        _write(tmp_path, f"linalg/solver_{n}.py", NUMERIC)
    _write(tmp_path, "linalg/notes.py", '"""Unlike fastapi or flask apps, nothing here serves."""\n' + NUMERIC)
    ran, read = _hint_pass_ran(tmp_path)
    # the module naming a framework is read, but a name in a docstring is not an import: nothing more is read
    assert (ran, read) == (False, ["linalg/notes.py"])

    result = probe_scan(ServingProbe, tmp_path)
    assert {result.status(f"INF-{n:02d}") for n in range(1, 9)} == {"not_applicable"}
    assert "no inference surface" in result.not_applicable("INF-05")[0]


def test_a_route_whose_model_call_sits_in_a_hint_only_module_is_still_a_surface(tmp_path, probe_scan):
    _write(tmp_path, "service/app.py", "from fastapi import FastAPI\nfrom service.scoring import score\n\n"
                                       "app = FastAPI()\n\n\n@app.post('/v1/risk')\ndef risk(x: dict):\n"
                                       "    return {'risk': score(CLF, x)}\n")
    _write(tmp_path, "service/scoring.py", GATED)
    ran, read = _hint_pass_ran(tmp_path)
    assert ran and read == ["service/app.py", "service/scoring.py"]

    result = probe_scan(ServingProbe, tmp_path)
    assert result.status("INF-01") != "not_applicable"
    assert ("service/scoring.py", 3, "partial") in result.where("INF-05")  # the rejection threshold of the helper


def test_a_serving_spec_outside_python_opens_the_hint_only_modules(tmp_path, probe_scan):
    _write(tmp_path, "deploy/isvc.yaml", INFERENCE_SERVICE)
    _write(tmp_path, "model/postprocess.py", GATED)
    ran, read = _hint_pass_ran(tmp_path)
    assert ran and read == ["model/postprocess.py"]

    result = probe_scan(ServingProbe, tmp_path)
    assert result.status("INF-01") != "not_applicable"
    assert ("model/postprocess.py", 3, "partial") in result.where("INF-05")


def test_an_app_built_in_one_module_opens_routes_declared_on_it_elsewhere(tmp_path, probe_scan):
    _write(tmp_path, "svc/main.py", "import flask\n\napi = flask.Flask(__name__)\n")
    _write(tmp_path, "svc/views.py", "from svc.main import api\n\n\n@api.post('/classify')\ndef classify():\n"
                                     "    return {'label': CLF.predict([[1.0]])[0]}\n")
    ran, read = _hint_pass_ran(tmp_path)
    assert ran and read == ["svc/main.py", "svc/views.py"]
    result = probe_scan(ServingProbe, tmp_path)
    assert result.status("INF-01") != "not_applicable"
    assert ("svc/views.py", 4, "fail") in result.where("INF-07")  # the unauthenticated model route


def test_an_llm_sdk_imported_with_no_other_word_is_read(tmp_path):
    _write(tmp_path, "chat/client.py", "import cohere\n\nco = cohere.Client()\n")
    repo = RepoView(tmp_path)
    assert [m.path for m in python_modules(repo).modules] == ["chat/client.py"]
    assert detect_surface(repo).llm[0].library == "cohere"
