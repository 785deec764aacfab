"""The rules of the applicability probe: each is one absence check, carried by the NotApplicable verdicts it yields.

The probe reports no evidence and no finding; a rule names the fact found absent from the whole tree and the
controls that then do not apply. Ordered so that the controls derived from them keep the probe's order.
"""

from __future__ import annotations

from mlposture.scanner.probe import Rule

RULES: tuple[Rule, ...] = (
    Rule("applicability.no-training-code",
         ("DATA-04", "DATA-05", "DATA-06", "DATA-07", "DATA-08", "DATA-12", "DATA-13", "MODEL-05", "MODEL-12",
          "PIPE-04"),
         "no Python file or notebook imports an ML framework and calls fit/train/backward (no training code)"),
    Rule("applicability.no-iac", ("PIPE-07",),
         "no infrastructure as code (Terraform, CloudFormation, Kubernetes, Pulumi, CDK, Helm, Bicep) to segment"),
    Rule("applicability.no-feature-store", ("PIPE-10",),
         "no feature store (Feast, Tecton, Hopsworks, Featureform, Databricks) used"),
    Rule("applicability.no-model-promotion", ("PIPE-11",), "no CI configuration that promotes or publishes models"),
    Rule("applicability.no-hub-model", ("MODEL-07", "MODEL-13"),
         "no pre-trained model or dataset pulled from a hub (from_pretrained, hf_hub_download, torch.hub...)"),
)
