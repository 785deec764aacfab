"""Inference applicability: a repository that serves a model never gets the INF controls "not applicable".

Routes named for inference (custom-method paths too), model calls behind helpers in other modules, a /predict
front that forwards to a model server, the gateway in front of it, and managed endpoints defined only in IaC.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mlposture.probes.serving import ServingProbe
from mlposture.probes.serving.surface import detect_surface
from mlposture.scanner.repo import RepoView
from mlposture.scanner.scan import scan
from mlposture.scanner.settings import Settings
from tests.probe_harness import scan_with

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "serving"
INF = tuple(f"INF-{i:02d}" for i in range(1, 15))


def _sites(path: Path) -> set[tuple[str, str, int]]:
    return {(s.kind, s.path, s.line) for s in detect_surface(RepoView(path)).sites}


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_custom_method_route_with_model_behind_an_imported_helper():
    [site] = detect_surface(RepoView(FIXTURES / "split_app")).sites
    assert (site.kind, site.path, site.line) == ("fastapi-route", "app/api/routes.py", 19)
    assert site.detail.startswith("POST /api/v1/recipes/{name}:recommend calls rank_recipes() -> _RANKER.predict(")
    scan = scan_with(ServingProbe, FIXTURES / "split_app")
    assert scan.not_applicable("INF-07") == []
    assert scan.status("INF-07") == "fail"
    assert [(f.rule, f.path, f.line) for f in scan.findings()] == [
        ("serving.unauthenticated-model-route", "app/api/routes.py", 19)]


def test_predict_front_without_a_model_and_its_nginx_location():
    assert _sites(FIXTURES / "proxy_predict") == {("flask-route", "app.py", 11),
                                                 ("nginx-location", "deploy/nginx.conf", 9)}
    scan = scan_with(ServingProbe, FIXTURES / "proxy_predict")
    assert all(scan.not_applicable(c) == [] for c in INF if c not in ("INF-09", "INF-13"))
    assert scan.status("INF-01") == "partial"  # limit_req keyed per client IP
    assert {(e.path, e.line) for e in scan.evidence("INF-01")} == {("deploy/nginx.conf", 10)}
    assert scan.status("INF-02") == "fail"
    assert {(f.rule, f.path, f.line) for f in scan.findings()} == {
        ("serving.raw-model-input", "app.py", 13), ("serving.unauthenticated-model-route", "app.py", 11)}


def test_iac_only_sagemaker_endpoint_is_judged_on_what_iac_shows():
    assert _sites(FIXTURES / "iac_sagemaker") == {("terraform-endpoint", "infra/main.tf", 1),
                                                 ("terraform-endpoint", "infra/main.tf", 11),
                                                 ("terraform-endpoint", "infra/main.tf", 22)}
    result = scan(FIXTURES / "iac_sagemaker", Settings(no_vulns=True))
    by_id = {r.control.id: r for r in result.controls}
    assert by_id["INF-08"].status.value == "pass"
    assert [(e.evidence.path, e.evidence.line) for e in by_id["INF-08"].evidence] == [("infra/main.tf", 29)]
    for cid in ("INF-01", "INF-02", "INF-07", "INF-10", "INF-11"):
        assert by_id[cid].status.value == "unverified", cid
    assert by_id["INF-09"].status.value == "not_applicable"  # no LLM


@pytest.mark.parametrize(("files", "expected"), [
    ({"template.yaml": "Resources:\n  Endpoint:\n    Type: AWS::SageMaker::Endpoint\n    Properties:\n"
                       "      EndpointConfigName: !GetAtt Config.EndpointConfigName\n"},
     {("cloudformation-endpoint", "template.yaml", 3)}),
    ({"cfn/stack.json": '{"Resources": {"Model": {"Type": "AWS::SageMaker::Model", "Properties": {}}}}\n'},
     {("cloudformation-endpoint", "cfn/stack.json", 1)}),
    ({"vertex.tf": 'resource "google_vertex_ai_endpoint" "fraud" {\n  name = "fraud"\n  location = "us-central1"\n}\n'},
     {("terraform-endpoint", "vertex.tf", 1)}),
    ({"azureml/endpoint.yml": "$schema: https://azuremlschemas.azureedge.net/latest/managedOnlineEndpoint.schema.json"
                              "\nname: churn\nauth_mode: key\n"},
     {("azureml-online-endpoint", "azureml/endpoint.yml", 1)}),
    ({"k8s/ray.yaml": "apiVersion: ray.io/v1\nkind: RayService\nmetadata:\n  name: summarizer\n"},
     {("k8s-serving", "k8s/ray.yaml", 2)}),
    ({"docker-compose.yml": "services:\n  triton:\n    image: nvcr.io/nvidia/tritonserver:24.01-py3\n"},
     {("model-server", "docker-compose.yml", 3)}),
    ({"Dockerfile": "FROM pytorch/torchserve:0.10.0-cpu\nCOPY model_store /home/model-server/model-store\n"},
     {("model-server", "Dockerfile", 1)}),
    ({"deploy.py": "from google.cloud import aiplatform\n\nmodel = aiplatform.Model.upload(display_name='m')\n"
                   "endpoint = model.deploy(machine_type='n1-standard-4')\n"},
     {("vertex-ai-endpoint", "deploy.py", 4)}),
])
def test_managed_endpoints_and_model_servers_are_surfaces(tmp_path, files, expected):
    assert _sites(_write(tmp_path, files)) == expected


@pytest.mark.parametrize(("name", "text", "line"), [
    ("Dockerfile", "FROM python:3.11\nFROM tensorflow/serving:2.14.0\n", 2),
    ("deploy/tgi.yaml", "containers:\n  - image: ghcr.io/huggingface/text-generation-inference:2.0\n", 2),
    ("start.sh", "#!/bin/sh\npython -m vllm.entrypoints.openai.api_server --model m\n", 2),
    ("compose.yaml", "services:\n  llm:\n    image: OLLAMA/OLLAMA:latest\n", 3),
    ("Procfile", "web: MLFLOW MODELS SERVE -m models:/churn/1 -p 5000\n", 1),
    ("run.sh", "echo start\nserve run app:deployment\n", 2),
])
def test_model_server_images_and_commands_in_any_case_are_surfaces(tmp_path, name, text, line):
    assert _sites(_write(tmp_path, {name: text})) == {("model-server", name, line)}


def test_malformed_terraform_still_shows_its_endpoint(tmp_path):
    _write(tmp_path, {"main.tf": 'resource "aws_sagemaker_endpoint" "x" {\n  name = "x"\n'})  # unclosed block
    assert _sites(tmp_path) == {("terraform-endpoint", "main.tf", 1)}


@pytest.mark.parametrize("files", [
    # a web app without any ML: /reports/generate, /chat (support chat) and /score (a game) are not inference
    {"app.py": "from flask import Flask\napp = Flask(__name__)\n\n@app.route('/reports/generate')\ndef generate():\n"
               "    return build_pdf()\n\n@app.route('/chat')\ndef chat():\n    return room()\n\n"
               "@app.route('/score')\ndef score():\n    return board()\n"},
    # SageMaker used for notebooks only, an nginx serving static files
    {"main.tf": 'resource "aws_sagemaker_notebook_instance" "nb" {\n  name = "nb"\n}\n',
     "nginx.conf": "server {\n  listen 80;\n  location /static/ {\n    root /srv;\n  }\n}\n"},
])
def test_absent_surface_stays_not_applicable(tmp_path, files):
    path = _write(tmp_path, files)
    assert _sites(path) == set()
    scan = scan_with(ServingProbe, path)
    assert scan.status("INF-07") == "not_applicable"


def test_loosely_named_route_counts_where_ml_is_declared(tmp_path):
    """/generate is inference in a repository whose manifest declares an ML library, even with the model remote."""
    path = _write(tmp_path, {
        "requirements.txt": "transformers==4.40.0\n",
        "app.py": "from flask import Flask\napp = Flask(__name__)\n\n@app.post('/generate')\ndef generate():\n"
                  "    return forward()\n",
    })
    assert _sites(path) == {("flask-route", "app.py", 4)}


@pytest.mark.parametrize(("text", "line"), [
    ("from aiohttp import web\n\nasync def predict(request):\n    return web.json_response({})\n\n"
     "app = web.Application()\napp.add_routes([web.post('/predict', predict)])\n", 7),
    ("from aiohttp import web\n\napp = web.Application()\napp.router.add_post('/v1/infer', handler)\n", 4),
    ("from starlette.applications import Starlette\nfrom starlette.routing import Route\n\n"
     "app = Starlette(routes=[Route('/classify', endpoint=classify, methods=['POST'])])\n", 4),
    ("import tornado.web\n\napp = tornado.web.Application([\n    (r'/predict', PredictHandler),\n])\n", 4),
])
def test_routes_registered_by_call_are_surfaces(tmp_path, text, line):
    _write(tmp_path, {"server.py": text})
    assert _sites(tmp_path) == {("http-route", "server.py", line)}


def test_client_calls_to_a_predict_url_are_not_routes(tmp_path):
    _write(tmp_path, {"client.py": "import requests\n\nrequests.post('/predict', json={})\n"
                                   "session.get('/v1/infer', timeout=3)\n"})
    assert _sites(tmp_path) == set()
