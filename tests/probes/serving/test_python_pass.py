"""Serving on the one Python pass: which modules it parses, and routes followed across modules read in workers."""

from __future__ import annotations

from pathlib import Path

from mlposture.probes.serving import ServingProbe
from mlposture.probes.serving.modules import ML_VISITOR, VISITOR
from mlposture.probes.serving.pyapp import read_python_app
from mlposture.scanner.repo import RepoView
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
