"""Judgements over Terraform resources (AWS, GCP, Azure providers) for the infrastructure controls.

Input: the resources of every ``*.tf`` file of the repository (:mod:`mlposture.probes.infrastructure.hcl`) and the
variables' values (``variable`` defaults, overridden by ``*.tfvars``). Output: :class:`~..facts.Signal` and
:class:`~..facts.Retention` facts with the file, line and value that decided them.

``shared`` holds the ``@resource`` registry, the dispatch and what several clouds use; ``aws``, ``gcp`` and
``azure`` register one handler per resource type (importing them here is what fills the registry).
"""

from __future__ import annotations

from mlposture.probes.infrastructure.terraform import aws, azure, gcp
from mlposture.probes.infrastructure.terraform.shared import (
    HANDLERS,
    HTTP_PORTS,
    OPEN_CIDRS,
    Fact,
    TerraformRules,
    Variables,
    ml_resource,
    policy_signals,
    resource,
    tls_signal,
)

__all__ = ["HANDLERS", "HTTP_PORTS", "OPEN_CIDRS", "Fact", "TerraformRules", "Variables", "aws", "azure", "gcp",
           "ml_resource", "policy_signals", "resource", "tls_signal"]
