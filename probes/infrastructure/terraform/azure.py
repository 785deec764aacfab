"""Judgements over Azure Terraform resources (``azurerm_*``): Log Analytics / Application Insights retention,
WAF policies, storage account encryption and public access, Azure ML workspace network access."""

from __future__ import annotations

from collections.abc import Iterator

from mlposture.probes.infrastructure.facts import FAIL, PARTIAL, PASS, sig
from mlposture.probes.infrastructure.hcl import Resource, truthy
from mlposture.probes.infrastructure.terraform.shared import Fact, TerraformRules, default_retention, resource
from mlposture.scanner.probe import Severity


@resource("azurerm_log_analytics_workspace")
def log_analytics_workspace(t: TerraformRules, r: Resource) -> Iterator[Fact]:
    yield from default_retention(t, r, "retention_in_days", 30, "azure-log-analytics")


@resource("azurerm_application_insights")
def application_insights(t: TerraformRules, r: Resource) -> Iterator[Fact]:
    yield from default_retention(t, r, "retention_in_days", 90, "azure-application-insights")


@resource("azurerm_web_application_firewall_policy", "azurerm_cdn_frontdoor_firewall_policy",
          "azurerm_frontdoor_firewall_policy")
def waf_policy(t: TerraformRules, r: Resource) -> Iterator[Fact]:
    yield sig("INF-10", PASS, "edge-protection", f"{r.address} Azure WAF policy", r.path, r.block.line)


@resource("azurerm_storage_account")
def storage_account(t: TerraformRules, r: Resource) -> Iterator[Fact]:
    b = r.block
    infra = truthy(t.val(b, "infrastructure_encryption_enabled"))
    cmk = b.child("customer_managed_key")
    separate = any(r.name in str(c.block.get("storage_account_id", ""))
                   for c in t.by_type.get("azurerm_storage_account_customer_managed_key", []))
    if infra or cmk is not None or separate:
        what = ("infrastructure_encryption_enabled = true" if infra else "customer-managed key")
        line = b.line_of("infrastructure_encryption_enabled") if infra else (cmk.line if cmk else b.line)
        yield sig("DATA-01", PASS, "encryption-at-rest", f"{r.address} {what}", r.path, line)
    else:
        yield sig("DATA-01", PARTIAL, "encryption-at-rest",
                  f"{r.address} uses Microsoft-managed keys only (no customer_managed_key, "
                  "no infrastructure_encryption_enabled)", r.path, b.line)
    for attr in ("https_traffic_only_enabled", "enable_https_traffic_only"):
        if truthy(t.val(b, attr)) is False:
            yield sig("DATA-02", FAIL, "plaintext-data-endpoint", f"{r.address} {attr} = false", r.path,
                      b.line_of(attr), content=f"{r.address} {attr}", severity=Severity.HIGH)
    for attr in ("allow_nested_items_to_be_public", "allow_blob_public_access"):
        if truthy(t.val(b, attr)):
            yield sig("DATA-03", FAIL, "public-bucket", f"{r.address} {attr} = true", r.path, b.line_of(attr),
                      content=f"{r.address} {attr}", severity=Severity.HIGH)


@resource("azurerm_storage_container")
def storage_container(t: TerraformRules, r: Resource) -> Iterator[Fact]:
    access = t.val(r.block, "container_access_type")
    if isinstance(access, str) and access.lower() in ("blob", "container"):
        yield sig("DATA-03", FAIL, "public-bucket", f'{r.address} container_access_type = "{access}"', r.path,
                  r.block.line_of("container_access_type"), content=f"{r.address} {access}",
                  severity=Severity.CRITICAL)


@resource("azurerm_machine_learning_workspace")
def machine_learning_workspace(t: TerraformRules, r: Resource) -> Iterator[Fact]:
    b = r.block
    public = truthy(t.val(b, "public_network_access_enabled"))
    if public is False:
        yield sig("PIPE-07", PASS, "network-isolation", f"{r.address} public_network_access_enabled = false",
                  r.path, b.line_of("public_network_access_enabled"))
    elif public is True:
        yield sig("PIPE-07", PARTIAL, "network-isolation", f"{r.address} public_network_access_enabled = true",
                  r.path, b.line_of("public_network_access_enabled"))
