"""Judgements over Google Cloud Terraform resources (``google_*``): logging bucket retention, Cloud Armor,
Cloud Storage and BigQuery encryption and public members, Vertex AI private networking."""

from __future__ import annotations

from collections.abc import Iterator

from mlposture.probes.infrastructure.facts import FAIL, PARTIAL, PASS, sig
from mlposture.probes.infrastructure.hcl import Resource, strings, truthy
from mlposture.probes.infrastructure.terraform.shared import Fact, TerraformRules, default_retention, kms, resource
from mlposture.probes.infrastructure.values import PUBLIC_MEMBERS
from mlposture.scanner.probe import Severity


@resource("google_logging_project_bucket_config", "google_logging_folder_bucket_config",
          "google_logging_organization_bucket_config", "google_logging_billing_account_bucket_config")
def logging_bucket_config(t: TerraformRules, r: Resource) -> Iterator[Fact]:
    yield from default_retention(t, r, "retention_days", 30, "gcp-logging")


@resource("google_compute_security_policy")
def compute_security_policy(t: TerraformRules, r: Resource) -> Iterator[Fact]:
    b = r.block
    adaptive = b.child("adaptive_protection_config")
    rate = [d for d in b.descendants() if d.type == "rate_limit_options"]
    if adaptive is not None or rate:
        what = "adaptive_protection_config" if adaptive is not None else "rate_limit_options"
        yield sig("INF-10", PASS, "edge-protection", f"{r.address} Cloud Armor policy with {what}", r.path,
                  (adaptive or rate[0]).line)
    else:
        yield sig("INF-10", PARTIAL, "edge-protection",
                  f"{r.address} Cloud Armor policy without rate limits or adaptive protection", r.path, b.line)
    for rl in rate:
        key = str(t.val(rl, "enforce_on_key") or "ALL").upper()
        effect = PASS if key in ("HTTP_HEADER", "HTTP_COOKIE", "USER_IP_AND_HTTP_HEADER") else PARTIAL
        yield sig("INF-01", effect, "waf-rate-limit",
                  f"{r.address} Cloud Armor rate_limit_options enforce_on_key = {key}", r.path, rl.line)


@resource("google_storage_bucket")
def storage_bucket(t: TerraformRules, r: Resource) -> Iterator[Fact]:
    b = r.block
    enc = b.child("encryption")
    if enc is not None and enc.get("default_kms_key_name"):
        yield sig("DATA-01", PASS, "encryption-at-rest", f"{r.address} encryption.default_kms_key_name set",
                  r.path, enc.line_of("default_kms_key_name"))
    else:
        yield sig("DATA-01", PARTIAL, "bucket-default-encryption",
                  f"{r.address} has no encryption.default_kms_key_name (Google-managed keys only)", r.path, b.line)
    ubla = truthy(t.val(b, "uniform_bucket_level_access"))
    pap = t.val(b, "public_access_prevention")
    if ubla and pap == "enforced":
        yield sig("DATA-03", PARTIAL, "bucket-access",
                  f"{r.address} uniform_bucket_level_access = true, public_access_prevention = enforced "
                  "(real IAM lives outside the repository)", r.path, b.line_of("public_access_prevention"))


@resource("google_storage_bucket_iam_member", "google_storage_bucket_iam_binding",
          "google_bigquery_dataset_iam_member")
def public_members(t: TerraformRules, r: Resource) -> Iterator[Fact]:
    b = r.block
    for attr in ("member", "members"):
        for m in strings(b.get(attr)):
            if m.lower() in PUBLIC_MEMBERS:
                yield sig("DATA-03", FAIL, "public-bucket", f'{r.address} grants {b.get("role")} to {m}',
                          r.path, b.line_of(attr), content=f"{r.address} {m}", severity=Severity.CRITICAL)


@resource("google_bigquery_dataset")
def bigquery_dataset(t: TerraformRules, r: Resource) -> Iterator[Fact]:
    yield from kms(r, "default_encryption_configuration", "kms_key_name")


@resource("google_vertex_ai_endpoint")
def vertex_ai_endpoint(t: TerraformRules, r: Resource) -> Iterator[Fact]:
    network = r.block.get("network")
    if network:
        yield sig("PIPE-07", PASS, "network-isolation", f"{r.address} peered to private network {network}", r.path,
                  r.block.line_of("network"))
