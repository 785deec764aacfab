"""The format readers alone: IAM documents from HCL, Fluent Bit classic mode, DVC config, bounds."""

from __future__ import annotations

import pytest

from mlposture.probes.infrastructure import hcl, iam
from mlposture.probes.infrastructure.datacode import parse_ini
from mlposture.probes.infrastructure.logstores import parse_fluentbit_classic


def test_jsonencode_policy_with_bare_references() -> None:
    value = ('${jsonencode({Version = "2012-10-17", Statement = [{Effect = "Allow", Action = ["s3:GetObject"], '
             'Resource = [aws_s3_bucket.d.arn, "${aws_s3_bucket.d.arn}/*"], '
             'Condition = {Bool = {"aws:SecureTransport" = "true"}}}]})}')
    doc = iam.parse_policy_text(value)
    assert doc == {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["aws_s3_bucket.d.arn", "${aws_s3_bucket.d.arn}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "true"}}}]}
    (st,) = iam.statements_of(doc)
    assert st.wildcard() is None and not st.public() and not st.denies_insecure_transport()


def test_heredoc_policy_and_unreadable_expressions() -> None:
    heredoc = '<<EOF\n{"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}\nEOF'
    (st,) = iam.statements_of(iam.parse_policy_text(heredoc))
    assert st.wildcard() == 'Action "*" on Resource "*"'
    assert iam.parse_policy_text("${data.aws_iam_policy_document.x.json}") is None
    assert iam.parse_policy_text('${file("policy.json")}') is None


def test_fluentbit_classic_sections_and_lines() -> None:
    text = "[SERVICE]\n    Flush 5\n\n[OUTPUT]\n    Name cloudwatch_logs\n    log_retention_days 90\n"
    sections = parse_fluentbit_classic(text, first_line=10)
    assert [(s.name, s.line) for s in sections] == [("SERVICE", 10), ("OUTPUT", 13)]
    assert sections[1].keys["log_retention_days"] == "90" and sections[1].lines["log_retention_days"] == 15


def test_dvc_config_sections() -> None:
    text = "[core]\n    remote = s3\n['remote \"s3\"']\n    url = s3://b/p\n    sse = AES256\n"
    core, remote = parse_ini(text)
    assert core.name == "core" and remote.name == 'remote "s3"'
    assert remote.keys == {"url": "s3://b/p", "sse": "AES256"} and remote.lines["sse"] == 5


def test_hcl_nesting_is_bounded() -> None:
    with pytest.raises(hcl.HclError, match="nested deeper"):
        hcl.parse("a {\n" * 80 + "}\n" * 80)
    with pytest.raises(hcl.HclError):
        hcl.parse("x = " + "[" * 3000 + "]" * 3000 + "\n")
