"""Helpers for the infrastructure probe tests: run the probe on a fixture and fold its items into statuses.

The folding follows the engine's documented rule (DESIGN.md): fail evidence wins over pass, pass over partial,
no evidence = unverified; a NotApplicable verdict counts only without evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from mlposture.probes.infrastructure import InfrastructureProbe
from mlposture.scanner.probe import Evidence, Finding, NotApplicable, Note, ProbeItem, Searched
from mlposture.scanner.repo import RepoView
from mlposture.scanner.settings import Settings

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = ROOT / "fixtures" / "infrastructure"


@dataclass
class Scan:
    """The probe's items for one repository."""

    items: list[ProbeItem]

    def evidence(self, control: str) -> list[Evidence]:
        return [i for i in self.items if isinstance(i, Evidence) and i.control == control]

    def findings(self, rule: str | None = None) -> list[Finding]:
        return [i for i in self.items if isinstance(i, Finding) and (rule is None or i.rule == rule)]

    def notes(self) -> list[Note]:
        return [i for i in self.items if isinstance(i, Note)]

    def searched(self, control: str) -> list[Searched]:
        return [i for i in self.items if isinstance(i, Searched) and i.control == control]

    def not_applicable(self, control: str) -> list[NotApplicable]:
        return [i for i in self.items if isinstance(i, NotApplicable) and i.control == control]

    def where(self, control: str) -> set[tuple[str | None, int | None, str]]:
        """(path, line, effect) of every evidence and finding for a control."""
        out: set[tuple[str | None, int | None, str]] = set()
        for i in self.items:
            if (isinstance(i, Evidence) and i.control == control) or (
                    isinstance(i, Finding) and control in i.controls):
                out.add((i.path, i.line, i.effect.value))
        return out

    def messages(self, control: str) -> list[str]:
        return [i.message for i in self.items if (isinstance(i, Evidence) and i.control == control)
                or (isinstance(i, Finding) and control in i.controls)]

    def status(self, control: str) -> str:
        effects = {eff for (_, _, eff) in self.where(control)}
        if "fail" in effects:
            return "fail"
        if "pass" in effects:
            return "pass"
        if "partial" in effects:
            return "partial"
        if self.not_applicable(control):
            return "not_applicable"
        return "unverified"


def run_probe(path: Path | str, settings: Settings | None = None) -> Scan:
    settings = settings or Settings()
    repo = RepoView(path, settings)
    items = list(InfrastructureProbe().run(repo, settings))
    for item in items:
        assert isinstance(item, (Evidence, Finding, Note, NotApplicable, Searched)), item
        if isinstance(item, (Evidence, Finding)):
            assert item.path, item
            assert item.line and item.line >= 1, item
            assert item.rule.startswith("infrastructure."), item
    return Scan(items)


@pytest.fixture
def scan_fixture():  # type: ignore[no-untyped-def]
    def _scan(name: str, settings: Settings | None = None) -> Scan:
        return run_probe(FIXTURES / name, settings)
    return _scan


@pytest.fixture
def probe_run():  # type: ignore[no-untyped-def]
    return run_probe
