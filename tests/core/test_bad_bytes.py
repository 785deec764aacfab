"""One bad byte in a repository file is a note naming the file, never a probe crash."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from mlposture.scanner import yamlsafe
from mlposture.scanner.cli import cli

FILES = {
    ".github/workflows/ci.yml": "on: push\njobs:\n  test:\n    runs-on: ubuntu-latest\x01\n",
    ".gitlab-ci.yml": "test:\n  script: [\"pip install x\x01\"]\n",
    "deploy/deployment.yaml": "apiVersion: apps/v1\nkind: Deployment\x01\n",
    "dvc.yaml": "stages:\n  train:\n    cmd: python train.py\x01\n",
    "params.yaml": "min_accuracy: 0.8\x01\n",
    "MODEL_CARD.md": "---\nlicense: mit\x01\n---\n# Model card\n",
    "environment.yml": "dependencies:\n  - numpy\x01\n",
    "monitoring/alerts.yaml": "groups:\n- name: drift\x01\n",
}


def test_control_byte_in_yaml_files_crashes_no_probe(tmp_path: Path):
    root = tmp_path / "repo"
    for rel, text in FILES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    out = tmp_path / "r.json"
    res = CliRunner().invoke(cli, ["scan", str(root), "--no-vulns", "-q", "-f", "json", "-o", str(out)])
    assert res.exit_code in (0, 1), res.output
    report = json.loads(out.read_text())
    assert [p["name"] for p in report["probes"] if p["status"] != "ok"] == []
    assert len(report["probes"]) >= 10


def test_reader_error_is_a_yaml_error_with_the_line():
    try:
        yamlsafe.load("a: 1\nb: 2\x01\n")
    except yamlsafe.YamlError as exc:
        assert exc.line == 2 and "not allowed" in exc.message
    else:
        raise AssertionError("a control character must be refused")
