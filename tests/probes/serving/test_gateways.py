"""Gateway formats: ingress-nginx, Kong (declarative and CRDs), Traefik (CRD and labels), Envoy, Azure APIM,
nginx malformed; each tick or failure with file, line and the deciding value."""

from __future__ import annotations


def test_ingress_nginx_annotations_and_kserve(scan):
    result = scan("k8s_ingress")
    assert result.status("INF-01") == "partial"  # ingress-nginx limits per client IP
    limit = result.evidence("INF-01")[0]
    assert (limit.path, limit.line) == ("k8s/inference.yaml", 23)
    assert 'limit-rpm: "120"' in limit.message and "per client IP" in limit.message
    assert ("k8s/inference.yaml", 22, "pass") in result.where("INF-07")  # auth-url
    assert ("k8s/inference.yaml", 9, "partial") in result.where("INF-08")  # KServe logger
    assert ("k8s/inference.yaml", 8, "partial") in result.where("INF-10")  # maxReplicas
    assert ("k8s/inference.yaml", 24, "partial") in result.where("INF-10")  # limit-connections
    assert ("k8s/inference.yaml", 47, "pass") in result.where("INF-12")  # PeerAuthentication STRICT
    assert result.status("INF-09") == "not_applicable"


def test_ingress_unlimited_body_fails_inf10(scan):
    result = scan("k8s_ingress_bad")
    assert result.status("INF-10") == "fail"
    f = result.findings("serving.body-size-unlimited")[0]
    assert (f.path, f.line) == ("manifests/ingress.yaml", 7) and 'proxy-body-size: "0"' in f.message
    assert result.status("INF-01") == "partial"
    assert result.searched("INF-07")  # nothing protects it here, nothing says it is open: unverified


def test_kong_declarative_per_consumer_day_and_month(scan):
    result = scan("kong")
    assert result.status("INF-01") == "pass"
    assert result.status("INF-11") == "pass"
    budget = result.evidence("INF-11")[0]
    assert (budget.path, budget.line) == ("kong.yaml", 21)
    assert "limit_by: consumer" in budget.message and "5000/day" in budget.message and "100000/month" in budget.message
    assert ("kong.yaml", 12, "pass") in result.where("INF-07")


def test_kong_consumer_limit_without_auth_plugin_falls_back_to_ip(scan, copy_fixture):
    repo = copy_fixture("kong")
    conf = repo / "kong.yaml"
    conf.write_text(conf.read_text().replace("- name: key-auth", "- name: cors"))
    result = scan(repo)
    assert result.status("INF-01") == "partial"
    assert "falls back to the client IP" in result.evidence("INF-01")[0].message


def test_kong_crd_limit_by_ip(scan):
    result = scan("kong_crd")
    assert result.status("INF-01") == "partial"
    limit = result.evidence("INF-01")[0]
    assert (limit.path, limit.line) == ("k8s/plugins.yaml", 9) and "limit_by: ip" in limit.message
    assert ("k8s/plugins.yaml", 20, "pass") in result.where("INF-07")


def test_traefik_middleware_keyed_on_api_key_header(scan):
    result = scan("traefik")
    assert result.status("INF-01") == "pass"
    limit = result.evidence("INF-01")[0]
    assert (limit.path, limit.line) == ("k8s/middleware.yaml", 7)
    assert "requestHeaderName: X-API-Key" in limit.message and "1000/hour" in limit.message
    assert ("k8s/middleware.yaml", 18, "pass") in result.where("INF-07")


def test_traefik_docker_labels_default_to_ip_and_triton_is_a_surface(scan):
    result = scan("traefik_labels")
    assert result.status("INF-01") == "partial"
    limit = result.evidence("INF-01")[0]
    assert (limit.path, limit.line) == ("docker-compose.yml", 9) and "client IP" in limit.message


def test_envoy_local_bucket_and_ratelimit_service(scan):
    result = scan("envoy")
    by_path = {e.path: e for e in result.evidence("INF-01")}
    local = by_path["envoy/envoy.yaml"]
    assert local.effect.value == "partial" and local.line == 24 and "shared by all clients" in local.message
    service = by_path["envoy/ratelimit-config.yaml"]
    assert service.effect.value == "pass" and "api_key" in service.message and "10000/day" in service.message
    assert result.status("INF-11") == "partial"  # daily only
    assert ("envoy/envoy.yaml", 21, "pass") in result.where("INF-07")


def test_azure_apim_policy(scan):
    result = scan("apim")
    assert result.status("INF-01") == "pass"
    rate = result.evidence("INF-01")[0]
    assert (rate.path, rate.line) == ("policies/predict-api.xml", 7)
    assert "context.Subscription.Id" in rate.message and "aggregate tracking by <quota-by-key" in rate.message
    assert result.status("INF-11") == "pass"
    assert {(e.line, e.effect.value) for e in result.evidence("INF-11")} == {(8, "pass"), (9, "pass")}
    assert ("policies/predict-api.xml", 4, "pass") in result.where("INF-07")


def test_azure_apim_ip_key_and_dtd_refused(scan):
    result = scan("apim_bad")
    assert result.status("INF-01") == "partial"
    assert "IpAddress" in result.evidence("INF-01")[0].message
    notes = [n for n in result.all_notes() if n.path == "policies/broken.xml"]
    assert notes and "DTDForbidden" in notes[0].message
    assert result.status("INF-11") == "unverified"


def test_malformed_configs_become_notes(scan):
    result = scan("malformed")
    by_path = {n.path: n for n in result.all_notes()}
    assert "unexpected end of file" in by_path["nginx/nginx.conf"].message
    assert by_path["k8s/ingress.yaml"].line == 7
    assert "alias bomb" in by_path["k8s/bomb.yaml"].message
    assert by_path["policies/api.xml"].message.startswith("Azure APIM policy XML not parsed: mismatched tag")
    assert by_path["policies/api.xml"].line == 4
    for broken in ("kong/kong.yaml", "docker-compose.yml", "envoy/envoy.yaml", "config/config.yml"):
        assert by_path[broken].message.startswith("YAML not parsed"), broken
        assert by_path[broken].line, broken
    assert result.status("INF-01") == "unverified"  # nothing from the broken files


def test_istio_envoyfilter_patch_with_typed_struct(scan):
    result = scan("envoy")
    istio = next(e for e in result.evidence("INF-01") if e.path == "istio-envoyfilter.yaml")
    assert istio.line == 21 and istio.effect.value == "partial"
    assert "max_tokens=50" in istio.message and "50/second" in istio.message


def test_nginx_zone_keyed_on_a_mapped_api_key(scan, tmp_path):
    (tmp_path / "nginx.conf").write_text(
        "http {\n"
        "    map $http_x_api_key $limit_key {\n"
        "        default $binary_remote_addr;\n"
        "        \"~.\" $http_x_api_key;\n"
        "    }\n"
        "    limit_req_zone $limit_key zone=keyed:10m rate=100r/m;\n"
        "    server {\n"
        "        location /v1/models/ {\n"
        "            limit_req zone=keyed;\n"
        "            proxy_pass http://kserve;\n"
        "        }\n"
        "    }\n"
        "}\n")
    (tmp_path / "isvc.yaml").write_text("apiVersion: serving.kserve.io/v1beta1\nkind: InferenceService\n"
                                        "metadata:\n  name: m\nspec:\n  predictor: {}\n")
    result = scan(tmp_path)
    (limit,) = result.evidence("INF-01")
    assert (limit.path, limit.line) == ("nginx.conf", 9)
    assert "per consumer" in limit.message and "map $http_x_api_key" in limit.message


def test_resource_guards_from_python_and_commands(scan):
    flask = scan("flask_app")
    assert ("app.py", 9, "partial") in flask.where("INF-10")  # MAX_CONTENT_LENGTH
    uvicorn = scan("fastapi_limiter")
    assert {(e.path, e.line) for e in uvicorn.evidence("INF-10")} == {("Dockerfile", 4)}
    assert any("--limit-concurrency 64" in e.message for e in uvicorn.evidence("INF-10"))
    drf = scan("drf_bad")
    assert drf.status("INF-10") == "fail"
    f = drf.findings("serving.body-size-unlimited")[0]
    assert (f.path, f.line) == ("settings.py", 5) and "DATA_UPLOAD_MAX_MEMORY_SIZE = None" in f.message


def test_nginx_zone_in_nginx_conf_limit_in_conf_d(scan):
    result = scan("nginx_split")
    (limit,) = result.evidence("INF-01")
    assert (limit.path, limit.line) == ("nginx/conf.d/inference.conf", 17)
    assert "$http_authorization" in limit.message and "nginx/nginx.conf:9" in limit.message
    assert limit.effect.value == "partial"  # per token, but 30r/m only: no hour/day window
    assert ("nginx/conf.d/inference.conf", 8, "pass") in result.where("INF-07")  # auth_request
    assert ("nginx/conf.d/inference.conf", 9, "partial") in result.where("INF-10")  # limit_conn
    assert result.all_notes() == []


def test_absent_limits_are_searched_not_failed(scan, tmp_path):
    (tmp_path / "serve.py").write_text("from fastapi import FastAPI, Depends\nfrom fastapi.security import HTTPBearer\n"
                                      "app = FastAPI()\nauth = HTTPBearer()\n\n"
                                      "@app.post('/predict', dependencies=[Depends(auth)])\n"
                                      "def predict(x: list[float]):\n    return {'y': model.predict([x])[0]}\n")
    result = scan(tmp_path)
    for control in ("INF-01", "INF-11", "INF-10", "INF-06", "INF-04"):
        assert result.status(control) == "unverified", control
        assert result.searched(control), control
    assert "nginx limit_req" in result.searched("INF-01")[0]
    assert result.status("INF-07") == "pass"


def test_helm_chart_template_and_values(scan):
    result = scan("helm_chart")
    assert result.status("INF-09") == "not_applicable"  # the templated Ingress to 'predictor' is a surface
    assert ("charts/predictor/values.yaml", 12, "partial") in result.where("INF-01")
    assert ("charts/predictor/values.yaml", 11, "pass") in result.where("INF-07")
    assert ("charts/predictor/values.yaml", 23, "partial") in result.where("INF-10")
    assert result.all_notes() == []


def test_detemplate_keeps_structure_and_lines():
    from mlposture.probes.serving.yamldocs import detemplate
    from mlposture.scanner.yamlsafe import load

    text = "{{- if .Values.on }}\nkind: Ingress\nmetadata:\n  name: {{ .Release.Name }}\nspec:\n" \
           "  rules:\n    - host: {{ .host | quote }}\n{{- end }}\n"
    doc = load(detemplate(text))
    assert doc["metadata"]["name"] == "tpl" and doc["spec"]["rules"][0]["host"] == "tpl"
    assert doc.line_of("kind") == 2


def test_nginx_proxy_pass_with_path_maps_location_to_app_routes(scan, tmp_path):
    (tmp_path / "nginx.conf").write_text(
        "limit_req_zone $http_x_api_key zone=k:10m rate=10r/s;\n"
        "server {\n"
        "    location /api/ {\n"
        "        limit_req zone=k;\n"
        "        proxy_pass http://app:8000/;\n"
        "    }\n"
        "}\n")
    (tmp_path / "main.py").write_text("from fastapi import FastAPI\napp = FastAPI()\n\n@app.post('/predict')\n"
                                      "def predict(x: list[float]):\n    return {'y': model.predict([x])[0]}\n")
    result = scan(tmp_path)
    assert [e for e in result.evidence("INF-01") if e.rule == "serving.rate-limit-coverage"] == []
    (tmp_path / "nginx.conf").write_text((tmp_path / "nginx.conf").read_text().replace("app:8000/;", "app:8000;"))
    coverage = [e for e in scan(tmp_path).evidence("INF-01") if e.rule == "serving.rate-limit-coverage"]
    assert coverage and "POST /predict (main.py:4)" in coverage[0].message
