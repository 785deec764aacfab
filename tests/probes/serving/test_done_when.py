"""The issue's "done when": a serving repository with nginx and a FastAPI app gets the right status for each
INF control with file:line evidence, and changing one value (a limit keyed on IP instead of the API key) changes
the status as the catalog says."""

from __future__ import annotations

from pathlib import Path

EXPECTED = {
    "INF-01": "pass",  # slowapi default limits per API key with day/month windows
    "INF-02": "pass",  # pydantic Field constraints
    "INF-03": "pass",  # rounded confidence, response model without scores
    "INF-04": "pass",  # ART FeatureSqueezing in the module the app imports
    "INF-05": "pass",  # threshold with 422 + CalibratedClassifierCV
    "INF-06": "pass",  # PrometheusRule sum by (api_key)
    "INF-07": "pass",  # APIKeyHeader dependency
    "INF-08": "partial",  # access_log, retention judged elsewhere
    "INF-09": "not_applicable",  # no LLM
    "INF-10": "partial",  # body size + timeouts, no edge protection here
    "INF-11": "pass",  # per-key 1000/day and 20000/month
    "INF-12": "partial",  # TLS only
    "INF-13": "not_applicable",  # no chat, no LLM, no generated content
    "INF-14": "unverified",
}


def test_every_inf_control_has_the_catalog_status(scan):
    result = scan("fastapi_nginx")
    assert {c: result.status(c) for c in EXPECTED} == EXPECTED
    assert result.all_notes() == []
    assert result.findings() == []


def test_evidence_names_file_line_and_deciding_value(scan):
    result = scan("fastapi_nginx")
    assert ("app/main.py", 19, "pass") in result.where("INF-01")
    assert ("deploy/nginx/nginx.conf", 19, "pass") in result.where("INF-01")
    nginx = next(e for e in result.evidence("INF-01") if e.path == "deploy/nginx/nginx.conf")
    assert "$http_x_api_key" in nginx.message and "600/minute" in nginx.message
    slow = next(e for e in result.evidence("INF-11") if e.path == "app/main.py")
    assert "1000/day" in slow.message and "20000/month" in slow.message
    auth = result.evidence("INF-07")[0]
    assert (auth.path, auth.line) == ("app/main.py", 39)
    assert "APIKeyHeader" in auth.message and "/v1/predict" in auth.message
    validation = next(e for e in result.evidence("INF-02") if e.rule == "serving.input-validation")
    assert (validation.path, validation.line) == ("app/main.py", 40)
    assert "Transaction" in validation.message and "app/schemas.py:4" in validation.message
    assert ("app/model.py", 6, "pass") in result.where("INF-04")
    assert ("app/main.py", 42, "pass") in result.where("INF-05")
    assert ("monitoring/rules.yaml", 10, "pass") in result.where("INF-06")
    assert ("deploy/nginx/nginx.conf", 7, "partial") in result.where("INF-08")
    assert ("deploy/nginx/nginx.conf", 15, "partial") in result.where("INF-10")
    assert result.searched("INF-14")


def test_limit_keyed_on_ip_instead_of_api_key_changes_status(scan, copy_fixture):
    repo: Path = copy_fixture("fastapi_nginx")
    main = repo / "app" / "main.py"
    text = main.read_text()
    assert "key_func=api_key_from_header" in text
    main.write_text(text.replace("key_func=api_key_from_header", "key_func=get_remote_address").replace(
        "from slowapi.errors", "from slowapi.util import get_remote_address\nfrom slowapi.errors"))
    result = scan(repo)
    assert result.status("INF-01") == "partial"
    assert result.status("INF-11") == "partial"
    slow = next(e for e in result.evidence("INF-01") if e.path == "app/main.py")
    assert "per client IP" in slow.message and "get_remote_address" in slow.message
    assert (slow.path, slow.line) == ("app/main.py", 20)


def test_nginx_zone_keyed_on_ip_instead_of_api_key(scan, copy_fixture):
    repo: Path = copy_fixture("fastapi_nginx")
    (repo / "app" / "main.py").write_text((repo / "app" / "main.py").read_text().replace(
        'default_limits=["1000/day", "20000/month"]', "default_limits=[]"))
    conf = repo / "deploy" / "nginx" / "nginx.conf"
    before = scan(repo)
    nginx = next(e for e in before.evidence("INF-01") if e.path == "deploy/nginx/nginx.conf")
    assert "per consumer" in nginx.message and "no hour/day window" in nginx.message
    conf.write_text(conf.read_text().replace("$http_x_api_key", "$binary_remote_addr"))
    after = scan(repo)
    nginx = next(e for e in after.evidence("INF-01") if e.path == "deploy/nginx/nginx.conf")
    assert nginx.effect.value == "partial"
    assert "per client IP" in nginx.message and "$binary_remote_addr" in nginx.message
    assert after.status("INF-11") == "unverified"


def test_removing_authentication_fails_inf07_at_the_route(scan, copy_fixture):
    repo: Path = copy_fixture("fastapi_nginx")
    main = repo / "app" / "main.py"
    main.write_text(main.read_text().replace(", key: str = Depends(verify_api_key)", ""))
    result = scan(repo)
    assert result.status("INF-07") == "fail"
    finding = result.findings("serving.unauthenticated-model-route")[0]
    assert (finding.path, finding.line) == ("app/main.py", 39)
    assert "POST /v1/predict" in finding.message
