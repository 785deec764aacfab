"""What every cloud's Terraform judgements share: variables, the ``@resource`` registry and the dispatch.

A handler is a function ``(rules, resource) -> facts`` registered for one or more Terraform resource types with
:func:`resource`; the cloud modules (``aws``, ``gcp``, ``azure``) hold the handlers, this module the lookup, the
variable resolution (``retention_in_days = var.log_retention_days`` is read as the number it stands for) and the
helpers several clouds use (service-managed vs customer keys, default retention, TLS attributes, IAM policies).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

from mlposture.probes.infrastructure import iam
from mlposture.probes.infrastructure.facts import FAIL, PARTIAL, PASS, Retention, Signal, sig
from mlposture.probes.infrastructure.hcl import Block, Resource, number, strings
from mlposture.probes.infrastructure.values import tls_label, tls_minimum
from mlposture.scanner.probe import Severity

Fact = Signal | Retention
Handler = Callable[["TerraformRules", Resource], Iterator[Fact]]

_VAR_REF = re.compile(r"^\$\{var\.([A-Za-z_][\w-]*)\}$")
ML_RESOURCE = re.compile(r"sagemaker|vertex_ai|machine_learning|ml_engine|notebooks_|bedrock|aiplatform|"
                         r"google_ml_|databricks_model|_mlflow", re.I)
GPU_TYPE = re.compile(r"^(ml\.|p[2-5]|g[3-6]|trn1|inf[12]|a2-|a3-|n1-.*nvidia|standard_n[cdv])", re.I)
HTTP_PORTS = frozenset({80, 443})
OPEN_CIDRS = ("0.0.0.0/0", "::/0")
TLS_ATTRS = ("ssl_policy", "minimum_tls_version", "min_tls_version", "minimum_protocol_version",
             "tls_security_policy", "ssl_minimum_version")

#: (block kind, Terraform type) -> handler; filled by :func:`resource` when the cloud modules are imported.
HANDLERS: dict[tuple[str, str], Handler] = {}


def resource(*types: str, kind: str = "resource") -> Callable[[Handler], Handler]:
    """Register the decorated function as the handler of these Terraform types (``kind="data"`` for data
    sources). A type registered twice is a programming error, caught at import."""
    def register(handler: Handler) -> Handler:
        for rtype in types:
            if (kind, rtype) in HANDLERS:
                raise ValueError(f"two Terraform handlers for {kind} {rtype}")
            HANDLERS[(kind, rtype)] = handler
        return handler
    return register


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


def show(value: Any) -> str:
    """A value as Terraform writes it (``true``, ``30``, ``"x"``), for evidence messages."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, str):
        return f'"{value}"'
    return str(value)


class TerraformRules:
    """All Terraform judgements; ``run`` yields facts for every resource of the repository.

    Handlers read attributes through :meth:`val` (variables resolved in the folder of the resource being judged)
    and companion resources through ``by_type``.
    """

    def __init__(self, resources: list[Resource], variables: Variables) -> None:
        self.resources = resources
        self.vars = variables
        self.folder = ""
        self.by_type: dict[str, list[Resource]] = {}
        for r in resources:
            self.by_type.setdefault(r.rtype, []).append(r)

    def resolve(self, value: Any) -> Any:
        """``value`` with a variable reference replaced (in the folder of the resource being judged)."""
        return self.vars.resolve(value, self.folder)

    def val(self, block: Block, name: str) -> Any:
        """Attribute value with variables resolved (in the folder of the resource being judged)."""
        return self.vars.resolve(block.get(name), self.folder)

    def run(self) -> Iterator[Fact]:
        """Every fact from every resource."""
        for r in self.resources:
            yield from self.facts_of(r)

    def facts_of(self, r: Resource) -> Iterator[Fact]:
        """The facts of one resource (its registered handler plus the TLS attributes any resource may set)."""
        self.folder = r.path.rsplit("/", 1)[0] if "/" in r.path else ""
        handler = HANDLERS.get((r.kind, r.rtype))
        if handler is not None:
            yield from handler(self, r)
        if r.kind == "resource":
            yield from tls_attributes(self, r)


# ---------------------------------------------------------------------------------------- shared by clouds
def default_retention(t: TerraformRules, r: Resource, attr: str, default: int, source: str) -> Iterator[Fact]:
    """INF-08 retention of a log store whose unset ``attr`` means ``default`` days (GCP, Azure)."""
    b = r.block
    raw = b.get(attr)
    if raw is None:
        yield Retention(source, r.address, f"{attr} not set (default {default})", float(default), r.path, b.line)
        return
    days = number(t.resolve(raw))
    if days is not None:
        yield Retention(source, r.address, f"{attr} = {show(days)}", days, r.path, b.line_of(attr))


def kms(r: Resource, *path: str) -> Iterator[Fact]:
    """DATA-01: a customer key at ``path`` (nested blocks, then the attribute) passes, none is partial."""
    node: Block | None = r.block.child(*path[:-1]) if len(path) > 1 else r.block
    attr = path[-1]
    if node is not None and node.get(attr):
        yield sig("DATA-01", PASS, "encryption-at-rest", f"{r.address} {'.'.join(path)} set", r.path,
                  node.line_of(attr))
    else:
        yield sig("DATA-01", PARTIAL, "encryption-at-rest",
                  f"{r.address} has no {'.'.join(path)} (service-managed key only)", r.path, r.block.line)


def tls_attributes(t: TerraformRules, r: Resource) -> Iterator[Fact]:
    """DATA-02 from any TLS policy or minimum-version attribute of a resource or its nested blocks."""
    nodes = [r.block, *r.block.descendants()]
    for node in nodes:
        for attr in (*TLS_ATTRS, "security_policy"):
            if attr == "security_policy" and not r.rtype.startswith("aws_api_gateway_domain"):
                continue
            value = t.val(node, attr)
            if not isinstance(value, str):
                continue
            version = tls_minimum(value)
            if version is None:
                continue
            yield from tls_signal(f"{r.address} {attr} = {value}", version, r.path, node.line_of(attr))


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
