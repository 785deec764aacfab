"""Judgements over AWS Terraform resources (``aws_*``): logging and retention, API Gateway / WAF / Shield,
S3 and storage encryption, IAM policies, SageMaker and security-group segmentation."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from mlposture.probes.infrastructure import iam
from mlposture.probes.infrastructure.facts import FAIL, PARTIAL, PASS, Retention, logged, sig
from mlposture.probes.infrastructure.hcl import Block, Resource, number, strings, truthy
from mlposture.probes.infrastructure.terraform.shared import (
    HTTP_PORTS,
    OPEN_CIDRS,
    Fact,
    TerraformRules,
    kms,
    policy_signals,
    resource,
    show,
)
from mlposture.probes.infrastructure.values import PUBLIC_ACLS
from mlposture.scanner.probe import Severity


# ---------------------------------------------------------------------------------------- INF-08 retention
@resource("aws_cloudwatch_log_group")
def cloudwatch_log_group(t: TerraformRules, r: Resource) -> Iterator[Fact]:
    b = r.block
    raw = b.get("retention_in_days")
    value = t.resolve(raw)
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
    yield Retention("cloudwatch", r.address, f"retention_in_days = {show(days)}{via}", days, r.path,
                    b.line_of("retention_in_days"))


# ---------------------------------------------------------------------------------------- INF-08 request logging
@resource("aws_sagemaker_endpoint_configuration")
def sagemaker_endpoint_configuration(t: TerraformRules, r: Resource) -> Iterator[Fact]:
    b = r.block
    cap = b.child("data_capture_config")
    if cap is not None:
        enabled = truthy(t.val(cap, "enable_capture"))
        sampling = number(t.val(cap, "initial_sampling_percentage"))
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
    if b.get("kms_key_arn"):
        yield sig("DATA-01", PASS, "encryption-at-rest", f"{r.address} kms_key_arn set", r.path,
                  b.line_of("kms_key_arn"))


@resource("aws_api_gateway_method_settings")
def api_gateway_method_settings(t: TerraformRules, r: Resource) -> Iterator[Fact]:
    s = r.block.child("settings")
    if s is None:
        return
    level = t.val(s, "logging_level")
    trace = truthy(t.val(s, "data_trace_enabled"))
    if isinstance(level, str) and level.upper() in ("INFO", "ERROR"):
        yield logged(f"{r.address} API Gateway execution logging_level = {level}"
                     + (", data_trace_enabled = true" if trace else ""), r.path, s.line_of("logging_level"))
    rate = number(t.val(s, "throttling_rate_limit"))
    burst = number(t.val(s, "throttling_burst_limit"))
    if rate is not None or burst is not None:
        what = ", ".join(f"{k} = {show(v)}" for k, v in (("throttling_rate_limit", rate),
                                                         ("throttling_burst_limit", burst)) if v is not None)
        line = s.line_of("throttling_rate_limit" if rate is not None else "throttling_burst_limit")
        yield sig("INF-10", PARTIAL, "api-throttling",
                  f"{r.address} API Gateway stage throttling {what} (no edge WAF/CDN seen here)", r.path, line)
        yield sig("INF-01", PARTIAL, "api-throttling",
                  f"{r.address} API Gateway throttling {what} applies to all callers, not per key", r.path, line)


@resource("aws_api_gateway_stage")
def stage_access_logs(t: TerraformRules, r: Resource) -> Iterator[Fact]:
    als = r.block.child("access_log_settings")
    if als is not None:
        yield logged(f"{r.address} access_log_settings (destination {als.get('destination_arn', '?')})",
                     r.path, als.line)


@resource("aws_apigatewayv2_stage")
def apigatewayv2_stage(t: TerraformRules, r: Resource) -> Iterator[Fact]:
    yield from stage_access_logs(t, r)
    drs = r.block.child("default_route_settings")
    if drs is not None:
        rate = number(t.val(drs, "throttling_rate_limit"))
        if rate is not None:
            yield sig("INF-10", PARTIAL, "api-throttling",
                      f"{r.address} default_route_settings.throttling_rate_limit = {show(rate)}", r.path,
                      drs.line_of("throttling_rate_limit"))
            yield sig("INF-01", PARTIAL, "api-throttling",
                      f"{r.address} HTTP API throttling {show(rate)}/s applies to all callers, not per key",
                      r.path, drs.line_of("throttling_rate_limit"))


# ---------------------------------------------------------------------------------------- INF-01 / INF-10 / INF-11
@resource("aws_api_gateway_usage_plan")
def api_gateway_usage_plan(t: TerraformRules, r: Resource) -> Iterator[Fact]:
    b = r.block
    quota = b.child("quota_settings")
    throttle = b.child("throttle_settings")
    period = str(t.val(quota, "period") or "").upper() if quota is not None else ""
    limit = t.val(quota, "limit") if quota is not None else None
    if quota is not None:
        text = f"{r.address} quota_settings limit = {show(limit)} per {period or '?'}"
        if period in ("WEEK", "MONTH"):
            yield sig("INF-11", PASS, "usage-plan-quota", text + " (per API key)", r.path, quota.line_of("period"))
        elif period == "DAY":
            yield sig("INF-11", PARTIAL, "usage-plan-quota",
                      text + " (daily only; no weekly or monthly window)", r.path, quota.line_of("period"))
    if throttle is not None:
        rate = t.val(throttle, "rate_limit")
        burst = t.val(throttle, "burst_limit")
        text = f"{r.address} throttle_settings rate_limit = {show(rate)}, burst_limit = {show(burst)}"
        if period:
            yield sig("INF-01", PASS, "usage-plan-throttle",
                      text + f" per API key, with a {period} quota for aggregate tracking", r.path, throttle.line)
        else:
            yield sig("INF-01", PARTIAL, "usage-plan-throttle",
                      text + " per API key, no day/week/month quota (no aggregate tracking)", r.path,
                      throttle.line)
        yield sig("INF-10", PARTIAL, "api-throttling", text, r.path, throttle.line)


@resource("aws_shield_protection")
def shield_protection(t: TerraformRules, r: Resource) -> Iterator[Fact]:
    yield sig("INF-10", PASS, "edge-protection", f"{r.address} AWS Shield Advanced protection", r.path,
              r.block.line)


@resource("aws_wafv2_web_acl")
def wafv2_web_acl(t: TerraformRules, r: Resource) -> Iterator[Fact]:
    b = r.block
    rate_rules = [d for d in b.descendants() if d.type == "rate_based_statement"]
    if not rate_rules:
        yield sig("INF-10", PARTIAL, "edge-protection", f"{r.address} WAF web ACL without a rate-based rule",
                  r.path, b.line)
        return
    for rb in rate_rules:
        limit = t.val(rb, "limit")
        key = str(t.val(rb, "aggregate_key_type") or "IP").upper()
        window = t.val(rb, "evaluation_window_sec")
        text = (f"{r.address} WAF rate_based_statement limit = {show(limit)}, aggregate_key_type = {key}"
                + (f", evaluation_window_sec = {show(window)}" if window is not None else ""))
        yield sig("INF-10", PASS, "edge-protection", text, r.path, rb.line)
        if key == "CUSTOM_KEYS" and any(c.type == "custom_key" and c.child("header") is not None
                                        for c in rb.blocks):
            yield sig("INF-01", PASS, "waf-rate-limit", text + " (keyed on a request header)", r.path, rb.line)
        else:
            yield sig("INF-01", PARTIAL, "waf-rate-limit", text + " (per IP/constant, not per user or key)",
                      r.path, rb.line)


@resource("aws_appautoscaling_target")
def appautoscaling_target(t: TerraformRules, r: Resource) -> Iterator[Fact]:
    cap = number(t.val(r.block, "max_capacity"))
    if cap is not None:
        yield sig("INF-10", PARTIAL, "autoscaling-cap",
                  f"{r.address} max_capacity = {cap:g} bounds autoscaling (edge protection still needed)",
                  r.path, r.block.line_of("max_capacity"))


# ---------------------------------------------------------------------------------------- INF-12
@resource("aws_cloudtrail")
def cloudtrail(t: TerraformRules, r: Resource) -> Iterator[Fact]:
    if truthy(t.val(r.block, "enable_log_file_validation")):
        yield sig("INF-12", PARTIAL, "tamper-evident-logs",
                  f"{r.address} enable_log_file_validation = true (tamper-evident logs, outputs unsigned)",
                  r.path, r.block.line_of("enable_log_file_validation"))


# ---------------------------------------------------------------------------------------- DATA-01 at rest
def _bucket_refs(t: TerraformRules, rtype: str) -> dict[str, tuple[Resource, Block]]:
    """Buckets referenced by companion resources of ``rtype`` (``bucket = aws_s3_bucket.x.id``)."""
    out: dict[str, tuple[Resource, Block]] = {}
    for c in t.by_type.get(rtype, []):
        ref = str(c.block.get("bucket", ""))
        m = re.search(r"aws_s3_bucket\.([\w-]+)\.", ref)
        out[m.group(1) if m else ref] = (c, c.block)
    return out


@resource("aws_s3_bucket")
def s3_bucket(t: TerraformRules, r: Resource) -> Iterator[Fact]:
    b = r.block
    acl = t.val(b, "acl")
    if isinstance(acl, str) and acl.lower() in PUBLIC_ACLS:
        yield from _public_acl(r.address, acl, r.path, b.line_of("acl"))
    inline = b.child("server_side_encryption_configuration")
    if inline is not None:
        algo = next((str(d.get("sse_algorithm")) for d in inline.descendants() if "sse_algorithm" in d.attrs), "?")
        yield sig("DATA-01", PASS, "encryption-at-rest",
                  f"{r.address} server_side_encryption_configuration sse_algorithm = {algo}", r.path, inline.line)
        return
    configs = _bucket_refs(t, "aws_s3_bucket_server_side_encryption_configuration")
    name = str(b.get("bucket", ""))
    if r.name in configs or (name and name in configs):
        return  # judged on the configuration resource
    yield sig("DATA-01", PARTIAL, "bucket-default-encryption",
              f"{r.address} has no server-side encryption configuration (AWS applies SSE-S3 by default "
              "to new buckets since January 2023; no customer-managed key)", r.path, b.line)


def _public_acl(address: str, acl: str, path: str, line: int) -> Iterator[Fact]:
    for control in ("DATA-01", "DATA-03"):
        yield sig(control, FAIL, "public-bucket", f'{address} acl = "{acl}"', path, line,
                  content=f"{address} acl {acl}", severity=Severity.CRITICAL)


@resource("aws_s3_bucket_acl")
def s3_bucket_acl(t: TerraformRules, r: Resource) -> Iterator[Fact]:
    acl = t.val(r.block, "acl")
    if isinstance(acl, str) and acl.lower() in PUBLIC_ACLS:
        yield from _public_acl(r.address, acl, r.path, r.block.line_of("acl"))


@resource("aws_s3_bucket_server_side_encryption_configuration")
def s3_bucket_encryption(t: TerraformRules, r: Resource) -> Iterator[Fact]:
    for d in r.block.descendants():
        if d.type == "apply_server_side_encryption_by_default":
            algo = str(t.val(d, "sse_algorithm"))
            if algo in ("aws:kms", "aws:kms:dsse", "AES256"):
                yield sig("DATA-01", PASS, "encryption-at-rest",
                          f"{r.address} sse_algorithm = {algo} for bucket {r.block.get('bucket')}", r.path,
                          d.line_of("sse_algorithm"))
            else:
                yield sig("DATA-01", PARTIAL, "encryption-at-rest",
                          f"{r.address} sse_algorithm = {algo} not recognised", r.path, d.line_of("sse_algorithm"))


def _flag(t: TerraformRules, r: Resource, attr: str, what: str, missing_fail: bool) -> Iterator[Fact]:
    b = r.block
    value = truthy(t.val(b, attr))
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
                      f"{r.address} {attr} not set (encrypted only if the account default is on)", r.path, b.line)


@resource("aws_ebs_volume")
def ebs_volume(t: TerraformRules, r: Resource) -> Iterator[Fact]:
    yield from _flag(t, r, "encrypted", "volume", missing_fail=False)


@resource("aws_efs_file_system")
def efs_file_system(t: TerraformRules, r: Resource) -> Iterator[Fact]:
    yield from _flag(t, r, "encrypted", "file system", missing_fail=True)


@resource("aws_db_instance", "aws_rds_cluster")
def database(t: TerraformRules, r: Resource) -> Iterator[Fact]:
    yield from _flag(t, r, "storage_encrypted", "database storage", missing_fail=True)


@resource("aws_sagemaker_notebook_instance")
def sagemaker_notebook_instance(t: TerraformRules, r: Resource) -> Iterator[Fact]:
    yield from kms(r, "kms_key_id")
    b = r.block
    access = t.val(b, "direct_internet_access")
    if isinstance(access, str) and access.lower() == "disabled":
        yield sig("PIPE-07", PASS, "network-isolation",
                  f"{r.address} direct_internet_access = Disabled (subnet {b.get('subnet_id', '?')})", r.path,
                  b.line_of("direct_internet_access"))
    elif isinstance(access, str) and access.lower() == "enabled":
        yield sig("PIPE-07", PARTIAL, "network-isolation",
                  f"{r.address} direct_internet_access = Enabled (notebook reaches the internet directly)",
                  r.path, b.line_of("direct_internet_access"))


@resource("aws_sagemaker_domain")
def sagemaker_domain(t: TerraformRules, r: Resource) -> Iterator[Fact]:
    yield from kms(r, "kms_key_id")
    mode = t.val(r.block, "app_network_access_type")
    if isinstance(mode, str):
        effect = PASS if mode == "VpcOnly" else PARTIAL
        yield sig("PIPE-07", effect, "network-isolation", f"{r.address} app_network_access_type = {mode}",
                  r.path, r.block.line_of("app_network_access_type"))


@resource("aws_fsx_lustre_file_system")
def fsx_lustre_file_system(t: TerraformRules, r: Resource) -> Iterator[Fact]:
    yield sig("DATA-01", PASS, "encryption-at-rest",
              f"{r.address} FSx for Lustre encrypts at rest"
              + (" with kms_key_id" if r.block.get("kms_key_id") else " (service key)"), r.path, r.block.line)


@resource("aws_sagemaker_feature_group")
def sagemaker_feature_group(t: TerraformRules, r: Resource) -> Iterator[Fact]:
    if r.block.child("offline_store_config") is not None:
        yield from kms(r, "offline_store_config", "s3_storage_config", "kms_key_id")


# ---------------------------------------------------------------------------------------- DATA-03 IAM and access
@resource("aws_iam_policy", "aws_iam_role_policy", "aws_iam_user_policy", "aws_iam_group_policy",
          "aws_s3_bucket_policy")
def policy_value(t: TerraformRules, r: Resource) -> Iterator[Fact]:
    doc = iam.parse_policy_text(r.block.get("policy"))
    if doc is None:
        return
    line = r.block.line_of("policy")
    yield from policy_signals(r.address, iam.statements_of(doc), r.path, line)


@resource("aws_iam_policy_document", kind="data")
def policy_document(t: TerraformRules, r: Resource) -> Iterator[Fact]:
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


@resource("aws_iam_role_policy_attachment", "aws_iam_user_policy_attachment", "aws_iam_group_policy_attachment")
def policy_attachment(t: TerraformRules, r: Resource) -> Iterator[Fact]:
    arn = str(r.block.get("policy_arn", ""))
    for broad in ("AdministratorAccess", "AmazonS3FullAccess", "PowerUserAccess"):
        if arn.endswith("/" + broad):
            yield sig("DATA-03", FAIL, "iam-wildcard", f"{r.address} attaches {broad}", r.path,
                      r.block.line_of("policy_arn"), content=f"{r.address} {broad}")


@resource("aws_s3_bucket_public_access_block")
def s3_public_access_block(t: TerraformRules, r: Resource) -> Iterator[Fact]:
    b = r.block
    flags = ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets")
    off = [f for f in flags if truthy(t.val(b, f)) is False]
    if off:
        yield sig("DATA-03", FAIL, "public-access-block-disabled",
                  f"{r.address} {off[0]} = false" + (f" (+{len(off) - 1} more)" if len(off) > 1 else ""),
                  r.path, b.line_of(off[0]), content=f"{r.address} {','.join(off)}")
        yield sig("DATA-01", FAIL, "public-access-block-disabled",
                  f"{r.address} {off[0]} = false: bucket contents may be made public", r.path,
                  b.line_of(off[0]), content=f"{r.address} {','.join(off)}")
    elif all(truthy(t.val(b, f)) for f in flags):
        yield sig("DATA-03", PARTIAL, "bucket-access",
                  f"{r.address} blocks all public access (the four flags are true; real IAM lives outside "
                  "the repository)", r.path, b.line)


# ---------------------------------------------------------------------------------------- PIPE-07 segmentation
@resource("aws_sagemaker_model")
def sagemaker_model(t: TerraformRules, r: Resource) -> Iterator[Fact]:
    b = r.block
    if truthy(t.val(b, "enable_network_isolation")):
        yield sig("PIPE-07", PASS, "network-isolation", f"{r.address} enable_network_isolation = true", r.path,
                  b.line_of("enable_network_isolation"))
    vpc = b.child("vpc_config")
    if vpc is not None:
        yield sig("PIPE-07", PASS, "network-isolation",
                  f"{r.address} vpc_config (subnets {vpc.get('subnets', '?')})", r.path, vpc.line)


def _sg_rule(address: str, node: Block, path: str, cidrs: list[str], lo: Any, hi: Any,
             proto: Any) -> Iterator[Fact]:
    open_cidr = next((c for c in cidrs if c in OPEN_CIDRS), None)
    if open_cidr is None:
        return
    lo_n, hi_n = number(lo), number(hi)
    all_proto = str(proto) in ("-1", "all")
    if not all_proto and lo_n is not None and hi_n is not None and lo_n == hi_n and int(lo_n) in HTTP_PORTS:
        return
    ports = "all ports" if all_proto or (lo_n == 0 and hi_n in (0, 65535)) else (
        f"port {show(lo_n)}" if lo_n == hi_n else f"ports {show(lo_n)}-{show(hi_n)}")
    yield sig("PIPE-07", FAIL, "open-ingress", f"{address} allows ingress from {open_cidr} on {ports}",
              path, node.line, content=f"{address} {open_cidr} {ports}")


@resource("aws_security_group")
def security_group(t: TerraformRules, r: Resource) -> Iterator[Fact]:
    for ing in r.block.children("ingress"):
        cidrs = strings(ing.get("cidr_blocks")) + strings(ing.get("ipv6_cidr_blocks"))
        yield from _sg_rule(r.address, ing, r.path, cidrs, ing.get("from_port"), ing.get("to_port"),
                            ing.get("protocol"))


@resource("aws_security_group_rule")
def security_group_rule(t: TerraformRules, r: Resource) -> Iterator[Fact]:
    b = r.block
    if str(b.get("type", "")).lower() != "ingress":
        return
    cidrs = strings(b.get("cidr_blocks")) + strings(b.get("ipv6_cidr_blocks"))
    yield from _sg_rule(r.address, b, r.path, cidrs, b.get("from_port"), b.get("to_port"), b.get("protocol"))


@resource("aws_vpc_security_group_ingress_rule")
def vpc_security_group_ingress_rule(t: TerraformRules, r: Resource) -> Iterator[Fact]:
    b = r.block
    cidrs = strings(b.get("cidr_ipv4")) + strings(b.get("cidr_ipv6"))
    yield from _sg_rule(r.address, b, r.path, cidrs, b.get("from_port"), b.get("to_port"), b.get("ip_protocol"))


@resource("aws_vpc_endpoint")
def vpc_endpoint(t: TerraformRules, r: Resource) -> Iterator[Fact]:
    service = str(r.block.get("service_name", ""))
    yield sig("PIPE-07", PARTIAL, "network-isolation",
              f"{r.address} VPC endpoint {service} keeps traffic to the service off the internet", r.path,
              r.block.line)
