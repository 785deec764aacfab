"""The EU AI Act risk tier recorded in the repository switches thresholds for every probe."""

from __future__ import annotations

from pathlib import Path

from mlposture.scanner.scan import scan
from mlposture.scanner.settings import Settings

TF = 'resource "aws_cloudwatch_log_group" "serving" {\n  name = "/ecs/api"\n  retention_in_days = 120\n}\n'


def inf08(root: Path, settings: Settings | None = None):
    result = scan(root, settings or Settings(no_vulns=True))
    return result.control("INF-08")


def test_tier_from_model_card_applies_the_183_day_threshold(tmp_path):
    (tmp_path / "main.tf").write_text(TF)
    assert inf08(tmp_path).status.value == "pass"  # 120 days meet the 90-day default
    (tmp_path / "MODEL_CARD.md").write_text("---\nlicense: mit\neu_ai_act:\n  risk_tier: high\n---\n# Card\n")
    r = inf08(tmp_path)
    assert r.status.value == "partial"
    assert "retention_in_days = 120 meets 90 (LockML), not 183" in r.evidence[0].evidence.message


def test_explicit_setting_wins_over_the_record(tmp_path):
    (tmp_path / "main.tf").write_text(TF)
    (tmp_path / "MODEL_CARD.md").write_text("---\neu_ai_act:\n  risk_tier: high\n---\n")
    assert inf08(tmp_path, Settings(no_vulns=True, eu_risk_tier="minimal")).status.value == "pass"
