"""The shipped control catalog (controls/*.yaml) and its loader (scanner/catalog.py).

The facts pinned here are the checklist's, as the catalog (controls/*.yaml) must carry them: ids, severities,
LockML ids, mappings, automation, applicability, category ids and names, and the Critical set.
"""

from __future__ import annotations

import re
from collections import Counter
from importlib import resources
from pathlib import Path

import pytest

from mlposture.scanner.catalog import APPLICABILITY, CatalogError, build_catalog, load_catalog
from mlposture.scanner.probe import Severity

CATEGORIES = [
    ("data", "Data Security", "DATA"),
    ("model", "Model Protection", "MODEL"),
    ("inference", "Inference Security", "INF"),
    ("pipeline", "Pipeline Security", "PIPE"),
    ("monitoring", "Monitoring & Response", "MON"),
]

CRITICAL = {"DATA-01", "DATA-02", "DATA-03", "DATA-07", "MODEL-01", "MODEL-03", "MODEL-07", "INF-01", "INF-02",
            "INF-07", "INF-09", "PIPE-01", "PIPE-02", "MON-01", "MON-03"}

# The checklist's LockML column: the 50 base controls.
LOCKML = {
    "DATA-01": "data-0", "DATA-02": "data-1", "DATA-03": "data-2", "DATA-04": "data-3", "DATA-05": "data-4",
    "DATA-06": "data-5", "DATA-07": "data-6", "DATA-08": "data-7", "DATA-09": "data-8", "DATA-10": "data-9",
    "MODEL-01": "model-0", "MODEL-02": "model-1", "MODEL-03": "model-2", "MODEL-04": "model-3",
    "MODEL-05": "model-4", "MODEL-06": "model-5", "MODEL-07": "model-6", "MODEL-08": "model-7",
    "MODEL-09": "model-8", "MODEL-10": "model-9",
    "INF-01": "inference-0", "INF-02": "inference-1", "INF-03": "inference-2", "INF-04": "inference-3",
    "INF-05": "inference-4", "INF-06": "inference-5", "INF-07": "inference-6", "INF-08": "inference-7",
    "INF-09": "inference-8", "INF-10": "inference-9",
    "PIPE-01": "pipeline-0", "PIPE-02": "pipeline-1", "PIPE-03": "pipeline-2", "PIPE-04": "pipeline-3",
    "PIPE-05": "pipeline-4", "PIPE-06": "pipeline-5", "PIPE-07": "pipeline-6", "PIPE-08": "pipeline-7",
    "PIPE-09": "pipeline-8", "PIPE-10": "pipeline-9",
    "MON-01": "monitoring-0", "MON-02": "monitoring-1", "MON-03": "monitoring-2", "MON-04": "monitoring-3",
    "MON-05": "monitoring-4", "MON-06": "monitoring-5", "MON-07": "monitoring-6", "MON-08": "monitoring-7",
    "MON-09": "monitoring-8", "MON-10": "monitoring-9",
}
NEW = {"DATA-11", "DATA-12", "DATA-13", "DATA-14", "MODEL-11", "MODEL-12", "MODEL-13", "INF-11", "INF-12",
       "INF-13", "INF-14", "PIPE-11", "MON-11", "MON-12", "MON-13"}


@pytest.fixture(scope="module")
def catalog():  # type: ignore[no-untyped-def]
    return load_catalog()


# --- facts of the shipped catalog ---------------------------------------------------------------------------

def test_sixty_five_controls_in_five_categories(catalog) -> None:  # type: ignore[no-untyped-def]
    assert len(catalog) == 65
    assert [(c.id, c.name) for c in catalog.categories] == [(cid, name) for cid, name, _ in CATEGORIES]
    assert [c.icon for c in catalog.categories] == ["🗄", "🔒", "🛡", "🔧", "📊"]
    assert Counter(c.category for c in catalog) == {"data": 14, "model": 13, "inference": 14, "pipeline": 11,
                                                     "monitoring": 13}


def test_ids_are_unique_numbered_and_prefixed_by_category(catalog) -> None:  # type: ignore[no-untyped-def]
    ids = [c.id for c in catalog]
    assert len(ids) == len(set(ids)) == 65
    for cat_id, _name, prefix in CATEGORIES:
        members = [c.id for c in catalog.in_category(cat_id)]
        assert members == [f"{prefix}-{i:02d}" for i in range(1, len(members) + 1)]


def test_severities(catalog) -> None:  # type: ignore[no-untyped-def]
    assert Counter(c.severity.value for c in catalog) == {"critical": 15, "high": 31, "medium": 17, "low": 2}
    assert {c.id for c in catalog if c.severity is Severity.CRITICAL} == CRITICAL
    assert {c.id for c in catalog if c.severity is Severity.LOW} == {"DATA-10", "MODEL-09"}
    # no addition is rated Critical (the checklist's design choices)
    assert not {c.id for c in catalog if c.lockml_id is None and c.severity is Severity.CRITICAL}
    assert Counter(c.severity.value for c in catalog if c.lockml_id is None) == {"high": 12, "medium": 3}


def test_lockml_ids_map_the_fifty_base_controls(catalog) -> None:  # type: ignore[no-untyped-def]
    assert {c.id: c.lockml_id for c in catalog if c.lockml_id} == LOCKML
    assert {c.id for c in catalog if c.lockml_id is None} == NEW
    expected = {f"{cat}-{i}" for cat, _n, _p in CATEGORIES for i in range(10)}
    assert set(LOCKML.values()) == expected
    for c in catalog:
        if c.lockml_id:
            assert c.lockml_id.split("-")[0] == c.category, c.id


def test_every_control_explains_itself(catalog) -> None:  # type: ignore[no-untyped-def]
    for c in catalog:
        assert c.title and len(c.title) <= 100, c.id
        assert len(re.findall(r"[.!?](?:\s|$)", c.description)) >= 2, c.id
        assert 3 <= len(c.evidence) <= 8, c.id
        assert all(e.strip() for e in c.evidence), c.id
        assert len(c.remediation) > 60, c.id
        assert c.applicability in APPLICABILITY, c.id
        assert c.applies_when, c.id
        assert c.mappings.nist, c.id
        assert "◇" not in " ".join(c.evidence) and "✔" not in " ".join(c.evidence), c.id


def test_mapping_formats(catalog) -> None:  # type: ignore[no-untyped-def]
    for c in catalog:
        assert all(re.fullmatch(r"ML(0[1-9]|10)", o) for o in c.mappings.owasp), c.id
        assert all(re.fullmatch(r"AML\.M\d{4}", a) for a in c.mappings.atlas), c.id
        assert all(re.fullmatch(r"(GOVERN|MAP|MEASURE|MANAGE) \d+\.\d+", n) for n in c.mappings.nist), c.id
        assert all(e and not e.startswith(("Art", "—")) for e in c.mappings.eu_ai_act), c.id
        assert len(set(c.mappings.nist)) == len(c.mappings.nist), c.id


def test_table_rows_are_transcribed(catalog) -> None:  # type: ignore[no-untyped-def]
    data01 = catalog.get("DATA-01")
    assert data01.mappings.as_dict() == {"owasp": ["ML02"], "atlas": ["AML.M0012", "AML.M0005"],
                                         "nist": ["MEASURE 2.7", "MEASURE 2.10"], "eu_ai_act": ["15(5)"]}
    assert data01.applicability == "data_store"
    assert catalog.get("DATA-07").mappings.atlas == ()  # "— (closest M0007)"
    assert catalog.get("DATA-09").mappings.eu_ai_act == ("10(5)", "GDPR 5(1)(e)")
    assert catalog.get("MON-05").mappings.nist == ("MANAGE 1.3", "MANAGE 2.3", "MANAGE 4.1", "GOVERN 4.3")
    assert catalog.get("PIPE-08").mappings.nist == ("MAP 4.1", "MAP 4.2", "MANAGE 3.1")
    assert catalog.get("MON-13").mappings.eu_ai_act == ("11", "Annex IV", "13", "15(3)")
    assert catalog.get("INF-09").mappings.atlas == ("AML.M0020", "AML.M0021", "AML.M0022", "AML.M0030",
                                                    "AML.M0033")
    assert catalog.get("MODEL-04").mappings.eu_ai_act == ()  # 50(2) is output marking, not this control
    assert catalog.get("MON-08").mappings.owasp == tuple(f"ML{i:02d}" for i in range(1, 11))  # "all"
    # automation column, order kept: "H/A" -> (H, A), "A+M" -> (A, M), "H(−)" -> (H,)
    assert catalog.get("MODEL-02").automation == ("H", "A")
    assert catalog.get("DATA-03").automation == ("A", "M")
    assert catalog.get("MODEL-03").automation == ("H",)
    assert catalog.get("INF-14").automation == ("H", "D", "M")
    # "Applies when" keywords
    applies = {c.id: c.applicability for c in catalog}
    assert applies["INF-14"] == applies["MON-12"] == "eu_high_risk"
    assert applies["MON-13"] == "always"
    assert applies["INF-09"] == "llm"
    assert applies["INF-13"] == "user_facing"
    assert applies["PIPE-05"] == "ci" and applies["PIPE-07"] == "iac" and applies["PIPE-09"] == "containers"
    assert applies["PIPE-11"] == "model_promotion" and applies["PIPE-10"] == "feature_store"
    assert applies["MODEL-10"] == "compression" and applies["DATA-10"] == "synthetic_data"
    assert applies["DATA-11"] == "federated" and applies["MODEL-07"] == applies["MODEL-13"] == "third_party_model"
    endpoint = {f"INF-{i:02d}" for i in range(1, 13)} - {"INF-09"}
    assert {c.id for c in catalog if c.applicability == "inference"} == endpoint
    assert {c.id for c in catalog if c.applicability == "eu_market"} == {"MON-09", "MON-11"}
    assert {c.id for c in catalog if c.applicability == "decisions_about_people"} == {"DATA-14", "MON-04"}


def test_negative_evidence_is_marked(catalog) -> None:  # type: ignore[no-untyped-def]
    negatives = {c.id for c in catalog if any(e.startswith("Negative") for e in c.evidence)}
    assert {"MODEL-03", "MODEL-07", "INF-07", "INF-09", "PIPE-01", "PIPE-03", "PIPE-05", "DATA-02"} <= negatives


def test_lookup_is_case_insensitive(catalog) -> None:  # type: ignore[no-untyped-def]
    assert catalog.get("inf-07") is catalog.get("INF-07")
    assert "mon-13" in catalog and "MON-14" not in catalog


def test_package_carries_the_catalog() -> None:
    names = {p.name for p in resources.files("mlposture.controls").iterdir()}
    assert {"data.yaml", "model.yaml", "inference.yaml", "pipeline.yaml", "monitoring.yaml"} <= names


# --- loader -------------------------------------------------------------------------------------------------

GOOD = """\
category: {id: team, name: Team Controls}
controls:
  - id: TEAM-01
    title: Model owners named
    description: Every model has a named owner. Someone answers for it.
    severity: medium
    mappings: {nist: [GOVERN 2.1]}
    automation: [D]
    applicability: always
    evidence:
      - OWNERS file naming the model owner
    remediation: Add an OWNERS file naming who answers for each model.
"""


def _write(tmp_path: Path, text: str, name: str = "team.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_team_file_adds_controls(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD)
    catalog = load_catalog(extra_paths=[path])
    assert len(catalog) == 66
    team = catalog.get("TEAM-01")
    assert team is not None and team.source == str(path) and team.lockml_id is None
    assert team.severity is Severity.MEDIUM and team.category == "team"
    assert team.mappings.nist == ("GOVERN 2.1",) and team.mappings.owasp == ()
    assert [c.id for c in catalog.categories][-1] == "team"
    assert catalog.controls[-1] is team


def test_team_folder_adds_controls(tmp_path: Path) -> None:
    _write(tmp_path, GOOD)
    _write(tmp_path, GOOD.replace("TEAM-01", "TEAM-02"), "more.yml")
    (tmp_path / "notes.txt").write_text("not a catalog", encoding="utf-8")
    catalog = load_catalog(extra_paths=[tmp_path])
    assert len(catalog) == 67 and "TEAM-01" in catalog and "TEAM-02" in catalog


def test_team_file_may_extend_a_builtin_category(tmp_path: Path) -> None:
    text = GOOD.replace("{id: team, name: Team Controls}", "{id: model, name: Model Protection}")
    text = text.replace("TEAM-01", "MODEL-14")
    catalog = load_catalog(extra_paths=[_write(tmp_path, text)])
    assert len(catalog.in_category("model")) == 14
    assert len(catalog.categories) == 5


def _error(tmp_path: Path, text: str) -> CatalogError:
    path = _write(tmp_path, text)
    with pytest.raises(CatalogError) as info:
        load_catalog(extra_paths=[path])
    assert str(path) in str(info.value)
    return info.value


def test_bad_severity_names_file_control_key_and_line(tmp_path: Path) -> None:
    err = _error(tmp_path, GOOD.replace("severity: medium", "severity: urgent"))
    assert "TEAM-01" in str(err) and "'severity'" in str(err)
    assert err.line == 6 and str(err).startswith(f"{tmp_path / 'team.yaml'}:6: ")


def test_unknown_key_names_file_control_key_and_line(tmp_path: Path) -> None:
    err = _error(tmp_path, GOOD.replace("    automation: [D]\n", "    automation: [D]\n    owner: alice\n"))
    assert "TEAM-01" in str(err) and "unknown key 'owner'" in str(err)
    assert err.line == 9


def test_missing_title_names_file_control_key_and_line(tmp_path: Path) -> None:
    err = _error(tmp_path, GOOD.replace("    title: Model owners named\n", ""))
    assert "TEAM-01" in str(err) and "'title'" in str(err)
    assert err.line == 3  # the control's own line when the key is absent


def test_empty_evidence_and_bad_automation_fail(tmp_path: Path) -> None:
    err = _error(tmp_path, GOOD.replace("      - OWNERS file naming the model owner\n", "").replace(
        "    evidence:\n", "    evidence: []\n"))
    assert "'evidence'" in str(err) and "TEAM-01" in str(err)
    err = _error(tmp_path, GOOD.replace("automation: [D]", "automation: [X]"))
    assert "'automation'" in str(err) and err.line == 8


def test_bad_applicability_and_mapping_fail(tmp_path: Path) -> None:
    err = _error(tmp_path, GOOD.replace("applicability: always", "applicability: sometimes"))
    assert "'applicability'" in str(err) and err.line == 9
    err = _error(tmp_path, GOOD.replace("{nist: [GOVERN 2.1]}", "{nist: [GOVERN 2.1], iso: [42001]}"))
    assert "unknown mapping 'iso'" in str(err) and err.line == 7


def test_duplicate_id_across_files_names_both_files(tmp_path: Path) -> None:
    err = _error(tmp_path, GOOD.replace("TEAM-01", "DATA-01"))
    assert "DATA-01" in str(err) and "duplicate 'id'" in str(err)
    assert "controls/data.yaml" in str(err)  # where it was first defined
    assert err.line == 3


def test_duplicate_lockml_id_fails(tmp_path: Path) -> None:
    err = _error(tmp_path, GOOD.replace("    severity: medium\n", "    severity: medium\n    lockml_id: data-0\n"))
    assert "TEAM-01" in str(err) and "'lockml_id'" in str(err) and "DATA-01" in str(err)


def test_bad_lockml_id_fails(tmp_path: Path) -> None:
    err = _error(tmp_path, GOOD.replace("    severity: medium\n", "    severity: medium\n    lockml_id: data-10\n"))
    assert "'lockml_id'" in str(err) and err.line == 7


def test_broken_yaml_names_file_and_line(tmp_path: Path) -> None:
    err = _error(tmp_path, GOOD.replace("    title: Model owners named", "    title: [unclosed"))
    assert "invalid YAML" in str(err) and err.line is not None and err.line >= 4


def test_not_a_catalog_file(tmp_path: Path) -> None:
    assert "'category'" in str(_error(tmp_path, "controls: []\n"))
    assert "'controls'" in str(_error(tmp_path, "category: {id: x, name: X}\ncontrols: []\n"))
    assert "mapping" in str(_error(tmp_path, "- just\n- a list\n"))


def test_unreadable_team_file(tmp_path: Path) -> None:
    path = tmp_path / "binary.yaml"
    path.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(CatalogError, match="not UTF-8"):
        load_catalog(extra_paths=[path])
    with pytest.raises(CatalogError, match="cannot read"):
        load_catalog(extra_paths=[tmp_path / "missing.yaml"])


def test_build_catalog_from_text() -> None:
    catalog = build_catalog([("a.yaml", GOOD)])
    assert [c.id for c in catalog] == ["TEAM-01"]
    assert catalog.get("TEAM-01").line == 3  # type: ignore[union-attr]
