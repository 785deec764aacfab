"""The rules of the infrastructure probe: the ids its evidence and findings carry, what each looks for, its controls.

Grouped by control in the order of the probe's controls, so that the controls derived from these rules keep that
order. ``severity`` is what a finding of the rule usually carries (a failing signal becomes a finding; passing and
partial ones are plain evidence).
"""

from __future__ import annotations

from mlposture.scanner.probe import Rule, Severity

RULES: tuple[Rule, ...] = (
    # DATA-01: encryption at rest
    Rule("infrastructure.encryption-at-rest", ("DATA-01",),
         "storage, volumes, databases and notebooks encrypted with a customer-managed key (KMS, CMK)"),
    Rule("infrastructure.bucket-default-encryption", ("DATA-01",),
         "an S3 bucket without its own encryption configuration (AWS default SSE-S3 only)"),
    Rule("infrastructure.unencrypted-storage", ("DATA-01",),
         "storage, volume or database encryption switched off or left at an unencrypted default", Severity.HIGH),
    # DATA-02: encryption in transit
    Rule("infrastructure.secure-transport", ("DATA-02",),
         "a bucket policy that denies requests without TLS (aws:SecureTransport = false)"),
    Rule("infrastructure.tls-policy", ("DATA-02",),
         "minimum TLS version of storage, load balancers and database URLs (TLS 1.3 passes, 1.2 is partial)"),
    Rule("infrastructure.weak-tls", ("DATA-02",),
         "a listener, storage account or ingress that still accepts TLS 1.0 or 1.1", Severity.HIGH),
    Rule("infrastructure.tls-verify-disabled", ("DATA-02",),
         "Python data code that turns TLS certificate checks off (verify=False)", Severity.HIGH),
    Rule("infrastructure.plaintext-data-endpoint", ("DATA-02",),
         "Python data code that reads over plain HTTP or a database URL with TLS disabled", Severity.HIGH),
    # DATA-03: least-privilege access to data
    Rule("infrastructure.bucket-access", ("DATA-03",), "an S3 bucket with every public-access block flag on"),
    Rule("infrastructure.iam-scoped", ("DATA-03",), "IAM policies that grant scoped actions on scoped resources"),
    Rule("infrastructure.iam-wildcard", ("DATA-03",),
         "an IAM policy or role granting wildcard actions on wildcard resources, or an admin managed policy",
         Severity.HIGH),
    Rule("infrastructure.rbac-scoped", ("DATA-03",), "Kubernetes roles without wildcard verbs or resources"),
    Rule("infrastructure.rbac-wildcard", ("DATA-03",),
         "a Kubernetes role with wildcard verbs and resources, or a binding to cluster-admin", Severity.HIGH),
    Rule("infrastructure.public-bucket", ("DATA-01", "DATA-03"),
         "a bucket or container made public: public ACL, public IAM member, Principal \"*\" policy, public blob access",
         Severity.CRITICAL),
    Rule("infrastructure.public-access-block-disabled", ("DATA-03", "DATA-01"),
         "an S3 public-access block with one of its flags set to false", Severity.HIGH),
    # PIPE-06: infrastructure as code
    Rule("infrastructure.iac-present", ("PIPE-06",),
         "infrastructure as code (Terraform, CloudFormation/SAM, serverless, Kubernetes, Helm) and the ML resources "
         "it declares"),
    # PIPE-07: network segmentation
    Rule("infrastructure.network-isolation", ("PIPE-07",),
         "ML workloads (SageMaker, Vertex, Azure ML) placed in a VPC, network-isolated, without direct internet"),
    Rule("infrastructure.network-policy", ("PIPE-07",), "Kubernetes NetworkPolicies that deny traffic by default"),
    Rule("infrastructure.open-ingress", ("PIPE-07",),
         "a security group or firewall open to the internet (0.0.0.0/0, ::/0) beyond the HTTP(S) ports", Severity.HIGH),
    # INF-08: request logging and its retention
    Rule("infrastructure.log-retention", ("INF-08",),
         "how long log stores keep request logs, against the retention threshold (EU high-risk: 183 days)",
         Severity.HIGH),
    Rule("infrastructure.request-logging", ("INF-08",),
         "request logging of API gateways, SageMaker data capture and KServe loggers"),
    # INF-10: resource exhaustion
    Rule("infrastructure.autoscaling-cap", ("INF-10",),
         "autoscaling bounded by a maximum replica or capacity count"),
    Rule("infrastructure.edge-protection", ("INF-10",),
         "edge protection in front of the service (AWS Shield, WAF rate-based rules, Cloud Armor)"),
    # INF-12: output integrity
    Rule("infrastructure.mesh-mtls", ("INF-12",),
         "service-mesh mutual TLS mode (Istio PeerAuthentication STRICT, PERMISSIVE or DISABLE)", Severity.MEDIUM),
    Rule("infrastructure.tamper-evident-logs", ("INF-12",), "audit logs with file validation (CloudTrail)"),
    # INF-01: rate limiting
    Rule("infrastructure.waf-rate-limit", ("INF-01",),
         "WAF or Cloud Armor rate limits, keyed per user or API key (pass) or per IP (partial)"),
    Rule("infrastructure.usage-plan-throttle", ("INF-01",), "API Gateway usage plans that throttle per API key"),
    Rule("infrastructure.api-throttling", ("INF-01", "INF-10"),
         "API Gateway stage throttling that applies to all callers, not per key"),
    # INF-11: query budgets
    Rule("infrastructure.usage-plan-quota", ("INF-11",),
         "API Gateway usage-plan quotas per API key, with a weekly or monthly window"),
)
