"""Python serving code per framework: passing, anti-pattern, absent and malformed repositories."""

from __future__ import annotations


def test_fastapi_anti_patterns_fail_per_route(scan):
    result = scan("fastapi_bad")
    assert result.status("INF-07") == "fail"
    found = result.findings("serving.unauthenticated-model-route")
    unauth = {(f.path, f.line, f.message.split(" (")[0]) for f in found}
    assert unauth == {
        ("service/api.py", 24, "model route POST /predict"),
        ("service/api.py", 31, "model route POST /embed"),
        ("service/api.py", 39, "model route POST /chat"),
    }
    raw = {(f.line, f.message) for f in result.findings("serving.raw-model-input")}
    assert (26, "POST /predict passes unvalidated input to the model: payload: dict") in raw
    assert (33, "POST /embed passes unvalidated input to the model: request.json() read without a schema") in raw
    assert (40, "POST /chat passes unvalidated input to the model: question: Any") in raw
    assert result.status("INF-02") == "fail"
    exposed = {(f.line, f.message) for f in result.findings("serving.model-output-exposed")}
    assert (28, "POST /predict exposes raw model output: returns a 'probabilities' field") in exposed
    assert (36, "POST /embed exposes raw model output: returns a 'embedding' field") in exposed
    assert result.status("INF-03") == "fail"


def test_fastapi_partial_rate_limit_names_uncovered_routes(scan):
    result = scan("fastapi_bad")
    assert result.status("INF-01") == "partial"
    coverage = [e for e in result.evidence("INF-01") if e.rule == "serving.rate-limit-coverage"]
    assert len(coverage) == 1
    assert "POST /embed (service/api.py:31)" in coverage[0].message
    assert "POST /chat (service/api.py:39)" in coverage[0].message
    assert "POST /predict" not in coverage[0].message
    slow = next(e for e in result.evidence("INF-01") if e.path == "service/api.py" and e.line == 25)
    assert "get_remote_address" in slow.message and "100/minute" in slow.message


def test_fastapi_system_prompt_injection_and_llm_applicability(scan):
    result = scan("fastapi_bad")
    assert result.status("INF-09") == "fail"
    f = result.findings("serving.user-input-in-system-prompt")[0]
    assert (f.path, f.line) == ("service/api.py", 44)
    assert "persona" in f.message


def test_mixed_validation_is_partial(scan, copy_fixture):
    repo = copy_fixture("fastapi_bad")
    api = repo / "service" / "api.py"
    api.write_text(api.read_text().replace("payload: dict", "payload: ScoresOut"))
    result = scan(repo)
    assert result.status("INF-02") == "partial"
    raw = result.findings("serving.raw-model-input")
    assert raw and all(f.effect.value == "partial" for f in raw)
    assert all("other routes are validated" in f.message for f in raw)


def test_flask_limiter_jwt_marshmallow_pass(scan):
    result = scan("flask_app")
    assert result.status("INF-01") == "pass"
    assert result.status("INF-11") == "pass"
    assert result.status("INF-07") == "pass"
    assert result.status("INF-02") == "pass"
    assert ("app.py", 17, "pass") in result.where("INF-01")
    assert ("app.py", 28, "pass") in result.where("INF-07")
    assert "jwt_required" in result.evidence("INF-07")[0].message


def test_flask_per_ip_limits_exempt_route_and_raw_json(scan):
    result = scan("flask_bad")
    assert result.status("INF-01") == "partial"
    assert result.status("INF-11") == "partial"
    assert result.status("INF-07") == "fail"
    assert result.status("INF-02") == "fail"
    assert result.status("INF-03") == "fail"
    coverage = next(e for e in result.evidence("INF-01") if e.rule == "serving.rate-limit-coverage")
    assert "POST /explain (app.py:17)" in coverage.message  # @limiter.exempt
    limit = next(e for e in result.evidence("INF-01") if e.rule == "serving.rate-limit")
    assert (limit.path, limit.line) == ("app.py", 6)
    assert "per client IP" in limit.message and "200/day" in limit.message


def test_drf_settings_permissions_throttles_and_serializer(scan):
    result = scan("drf_app")
    assert result.status("INF-07") == "pass"
    auth = result.evidence("INF-07")[0]
    assert "IsAuthenticated" in auth.message and "mysite/settings.py:7" in auth.message
    assert result.status("INF-01") == "pass"
    assert ("mysite/settings.py", 10, "pass") in result.where("INF-01")
    assert result.status("INF-11") == "partial"  # DRF has no week/month unit: daily only
    assert "no weekly or monthly window" in result.evidence("INF-11")[0].message
    assert result.status("INF-02") == "pass"
    assert "/api/predict/" in result.evidence("INF-02")[0].message


def test_drf_allow_any_fails_and_anon_throttle_is_per_ip(scan):
    result = scan("drf_bad")
    assert result.status("INF-07") == "fail"
    f = result.findings("serving.unauthenticated-model-route")[0]
    assert (f.path, f.line) == ("api/views.py", 10)
    assert "permission_classes = [AllowAny]" in f.message and "POST /predict/" in f.message
    assert result.status("INF-01") == "partial"
    assert "AnonRateThrottle" in result.evidence("INF-01")[0].message
    assert result.status("INF-02") == "fail"
    assert result.status("INF-03") == "fail"


def test_drf_without_permission_settings_defaults_to_allow_any(scan, copy_fixture):
    repo = copy_fixture("drf_app")
    settings = repo / "mysite" / "settings.py"
    settings.write_text(settings.read_text().replace('"DEFAULT_PERMISSION_CLASSES"', '"UNUSED_PERMISSION_CLASSES"'))
    result = scan(repo)
    assert result.status("INF-07") == "fail"
    assert "DRF default AllowAny" in result.findings("serving.unauthenticated-model-route")[0].message


def test_fastapi_limiter_both_apis(scan):
    result = scan("fastapi_limiter")
    by_line = {e.line: e for e in result.evidence("INF-01")}
    assert by_line[22].effect.value == "partial"  # RateLimiter(times=2, seconds=5), default identifier = IP
    assert "per client IP" in by_line[22].message and "2/5s" in by_line[22].message
    assert by_line[31].effect.value == "pass"  # 0.2: Limiter(Rate(1000, Duration.DAY), ...) + api key identifier
    assert "1000/day" in by_line[31].message and "20000/week" in by_line[31].message
    assert result.status("INF-11") == "pass"
    assert result.status("INF-07") == "pass"


def test_django_ratelimit_and_login_required(scan):
    result = scan("django_views")
    by_line = {e.line: e for e in result.evidence("INF-01")}
    assert by_line[9].effect.value == "pass" and "key='user'" in by_line[9].message
    assert by_line[15].effect.value == "partial" and "block=False" in by_line[15].message
    assert ("shop/views.py", 10, "pass") in result.where("INF-07")
    f = result.findings("serving.unauthenticated-model-route")[0]
    assert (f.path, f.line) == ("shop/views.py", 16) and "/similar/" in f.message


def test_no_surface_makes_every_inf_control_not_applicable(scan):
    result = scan("no_surface")
    assert {c: result.status(c) for c in (f"INF-{i:02d}" for i in range(1, 15))} == {
        f"INF-{i:02d}": "not_applicable" for i in range(1, 15)}
    reasons = {i.reason for i in result.items if hasattr(i, "reason")}
    assert len(reasons) == 1 and next(iter(reasons)).startswith("no inference surface")


def test_malformed_python_is_a_note_and_the_rest_is_read(scan):
    result = scan("malformed")
    assert any(n.path == "app/broken.py" and n.line == 2 and "syntax error" in n.message for n in result.all_notes())
    assert result.status("INF-07") == "fail"  # app/serve.py is still read


def test_gradio_public_share_without_auth(scan, copy_fixture):
    result = scan("gradio_demo")
    f = result.findings("serving.gradio-public-share")[0]
    assert (f.path, f.line) == ("app.py", 12) and result.status("INF-07") == "fail"
    repo = copy_fixture("gradio_demo")
    app = repo / "app.py"
    app.write_text(app.read_text().replace("share=True", "share=True, auth=('reviewer', PASSWORD)"))
    fixed = scan(repo)
    assert fixed.status("INF-07") == "pass" and ("app.py", 12, "pass") in fixed.where("INF-07")


def test_flask_blueprint_prefix_and_hf_all_scores(scan, tmp_path):
    (tmp_path / "api").mkdir()
    (tmp_path / "api" / "routes.py").write_text(
        "from flask import Blueprint, request\nfrom transformers import pipeline\n"
        "bp = Blueprint('ml', __name__, url_prefix='/ml')\nclf = pipeline('text-classification')\n\n"
        "@bp.route('/classify', methods=['POST'])\n@login_required\ndef classify():\n"
        "    return {'scores': clf(request.form['text'], return_all_scores=True)}\n")
    (tmp_path / "app.py").write_text("from flask import Flask\nfrom api.routes import bp\napp = Flask(__name__)\n"
                                     "app.register_blueprint(bp, url_prefix='/v1')\n")
    result = scan(tmp_path)
    (auth,) = result.evidence("INF-07")
    assert "POST /v1/ml/classify" in auth.message
    (exposed,) = result.findings("serving.model-output-exposed")
    assert exposed.line == 9 and "a 'scores' field" in exposed.message


def test_flask_app_factory_routes_and_signed_responses(scan, tmp_path):
    (tmp_path / "service.py").write_text(
        "import hashlib\nimport hmac\nfrom flask import Flask, jsonify, request\n\n"
        "def create_app():\n"
        "    app = Flask(__name__)\n\n"
        "    @app.route('/predict', methods=['POST'])\n"
        "    @login_required\n"
        "    def predict():\n"
        "        body = jsonify({'label': model.predict([request.json['x']])[0]})\n"
        "        sig = hmac.new(KEY, body.get_data(), hashlib.sha256).hexdigest()\n"
        "        body.headers['X-Signature'] = sig\n"
        "        return body\n"
        "    return app\n")
    result = scan(tmp_path)
    (auth,) = result.evidence("INF-07")
    assert (auth.path, auth.line) == ("service.py", 8) and "POST /predict" in auth.message
    assert ("service.py", 12, "pass") in result.where("INF-12")


def test_webhook_hmac_verification_is_not_output_signing(scan, tmp_path):
    (tmp_path / "app.py").write_text(
        "import hmac\nfrom fastapi import FastAPI, Request\napp = FastAPI()\n\n"
        "@app.post('/predict')\nasync def predict(request: Request):\n"
        "    expected = hmac.new(KEY, await request.body(), 'sha256').hexdigest()\n"
        "    return {'y': model.predict([1])[0], 'ok': expected}\n")
    assert scan(tmp_path).evidence("INF-12") == []


def test_quota_ledger_and_per_key_counter(scan, tmp_path):
    (tmp_path / "app.py").write_text(
        "from fastapi import FastAPI, HTTPException, Security\nfrom fastapi.security import APIKeyHeader\n"
        "app = FastAPI()\nkey_header = APIKeyHeader(name='X-API-Key')\n\n"
        "@app.post('/predict')\n"
        "def predict(x: list[float], api_key: str = Security(key_header)):\n"
        "    account = accounts.get(api_key)\n"
        "    if account.monthly_quota <= account.used:\n"
        "        raise HTTPException(status_code=429, detail='quota exceeded')\n"
        "    n = redis.incr(f'q:{api_key}')\n"
        "    redis.expire(f'q:{api_key}', 86400)\n"
        "    return {'y': model.predict([x])[0]}\n")
    result = scan(tmp_path)
    assert result.status("INF-11") == "partial"
    assert ("app.py", 7, "partial") in result.where("INF-11")
    assert "monthly_quota" in result.evidence("INF-11")[0].message
    assert result.status("INF-06") == "partial"
    counter = result.evidence("INF-06")[0]
    assert counter.line == 11 and "86400 s window" in counter.message


def test_shared_drf_settings_are_one_piece_of_evidence(scan, copy_fixture):
    repo = copy_fixture("drf_app")
    views = repo / "predictor" / "views.py"
    views.write_text(views.read_text() + "\n\nclass ScoreView(APIView):\n    def post(self, request):\n"
                                         "        return Response({'s': classifier.predict([request.data['t']])[0]})\n")
    result = scan(repo)
    assert len([e for e in result.evidence("INF-07") if e.rule == "serving.route-auth"]) == 2  # two views
    settings_evidence = [e for e in result.evidence("INF-01") if e.path == "mysite/settings.py"]
    assert len(settings_evidence) == 1
