"""Judgements over Terraform resources (AWS, GCP, Azure providers) for the infrastructure controls.

Over 600 lines: one rule class whose handlers share the variable resolution and the bucket/log-group cross
references; splitting it by cloud behind a ``@resource`` registry is planned, not done yet.

Input: the resources of every ``*.tf`` file of the repository (:mod:`mlposture.probes.infrastructure.hcl`) and the
variables' values (``variable`` defaults, overridden by ``*.tfvars``), so that ``retention_in_days =
var.log_retention_days`` is read as the number it stands for. Output: :class:`~.facts.Signal` and
:class:`~.facts.Retention` facts with the file, line and value that decided them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from mlposture.probes.infrastructure import iam
from mlposture.probes.infrastructure.facts import FAIL, PARTIAL, PASS, Retention, Signal, logged, sig
from mlposture.probes.infrastructure.hcl import Block, Resource, number, strings, truthy
from mlposture.probes.infrastructure.values import PUBLIC_ACLS, PUBLIC_MEMBERS, tls_label, tls_minimum
from mlposture.scanner.probe import Severity

Fact = Signal | Retention

_VAR_REF = re.compile(r"^\$\{var\.([A-Za-z_][\w-]*)\}$")
ML_RESOURCE = re.compile(r"sagemaker|vertex_ai|machine_learning|ml_engine|notebooks_|bedrock|aiplatform|"
                         r"google_ml_|databricks_model|_mlflow", re.I)
GPU_TYPE = re.compile(r"^(ml\.|p[2-5]|g[3-6]|trn1|inf[12]|a2-|a3-|n1-.*nvidia|standard_n[cdv])", re.I)
HTTP_PORTS = frozenset({80, 443})
OPEN_CIDRS = ("0.0.0.0/0", "::/0")


class Variables:
    """Values of Terraform input variables per module folder: ``variable`` defaults, overridden by ``*.tfvars``.

    A Terraform module is a folder, and two modules may declare the same variable name with different values,
    so a reference is resolved only against the variables of the file's own folder.
    """

    def __init__(self) -> None:
        self.values: dict[str, dict[str, Any]] = {}

    def add_defaults(self, folder: str, blocks: list[Block]) -> None:
        """Record ``variable "x" { default = ... }`` of a file in ``folder``."""
        scope = self.values.setdefault(folder, {})
        for b in blocks:
            if b.type == "variable" and b.labels and "default" in b.attrs:
                scope.setdefault(b.labels[0], b.attrs["default"])

    def add_tfvars(self, folder: str, attrs: dict[str, Any]) -> None:
        """Record ``name = value`` lines of a ``.tfvars`` file in ``folder`` (they win over defaults)."""
        self.values.setdefault(folder, {}).update(attrs)

    def resolve(self, value: Any, folder: str = "") -> Any:
        """``${var.x}`` replaced by its value in ``folder`` when known."""
        if isinstance(value, str):
            m = _VAR_REF.match(value.strip())
            scope = self.values.get(folder, {})
            if m and m.group(1) in scope:
                return scope[m.group(1)]
        return value


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, str):
        return f'"{value}"'
    return str(value)


class TerraformRules:
    """All Terraform judgements; ``run`` yields facts for every resource of the repository."""

    def __init__(self, resources: list[Resource], variables: Variables) -> None:
        self.resources = resources
        self.vars = variables
        self._folder = ""
        self.by_type: dict[str, list[Resource]] = {}
        for r in resources:
            self.by_type.setdefault(r.rtype, []).append(r)

    def val(self, block: Block, name: str) -> Any:
        """Attribute value with variables resolved (in the folder of the resource being judged)."""
        return self.vars.resolve(block.get(name), self._folder)

    def run(self) -> Iterator[Fact]:
        """Every fact from every resource."""
        for r in self.resources:
            yield from self.facts_of(r)

    def facts_of(self, r: Resource) -> Iterator[Fact]:
        """The facts of one resource (its ``_r_<type>`` handler plus the TLS attributes any resource may set)."""
        self._folder = r.path.rsplit("/", 1)[0] if "/" in r.path else ""
        if r.kind != "resource":
            if r.kind == "data" and r.rtype == "aws_iam_policy_document":
                yield from self._policy_document(r)
            return
        handler = getattr(self, "_r_" + r.rtype, None)
        if handler is not None:
            yield from handler(r)
        yield from self._tls_attributes(r)

    # ------------------------------------------------------------------ INF-08 retention
    def _cw_retention(self, r: Resource) -> Iterator[Fact]:
        b = r.block
        raw = b.get("retention_in_days")
        value = self.vars.resolve(raw, self._folder)
        if raw is None:
            yield Retention("cloudwatch", r.address, "retention_in_days not set", None, r.path, b.line,
                            "CloudWatch keeps logs forever when retention_in_days is omitted")
            return
        days = number(value)
        if days is None:
            return
        if days == 0:
            yield Retention("cloudwatch", r.address, "retention_in_days = 0", None, r.path,
                            b.line_of("retention_in_days"), "0 means never expire")
            return
        via = f" (via {str(raw).removeprefix('${').removesuffix('}')})" if raw != value else ""
        yield Retention("cloudwatch", r.address, f"retention_in_days = {_show(days)}{via}", days, r.path,
                        b.line_of("retention_in_days"))

    _r_aws_cloudwatch_log_group = _cw_retention

    def _default_retention(self, r: Resource, attr: str, default: int, source: str) -> Iterator[Fact]:
        b = r.block
        raw = b.get(attr)
        if raw is None:
            yield Retention(source, r.address, f"{attr} not set (default {default})", float(default), r.path,
                            b.line)
            return
        days = number(self.vars.resolve(raw, self._folder))
        if days is not None:
            yield Retention(source, r.address, f"{attr} = {_show(days)}", days, r.path, b.line_of(attr))

    def _r_google_logging_project_bucket_config(self, r: Resource) -> Iterator[Fact]:
        yield from self._default_retention(r, "retention_days", 30, "gcp-logging")

    _r_google_logging_folder_bucket_config = _r_google_logging_project_bucket_config
    _r_google_logging_organization_bucket_config = _r_google_logging_project_bucket_config
    _r_google_logging_billing_account_bucket_config = _r_google_logging_project_bucket_config

    def _r_azurerm_log_analytics_workspace(self, r: Resource) -> Iterator[Fact]:
        yield from self._default_retention(r, "retention_in_days", 30, "azure-log-analytics")

    def _r_azurerm_application_insights(self, r: Resource) -> Iterator[Fact]:
        yield from self._default_retention(r, "retention_in_days", 90, "azure-application-insights")

    # ------------------------------------------------------------------ INF-08 request logging
    def _r_aws_sagemaker_endpoint_configuration(self, r: Resource) -> Iterator[Fact]:
        b = r.block
        cap = b.child("data_capture_config")
        if cap is not None:
            enabled = truthy(self.val(cap, "enable_capture"))
            sampling = number(self.val(cap, "initial_sampling_percentage"))
            modes = [str(c.get("capture_mode")) for c in cap.children("capture_options")]
            if enabled is False:
                yield sig("INF-08", PARTIAL, "request-logging",
                          f"{r.address} data_capture_config.enable_capture = false", r.path,
                          cap.line_of("enable_capture"))
            elif sampling is not None and sampling < 100:
                yield sig("INF-08", PARTIAL, "request-logging",
                          f"{r.address} SageMaker data capture samples {sampling:g}% of requests "
                          "(forensics needs 100)", r.path, cap.line_of("initial_sampling_percentage"))
            else:
                yield logged(f"{r.address} SageMaker data capture enabled"
                          + (f" ({', '.join(modes)})" if modes else ""), r.path, cap.line)
        kms = b.get("kms_key_arn")
        if kms:
            yield sig("DATA-01", PASS, "encryption-at-rest", f"{r.address} kms_key_arn set", r.path,
                      b.line_of("kms_key_arn"))

    def _r_aws_api_gateway_method_settings(self, r: Resource) -> Iterator[Fact]:
        s = r.block.child("settings")
        if s is None:
            return
        level = self.val(s, "logging_level")
        trace = truthy(self.val(s, "data_trace_enabled"))
        if isinstance(level, str) and level.upper() in ("INFO", "ERROR"):
            yield logged(f"{r.address} API Gateway execution logging_level = {level}"
                      + (", data_trace_enabled = true" if trace else ""), r.path, s.line_of("logging_level"))
        rate = number(self.val(s, "throttling_rate_limit"))
        burst = number(self.val(s, "throttling_burst_limit"))
        if rate is not None or burst is not None:
            what = ", ".join(f"{k} = {_show(v)}" for k, v in (("throttling_rate_limit", rate),
                                                              ("throttling_burst_limit", burst)) if v is not None)
            line = s.line_of("throttling_rate_limit" if rate is not None else "throttling_burst_limit")
            yield sig("INF-10", PARTIAL, "api-throttling",
                      f"{r.address} API Gateway stage throttling {what} (no edge WAF/CDN seen here)", r.path, line)
            yield sig("INF-01", PARTIAL, "api-throttling",
                      f"{r.address} API Gateway throttling {what} applies to all callers, not per key",
                      r.path, line)

    def _stage_access_logs(self, r: Resource) -> Iterator[Fact]:
        als = r.block.child("access_log_settings")
        if als is not None:
            yield logged(f"{r.address} access_log_settings (destination {als.get('destination_arn', '?')})",
                      r.path, als.line)

    _r_aws_api_gateway_stage = _stage_access_logs

    def _r_aws_apigatewayv2_stage(self, r: Resource) -> Iterator[Fact]:
        yield from self._stage_access_logs(r)
        drs = r.block.child("default_route_settings")
        if drs is not None:
            rate = number(self.val(drs, "throttling_rate_limit"))
            if rate is not None:
                yield sig("INF-10", PARTIAL, "api-throttling",
                          f"{r.address} default_route_settings.throttling_rate_limit = {_show(rate)}", r.path,
                          drs.line_of("throttling_rate_limit"))
                yield sig("INF-01", PARTIAL, "api-throttling",
                          f"{r.address} HTTP API throttling {_show(rate)}/s applies to all callers, not per key",
                          r.path, drs.line_of("throttling_rate_limit"))

    # ------------------------------------------------------------------ INF-01 / INF-10 / INF-11
    def _r_aws_api_gateway_usage_plan(self, r: Resource) -> Iterator[Fact]:
        b = r.block
        quota = b.child("quota_settings")
        throttle = b.child("throttle_settings")
        period = str(self.val(quota, "period") or "").upper() if quota is not None else ""
        limit = self.val(quota, "limit") if quota is not None else None
        if quota is not None:
            text = f"{r.address} quota_settings limit = {_show(limit)} per {period or '?'}"
            if period in ("WEEK", "MONTH"):
                yield sig("INF-11", PASS, "usage-plan-quota", text + " (per API key)", r.path,
                          quota.line_of("period"))
            elif period == "DAY":
                yield sig("INF-11", PARTIAL, "usage-plan-quota",
                          text + " (daily only; no weekly or monthly window)", r.path, quota.line_of("period"))
        if throttle is not None:
            rate = self.val(throttle, "rate_limit")
            burst = self.val(throttle, "burst_limit")
            text = f"{r.address} throttle_settings rate_limit = {_show(rate)}, burst_limit = {_show(burst)}"
            if period:
                yield sig("INF-01", PASS, "usage-plan-throttle",
                          text + f" per API key, with a {period} quota for aggregate tracking", r.path,
                          throttle.line)
            else:
                yield sig("INF-01", PARTIAL, "usage-plan-throttle",
                          text + " per API key, no day/week/month quota (no aggregate tracking)", r.path,
                          throttle.line)
            yield sig("INF-10", PARTIAL, "api-throttling", text, r.path, throttle.line)

    def _r_aws_shield_protection(self, r: Resource) -> Iterator[Fact]:
        yield sig("INF-10", PASS, "edge-protection", f"{r.address} AWS Shield Advanced protection", r.path,
                  r.block.line)

    def _r_aws_wafv2_web_acl(self, r: Resource) -> Iterator[Fact]:
        b = r.block
        rate_rules = [d for d in b.descendants() if d.type == "rate_based_statement"]
        if not rate_rules:
            yield sig("INF-10", PARTIAL, "edge-protection", f"{r.address} WAF web ACL without a rate-based rule",
                      r.path, b.line)
            return
        for rb in rate_rules:
            limit = self.val(rb, "limit")
            key = str(self.val(rb, "aggregate_key_type") or "IP").upper()
            window = self.val(rb, "evaluation_window_sec")
            text = (f"{r.address} WAF rate_based_statement limit = {_show(limit)}, aggregate_key_type = {key}"
                    + (f", evaluation_window_sec = {_show(window)}" if window is not None else ""))
            yield sig("INF-10", PASS, "edge-protection", text, r.path, rb.line)
            if key == "CUSTOM_KEYS" and any(c.type == "custom_key" and c.child("header") is not None
                                            for c in rb.blocks):
                yield sig("INF-01", PASS, "waf-rate-limit", text + " (keyed on a request header)", r.path,
                          rb.line)
            else:
                yield sig("INF-01", PARTIAL, "waf-rate-limit",
                          text + " (per IP/constant, not per user or key)", r.path, rb.line)

    def _r_google_compute_security_policy(self, r: Resource) -> Iterator[Fact]:
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
            key = str(self.val(rl, "enforce_on_key") or "ALL").upper()
            effect = PASS if key in ("HTTP_HEADER", "HTTP_COOKIE", "USER_IP_AND_HTTP_HEADER") else PARTIAL
            yield sig("INF-01", effect, "waf-rate-limit",
                      f"{r.address} Cloud Armor rate_limit_options enforce_on_key = {key}", r.path, rl.line)

    def _azure_waf(self, r: Resource) -> Iterator[Fact]:
        yield sig("INF-10", PASS, "edge-protection", f"{r.address} Azure WAF policy", r.path, r.block.line)

    _r_azurerm_web_application_firewall_policy = _azure_waf
    _r_azurerm_cdn_frontdoor_firewall_policy = _azure_waf
    _r_azurerm_frontdoor_firewall_policy = _azure_waf

    def _r_aws_appautoscaling_target(self, r: Resource) -> Iterator[Fact]:
        cap = number(self.val(r.block, "max_capacity"))
        if cap is not None:
            yield sig("INF-10", PARTIAL, "autoscaling-cap",
                      f"{r.address} max_capacity = {cap:g} bounds autoscaling (edge protection still needed)",
                      r.path, r.block.line_of("max_capacity"))

    # ------------------------------------------------------------------ INF-12
    def _r_aws_cloudtrail(self, r: Resource) -> Iterator[Fact]:
        if truthy(self.val(r.block, "enable_log_file_validation")):
            yield sig("INF-12", PARTIAL, "tamper-evident-logs",
                      f"{r.address} enable_log_file_validation = true (tamper-evident logs, outputs unsigned)",
                      r.path, r.block.line_of("enable_log_file_validation"))

    # ------------------------------------------------------------------ DATA-01 at rest
    def _bucket_refs(self, rtype: str) -> dict[str, tuple[Resource, Block]]:
        """Buckets referenced by companion resources of ``rtype`` (``bucket = aws_s3_bucket.x.id``)."""
        out: dict[str, tuple[Resource, Block]] = {}
        for c in self.by_type.get(rtype, []):
            ref = str(c.block.get("bucket", ""))
            m = re.search(r"aws_s3_bucket\.([\w-]+)\.", ref)
            out[m.group(1) if m else ref] = (c, c.block)
        return out

    def _r_aws_s3_bucket(self, r: Resource) -> Iterator[Fact]:
        b = r.block
        acl = self.val(b, "acl")
        if isinstance(acl, str) and acl.lower() in PUBLIC_ACLS:
            yield from self._public_acl(r.address, acl, r.path, b.line_of("acl"))
        inline = b.child("server_side_encryption_configuration")
        if inline is not None:
            algo = next((str(d.get("sse_algorithm")) for d in inline.descendants() if "sse_algorithm" in d.attrs),
                        "?")
            yield sig("DATA-01", PASS, "encryption-at-rest",
                      f"{r.address} server_side_encryption_configuration sse_algorithm = {algo}", r.path,
                      inline.line)
            return
        configs = self._bucket_refs("aws_s3_bucket_server_side_encryption_configuration")
        name = str(b.get("bucket", ""))
        if r.name in configs or (name and name in configs):
            return  # judged on the configuration resource
        yield sig("DATA-01", PARTIAL, "bucket-default-encryption",
                  f"{r.address} has no server-side encryption configuration (AWS applies SSE-S3 by default "
                  "to new buckets since January 2023; no customer-managed key)", r.path, b.line)

    def _public_acl(self, address: str, acl: str, path: str, line: int) -> Iterator[Fact]:
        for control in ("DATA-01", "DATA-03"):
            yield sig(control, FAIL, "public-bucket", f'{address} acl = "{acl}"', path, line,
                      content=f"{address} acl {acl}", severity=Severity.CRITICAL)

    def _r_aws_s3_bucket_acl(self, r: Resource) -> Iterator[Fact]:
        acl = self.val(r.block, "acl")
        if isinstance(acl, str) and acl.lower() in PUBLIC_ACLS:
            yield from self._public_acl(r.address, acl, r.path, r.block.line_of("acl"))

    def _r_aws_s3_bucket_server_side_encryption_configuration(self, r: Resource) -> Iterator[Fact]:
        for d in r.block.descendants():
            if d.type == "apply_server_side_encryption_by_default":
                algo = str(self.val(d, "sse_algorithm"))
                if algo in ("aws:kms", "aws:kms:dsse", "AES256"):
                    yield sig("DATA-01", PASS, "encryption-at-rest",
                              f"{r.address} sse_algorithm = {algo} for bucket {r.block.get('bucket')}", r.path,
                              d.line_of("sse_algorithm"))
                else:
                    yield sig("DATA-01", PARTIAL, "encryption-at-rest",
                              f"{r.address} sse_algorithm = {algo} not recognised", r.path,
                              d.line_of("sse_algorithm"))

    def _flag(self, r: Resource, attr: str, what: str, missing_fail: bool) -> Iterator[Fact]:
        b = r.block
        value = truthy(self.val(b, attr))
        if value:
            yield sig("DATA-01", PASS, "encryption-at-rest", f"{r.address} {attr} = true", r.path, b.line_of(attr))
        elif value is False:
            yield sig("DATA-01", FAIL, "unencrypted-storage", f"{r.address} {attr} = false ({what} unencrypted)",
                      r.path, b.line_of(attr), content=f"{r.address} {attr} false")
        elif b.get(attr) is None:
            if missing_fail:
                yield sig("DATA-01", FAIL, "unencrypted-storage",
                          f"{r.address} {attr} not set (the default is false: {what} unencrypted)", r.path, b.line,
                          content=f"{r.address} {attr} unset")
            else:
                yield sig("DATA-01", PARTIAL, "unencrypted-storage",
                          f"{r.address} {attr} not set (encrypted only if the account default is on)", r.path,
                          b.line)

    def _r_aws_ebs_volume(self, r: Resource) -> Iterator[Fact]:
        yield from self._flag(r, "encrypted", "volume", missing_fail=False)

    def _r_aws_efs_file_system(self, r: Resource) -> Iterator[Fact]:
        yield from self._flag(r, "encrypted", "file system", missing_fail=True)

    def _r_aws_db_instance(self, r: Resource) -> Iterator[Fact]:
        yield from self._flag(r, "storage_encrypted", "database storage", missing_fail=True)

    _r_aws_rds_cluster = _r_aws_db_instance

    def _kms(self, r: Resource, *path: str) -> Iterator[Fact]:
        node: Block | None = r.block.child(*path[:-1]) if len(path) > 1 else r.block
        attr = path[-1]
        if node is not None and node.get(attr):
            yield sig("DATA-01", PASS, "encryption-at-rest", f"{r.address} {'.'.join(path)} set", r.path,
                      node.line_of(attr))
        else:
            yield sig("DATA-01", PARTIAL, "encryption-at-rest",
                      f"{r.address} has no {'.'.join(path)} (service-managed key only)", r.path, r.block.line)

    def _r_aws_sagemaker_notebook_instance(self, r: Resource) -> Iterator[Fact]:
        yield from self._kms(r, "kms_key_id")
        b = r.block
        access = self.val(b, "direct_internet_access")
        if isinstance(access, str) and access.lower() == "disabled":
            yield sig("PIPE-07", PASS, "network-isolation",
                      f"{r.address} direct_internet_access = Disabled (subnet {b.get('subnet_id', '?')})", r.path,
                      b.line_of("direct_internet_access"))
        elif isinstance(access, str) and access.lower() == "enabled":
            yield sig("PIPE-07", PARTIAL, "network-isolation",
                      f"{r.address} direct_internet_access = Enabled (notebook reaches the internet directly)",
                      r.path, b.line_of("direct_internet_access"))

    def _r_aws_sagemaker_domain(self, r: Resource) -> Iterator[Fact]:
        yield from self._kms(r, "kms_key_id")
        mode = self.val(r.block, "app_network_access_type")
        if isinstance(mode, str):
            effect = PASS if mode == "VpcOnly" else PARTIAL
            yield sig("PIPE-07", effect, "network-isolation", f"{r.address} app_network_access_type = {mode}",
                      r.path, r.block.line_of("app_network_access_type"))

    def _r_aws_fsx_lustre_file_system(self, r: Resource) -> Iterator[Fact]:
        yield sig("DATA-01", PASS, "encryption-at-rest",
                  f"{r.address} FSx for Lustre encrypts at rest"
                  + (" with kms_key_id" if r.block.get("kms_key_id") else " (service key)"), r.path, r.block.line)

    def _r_aws_sagemaker_feature_group(self, r: Resource) -> Iterator[Fact]:
        if r.block.child("offline_store_config") is not None:
            yield from self._kms(r, "offline_store_config", "s3_storage_config", "kms_key_id")

    def _r_google_storage_bucket(self, r: Resource) -> Iterator[Fact]:
        b = r.block
        enc = b.child("encryption")
        if enc is not None and enc.get("default_kms_key_name"):
            yield sig("DATA-01", PASS, "encryption-at-rest", f"{r.address} encryption.default_kms_key_name set",
                      r.path, enc.line_of("default_kms_key_name"))
        else:
            yield sig("DATA-01", PARTIAL, "bucket-default-encryption",
                      f"{r.address} has no encryption.default_kms_key_name (Google-managed keys only)", r.path,
                      b.line)
        ubla = truthy(self.val(b, "uniform_bucket_level_access"))
        pap = self.val(b, "public_access_prevention")
        if ubla and pap == "enforced":
            yield sig("DATA-03", PARTIAL, "bucket-access",
                      f"{r.address} uniform_bucket_level_access = true, public_access_prevention = enforced "
                      "(real IAM lives outside the repository)", r.path, b.line_of("public_access_prevention"))

    def _gcs_members(self, r: Resource) -> Iterator[Fact]:
        b = r.block
        for attr in ("member", "members"):
            for m in strings(b.get(attr)):
                if m.lower() in PUBLIC_MEMBERS:
                    yield sig("DATA-03", FAIL, "public-bucket", f'{r.address} grants {b.get("role")} to {m}',
                              r.path, b.line_of(attr), content=f"{r.address} {m}", severity=Severity.CRITICAL)

    _r_google_storage_bucket_iam_member = _gcs_members
    _r_google_storage_bucket_iam_binding = _gcs_members
    _r_google_bigquery_dataset_iam_member = _gcs_members

    def _r_google_bigquery_dataset(self, r: Resource) -> Iterator[Fact]:
        yield from self._kms(r, "default_encryption_configuration", "kms_key_name")

    def _r_azurerm_storage_account(self, r: Resource) -> Iterator[Fact]:
        b = r.block
        infra = truthy(self.val(b, "infrastructure_encryption_enabled"))
        cmk = b.child("customer_managed_key")
        separate = any(r.name in str(c.block.get("storage_account_id", ""))
                       for c in self.by_type.get("azurerm_storage_account_customer_managed_key", []))
        if infra or cmk is not None or separate:
            what = ("infrastructure_encryption_enabled = true" if infra else "customer-managed key")
            line = b.line_of("infrastructure_encryption_enabled") if infra else (cmk.line if cmk else b.line)
            yield sig("DATA-01", PASS, "encryption-at-rest", f"{r.address} {what}", r.path, line)
        else:
            yield sig("DATA-01", PARTIAL, "encryption-at-rest",
                      f"{r.address} uses Microsoft-managed keys only (no customer_managed_key, "
                      "no infrastructure_encryption_enabled)", r.path, b.line)
        for attr in ("https_traffic_only_enabled", "enable_https_traffic_only"):
            if truthy(self.val(b, attr)) is False:
                yield sig("DATA-02", FAIL, "plaintext-data-endpoint", f"{r.address} {attr} = false", r.path,
                          b.line_of(attr), content=f"{r.address} {attr}", severity=Severity.HIGH)
        for attr in ("allow_nested_items_to_be_public", "allow_blob_public_access"):
            if truthy(self.val(b, attr)):
                yield sig("DATA-03", FAIL, "public-bucket", f"{r.address} {attr} = true", r.path, b.line_of(attr),
                          content=f"{r.address} {attr}", severity=Severity.HIGH)

    def _r_azurerm_storage_container(self, r: Resource) -> Iterator[Fact]:
        access = self.val(r.block, "container_access_type")
        if isinstance(access, str) and access.lower() in ("blob", "container"):
            yield sig("DATA-03", FAIL, "public-bucket", f'{r.address} container_access_type = "{access}"',
                      r.path, r.block.line_of("container_access_type"), content=f"{r.address} {access}",
                      severity=Severity.CRITICAL)

    # ------------------------------------------------------------------ DATA-02 in transit
    _TLS_ATTRS = ("ssl_policy", "minimum_tls_version", "min_tls_version", "minimum_protocol_version",
                  "tls_security_policy", "ssl_minimum_version")

    def _tls_attributes(self, r: Resource) -> Iterator[Fact]:
        nodes = [r.block, *r.block.descendants()]
        for node in nodes:
            for attr in (*self._TLS_ATTRS, "security_policy"):
                if attr == "security_policy" and not r.rtype.startswith("aws_api_gateway_domain"):
                    continue
                value = self.val(node, attr)
                if not isinstance(value, str):
                    continue
                version = tls_minimum(value)
                if version is None:
                    continue
                yield from tls_signal(f"{r.address} {attr} = {value}", version, r.path, node.line_of(attr))

    def _policy_value(self, r: Resource) -> Iterator[Fact]:
        doc = iam.parse_policy_text(r.block.get("policy"))
        if doc is None:
            return
        line = r.block.line_of("policy")
        yield from policy_signals(r.address, iam.statements_of(doc), r.path, line)

    _r_aws_iam_policy = _policy_value
    _r_aws_iam_role_policy = _policy_value
    _r_aws_iam_user_policy = _policy_value
    _r_aws_iam_group_policy = _policy_value
    _r_aws_s3_bucket_policy = _policy_value

    def _policy_document(self, r: Resource) -> Iterator[Fact]:
        stmts = []
        lines = []
        for st in r.block.children("statement"):
            cond = [{"test": c.get("test"), "variable": c.get("variable"), "values": c.get("values")}
                    for c in st.children("condition")]
            principals: dict[str, list[str]] = {}
            for p in st.children("principals"):
                principals.setdefault(str(p.get("type")), []).extend(strings(p.get("identifiers")))
            stmts.append(iam.Statement(str(st.get("effect", "Allow")), tuple(strings(st.get("actions"))),
                                       tuple(strings(st.get("resources"))), cond, principals or None))
            lines.append(st.line)
        yield from policy_signals(r.address, stmts, r.path, r.block.line, lines)

    def _r_aws_iam_role_policy_attachment(self, r: Resource) -> Iterator[Fact]:
        arn = str(r.block.get("policy_arn", ""))
        for broad in ("AdministratorAccess", "AmazonS3FullAccess", "PowerUserAccess"):
            if arn.endswith("/" + broad):
                yield sig("DATA-03", FAIL, "iam-wildcard", f"{r.address} attaches {broad}", r.path,
                          r.block.line_of("policy_arn"), content=f"{r.address} {broad}")

    _r_aws_iam_user_policy_attachment = _r_aws_iam_role_policy_attachment
    _r_aws_iam_group_policy_attachment = _r_aws_iam_role_policy_attachment

    def _r_aws_s3_bucket_public_access_block(self, r: Resource) -> Iterator[Fact]:
        b = r.block
        flags = ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets")
        off = [f for f in flags if truthy(self.val(b, f)) is False]
        if off:
            yield sig("DATA-03", FAIL, "public-access-block-disabled",
                      f"{r.address} {off[0]} = false" + (f" (+{len(off) - 1} more)" if len(off) > 1 else ""),
                      r.path, b.line_of(off[0]), content=f"{r.address} {','.join(off)}")
            yield sig("DATA-01", FAIL, "public-access-block-disabled",
                      f"{r.address} {off[0]} = false: bucket contents may be made public", r.path,
                      b.line_of(off[0]), content=f"{r.address} {','.join(off)}")
        elif all(truthy(self.val(b, f)) for f in flags):
            yield sig("DATA-03", PARTIAL, "bucket-access",
                      f"{r.address} blocks all public access (the four flags are true; real IAM lives outside "
                      "the repository)", r.path, b.line)

    # ------------------------------------------------------------------ PIPE-07 segmentation
    def _r_aws_sagemaker_model(self, r: Resource) -> Iterator[Fact]:
        b = r.block
        if truthy(self.val(b, "enable_network_isolation")):
            yield sig("PIPE-07", PASS, "network-isolation", f"{r.address} enable_network_isolation = true", r.path,
                      b.line_of("enable_network_isolation"))
        vpc = b.child("vpc_config")
        if vpc is not None:
            yield sig("PIPE-07", PASS, "network-isolation",
                      f"{r.address} vpc_config (subnets {vpc.get('subnets', '?')})", r.path, vpc.line)

    def _sg_rule(self, address: str, node: Block, path: str, cidrs: list[str], lo: Any, hi: Any,
                 proto: Any) -> Iterator[Fact]:
        open_cidr = next((c for c in cidrs if c in OPEN_CIDRS), None)
        if open_cidr is None:
            return
        lo_n, hi_n = number(lo), number(hi)
        all_proto = str(proto) in ("-1", "all")
        if not all_proto and lo_n is not None and hi_n is not None and lo_n == hi_n and int(lo_n) in HTTP_PORTS:
            return
        ports = "all ports" if all_proto or (lo_n == 0 and hi_n in (0, 65535)) else (
            f"port {_show(lo_n)}" if lo_n == hi_n else f"ports {_show(lo_n)}-{_show(hi_n)}")
        yield sig("PIPE-07", FAIL, "open-ingress", f"{address} allows ingress from {open_cidr} on {ports}",
                  path, node.line, content=f"{address} {open_cidr} {ports}")

    def _r_aws_security_group(self, r: Resource) -> Iterator[Fact]:
        for ing in r.block.children("ingress"):
            cidrs = strings(ing.get("cidr_blocks")) + strings(ing.get("ipv6_cidr_blocks"))
            yield from self._sg_rule(r.address, ing, r.path, cidrs, ing.get("from_port"), ing.get("to_port"),
                                     ing.get("protocol"))

    def _r_aws_security_group_rule(self, r: Resource) -> Iterator[Fact]:
        b = r.block
        if str(b.get("type", "")).lower() != "ingress":
            return
        cidrs = strings(b.get("cidr_blocks")) + strings(b.get("ipv6_cidr_blocks"))
        yield from self._sg_rule(r.address, b, r.path, cidrs, b.get("from_port"), b.get("to_port"),
                                 b.get("protocol"))

    def _r_aws_vpc_security_group_ingress_rule(self, r: Resource) -> Iterator[Fact]:
        b = r.block
        cidrs = strings(b.get("cidr_ipv4")) + strings(b.get("cidr_ipv6"))
        yield from self._sg_rule(r.address, b, r.path, cidrs, b.get("from_port"), b.get("to_port"),
                                 b.get("ip_protocol"))

    def _r_aws_vpc_endpoint(self, r: Resource) -> Iterator[Fact]:
        service = str(r.block.get("service_name", ""))
        yield sig("PIPE-07", PARTIAL, "network-isolation",
                  f"{r.address} VPC endpoint {service} keeps traffic to the service off the internet", r.path,
                  r.block.line)

    def _r_google_vertex_ai_endpoint(self, r: Resource) -> Iterator[Fact]:
        network = r.block.get("network")
        if network:
            yield sig("PIPE-07", PASS, "network-isolation",
                      f"{r.address} peered to private network {network}", r.path, r.block.line_of("network"))

    def _r_azurerm_machine_learning_workspace(self, r: Resource) -> Iterator[Fact]:
        b = r.block
        public = truthy(self.val(b, "public_network_access_enabled"))
        if public is False:
            yield sig("PIPE-07", PASS, "network-isolation", f"{r.address} public_network_access_enabled = false",
                      r.path, b.line_of("public_network_access_enabled"))
        elif public is True:
            yield sig("PIPE-07", PARTIAL, "network-isolation",
                      f"{r.address} public_network_access_enabled = true", r.path,
                      b.line_of("public_network_access_enabled"))


def tls_signal(text: str, version: tuple[int, int], path: str, line: int) -> Iterator[Signal]:
    """DATA-02 verdict for a minimum TLS version: < 1.2 fails, 1.2 is partial (LockML asks 1.3), 1.3 passes."""
    if version < (1, 2):
        yield sig("DATA-02", FAIL, "weak-tls", f"{text} allows {tls_label(version)}", path, line, content=text,
                  severity=Severity.HIGH)
    elif version == (1, 2):
        yield sig("DATA-02", PARTIAL, "tls-policy", f"{text}: TLS 1.2 minimum (LockML asks for TLS 1.3)", path,
                  line)
    else:
        yield sig("DATA-02", PASS, "tls-policy", f"{text}: {tls_label(version)} minimum", path, line)


def policy_signals(subject: str, statements: list[iam.Statement], path: str, line: int,
                   lines: list[int] | None = None) -> Iterator[Signal]:
    """DATA-03 (wildcards vs scoped) and DATA-02 (``aws:SecureTransport``) facts of one policy.

    ``lines`` gives each statement's own line when the format knows it (Terraform policy documents).
    """
    if not statements:
        return
    wild = [(w, lines[i] if lines and i < len(lines) else line)
            for i, w in enumerate(s.wildcard() for s in statements) if w]
    for grant, at in wild:
        yield sig("DATA-03", FAIL, "iam-wildcard", f"{subject} allows {grant}", path, at,
                  content=f"{subject} {grant}", severity=Severity.HIGH)
    for i, st in enumerate(statements):
        if st.public():
            at = lines[i] if lines and i < len(lines) else line
            actions = ", ".join(st.actions[:3]) or "?"
            yield sig("DATA-03", FAIL, "public-bucket", f'{subject} allows Principal "*" ({actions}) with no condition',
                      path, at, content=f"{subject} public {actions}", severity=Severity.CRITICAL)
    if not wild and not any(s.public() for s in statements) and any(s.effect.lower() == "allow"
                                                                      for s in statements):
        yield sig("DATA-03", PARTIAL, "iam-scoped",
                  f"{subject} grants scoped actions (no wildcard; real IAM lives outside the repository)", path,
                  line)
    for i, st in enumerate(statements):
        if st.denies_insecure_transport():
            at = lines[i] if lines and i < len(lines) else line
            yield sig("DATA-02", PASS, "secure-transport",
                      f"{subject} denies requests with aws:SecureTransport = false (TLS enforced)", path, at)
            break


def ml_resource(r: Resource) -> bool:
    """True when a Terraform resource declares ML infrastructure (SageMaker, Vertex, Azure ML, GPU capacity)."""
    if ML_RESOURCE.search(r.rtype):
        return True
    nodes = [r.block, *r.block.descendants()]
    for node in nodes:
        if node.type in ("guest_accelerator", "gpu_config"):
            return True
        for attr in ("instance_type", "instance_types", "machine_type", "vm_size", "node_type"):
            if any(GPU_TYPE.match(s) for s in strings(node.get(attr))):
                return True
    return False
