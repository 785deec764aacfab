"""The issue's "done when" for the infrastructure half: changing one value in a fixture (a retention from 365 to
14 days) changes the status as the catalog says, decided by the real engine; and the thresholds come from
settings (90 days, 183 for an EU high-risk system)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from mlposture.probes.infrastructure import InfrastructureProbe
from mlposture.scanner.answers import AnswersFile
from mlposture.scanner.catalog import build_catalog
from mlposture.scanner.engine import decide
from mlposture.scanner.probe import ProbeRun
from mlposture.scanner.settings import Settings

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "infrastructure"

CATALOG = """
category: {id: inference, name: Inference Security}
controls:
  - id: INF-08
    title: Inference I/O logging with retention
    description: Requests are logged and the logs are kept at least 90 days.
    severity: high
    lockml_id: inference-7
    automation: [A]
    evidence: [retention_in_days]
    remediation: Keep request logs at least 90 days.
"""


def engine_status(probe_scan: Any, root: Path, settings: Settings | None = None) -> tuple[str, list[str]]:
    """INF-08 as the engine decides it from this probe's items (run through the shared harness)."""
    items = tuple(probe_scan(InfrastructureProbe, root, settings).items)
    run = ProbeRun(InfrastructureProbe.info(), items)
    decision = decide(build_catalog([("inference.yaml", CATALOG)]), [run], AnswersFile.empty())
    (result,) = decision.controls
    return result.status.value, [f"{e.evidence.path}:{e.evidence.line} {e.evidence.message}" for e in result.evidence]


def _copy(name: str, tmp_path: Path) -> Path:
    dest = tmp_path / name
    shutil.copytree(FIXTURES / name, dest)
    return dest


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new))


def test_terraform_retention_365_to_14_flips_pass_to_fail(probe_scan: Any, tmp_path: Path) -> None:
    repo = _copy("terraform_pass", tmp_path)
    status, evidence = engine_status(probe_scan, repo)
    assert status == "pass"
    assert "logging.tf:3 aws_cloudwatch_log_group.inference: retention_in_days = 365 (via var.log_retention_days), " \
           "meets 90" in evidence
    _edit(repo / "variables.tf", "default     = 365", "default     = 14")
    status, evidence = engine_status(probe_scan, repo)
    assert status == "fail"
    assert evidence[0] == ("logging.tf:3 aws_cloudwatch_log_group.inference: retention_in_days = 14 "
                           "(via var.log_retention_days), below 90")


@pytest.mark.parametrize(("fixture", "file", "old", "new", "line"), [
    ("cloudformation_pass", "template.yaml", "RetentionInDays: 400", "RetentionInDays: 14", 52),
    ("logstores_pass", "loki-config.yaml", "retention_period: 4416h", "retention_period: 336h", 24),
    ("logstores_pass", "ilm-policy.json", '"min_age": "400d"', '"min_age": "14d"', 21),
    ("logstores_pass", "fluent-bit.yaml", "log_retention_days: 731", "log_retention_days: 14", 16),
    ("logstores_pass", "logrotate.d/inference-api", "rotate 30", "rotate 2", 4),
])
def test_each_format_flips_on_one_value(probe_scan: Any, tmp_path: Path, fixture: str, file: str, old: str, new: str,
                                        line: int) -> None:
    repo = _copy(fixture, tmp_path)
    assert engine_status(probe_scan, repo)[0] == "pass"
    _edit(repo / file, old, new)
    status, evidence = engine_status(probe_scan, repo)
    assert status == "fail"
    assert evidence[0].startswith(f"{file}:{line} ") and ", below 90" in evidence[0]


def test_loki_compactor_flag_decides_enforcement(probe_scan: Any, tmp_path: Path) -> None:
    repo = _copy("logstores_fail", tmp_path)
    for name in ("ism-policy.json", "fluent-bit.conf"):
        (repo / name).unlink()
    shutil.rmtree(repo / "deploy")
    assert engine_status(probe_scan, repo)[0] == "fail"  # 336h enforced by the compactor
    _edit(repo / "loki.yaml", "retention_enabled: true", "retention_enabled: false")
    status, evidence = engine_status(probe_scan, repo)
    assert status == "pass"  # not enforced: Loki keeps everything
    assert "not enforced" in evidence[0]


@pytest.mark.parametrize(("days", "base", "eu"), [
    (14, "fail", "fail"),
    (120, "pass", "partial"),
    (180, "pass", "partial"),  # a few days short of six calendar months: borderline, below 183
    (365, "pass", "pass"),
])
def test_eu_high_risk_tier_asks_six_months(probe_scan: Any, tmp_path: Path, days: int, base: str, eu: str) -> None:
    (tmp_path / "logs.tf").write_text(
        'resource "aws_cloudwatch_log_group" "inference" {\n'
        '  name              = "/aws/sagemaker/Endpoints/credit-scoring"\n'
        f"  retention_in_days = {days}\n}}\n")
    assert engine_status(probe_scan, tmp_path)[0] == base
    status, evidence = engine_status(probe_scan, tmp_path, Settings(eu_risk_tier="high"))
    assert status == eu
    if eu == "partial":
        assert evidence == [f"logs.tf:3 aws_cloudwatch_log_group.inference: retention_in_days = {days} "
                            "meets 90 (LockML), not 183 (EU AI Act Art. 19/26)"]
    if eu == "pass":
        assert evidence[0].endswith("meets 90 and 183 (EU AI Act Art. 19/26)")
    # another tier does not raise the bar
    assert engine_status(probe_scan, tmp_path, Settings(eu_risk_tier="limited"))[0] == base


def test_thresholds_come_from_settings(probe_scan: Any, tmp_path: Path) -> None:
    repo = _copy("terraform_fail", tmp_path)
    assert engine_status(probe_scan, repo)[0] == "fail"
    lenient = Settings(log_retention_days=7)
    status, evidence = engine_status(probe_scan, repo, lenient)
    # 14 days now meets the threshold; the GCP bucket's default 30 days too
    assert status == "pass"
    assert any("retention_in_days = 14, meets 7" in e for e in evidence)
