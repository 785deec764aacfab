"""Loki, ILM/ISM, logrotate and Fluent Bit retention, and CI artifact retention that is not log retention."""

from __future__ import annotations

from mlposture.probes.infrastructure import InfrastructureProbe
from mlposture.probes.infrastructure.logstores import logrotate_retention, parse_logrotate
from mlposture.probes.infrastructure.values import duration_days, tls_minimum

PASS, PARTIAL, FAIL = "pass", "partial", "fail"


def test_log_stores_pass(probe_scan) -> None:  # type: ignore[no-untyped-def]
    s = probe_scan(InfrastructureProbe, "infrastructure/logstores_pass")
    assert not s.findings()
    assert s.where("INF-08") == {
        ("loki-config.yaml", 24, PASS),
        ("ilm-policy.json", 21, PASS),
        ("logrotate.d/inference-api", 4, PASS),
        ("fluent-bit.yaml", 16, PASS),
    }
    msgs = " | ".join(s.messages("INF-08"))
    assert "retention_period = 4416h (184 days) with compactor.retention_enabled = true, meets 90" in msgs
    assert "phases.delete.min_age = 400d, meets 90" in msgs
    assert "weekly x rotate 30 = 210 days" in msgs
    assert "log_retention_days = 731" in msgs


def test_log_stores_fail(probe_scan) -> None:  # type: ignore[no-untyped-def]
    s = probe_scan(InfrastructureProbe, "infrastructure/logstores_fail")
    got = {(f.path, f.line): f.message for f in s.findings("infrastructure.log-retention")}
    assert got == {
        ("loki.yaml", 8): "limits_config: retention_period = 336h (14 days) with compactor.retention_enabled = true, "
                          "below 90",
        ("ism-policy.json", 13): "ISM policy: transition to delete at min_index_age = 30d, below 90",
        ("deploy/logrotate.d/api", 2): "/var/log/api/access.log: daily x rotate 14 = 14 days, below 90",
        ("deploy/logrotate.d/api", 11): "/var/log/api/audit.log: daily x rotate 365, maxage 60 = 60 days, below 90",
        ("fluent-bit.conf", 15): "cloudwatch_logs output /api/requests: log_retention_days = 30, below 90",
    }


def test_loki_without_compactor_keeps_logs(probe_scan) -> None:  # type: ignore[no-untyped-def]
    s = probe_scan(InfrastructureProbe, "infrastructure/loki_no_compactor_pass")
    (msg,) = s.messages("INF-08")
    assert s.status("INF-08") == "pass"
    assert "not enforced: compactor.retention_enabled is not true" in msg


def test_ci_artifact_retention_is_not_log_retention(probe_scan) -> None:  # type: ignore[no-untyped-def]
    s = probe_scan(InfrastructureProbe, "infrastructure/ci_artifacts_pass")
    # retention-days: 5 in the workflow and expire_in: 1 week in GitLab CI are ignored; only the log group counts
    assert s.where("INF-08") == {("logging.tf", 3, PASS)}
    assert not s.findings()


def test_logrotate_reader() -> None:
    text = "weekly\nrotate 4\n/var/log/a.log {\n  monthly\n  rotate 6\n}\n/var/log/b.log {\n  rotate -1\n}\n"
    blocks = parse_logrotate(text)
    assert [(b.files, b.frequency, b.rotate) for b in blocks] == [("/var/log/a.log", "monthly", 6),
                                                                  ("/var/log/b.log", "weekly", -1)]
    got = [(r.days, r.line) for r in logrotate_retention(text, "x")]
    assert got == [(180.0, 5), (None, 8)]


def test_durations_and_tls_versions() -> None:
    assert duration_days("2160h") == 90
    assert duration_days("26w") == 182
    assert duration_days("4320h0m0s") == 180
    assert duration_days("1y") == 365
    assert duration_days("soon") is None
    assert tls_minimum("TLS1_2") == (1, 2)
    assert tls_minimum("TLS_1_0") == (1, 0)
    assert tls_minimum("1.3") == (1, 3)
    assert tls_minimum("TLSv1.2_2021") == (1, 2)
    assert tls_minimum("TLSv1") == (1, 0)
    assert tls_minimum("ELBSecurityPolicy-TLS13-1-2-2021-06") == (1, 2)
    assert tls_minimum("ELBSecurityPolicy-2016-08") == (1, 0)
    assert tls_minimum("Policy-Min-TLS-1-2-2019-07") == (1, 2)
    assert tls_minimum("TLSv1_2016") == (1, 0)  # CloudFront minimum_protocol_version
    assert tls_minimum("TLSv1.1_2016") == (1, 1)
    assert tls_minimum("TLS12") == (1, 2)  # Azure Front Door minimum_tls_version
    assert tls_minimum("SSLv3") == (0, 3)
    assert tls_minimum("modern") is None


def test_loki_helm_values(tmp_path, probe_scan) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "values.yaml").write_text(
        "loki:\n  auth_enabled: false\n  limits_config:\n    retention_period: 744h\n"
        "  compactor:\n    retention_enabled: true\n    delete_request_store: s3\n")
    s = probe_scan(InfrastructureProbe, tmp_path)
    assert s.where("INF-08") == {("values.yaml", 4, FAIL)}
    assert "retention_period = 744h (31 days)" in s.messages("INF-08")[0]
