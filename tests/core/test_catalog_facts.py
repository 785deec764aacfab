"""Facts of the shipped catalog that users and the LockML view depend on."""

from __future__ import annotations

from collections import Counter

from mlposture.scanner.catalog import load_catalog

CRITICAL = {"DATA-01", "DATA-02", "DATA-03", "DATA-07", "MODEL-01", "MODEL-03", "MODEL-07", "INF-01", "INF-02",
            "INF-07", "INF-09", "PIPE-01", "PIPE-02", "MON-01", "MON-03"}


def test_catalog_counts():
    catalog = load_catalog()
    assert len(catalog) == 65
    assert [c.id for c in catalog.categories] == ["data", "model", "inference", "pipeline", "monitoring"]
    assert Counter(c.category for c in catalog) == {"data": 14, "model": 13, "inference": 14, "pipeline": 11,
                                                     "monitoring": 13}
    assert Counter(c.severity.value for c in catalog) == {"critical": 15, "high": 31, "medium": 17, "low": 2}
    assert {c.id for c in catalog if c.severity.value == "critical"} == CRITICAL
    assert len({c.id for c in catalog}) == 65


def test_lockml_ids_cover_the_fifty_base_controls():
    catalog = load_catalog()
    lockml = [c.lockml_id for c in catalog if c.lockml_id]
    assert len(lockml) == len(set(lockml)) == 50
    expected = {f"{cat}-{i}" for cat in ("data", "model", "inference", "pipeline", "monitoring") for i in range(10)}
    assert set(lockml) == expected
    assert catalog.get("MODEL-03").lockml_id == "model-2"  # type: ignore[union-attr]
    assert catalog.get("INF-07").lockml_id == "inference-6"  # type: ignore[union-attr]
    assert catalog.get("MON-09").lockml_id == "monitoring-8"  # type: ignore[union-attr]


def test_every_control_explains_itself():
    for c in load_catalog():
        assert c.description and c.remediation and c.evidence, c.id
        assert c.mappings.nist, c.id
