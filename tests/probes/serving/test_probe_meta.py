"""The probe as the CLI sees it: registration, description, documented rule ids."""

from __future__ import annotations

import os
from importlib.metadata import entry_points

import mlposture.probes.serving
from mlposture.scanner.probe import Evidence, Finding


def test_registered_and_described():
    (ep,) = [e for e in entry_points(group="mlposture.probes") if e.name == "serving"]
    cls = ep.load()
    info = cls.info()
    assert info.name == "serving" and "INF-01" in info.controls and "DATA-02" in info.controls
    assert info.description.startswith("Reads serving code and gateway configs")


def test_every_emitted_rule_is_documented(scan):
    doc = mlposture.probes.serving.__doc__ or ""
    root = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "..")
    fixtures = os.path.join(root, "fixtures", "serving")
    rules: set[str] = set()
    for name in sorted(os.listdir(fixtures)):
        for item in scan(name).items:
            if isinstance(item, (Evidence, Finding)):
                assert item.rule.startswith("serving."), item
                rules.add(item.rule)
    assert len(rules) >= 20
    assert {r for r in rules if f"``{r}``" not in doc} == set()
