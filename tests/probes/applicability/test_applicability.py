"""Applicability facts: present, absent, and the conservative silence on empty targets."""

from __future__ import annotations

import fnmatch
from pathlib import Path

import pytest

from mlposture.probes.applicability import (
    CI_FILES,
    IAC_NAMES,
    TRAINING_CALLS,
    ApplicabilityProbe,
    _training_call,
)
from mlposture.scanner.probe import NotApplicable
from mlposture.scanner.repo import RepoView
from mlposture.scanner.settings import Settings


def na(root: Path) -> dict[str, str]:
    items = ApplicabilityProbe().run(RepoView(root), Settings())
    return {i.control: i.reason for i in items if isinstance(i, NotApplicable)}


def write(root: Path, rel: str, text: str) -> None:
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)


def test_serving_only_repo_has_no_training_controls(tmp_path):
    write(tmp_path, "app.py", "from fastapi import FastAPI\napp = FastAPI()\n")
    result = na(tmp_path)
    assert "no training code found (searched 1 Python/notebook files" in result["DATA-04"]
    assert set(result) >= {"DATA-04", "DATA-07", "MODEL-05", "PIPE-04", "PIPE-07", "PIPE-10", "PIPE-11", "MODEL-07"}


def test_training_iac_feature_store_hub_and_promotion_present(tmp_path):
    write(tmp_path, "train.py", "import torch\nfrom transformers import AutoModel\n"
          "m = AutoModel.from_pretrained('bert-base-uncased')\nloss.backward()\n")
    write(tmp_path, "features.py", "from feast import FeatureStore\nstore = FeatureStore(repo_path='.')\n")
    write(tmp_path, "infra/main.tf", 'resource "aws_s3_bucket" "b" {}\n')
    write(tmp_path, ".github/workflows/release.yml", "on: push\njobs:\n  r:\n    steps:\n"
          "      - run: python -c 'import mlflow; mlflow.register_model(\"runs:/1/m\", \"churn\")'\n")
    assert na(tmp_path) == {}


def test_kubernetes_manifest_counts_as_iac_and_ci_without_promotion(tmp_path):
    write(tmp_path, "k8s/deploy.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\n")
    write(tmp_path, ".gitlab-ci.yml", "test:\n  script: pytest\n")
    write(tmp_path, "train.py", "from sklearn.linear_model import LogisticRegression\nLogisticRegression().fit(x, y)\n")
    result = na(tmp_path)
    assert "PIPE-07" not in result and "DATA-04" not in result
    assert result["PIPE-11"] == "CI (.gitlab-ci.yml) does not promote or publish models"


def test_silent_on_a_tree_without_code(tmp_path):
    write(tmp_path, "model.safetensors", "x")
    write(tmp_path, "README.md", "# weights\n")
    assert na(tmp_path) == {}


def test_unreadable_code_does_not_crash(tmp_path):
    (tmp_path / "bin.py").write_bytes(b"\x00\x01import torch\n.fit(")
    result = na(tmp_path)
    assert "DATA-04" in result  # a binary file is not training code


@pytest.mark.parametrize(("call", "training"), [
    ("model.fit (x, y)", True),
    ("pipe.fit_transform(x)", True),
    ("trainer = Trainer(model=m)", True),
    ("optimizer.step ()", True),
    ("class Trainer17677:\n    pass", False),  # a class named like a trainer is not a call
    ("MyTrainer(model=m)", False),  # 'Trainer' must start a word
    ("model.fitness(x)", False),
    ("self.training = True", False),
])
def test_training_needs_an_import_line_and_a_call(tmp_path: Path, call: str, training: bool) -> None:
    write(tmp_path, "src/job.py", f'"""Job."""\nimport torch\n\n{call}\n')
    assert ("DATA-04" not in na(tmp_path)) is training
    assert _training_call(call) is (TRAINING_CALLS.search(call) is not None)


def test_import_in_a_string_is_not_an_import_line(tmp_path: Path) -> None:
    write(tmp_path, "fit.py", 'NOTE = "import torch"\nmodel.fit(x)\n')
    assert "DATA-04" in na(tmp_path)
    write(tmp_path, "fit.py", 'NOTE = """\n   import torch\n"""\nmodel.fit(x)\n')
    assert "DATA-04" not in na(tmp_path)  # a line that reads as an import counts (text, not parsed)


def test_file_globs_match_like_fnmatch(tmp_path: Path) -> None:
    for rel in ("infra/Main.TF", "deploy/template.yaml", "cdk.json", "a/Chart.yaml", "x.bicep", "docs/a.md",
                ".github/workflows/ci.YML", ".circleci/config.yml", "sub/.gitlab-ci.yml", "Jenkinsfile",
                "conf/store.yaml", "conf/store.yml.bak"):
        write(tmp_path, rel, "x: 1\n")
    repo = RepoView(tmp_path)
    for patterns in (IAC_NAMES, CI_FILES, ("feature_store.yaml", "*.yaml", "*.yml")):
        one_by_one = [f.path for f in repo.files if any(
            fnmatch.fnmatchcase((f.path if "/" in p else f.name).lower(), p.lower()) for p in patterns)]
        assert [f.path for f in repo.find(*patterns)] == one_by_one  # one joined expression, same answers
    assert [f.path for f in repo.find(*CI_FILES)] == [".circleci/config.yml", ".github/workflows/ci.YML",
                                                       "Jenkinsfile", "sub/.gitlab-ci.yml"]
