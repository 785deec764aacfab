"""Declared rules: controls derived from them, undeclared rules noted by the engine, SARIF text from the registry."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

import pytest

from mlposture.scanner.answers import AnswersFile
from mlposture.scanner.catalog import Catalog
from mlposture.scanner.engine import decide
from mlposture.scanner.plugins import discover
from mlposture.scanner.probe import (
    Effect,
    Evidence,
    Finding,
    NotApplicable,
    Probe,
    ProbeItem,
    ProbeRun,
    Rule,
    Severity,
)
from mlposture.scanner.repo import RepoView
from mlposture.scanner.settings import Settings


class Declared(Probe):
    """A probe that declares its rules."""

    name: ClassVar[str] = "declared"
    rules: ClassVar[tuple[Rule, ...]] = (
        Rule("declared.key", ("AL-01",), "the config key is set"),
        Rule("declared.bad-call", ("AL-02", "AL-01"), "a dangerous call", Severity.HIGH),
    )

    def run(self, repo: RepoView, settings: Settings) -> Iterable[ProbeItem]:
        return ()


def test_controls_come_from_the_declared_rules() -> None:
    assert Declared.controls == ("AL-01", "AL-02")
    assert Declared.info().rules == Declared.rules


def test_a_rule_must_carry_the_probe_name() -> None:
    with pytest.raises(TypeError, match=r"must start with 'wrong\.'"):
        type("Wrong", (Probe,), {"name": "wrong", "rules": (Rule("other.x", ("AL-01",), "x"),)})


def test_the_engine_notes_an_undeclared_rule(mini_catalog: Catalog) -> None:
    items = (Evidence("AL-01", Effect.PASS, "set", "a.cfg", 1, "declared.key"),
             Finding("declared.typo", Severity.LOW, "x", "a.py", 2, controls=("AL-02",)))
    decision = decide(mini_catalog, [ProbeRun(Declared.info(), items)], AnswersFile.empty())
    assert [n.message for n in decision.notes] == ["probe declared emitted rule 'declared.typo', which it does not "
                                                   "declare"]


def test_the_engine_notes_an_undeclared_rule_on_a_not_applicable_verdict(mini_catalog: Catalog) -> None:
    items = (NotApplicable("AL-01", "no config", "declared.key"), NotApplicable("AL-02", "no calls", "declared.none"),
             NotApplicable("AL-03", "no document"))
    decision = decide(mini_catalog, [ProbeRun(Declared.info(), items)], AnswersFile.empty())
    assert [n.message for n in decision.notes] == ["probe declared emitted rule 'declared.none', which it does not "
                                                   "declare"]
    assert {r.control.id: r.status.value for r in decision.controls}["AL-01"] == "not_applicable"


def test_built_in_probes_that_declare_rules_use_their_name_as_prefix() -> None:
    loaded = discover()
    names = {cls.name for cls, _ in loaded.probes}
    assert "cicd" in names and "ci_security" not in names
    for cls, _ in loaded.probes:
        for rule in cls.rules:
            assert rule.id.startswith(cls.name + ".") and rule.summary and (rule.controls or rule.severity), rule
