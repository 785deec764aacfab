"""GCP and Azure Terraform, standalone IAM policy JSON, Pulumi, Bicep and Kustomize."""

from __future__ import annotations

from mlposture.probes.infrastructure import InfrastructureProbe

PASS, PARTIAL, FAIL = "pass", "partial", "fail"


def test_gcp_and_azure_terraform(probe_scan) -> None:  # type: ignore[no-untyped-def]
    s = probe_scan(InfrastructureProbe, "infrastructure/terraform_gcp_azure_fail")
    assert s.where("DATA-01") == {("gcp.tf", 8, PASS), ("gcp.tf", 17, PASS), ("azure.tf", 8, PASS)}
    assert s.where("DATA-02") == {("azure.tf", 7, PARTIAL)}  # TLS1_2: LockML asks for 1.3
    assert s.where("DATA-03") == {("gcp.tf", 5, PARTIAL)}
    assert ("gcp.tf", 31, PASS) in s.where("INF-10")  # Cloud Armor adaptive protection
    assert ("azure.tf", 34, PASS) in s.where("INF-10")  # Azure WAF policy
    assert s.where("INF-01") == {("gcp.tf", 46, PASS)}  # Cloud Armor rate limit keyed on a header
    assert ("gcp.tf", 24, PASS) in s.where("INF-08")  # retention_days = 400
    (azure,) = s.findings("infrastructure.log-retention")
    assert (azure.path, azure.line) == ("azure.tf", 17)
    assert azure.message == "azurerm_log_analytics_workspace.ml: retention_in_days = 60, below 90"
    assert s.status("PIPE-07") == "pass"
    assert ("gcp.tf", 63, PASS) in s.where("PIPE-07")  # Vertex endpoint on a private network
    assert s.status("PIPE-06") == "pass"


def test_pulumi_bicep_kustomize_and_policy_json(probe_scan) -> None:  # type: ignore[no-untyped-def]
    s = probe_scan(InfrastructureProbe, "infrastructure/iac_other_fail")
    assert s.where("PIPE-06") == {
        ("infra/__main__.py", 3, PASS),
        ("main.bicep", 1, PASS),
        ("k8s/base/job.yaml", 1, PASS),
    }
    (wild,) = s.findings("infrastructure.iam-wildcard")
    assert (wild.path, wild.line) == ("policies/training-policy.json", 10)  # the wildcard statement itself
    assert wild.message == 'IAM policy training-policy.json allows Action "s3:*" on Resource "*"'
    assert s.status("DATA-03") == "fail"
    assert not s.not_applicable("PIPE-07")  # IaC is present


def test_cdk_app_with_and_without_ml(tmp_path, probe_scan) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "cdk.json").write_text('{"app": "python3 app.py"}\n')
    (tmp_path / "app.py").write_text("import aws_cdk as cdk\n\napp = cdk.App()\n")
    s = probe_scan(InfrastructureProbe, tmp_path)
    assert s.where("PIPE-06") == {("cdk.json", 1, PARTIAL)}
    (tmp_path / "stack.py").write_text("from aws_cdk import aws_sagemaker as sagemaker\n")
    s = probe_scan(InfrastructureProbe, tmp_path)
    assert s.where("PIPE-06") == {("stack.py", 1, PASS)}
    assert s.messages("PIPE-06") == ["AWS CDK declares ML infrastructure: mentions sagemaker"]
