"""Kubernetes manifests (multi-document) and Helm templates read tolerantly."""

from __future__ import annotations

from mlposture.probes.infrastructure import InfrastructureProbe
from mlposture.probes.infrastructure.structured import load_text, strip_helm

PASS, PARTIAL, FAIL = "pass", "partial", "fail"


def test_manifests_pass(probe_scan) -> None:  # type: ignore[no-untyped-def]
    s = probe_scan(InfrastructureProbe, "infrastructure/kubernetes_pass")
    assert not s.findings()
    assert s.where("INF-12") == {("inference.yaml", 25, PASS)}  # mtls.mode: STRICT
    assert ("inference.yaml", 10, PARTIAL) in s.where("INF-08")  # KServe logger mode all
    assert ("network.yaml", 8, PASS) in s.where("PIPE-07")  # default-deny egress
    assert s.where("DATA-03") == {("network.yaml", 16, PARTIAL)}  # scoped Role
    # Fluent Bit configuration inside a ConfigMap: the line inside the block scalar
    assert ("fluent-bit-configmap.yaml", 23, PASS) in s.where("INF-08")
    assert s.status("PIPE-06") == "pass"
    assert s.status("INF-10") == "partial"  # maxReplicas only


def test_manifests_fail(probe_scan) -> None:  # type: ignore[no-untyped-def]
    s = probe_scan(InfrastructureProbe, "infrastructure/kubernetes_fail")
    assert s.status("DATA-03") == "fail"
    lines = {(x.path, x.line) for x in s.findings("infrastructure.rbac-wildcard")}
    assert lines == {("rbac.yaml", 6), ("rbac.yaml", 17)}
    assert s.where("INF-12") == {("mesh.yaml", 8, PARTIAL)}  # PERMISSIVE
    (tls,) = s.findings("infrastructure.weak-tls")
    assert (tls.path, tls.line) == ("mesh.yaml", 16) and "allows TLS 1.0" in tls.message
    assert s.where("INF-08") == {("mesh.yaml", 24, PARTIAL)}  # logger mode request only


def test_mtls_disable_fails(tmp_path, probe_scan) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "pa.yaml").write_text(
        "apiVersion: security.istio.io/v1beta1\nkind: PeerAuthentication\nmetadata:\n  name: default\n"
        "spec:\n  mtls:\n    mode: DISABLE\n")
    s = probe_scan(InfrastructureProbe, tmp_path)
    assert s.status("INF-12") == "fail"
    assert s.findings()[0].line == 7


def test_helm_templates_are_read_tolerantly(probe_scan) -> None:  # type: ignore[no-untyped-def]
    s = probe_scan(InfrastructureProbe, "infrastructure/helm_partial")
    base = "charts/model-server/templates/"
    notes = {n.path: n for n in s.item_notes()}
    assert set(notes) == {base + "broken.yaml", base + "job.yaml"}
    assert notes[base + "broken.yaml"].message.startswith("Helm template not parsed after stripping {{ }} directives")
    assert notes[base + "job.yaml"].message.endswith("; read by pattern: kind PyTorchJob")
    assert notes[base + "job.yaml"].line == 16
    assert s.where("PIPE-07") == {(base + "networkpolicy.yaml", 8, PARTIAL)}  # default-deny ingress only
    assert s.where("INF-10") == {(base + "hpa.yaml", 8, PARTIAL)}
    assert s.where("PIPE-06") == {(base + "deployment.yaml", 1, PASS)}
    assert "Helm chart declares ML infrastructure" in s.messages("PIPE-06")[0]
    # _helpers.tpl holds only template definitions: no document, no note
    assert not [n for n in s.item_notes() if n.path and n.path.endswith("_helpers.tpl")]


def test_strip_helm_keeps_line_numbers() -> None:
    text = "{{- if .Values.x }}\na: {{ .Values.a }}\n{{/*\ncomment\n*/}}\nb: 2\n{{- end }}\n"
    stripped = strip_helm(text)
    assert stripped.split("\n") == ["", "a: HELM_VALUE", "", "", "", "b: 2", ""]
    docs = load_text(text, "chart/templates/x.yaml").docs
    assert docs == [{"a": "HELM_VALUE", "b": 2}]
    assert docs[0].line_of("b") == 6


def test_yaml_bombs_and_deep_nesting_are_bounded(probe_scan) -> None:  # type: ignore[no-untyped-def]
    import time

    start = time.monotonic()
    s = probe_scan(InfrastructureProbe, "infrastructure/yaml_malformed")
    assert time.monotonic() - start < 5
    notes = {n.path: n.message for n in s.item_notes()}
    assert "alias bomb" in notes["k8s/bomb.yaml"]
    assert "nested deeper than" in notes["k8s/deep.yaml"]
    assert notes["ilm-broken.json"].startswith("not parsed: JSON parse error")
    # the good file in the same folder still counts
    assert s.where("INF-12") == {("k8s/good.yaml", 8, PASS)}


def test_logging_without_retention_is_partial(tmp_path, probe_scan) -> None:  # type: ignore[no-untyped-def]
    """The catalog: "Logging without any retention setting = PARTIAL (retention unknown)"."""
    (tmp_path / "isvc.yaml").write_text(
        "apiVersion: serving.kserve.io/v1beta1\nkind: InferenceService\nmetadata:\n  name: m\nspec:\n"
        "  predictor:\n    logger:\n      mode: all\n      url: http://dumper\n")
    s = probe_scan(InfrastructureProbe, tmp_path)
    assert s.status("INF-08") == "partial"
    assert s.messages("INF-08") == [
        "InferenceService m predictor.logger mode = all (requests and responses) to http://dumper "
        "(retention is judged on the log store)"]


def test_unparseable_helm_template_still_counts_for_iac(tmp_path, probe_scan) -> None:  # type: ignore[no-untyped-def]
    chart = tmp_path / "chart"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: trainer\nversion: 0.1.0\n")
    (chart / "templates" / "job.yaml").write_text(
        "apiVersion: kubeflow.org/v1\nkind: PyTorchJob\nspec:\n  containers:\n"
        "{{- if .Values.gpu }}\n    - name: a\n{{- else }}\n  - name: b\n{{- end }}\n")
    s = probe_scan(InfrastructureProbe, tmp_path)
    assert s.where("PIPE-06") == {("chart/templates/job.yaml", 2, PASS)}
    assert "kind PyTorchJob (pattern match)" in s.messages("PIPE-06")[0]
    assert len(s.item_notes()) == 1
