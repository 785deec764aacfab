"""Parsers tested alone: limit strings, durations, scopes, nginx, APIM XML, Python routers."""

from __future__ import annotations

import ast

from probes.serving.apim import parse_policy
from probes.serving.facts import Route, Scope, Window, parse_limit_string
from probes.serving.gateways import duration_seconds
from probes.serving.nginx import is_nginx, parse_text
from probes.serving.pyapp import read_python_app
from probes.serving.pyindex import index_module
from scanner.probe import Note


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
    main = ast.parse(
        "from fastapi import Depends, FastAPI\n"
        "from app.routers import predict\n"
        "app = FastAPI()\n"
        "app.include_router(predict.router, prefix='/api', dependencies=[Depends(verify_token)])\n")
    router = ast.parse(
        "from fastapi import APIRouter\n"
        "router = APIRouter(prefix='/v1')\n"
        "@router.post('/score')\n"
        "def score(x: dict):\n"
        "    return model.predict([x])\n")
    facts = read_python_app([index_module("app/main.py", main), index_module("app/routers/predict.py", router)])
    (route,) = facts.routes
    assert route.url == "/api/v1/score"
    assert route.auth and "verify_token" in route.auth[0]
    assert route.validation == "raw" and route.is_model
