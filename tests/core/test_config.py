"""Settings precedence (flags > environment > file > defaults) and clear errors."""

from __future__ import annotations

import pytest

from mlposture.scanner.config import ConfigError, build_settings
from mlposture.scanner.settings import FailOn


def test_defaults(tmp_path):
    eff = build_settings(tmp_path, {}, {})
    assert eff.settings.log_retention_days == 90 and eff.settings.fail_on is FailOn.CRITICAL
    assert eff.sources["log_retention_days"] == "default"


def test_precedence(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        "[project]\nname='x'\n\n[tool.mlposture]\nlog_retention_days = 120\nfail-on = 'high'\n"
        "exclude = ['data/']\n")
    (tmp_path / ".mlposture.yaml").write_text("dp_epsilon_max: 8\neu_ai_act:\n  risk_tier: High\n")
    env = {"MLPOSTURE_FAIL_ON": "medium", "MLPOSTURE_AUDIT_MAX_AGE_DAYS": "180", "MLPOSTURE_UNRELATED": "x"}
    eff = build_settings(tmp_path, env, {"fail_on": "low", "exclude": ()})
    s = eff.settings
    assert s.log_retention_days == 120 and eff.sources["log_retention_days"] == "pyproject.toml [tool.mlposture]:5"
    assert s.fail_on is FailOn.LOW and eff.sources["fail_on"] == "command line"
    assert s.audit_max_age_days == 180
    assert eff.sources["audit_max_age_days"] == "environment MLPOSTURE_AUDIT_MAX_AGE_DAYS"
    assert s.dp_epsilon_max == 8.0 and eff.sources["dp_epsilon_max"] == ".mlposture.yaml:1"
    assert s.eu_risk_tier == "high"
    assert s.exclude == ("data/",)
    env_only = build_settings(tmp_path, env, {})
    assert env_only.settings.fail_on is FailOn.MEDIUM


def test_broken_pyproject_of_the_target_is_a_note_not_an_error(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.mlposture\nfail_on = 'none'\n")
    effective = build_settings(tmp_path, {}, {})
    assert effective.settings.fail_on.value == "critical"
    assert effective.notes == (("[tool.mlposture] not read: invalid TOML: Expected ']' at the end of a table "
                                "declaration", "pyproject.toml", 1),)


@pytest.mark.parametrize(("files", "env", "message"), [
    ({".mlposture.yaml": "log_retention_days: ninety\n"}, {}, ".mlposture.yaml:1: log_retention_days: invalid value"),
    ({".mlposture.yaml": "retention: 3\n"}, {}, ".mlposture.yaml:1: unknown setting 'retention'"),
    ({".mlposture.yaml": "a: [1\n"}, {}, ".mlposture.yaml:"),
    ({"pyproject.toml": "[tool.mlposture]\nfail_on = 'sometimes'\n"}, {}, "fail_on: invalid value 'sometimes'"),
    ({}, {"MLPOSTURE_FAIL_UNDER": "lots"}, "environment MLPOSTURE_FAIL_UNDER: fail_under: invalid value"),
])
def test_errors_name_the_source(tmp_path, files, env, message):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(ConfigError) as err:
        build_settings(tmp_path, env, {})
    assert message in str(err.value)
