"""CloudFormation/SAM (YAML with !Ref/!Sub/!GetAtt, and JSON) and serverless.yml."""

from __future__ import annotations

from mlposture.probes.infrastructure import InfrastructureProbe

PASS, PARTIAL, FAIL = "pass", "partial", "fail"


def test_sam_template_with_custom_tags(probe_scan) -> None:  # type: ignore[no-untyped-def]
    s = probe_scan(InfrastructureProbe, "infrastructure/cloudformation_pass")
    assert not s.findings()
    assert not s.item_notes()  # !Ref, !Sub and !GetAtt load safely
    for control in ("INF-08", "DATA-01", "DATA-02", "PIPE-06", "PIPE-07", "INF-11", "INF-01"):
        assert s.status(control) == "pass", (control, s.messages(control))
    assert s.status("DATA-03") == "partial"
    assert s.status("INF-10") == "partial"  # API throttling only, no WAF/Shield at the edge
    assert ("template.yaml", 52, PASS) in s.where("INF-08")  # RetentionInDays: 400
    assert ("template.yaml", 19, PASS) in s.where("DATA-01")  # BucketEncryption
    assert ("template.yaml", 37, PASS) in s.where("DATA-02")  # the Deny statement
    assert ("template.yaml", 77, PARTIAL) in s.where("INF-08")  # DataCaptureConfig: logging alone is partial
    assert ("template.yaml", 108, PASS) in s.where("INF-11")  # Quota Period: WEEK
    assert any("RetentionInDays = 400, meets 90" in m for m in s.messages("INF-08"))


def test_cloudformation_json_anti_patterns(probe_scan) -> None:  # type: ignore[no-untyped-def]
    s = probe_scan(InfrastructureProbe, "infrastructure/cloudformation_fail")
    for control in ("INF-08", "DATA-01", "DATA-02", "DATA-03", "PIPE-07"):
        assert s.status(control) == "fail", control
    f = {(x.rule, x.line): x for x in s.findings()}
    assert f[("infrastructure.public-bucket", 7)].controls == ("DATA-01", "DATA-03")
    assert f[("infrastructure.iam-wildcard", 16)].message.endswith('allows Action "*" on Resource "*"')
    assert f[("infrastructure.log-retention", 28)].message == \
        "ApiLogs (AWS::Logs::LogGroup): RetentionInDays = 30, below 90"
    assert "allows TLS 1.1" in f[("infrastructure.weak-tls", 44)].message
    assert "on port 8888" in f[("infrastructure.open-ingress", 52)].message
    assert all(x.path == "template.json" for x in s.findings())


def test_serverless_provider_settings(probe_scan) -> None:  # type: ignore[no-untyped-def]
    s = probe_scan(InfrastructureProbe, "infrastructure/serverless_fail")
    (ret,) = s.findings("infrastructure.log-retention")
    assert (ret.path, ret.line) == ("serverless.yml", 7)
    assert ret.message == "serverless provider: logRetentionInDays = 14, below 90"
    assert ("serverless.yml", 15, PARTIAL) in s.where("INF-11")  # DAY quota only
    assert s.status("INF-01") == "pass"  # per-key throttle with a day quota
    assert ("serverless.yml", 20, PARTIAL) in s.where("INF-08")  # logs.restApi
    assert ("serverless.yml", 37, PASS) in s.where("DATA-01")  # embedded CloudFormation
    assert s.status("PIPE-06") == "partial"


def test_serverless_without_retention_never_expires(tmp_path, probe_scan) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "serverless.yml").write_text(
        "service: s\nprovider:\n  name: aws\nfunctions:\n  f:\n    handler: h.f\n")
    s = probe_scan(InfrastructureProbe, tmp_path)
    assert s.status("INF-08") == "pass"
    assert any("logRetentionInDays not set, logs never expire" in m for m in s.messages("INF-08"))


def test_malformed_cloudformation_is_a_note(tmp_path, probe_scan) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "template.yaml").write_text(
        'AWSTemplateFormatVersion: "2010-09-09"\nResources:\n  Logs:\n    Type: AWS::Logs::LogGroup\n'
        "    Properties: {RetentionInDays: 7\n")
    s = probe_scan(InfrastructureProbe, tmp_path)
    (note,) = s.item_notes()
    assert note.path == "template.yaml" and note.message.startswith("not parsed: YAML parse error")
    assert note.line is not None
    assert s.status("INF-08") == "unverified"
