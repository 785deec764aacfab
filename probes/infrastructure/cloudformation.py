"""Judgements over CloudFormation and SAM templates and the Serverless Framework's ``serverless.yml``.

Templates are read as YAML or JSON documents (``!Ref``/``!Sub`` keep their plain values); a document is a
template when it has ``AWSTemplateFormatVersion``, a SAM ``Transform``, or ``Resources`` whose entries carry an
``AWS::`` ``Type``. ``serverless.yml`` adds provider-level settings (``logRetentionInDays``, API Gateway usage
plans, REST API logs) and embeds CloudFormation under ``resources.Resources``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from mlposture.probes.infrastructure import iam
from mlposture.probes.infrastructure.facts import FAIL, PARTIAL, PASS, Retention, Signal, logged, sig
from mlposture.probes.infrastructure.structured import as_list
from mlposture.probes.infrastructure.terraform import HTTP_PORTS, OPEN_CIDRS, policy_signals, tls_signal
from mlposture.probes.infrastructure.values import PUBLIC_ACLS, boolish, tls_minimum
from mlposture.scanner.probe import Severity
from mlposture.scanner.values import as_number as _num
from mlposture.scanner.yamlsafe import dig, item_lines, line_of

Fact = Signal | Retention

ML_TYPES = ("AWS::SageMaker::", "AWS::Bedrock::")


def is_template(doc: Any) -> bool:
    """A CloudFormation or SAM template."""
    if not isinstance(doc, dict):
        return False
    if "AWSTemplateFormatVersion" in doc:
        return True
    transform = doc.get("Transform")
    if isinstance(transform, str) and transform.startswith("AWS::Serverless"):
        return True
    res = doc.get("Resources")
    return isinstance(res, dict) and any(
        isinstance(v, dict) and str(v.get("Type", "")).startswith(("AWS::", "Custom::")) for v in res.values())


def is_serverless(path: str, doc: Any) -> bool:
    """A Serverless Framework service file."""
    name = path.rsplit("/", 1)[-1].lower()
    return name in ("serverless.yml", "serverless.yaml") and isinstance(doc, dict) and "provider" in doc


def _show(value: Any) -> str:
    n = _num(value)
    return f"{n:g}" if n is not None else str(value)


class TemplateRules:
    """Facts from the ``Resources`` of one template."""

    def __init__(self, resources: dict[Any, Any], path: str) -> None:
        self.resources = resources if isinstance(resources, dict) else {}
        self.path = path

    def ml_resources(self) -> list[str]:
        """Logical ids of SageMaker/Bedrock resources."""
        return [str(k) for k, v in self.resources.items()
                if isinstance(v, dict) and str(v.get("Type", "")).startswith(ML_TYPES)]

    def run(self) -> Iterator[Fact]:
        """Every fact of every resource."""
        for name, res in self.resources.items():
            if not isinstance(res, dict):
                continue
            rtype = str(res.get("Type", ""))
            props = res.get("Properties")
            if not isinstance(props, dict):
                props = {}
            line = line_of(self.resources, name)
            handler = getattr(self, "_t_" + rtype.replace("::", "_"), None)
            if handler is not None:
                yield from handler(f"{name} ({rtype})", props, line)

    def _at(self, props: Any, key: str, default: int) -> int:
        return line_of(props, key, default) if isinstance(props, dict) and key in props else default

    # INF-08
    def _t_AWS_Logs_LogGroup(self, subject: str, props: dict[Any, Any], line: int) -> Iterator[Fact]:
        value = props.get("RetentionInDays")
        if value is None:
            yield Retention("cloudwatch", subject, "RetentionInDays not set", None, self.path, line,
                            "CloudWatch keeps logs forever when RetentionInDays is omitted")
            return
        days = _num(value)
        if days is not None:
            yield Retention("cloudwatch", subject, f"RetentionInDays = {days:g}", days, self.path,
                            self._at(props, "RetentionInDays", line))

    def _t_AWS_SageMaker_EndpointConfig(self, subject: str, props: dict[Any, Any], line: int) -> Iterator[Fact]:
        cap = props.get("DataCaptureConfig")
        if isinstance(cap, dict):
            enabled = boolish(cap.get("EnableCapture"))
            sampling = _num(cap.get("InitialSamplingPercentage"))
            at = self._at(props, "DataCaptureConfig", line)
            if enabled is False:
                yield sig("INF-08", PARTIAL, "request-logging", f"{subject} DataCaptureConfig.EnableCapture = false",
                          self.path, at)
            elif sampling is not None and sampling < 100:
                yield sig("INF-08", PARTIAL, "request-logging",
                          f"{subject} data capture samples {sampling:g}% of requests (forensics needs 100)",
                          self.path, self._at(cap, "InitialSamplingPercentage", at))
            else:
                yield logged(f"{subject} SageMaker data capture enabled", self.path,
                          at)
        if props.get("KmsKeyId"):
            yield sig("DATA-01", PASS, "encryption-at-rest", f"{subject} KmsKeyId set", self.path,
                      self._at(props, "KmsKeyId", line))

    def _method_settings(self, subject: str, props: dict[Any, Any], line: int) -> Iterator[Fact]:
        for ms in as_list(props.get("MethodSettings")):
            if not isinstance(ms, dict):
                continue
            level = ms.get("LoggingLevel")
            at = line_of(ms, None, line)
            if isinstance(level, str) and level.upper() in ("INFO", "ERROR"):
                trace = ", DataTraceEnabled = true" if boolish(ms.get("DataTraceEnabled")) else ""
                yield logged(f"{subject} MethodSettings LoggingLevel = {level}{trace}",
                          self.path, self._at(ms, "LoggingLevel", at))
            rate = ms.get("ThrottlingRateLimit")
            if _num(rate) is not None:
                text = f"{subject} MethodSettings ThrottlingRateLimit = {_show(rate)}"
                at = self._at(ms, "ThrottlingRateLimit", at)
                yield sig("INF-10", PARTIAL, "api-throttling", text + " (no edge WAF/CDN seen here)", self.path, at)
                yield sig("INF-01", PARTIAL, "api-throttling", text + " applies to all callers, not per key",
                          self.path, at)
        for key in ("AccessLogSetting", "AccessLogSettings"):
            if isinstance(props.get(key), dict):
                yield logged(f"{subject} {key} configured", self.path,
                          self._at(props, key, line))

    _t_AWS_ApiGateway_Stage = _method_settings
    _t_AWS_Serverless_Api = _method_settings
    _t_AWS_ApiGatewayV2_Stage = _method_settings

    def _t_AWS_ApiGateway_UsagePlan(self, subject: str, props: dict[Any, Any], line: int) -> Iterator[Fact]:
        yield from usage_plan(subject, props.get("Quota"), props.get("Throttle"), self.path, line,
                              ("Limit", "Period", "RateLimit", "BurstLimit"))

    def _t_AWS_WAFv2_WebACL(self, subject: str, props: dict[Any, Any], line: int) -> Iterator[Fact]:
        found = False
        for rule in as_list(props.get("Rules")):
            rb = dig(rule, "Statement", "RateBasedStatement")
            if not isinstance(rb, dict):
                continue
            found = True
            key = str(rb.get("AggregateKeyType", "IP")).upper()
            at = line_of(rb, None, line)
            text = f"{subject} RateBasedStatement Limit = {_show(rb.get('Limit'))}, AggregateKeyType = {key}"
            yield sig("INF-10", PASS, "edge-protection", text, self.path, at)
            custom = any(isinstance(c, dict) and "Header" in c for c in as_list(rb.get("CustomKeys")))
            if key == "CUSTOM_KEYS" and custom:
                yield sig("INF-01", PASS, "waf-rate-limit", text + " (keyed on a request header)", self.path, at)
            else:
                yield sig("INF-01", PARTIAL, "waf-rate-limit", text + " (per IP/constant, not per user or key)",
                          self.path, at)
        if not found:
            yield sig("INF-10", PARTIAL, "edge-protection", f"{subject} WAF web ACL without a rate-based rule",
                      self.path, line)

    def _t_AWS_Shield_Protection(self, subject: str, props: dict[Any, Any], line: int) -> Iterator[Fact]:
        yield sig("INF-10", PASS, "edge-protection", f"{subject} AWS Shield Advanced protection", self.path, line)

    def _t_AWS_ApplicationAutoScaling_ScalableTarget(self, subject: str, props: dict[Any, Any],
                                                     line: int) -> Iterator[Fact]:
        cap = _num(props.get("MaxCapacity"))
        if cap is not None:
            yield sig("INF-10", PARTIAL, "autoscaling-cap", f"{subject} MaxCapacity = {cap:g} bounds autoscaling",
                      self.path, self._at(props, "MaxCapacity", line))

    def _t_AWS_CloudTrail_Trail(self, subject: str, props: dict[Any, Any], line: int) -> Iterator[Fact]:
        if boolish(props.get("EnableLogFileValidation")):
            yield sig("INF-12", PARTIAL, "tamper-evident-logs",
                      f"{subject} EnableLogFileValidation = true (tamper-evident logs, outputs unsigned)",
                      self.path, self._at(props, "EnableLogFileValidation", line))

    # DATA-01 / DATA-03
    def _t_AWS_S3_Bucket(self, subject: str, props: dict[Any, Any], line: int) -> Iterator[Fact]:
        acl = props.get("AccessControl")
        if isinstance(acl, str) and acl.lower() in PUBLIC_ACLS:
            for control in ("DATA-01", "DATA-03"):
                yield sig(control, FAIL, "public-bucket", f"{subject} AccessControl = {acl}", self.path,
                          self._at(props, "AccessControl", line), content=f"{subject} {acl}",
                          severity=Severity.CRITICAL)
        enc = props.get("BucketEncryption")
        if isinstance(enc, dict):
            algos = [str(dig(r, "ServerSideEncryptionByDefault", "SSEAlgorithm"))
                     for r in as_list(enc.get("ServerSideEncryptionConfiguration"))]
            yield sig("DATA-01", PASS, "encryption-at-rest",
                      f"{subject} BucketEncryption SSEAlgorithm = {', '.join(algos) or '?'}", self.path,
                      self._at(props, "BucketEncryption", line))
        else:
            yield sig("DATA-01", PARTIAL, "bucket-default-encryption",
                      f"{subject} has no BucketEncryption (AWS applies SSE-S3 by default to new buckets since "
                      "January 2023; no customer-managed key)", self.path, line)
        pab = props.get("PublicAccessBlockConfiguration")
        if isinstance(pab, dict):
            flags = ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets")
            off = [f for f in flags if boolish(pab.get(f)) is False]
            if off:
                yield sig("DATA-03", FAIL, "public-access-block-disabled", f"{subject} {off[0]} = false", self.path,
                          self._at(pab, off[0], line), content=f"{subject} {','.join(off)}")
            elif all(boolish(pab.get(f)) for f in flags):
                yield sig("DATA-03", PARTIAL, "bucket-access",
                          f"{subject} blocks all public access (real IAM lives outside the repository)", self.path,
                          self._at(props, "PublicAccessBlockConfiguration", line))

    def _flag(self, subject: str, props: dict[Any, Any], line: int, key: str, missing_fail: bool) -> Iterator[Fact]:
        value = boolish(props.get(key))
        if value:
            yield sig("DATA-01", PASS, "encryption-at-rest", f"{subject} {key} = true", self.path,
                      self._at(props, key, line))
        elif value is False or missing_fail:
            state = "false" if value is False else "not set (default false)"
            yield sig("DATA-01", FAIL, "unencrypted-storage", f"{subject} {key} {'= ' if value is False else ''}"
                      f"{state}", self.path, self._at(props, key, line), content=f"{subject} {key} {state}")
        else:
            yield sig("DATA-01", PARTIAL, "unencrypted-storage",
                      f"{subject} {key} not set (encrypted only if the account default is on)", self.path, line)

    def _t_AWS_EC2_Volume(self, subject: str, props: dict[Any, Any], line: int) -> Iterator[Fact]:
        yield from self._flag(subject, props, line, "Encrypted", missing_fail=False)

    def _t_AWS_EFS_FileSystem(self, subject: str, props: dict[Any, Any], line: int) -> Iterator[Fact]:
        yield from self._flag(subject, props, line, "Encrypted", missing_fail=True)

    def _t_AWS_RDS_DBInstance(self, subject: str, props: dict[Any, Any], line: int) -> Iterator[Fact]:
        yield from self._flag(subject, props, line, "StorageEncrypted", missing_fail=True)

    _t_AWS_RDS_DBCluster = _t_AWS_RDS_DBInstance

    def _t_AWS_SageMaker_NotebookInstance(self, subject: str, props: dict[Any, Any], line: int) -> Iterator[Fact]:
        if props.get("KmsKeyId"):
            yield sig("DATA-01", PASS, "encryption-at-rest", f"{subject} KmsKeyId set", self.path,
                      self._at(props, "KmsKeyId", line))
        else:
            yield sig("DATA-01", PARTIAL, "encryption-at-rest", f"{subject} has no KmsKeyId (service-managed key)",
                      self.path, line)
        access = props.get("DirectInternetAccess")
        if isinstance(access, str):
            effect = PASS if access.lower() == "disabled" else PARTIAL
            yield sig("PIPE-07", effect, "network-isolation", f"{subject} DirectInternetAccess = {access}",
                      self.path, self._at(props, "DirectInternetAccess", line))

    def _t_AWS_SageMaker_Model(self, subject: str, props: dict[Any, Any], line: int) -> Iterator[Fact]:
        if boolish(props.get("EnableNetworkIsolation")):
            yield sig("PIPE-07", PASS, "network-isolation", f"{subject} EnableNetworkIsolation = true", self.path,
                      self._at(props, "EnableNetworkIsolation", line))
        if isinstance(props.get("VpcConfig"), dict):
            yield sig("PIPE-07", PASS, "network-isolation", f"{subject} VpcConfig set", self.path,
                      self._at(props, "VpcConfig", line))

    def _policies(self, subject: str, props: dict[Any, Any], line: int) -> Iterator[Fact]:
        docs: list[tuple[Any, int]] = []
        if "PolicyDocument" in props:
            docs.append((props["PolicyDocument"], self._at(props, "PolicyDocument", line)))
        for pol in as_list(props.get("Policies")):
            if isinstance(pol, dict) and "PolicyDocument" in pol:
                docs.append((pol["PolicyDocument"], line_of(pol, "PolicyDocument", line)))
        for doc, at in docs:
            if isinstance(doc, str):
                doc = iam.parse_policy_text(doc)
            lines = item_lines(doc.get("Statement"), at) if isinstance(doc, dict) else None
            yield from policy_signals(subject, iam.statements_of(doc), self.path, at, lines)
        for arn in as_list(props.get("ManagedPolicyArns")):
            for broad in ("AdministratorAccess", "AmazonS3FullAccess", "PowerUserAccess"):
                if isinstance(arn, str) and arn.endswith("/" + broad):
                    yield sig("DATA-03", FAIL, "iam-wildcard", f"{subject} attaches {broad}", self.path,
                              self._at(props, "ManagedPolicyArns", line), content=f"{subject} {broad}")

    _t_AWS_IAM_Policy = _policies
    _t_AWS_IAM_ManagedPolicy = _policies
    _t_AWS_IAM_Role = _policies
    _t_AWS_S3_BucketPolicy = _policies

    # DATA-02
    def _t_AWS_ElasticLoadBalancingV2_Listener(self, subject: str, props: dict[Any, Any],
                                               line: int) -> Iterator[Fact]:
        policy = props.get("SslPolicy")
        if isinstance(policy, str):
            version = tls_minimum(policy)
            if version is not None:
                yield from tls_signal(f"{subject} SslPolicy = {policy}", version, self.path,
                                      self._at(props, "SslPolicy", line))

    # PIPE-07
    def _ingress(self, subject: str, rule: Any, line: int) -> Iterator[Fact]:
        if not isinstance(rule, dict):
            return
        cidr = rule.get("CidrIp") or rule.get("CidrIpv6")
        if cidr not in OPEN_CIDRS:
            return
        lo, hi = _num(rule.get("FromPort")), _num(rule.get("ToPort"))
        proto = str(rule.get("IpProtocol", ""))
        if proto not in ("-1", "all") and lo is not None and lo == hi and int(lo) in HTTP_PORTS:
            return
        ports = "all ports" if proto in ("-1", "all") else (f"port {lo:g}" if lo is not None and lo == hi
                                                            else f"ports {_show(lo)}-{_show(hi)}")
        yield sig("PIPE-07", FAIL, "open-ingress", f"{subject} allows ingress from {cidr} on {ports}", self.path,
                  line_of(rule, None, line), content=f"{subject} {cidr} {ports}")

    def _t_AWS_EC2_SecurityGroup(self, subject: str, props: dict[Any, Any], line: int) -> Iterator[Fact]:
        for rule in as_list(props.get("SecurityGroupIngress")):
            yield from self._ingress(subject, rule, line)

    def _t_AWS_EC2_SecurityGroupIngress(self, subject: str, props: dict[Any, Any], line: int) -> Iterator[Fact]:
        yield from self._ingress(subject, props, line)


def usage_plan(subject: str, quota: Any, throttle: Any, path: str, line: int,
               keys: tuple[str, str, str, str]) -> Iterator[Signal]:
    """INF-11/INF-01/INF-10 facts of an API Gateway usage plan (CloudFormation or serverless.yml key names)."""
    k_limit, k_period, k_rate, k_burst = keys
    period = ""
    if isinstance(quota, dict):
        period = str(quota.get(k_period, "")).upper()
        text = f"{subject} quota {_show(quota.get(k_limit))} per {period or '?'}"
        at = line_of(quota, k_period, line)
        if period in ("WEEK", "MONTH"):
            yield sig("INF-11", PASS, "usage-plan-quota", text + " (per API key)", path, at)
        elif period == "DAY":
            yield sig("INF-11", PARTIAL, "usage-plan-quota", text + " (daily only; no weekly or monthly window)",
                      path, at)
    if isinstance(throttle, dict):
        text = (f"{subject} throttle rate {_show(throttle.get(k_rate))}/s, burst {_show(throttle.get(k_burst))}")
        at = line_of(throttle, None, line)
        if period:
            yield sig("INF-01", PASS, "usage-plan-throttle",
                      text + f" per API key, with a {period} quota for aggregate tracking", path, at)
        else:
            yield sig("INF-01", PARTIAL, "usage-plan-throttle",
                      text + " per API key, no day/week/month quota (no aggregate tracking)", path, at)
        yield sig("INF-10", PARTIAL, "api-throttling", text, path, at)


def serverless_facts(doc: dict[Any, Any], path: str) -> Iterator[Fact]:
    """Provider-level facts of a ``serverless.yml`` (the embedded CloudFormation is handled by the caller)."""
    provider = doc.get("provider")
    if not isinstance(provider, dict):
        return
    functions = doc.get("functions")
    if "logRetentionInDays" in provider:
        days = _num(provider.get("logRetentionInDays"))
        if days is not None:
            yield Retention("cloudwatch", "serverless provider", f"logRetentionInDays = {days:g}", days, path,
                            line_of(provider, "logRetentionInDays"))
    elif isinstance(functions, dict) and functions:
        yield Retention("cloudwatch", "serverless provider", "logRetentionInDays not set", None, path,
                        line_of(doc, "provider"),
                        "the function log groups are created without retention: logs never expire")
    api = provider.get("apiGateway")
    plans = api.get("usagePlan") if isinstance(api, dict) else None
    for i, plan in enumerate(as_list(plans)):
        if not isinstance(plan, dict):
            continue
        if "quota" not in plan and "throttle" not in plan and len(plan) == 1:
            name, plan = next(iter(plan.items()))
            subject = f"serverless usagePlan {name}"
        else:
            subject = f"serverless usagePlan #{i + 1}"
        if isinstance(plan, dict):
            yield from usage_plan(subject, plan.get("quota"), plan.get("throttle"), path, line_of(api, "usagePlan"),
                                  ("limit", "period", "rateLimit", "burstLimit"))
    logs = dig(provider, "logs", "restApi")
    if logs is True or (isinstance(logs, dict) and boolish(logs.get("accessLogging", True)) is not False):
        yield logged("serverless provider.logs.restApi access logging enabled", path,
                  line_of(provider.get("logs"), "restApi", line_of(provider, "logs")))
    logs_http = dig(provider, "logs", "httpApi")
    if logs_http is True or isinstance(logs_http, dict):
        yield logged("serverless provider.logs.httpApi access logging enabled",
                  path, line_of(provider.get("logs"), "httpApi", line_of(provider, "logs")))
