"""Applicability: decides which controls cannot apply to this repository, and says why.

A control marked not applicable leaves the score's denominator, so this probe is conservative: it only speaks when
a fact is clearly absent from the whole tree (no training code, no infrastructure as code, no feature store, no
pre-trained model pulled from a hub, no model promotion in CI). Facts that a repository cannot show (whether the
system makes decisions about people, whether it is sold in the EU) are left to answers. Facts are read from import
lines and file names with bounded text reads; nothing is parsed or executed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from mlposture.probes.applicability.rules import RULES
from mlposture.scanner.probe import NotApplicable, Probe, ProbeItem
from mlposture.scanner.repo import RepoFile, RepoView
from mlposture.scanner.sources import ScanContext
from mlposture.scanner.sources.python_text import as_python_reads, read_python

CODE_SUFFIXES = (".py", ".ipynb")
MAX_CODE_FILES = 20_000
MAX_READ = 512 * 1024

TRAINING_IMPORTS = re.compile(
    r"^[ \t]*(?:from|import)[ \t]+(torch|tensorflow|keras|sklearn|xgboost|lightgbm|catboost|jax|flax|transformers|"
    r"pytorch_lightning|lightning|statsmodels|prophet|mlflow|accelerate|deepspeed|trl|peft)\b", re.MULTILINE)
TRAINING_CALLS = re.compile(r"\.(fit|train|fit_transform)\s*\(|\bTrainer\s*\(|\boptimizer\.step\s*\(|"
                            r"\bmodel\.compile\s*\(|\bloss\.backward\s*\(")
#: Every match of TRAINING_IMPORTS contains one of these (the framework names), every match of TRAINING_CALLS
#: starts with one of those: the regular expressions only run where the words occur.
TRAINING_IMPORT_WORDS = ("torch", "tensorflow", "keras", "sklearn", "xgboost", "lightgbm", "catboost", "jax", "flax",
                         "transformers", "lightning", "statsmodels", "prophet", "mlflow", "accelerate", "deepspeed",
                         "trl", "peft")
TRAINING_CALL_STARTS = (".fit", ".train", "Trainer", "optimizer.step", "model.compile", "loss.backward")
FEATURE_STORE = re.compile(r"^[ \t]*(?:from|import)[ \t]+(feast|tecton|hopsworks|hsfs|featureform|"
                           r"databricks\.feature_store|"
                           r"databricks\.feature_engineering)\b|FeatureStore\s*\(|feature_store|featurestore",
                           re.MULTILINE | re.IGNORECASE)
HUB_MODEL = re.compile(r"\bfrom_pretrained\s*\(|\bhf_hub_download\s*\(|\bsnapshot_download\s*\(|"
                       r"\btorch\.hub\.load\s*\(|\bpipeline\s*\(\s*['\"]|\bload_dataset\s*\(|"
                       r"\btimm\.create_model\s*\(.*pretrained\s*=\s*True|\bSentenceTransformer\s*\(|"
                       r"tfhub|tensorflow_hub|\bkagglehub\b", re.DOTALL)
FEATURE_STORE_NEEDLES = ("feast", "tecton", "hopsworks", "hsfs", "featureform", "feature_store", "featurestore",
                         "databricks.feature")
HUB_NEEDLES = ("from_pretrained", "hf_hub_download", "snapshot_download", "torch.hub", "pipeline(", "load_dataset",
               "create_model", "sentencetransformer", "tfhub", "tensorflow_hub", "kagglehub")
IAC_NAMES = ("*.tf", "*.tf.json", "template.yaml", "template.yml", "*.cfn.yaml", "*.cfn.json", "serverless.yml",
             "Pulumi.yaml", "cdk.json", "kustomization.yaml", "Chart.yaml", "*.bicep")
K8S_KIND = re.compile(r"^kind:\s*(Deployment|StatefulSet|Job|CronJob|Service|Ingress|InferenceService|Pod)\b",
                      re.MULTILINE)
CI_FILES = (".github/workflows/*.yml", ".github/workflows/*.yaml", ".gitlab-ci.yml", "Jenkinsfile",
            ".circleci/config.yml", "azure-pipelines.yml", "bitbucket-pipelines.yml", ".buildkite/*.yml",
            "cloudbuild.yaml", ".drone.yml")
PROMOTION = re.compile(r"register_model|transition_model_version_stage|set_registered_model_alias|"
                       r"model[-_ ]?(promot|registry|release|deploy)|sagemaker.*(create_model|deploy)|"
                       r"huggingface-cli upload|push_to_hub|mlflow models|(?<![\w-])deploy(?![\w-]*:\s*false)",
                       re.IGNORECASE)


@dataclass(frozen=True)
class RepoFacts:
    """What the tree shows, with one example location per positive fact (for the reason text)."""

    training: str | None
    feature_store: str | None
    hub_model: str | None
    iac: str | None
    ci: str | None
    promotion_in_ci: str | None
    code_files: int


def _code_files(repo: RepoView) -> list[RepoFile]:
    scripts = {f.path for f in repo.python_files() if not f.suffix}  # bin/train: Python without an extension
    return [f for f in repo.files if f.suffix in CODE_SUFFIXES or f.path in scripts][:MAX_CODE_FILES]


def _code_text(repo: RepoView, f: RepoFile) -> str | None:
    """A code file's text with its names as the interpreter reads them: a declared source encoding honoured and
    compatibility characters normalised (fullwidth letters or ``# coding: utf-7`` hide no training code)."""
    text = repo.read_text(f, MAX_READ) if f.suffix == ".ipynb" else read_python(repo, f, MAX_READ)
    return as_python_reads(text) if text else text


def _first(repo: RepoView, files: Iterable[RepoFile], *patterns: re.Pattern[str],
           needles: tuple[str, ...] = ()) -> str | None:
    """Path of the first file matching every pattern; ``needles`` (lower-case substrings, one of which must occur)
    skip most files before the slower regular expressions run."""
    for f in files:
        text = _code_text(repo, f)
        if not text:
            continue
        if needles:
            low = text.lower()
            if not any(n in low for n in needles):
                continue
        if all(p.search(text) for p in patterns):
            return f.path
    return None


def _training_call(text: str) -> bool:
    """``TRAINING_CALLS.search(text)``, tried only where a match can start (a plain search over a file without
    one costs a step of the expression per character)."""
    for start in TRAINING_CALL_STARTS:
        at = text.find(start)
        while at != -1:
            if TRAINING_CALLS.match(text, at):
                return True
            at = text.find(start, at + 1)
    return False


def _training(repo: RepoView, files: Iterable[RepoFile]) -> str | None:
    """Path of the first file with an ML framework import line and a fit/train call."""
    for f in files:
        text = _code_text(repo, f)
        if not text or not any(w in text for w in TRAINING_IMPORT_WORDS):
            continue
        if _training_call(text) and TRAINING_IMPORTS.search(text):
            return f.path
    return None


def gather_facts(repo: RepoView) -> RepoFacts:
    """One pass of bounded reads over code, IaC and CI files."""
    code = _code_files(repo)
    iac_files = repo.find(*IAC_NAMES)
    iac = iac_files[0].path if iac_files else None
    if iac is None:
        yamls = [f for f in repo.files if f.suffix in (".yaml", ".yml") and not f.path.startswith(".github/")]
        iac = _first(repo, yamls[:2000], K8S_KIND, needles=("kind:",))
    ci_files = repo.find(*CI_FILES)
    return RepoFacts(
        training=_training(repo, code),
        feature_store=_first(repo, code + repo.find("feature_store.yaml", "*.yaml", "*.yml")[:2000],
                             FEATURE_STORE, needles=FEATURE_STORE_NEEDLES),
        hub_model=_first(repo, code, HUB_MODEL, needles=HUB_NEEDLES),
        iac=iac,
        ci=ci_files[0].path if ci_files else None,
        promotion_in_ci=_first(repo, ci_files, PROMOTION),
        code_files=len(code),
    )


class ApplicabilityProbe(Probe):
    """Marks controls not applicable when the repository clearly lacks what they govern (training code, IaC,
    feature store, hub models, model promotion), with the reason; never when in doubt.
    """

    name = "applicability"
    version = "0.1.0"
    rules = RULES

    def scan(self, ctx: ScanContext) -> Iterator[ProbeItem]:
        """Yield NotApplicable items for the controls whose subject is absent."""
        repo, _settings = ctx.repo, ctx.settings
        facts = gather_facts(repo)
        if facts.code_files == 0 and not facts.iac and not facts.ci:
            return  # nothing to judge from (a single model file, a documentation repo): say nothing
        if facts.training is None:
            reason = (f"no training code found (searched {facts.code_files} Python/notebook files for ML "
                      "framework imports with fit/train calls)")
            for cid in ("DATA-04", "DATA-05", "DATA-06", "DATA-07", "DATA-08", "DATA-12", "DATA-13", "MODEL-05",
                        "MODEL-12", "PIPE-04"):
                yield NotApplicable(cid, reason, "applicability.no-training-code")
        if facts.iac is None:
            yield NotApplicable("PIPE-07", "no infrastructure as code (Terraform, CloudFormation, Kubernetes, "
                                           "Pulumi, CDK, Helm) found to segment", "applicability.no-iac")
        if facts.feature_store is None:
            yield NotApplicable("PIPE-10", "no feature store (Feast, Tecton, Hopsworks, Databricks) used",
                                "applicability.no-feature-store")
        if facts.hub_model is None:
            reason = "no pre-trained model or dataset pulled from a hub (from_pretrained, hf_hub_download, torch.hub)"
            yield NotApplicable("MODEL-07", reason, "applicability.no-hub-model")
            yield NotApplicable("MODEL-13", reason, "applicability.no-hub-model")
        if facts.ci is not None and facts.promotion_in_ci is None:
            yield NotApplicable("PIPE-11", f"CI ({facts.ci}) does not promote or publish models",
                                "applicability.no-model-promotion")
        elif facts.ci is None:
            yield NotApplicable("PIPE-11", "no CI configuration: no model is promoted by CI",
                                "applicability.no-model-promotion")
