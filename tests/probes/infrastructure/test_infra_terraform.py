"""Terraform: passing, failing, malformed and absent repositories, and the HCL reader alone."""

from __future__ import annotations

import pytest

from mlposture.probes.infrastructure import InfrastructureProbe, hcl
from mlposture.scanner.probe import Severity

PASS, PARTIAL, FAIL = "pass", "partial", "fail"


def test_hcl_reader_keeps_attribute_and_block_lines() -> None:
    text = (
        'resource "aws_s3_bucket_server_side_encryption_configuration" "data" {\n'
        "  bucket = aws_s3_bucket.data.id\n"
        "\n"
        "  rule {\n"
        "    apply_server_side_encryption_by_default {\n"
        '      sse_algorithm = "aws:kms"\n'
        "    }\n"
        "  }\n"
        "}\n"
    )
    parsed = hcl.parse(text)
    (res,) = hcl.resources(parsed.blocks, "x.tf")
    assert res.address == "aws_s3_bucket_server_side_encryption_configuration.data"
    assert res.block.line == 1
    assert res.block.line_of("bucket") == 2
    assert res.block.get("bucket") == "${aws_s3_bucket.data.id}"
    inner = res.block.child("rule", "apply_server_side_encryption_by_default")
    assert inner is not None and inner.line == 5
    assert inner.get("sse_algorithm") == "aws:kms" and inner.line_of("sse_algorithm") == 6


def test_hcl_reader_reports_parser_error_with_line() -> None:
    with pytest.raises(hcl.HclError) as err:
        hcl.parse('resource "a" "b" {\n  x = \n}\n')
    assert err.value.line == 3 or err.value.line == 2
    assert "Unexpected" in err.value.message


def test_hcl_reader_bounds_size() -> None:
    with pytest.raises(hcl.HclError, match="larger than"):
        hcl.parse("#" * (hcl.MAX_HCL_BYTES + 1))


def test_passing_terraform(probe_scan) -> None:  # type: ignore[no-untyped-def]
    s = probe_scan(InfrastructureProbe, "infrastructure/terraform_pass")
    assert not s.findings()
    for control in ("INF-08", "DATA-01", "DATA-02", "PIPE-06", "PIPE-07", "INF-10", "INF-11", "INF-01"):
        assert s.status(control) == "pass", (control, s.messages(control))
    assert s.status("DATA-03") == "partial"  # clean IaC is partial at most (the catalog's rule)
    assert s.status("INF-12") == "partial"  # CloudTrail validation: tamper-evident logs only
    # the retention is read through the variable default, on the attribute's line
    assert ("logging.tf", 3, PASS) in s.where("INF-08")
    assert any("retention_in_days = 365 (via var.log_retention_days), meets 90" in m for m in s.messages("INF-08"))
    # omitted retention = never expires = pass, said so
    assert any("api_access: retention_in_days not set, logs never expire" in m for m in s.messages("INF-08"))
    assert ("sagemaker.tf", 27, PARTIAL) in s.where("INF-08")  # data_capture_config: logging alone
    assert ("storage.tf", 16, PASS) in s.where("DATA-01")  # sse_algorithm line
    assert ("storage.tf", 32, PASS) in s.where("DATA-02")  # aws:SecureTransport deny
    assert ("edge.tf", 66, PASS) in s.where("DATA-02")  # TLS13 ELB policy
    assert ("edge.tf", 11, PASS) in s.where("INF-11")  # quota MONTH
    assert ("edge.tf", 37, PARTIAL) in s.where("INF-01")  # WAF keyed on IP
    assert ("sagemaker.tf", 4, PASS) in s.where("PIPE-07")
    # HTTPS from anywhere is not an open non-HTTP port
    assert not [m for m in s.messages("PIPE-07") if "0.0.0.0/0" in m]


def test_failing_terraform(probe_scan) -> None:  # type: ignore[no-untyped-def]
    s = probe_scan(InfrastructureProbe, "infrastructure/terraform_fail")
    for control in ("INF-08", "DATA-01", "DATA-02", "DATA-03", "PIPE-07"):
        assert s.status(control) == "fail", (control, s.messages(control))
    f = {(x.rule, x.line): x for x in s.findings()}
    retention = f[("infrastructure.log-retention", 3)]
    assert retention.message == "aws_cloudwatch_log_group.inference: retention_in_days = 14, below 90"
    assert retention.path == "main.tf" and retention.controls == ("INF-08",)
    gcp = f[("infrastructure.log-retention", 77)]
    assert "retention_days not set (default 30), below 90" in gcp.message
    public = f[("infrastructure.public-bucket", 8)]
    assert public.controls == ("DATA-01", "DATA-03") and public.severity is Severity.CRITICAL
    assert 'acl = "public-read"' in public.message
    assert f[("infrastructure.public-access-block-disabled", 13)].message.startswith(
        "aws_s3_bucket_public_access_block.datasets block_public_acls = false")
    wildcard = f[("infrastructure.iam-wildcard", 21)]
    assert wildcard.message == 'aws_iam_policy.training allows Action "s3:*" on Resource "*"'
    assert f[("infrastructure.open-ingress", 36)].message.endswith("from 0.0.0.0/0 on port 22")
    assert "allows TLS 1.0" in f[("infrastructure.weak-tls", 55)].message
    assert "min_tls_version = TLS1_0" in f[("infrastructure.weak-tls", 89)].message
    assert "encrypted = false" in f[("infrastructure.unencrypted-storage", 67)].message
    assert "storage_encrypted not set" in f[("infrastructure.unencrypted-storage", 70)].message
    assert "allUsers" in f[("infrastructure.public-bucket", 95)].message
    public_policy = f[("infrastructure.public-bucket", 99)]  # the Allow statement with Principal "*"
    assert public_policy.message == ('data.aws_iam_policy_document.public_read allows Principal "*" '
                                     "(s3:GetObject) with no condition")
    assert not [m for m in s.messages("DATA-03") if "scoped" in m]
    # the egress rule to 0.0.0.0/0 is not an ingress finding
    assert len(s.findings("infrastructure.open-ingress")) == 1
    # a bucket without SSE config is partial (AWS default SSE-S3), not fail
    assert ("main.tf", 6, PARTIAL) in s.where("DATA-01")
    # IaC without ML resources is only partial for PIPE-06
    assert s.status("PIPE-06") == "partial"


def test_findings_have_stable_fingerprints(probe_scan) -> None:  # type: ignore[no-untyped-def]
    a = {x.fingerprint for x in probe_scan(InfrastructureProbe, "infrastructure/terraform_fail").findings()}
    b = {x.fingerprint for x in probe_scan(InfrastructureProbe, "infrastructure/terraform_fail").findings()}
    assert a == b and len(a) == len(probe_scan(InfrastructureProbe, "infrastructure/terraform_fail").findings())


def test_malformed_terraform_is_a_note_and_other_files_still_count(probe_scan) -> None:  # type: ignore[no-untyped-def]
    s = probe_scan(InfrastructureProbe, "infrastructure/terraform_malformed")
    (note,) = [n for n in s.item_notes() if n.path == "main.tf"]
    assert note.message.startswith("Terraform not parsed (python-hcl2): Unexpected token")
    assert note.line == 3
    assert s.where("INF-08") == {("ok.tf", 3, PASS)}


def test_absent_repository_yields_searched_not_fail(probe_scan) -> None:  # type: ignore[no-untyped-def]
    s = probe_scan(InfrastructureProbe, "infrastructure/absent")
    assert not s.findings()
    for control in ("INF-08", "DATA-01", "DATA-02", "DATA-03", "PIPE-06", "INF-10", "INF-12"):
        assert s.status(control) == "unverified"
        assert s.searched(control)
    assert s.status("PIPE-07") == "not_applicable"
    assert "no infrastructure as code" in s.not_applicable("PIPE-07")[0]


def test_tfvars_override_variable_default(tmp_path, probe_scan) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "main.tf").write_text(
        'variable "days" {\n  default = 365\n}\n\n'
        'resource "aws_cloudwatch_log_group" "g" {\n  retention_in_days = var.days\n}\n')
    (tmp_path / "prod.tfvars").write_text("days = 30\n")
    s = probe_scan(InfrastructureProbe, tmp_path)
    assert s.status("INF-08") == "fail"
    assert s.findings()[0].message == "aws_cloudwatch_log_group.g: retention_in_days = 30 (via var.days), below 90"
    assert s.findings()[0].line == 6


def test_api_gateway_method_settings(probe_scan) -> None:  # type: ignore[no-untyped-def]
    s = probe_scan(InfrastructureProbe, "infrastructure/terraform_pass")
    assert ("edge.tf", 82, PARTIAL) in s.where("INF-08")  # logging_level = "INFO"
    assert ("edge.tf", 84, PARTIAL) in s.where("INF-01")  # stage-wide throttling, not per key
    assert ("edge.tf", 84, PARTIAL) in s.where("INF-10")
    # the bucket's encryption lives in a companion resource: no "no encryption" partial for it
    assert not [m for m in s.messages("DATA-01") if "aws_s3_bucket.data has no" in m]


def test_data_capture_sampling_below_100_is_partial(tmp_path, probe_scan) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "sm.tf").write_text(
        'resource "aws_sagemaker_endpoint_configuration" "ec" {\n'
        "  data_capture_config {\n"
        "    enable_capture              = true\n"
        "    initial_sampling_percentage = 20\n"
        '    destination_s3_uri          = "s3://bucket/capture"\n'
        "  }\n"
        "}\n")
    s = probe_scan(InfrastructureProbe, tmp_path)
    assert s.where("INF-08") == {("sm.tf", 4, PARTIAL)}
    assert "samples 20% of requests" in s.messages("INF-08")[0]


def test_terraform_json_syntax(probe_scan) -> None:  # type: ignore[no-untyped-def]
    s = probe_scan(InfrastructureProbe, "infrastructure/terraform_json_fail")
    (ret,) = s.findings("infrastructure.log-retention")
    assert (ret.path, ret.line) == ("main.tf.json", 11)
    assert ret.message == "aws_cloudwatch_log_group.endpoint: retention_in_days = 30 (via var.retention), below 90"
    assert s.where("PIPE-07") == {("main.tf.json", 18, PASS)}
    assert s.where("DATA-01") == {("main.tf.json", 30, PASS)}
    assert s.status("PIPE-06") == "pass"


def test_malformed_terraform_json_is_a_note(tmp_path, probe_scan) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "main.tf.json").write_text('{"resource": {"aws_s3_bucket": {\n')
    s = probe_scan(InfrastructureProbe, tmp_path)
    (note,) = s.item_notes()
    assert note.path == "main.tf.json" and note.message.startswith("Terraform not parsed (JSON)")


def test_variables_resolve_per_module_folder(tmp_path, probe_scan) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "modules" / "logs").mkdir(parents=True)
    (tmp_path / "modules" / "logs" / "main.tf").write_text(
        'variable "days" {\n  default = 7\n}\n\nresource "aws_cloudwatch_log_group" "m" {\n'
        "  retention_in_days = var.days\n}\n")
    (tmp_path / "main.tf").write_text(
        'variable "days" {\n  default = 365\n}\n\nresource "aws_cloudwatch_log_group" "root" {\n'
        "  retention_in_days = var.days\n}\n")
    s = probe_scan(InfrastructureProbe, tmp_path)
    assert s.where("INF-08") == {("main.tf", 6, "pass"), ("modules/logs/main.tf", 6, "fail")}
