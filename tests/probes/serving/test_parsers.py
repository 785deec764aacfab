"""Parsers tested alone: limit strings, durations, scopes, nginx, APIM XML, Python routers."""

from __future__ import annotations

from mlposture.probes.serving.apim import parse_policy
from mlposture.probes.serving.facts import Route, Scope, Window, parse_limit_string
from mlposture.probes.serving.gateways import duration_seconds
from mlposture.probes.serving.nginx import is_nginx, parse_text
from mlposture.probes.serving.pyapp import read_python_app
from mlposture.probes.serving.pyindex import ModuleIndex, index_module
from mlposture.scanner.probe import Note
from mlposture.scanner.sources.python import PyModule, module_of_text


def test_limit_strings_limits_library_syntax():
    assert parse_limit_string("5/minute") == (Window(60, 5),)
    assert parse_limit_string("10 per hour; 100 per day") == (Window(3600, 10), Window(86400, 100))
    assert parse_limit_string("5 per 2 minutes") == (Window(120, 5),)
    assert parse_limit_string("1000/month") == (Window(2592000, 1000),)
    assert parse_limit_string("lots") == ()


def test_drf_rate_reads_only_the_first_letter_of_the_period():
    assert parse_limit_string("1000/day", drf=True) == (Window(86400, 1000),)
    assert parse_limit_string("1000/month", drf=True) == (Window(60, 1000),)  # DRF: 'm' = minute


def test_django_ratelimit_multiplied_period():
    assert parse_limit_string("5/10m") == (Window(600, 5),)


def test_durations():
    assert duration_seconds("1m") == 60
    assert duration_seconds("1h30m") == 5400
    assert duration_seconds(30) == 30
    assert duration_seconds("500ms") == 1
    assert duration_seconds("soon") is None


def _route(url: str) -> Route:
    return Route("fastapi", "POST", url, "h", "a.py", 1, True)


def test_scopes_match_nginx_location_forms():
    assert Scope.everywhere().covers(_route("/x"))
    assert Scope("prefix", ("/v1/",)).covers(_route("/v1/predict"))
    assert not Scope("prefix", ("/v1/",)).covers(_route("/v2/predict"))
    assert Scope("prefix", ("= /predict",)).covers(_route("/predict"))
    assert not Scope("prefix", ("= /predict",)).covers(_route("/predict/batch"))
    assert Scope("prefix", ("~ ^/api/v1/.*",)).covers(_route("/api/v1/score"))
    assert Scope("route", (_route("/x").ident,)).covers(_route("/x"))


def test_nginx_parse_and_error_line():
    parsed = parse_text("http {\n  server {\n    include /etc/passwd;\n    listen 80;\n  }\n}\n")
    assert isinstance(parsed, list) and parsed[0]["directive"] == "http"
    broken = parse_text("http {\n  server {\n")
    assert isinstance(broken, Note) and broken.line == 2 and "<file>" in broken.message


def test_nginx_sniff_ignores_other_formats():
    assert is_nginx("server {\n listen 80;\n}\n")
    assert not is_nginx("apiVersion: v1\nkind: Service\n")
    assert not is_nginx("[server]\nport = 80\n")


def test_apim_policy_lines_and_entities_refused():
    elements = parse_policy('<policies>\n<inbound>\n<rate-limit calls="5" renewal-period="60" />\n'
                            '</inbound>\n</policies>')
    assert not isinstance(elements, Note)
    rl = next(e for e in elements if e.name == "rate-limit")
    assert rl.line == 3 and rl.attrs == {"calls": "5", "renewal-period": "60"}
    bomb = parse_policy('<!DOCTYPE p [<!ENTITY a "aaaa">]><policies>&a;</policies>')
    assert isinstance(bomb, Note)


def test_router_prefixes_and_include_dependencies_across_modules():
    main = (
        "from fastapi import Depends, FastAPI\n"
        "from app.routers import predict\n"
        "app = FastAPI()\n"
        "app.include_router(predict.router, prefix='/api', dependencies=[Depends(verify_token)])\n")
    router = (
        "from fastapi import APIRouter\n"
        "router = APIRouter(prefix='/v1')\n"
        "@router.post('/score')\n"
        "def score(x: dict):\n"
        "    return model.predict([x])\n")
    facts = read_python_app([_index("app/main.py", main), _index("app/routers/predict.py", router)])
    (route,) = facts.routes
    assert route.url == "/api/v1/score"
    assert route.auth and "verify_token" in route.auth[0]
    assert route.validation == "raw" and route.is_model


def _index(path: str, text: str) -> ModuleIndex:
    mod = module_of_text(path, text)
    assert isinstance(mod, PyModule), mod
    return index_module(mod)


def _app(*files: tuple[str, str]) -> list[Route]:
    return read_python_app([_index(p, src) for p, src in files]).routes


def test_auth_dependency_imported_from_another_module():
    (route,) = _app(
        ("app/security.py", "from fastapi import Header, HTTPException\n\n"
                            "def check(x_key: str = Header()):\n"
                            "    if x_key != 'k':\n"
                            "        raise HTTPException(status_code=403, detail='bad key')\n"),
        ("app/main.py", "from fastapi import Depends, FastAPI\nfrom app.security import check\napp = FastAPI()\n\n"
                        "@app.post('/predict')\ndef p(x: list[float], _=Depends(check)):\n"
                        "    return model.predict([x])\n"))
    assert route.auth == ("check() rejects with 401/403",)


def test_app_level_dependencies_cover_included_routers():
    (route,) = _app(
        ("svc/main.py", "from fastapi import Depends, FastAPI\nfrom fastapi.security import APIKeyHeader\n"
                        "from svc import routes\napi_key = APIKeyHeader(name='X-Key')\n"
                        "app = FastAPI(dependencies=[Depends(api_key)])\napp.include_router(routes.router)\n"),
        ("svc/routes.py", "from fastapi import APIRouter\nrouter = APIRouter()\n\n@router.post('/score')\n"
                          "def score(x: list[float]):\n    return clf.predict([x])\n"))
    assert route.auth == ("api_key = APIKeyHeader(...)",)


def test_http_middleware_rejecting_without_key_authenticates_every_route():
    (route,) = _app(("main.py", "from fastapi import FastAPI\nfrom fastapi.responses import JSONResponse\n"
                                "app = FastAPI()\n\n@app.middleware('http')\n"
                                "async def require_key(request, call_next):\n"
                                "    if request.headers.get('x-api-key') != KEY:\n"
                                "        return JSONResponse(status_code=401, content={})\n"
                                "    return await call_next(request)\n\n"
                                "@app.post('/predict')\ndef predict(x: list[float]):\n"
                                "    return model.predict([x])\n"))
    assert route.auth and route.auth[0].startswith("HTTP middleware require_key() rejects with 401/403")
