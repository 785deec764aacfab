"""Helpers for the model_lifecycle probe tests: run the probe on a fixture and fold its items into statuses.

The folding follows the engine's documented rule (DESIGN.md): fail evidence (or a finding) wins over pass, pass over
partial, no evidence = unverified; a NotApplicable verdict makes the control not_applicable.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

import scanner
from probes.model_lifecycle import ModelLifecycleProbe
from scanner.probe import Effect, Evidence, Finding, NotApplicable, Note, ProbeItem, Searched
from scanner.repo import RepoView
from scanner.settings import Settings

ROOT = Path(os.path.dirname(os.path.dirname(os.path.abspath(scanner.__file__))))
FIXTURES = ROOT / "fixtures" / "model_lifecycle"
RANK = {Effect.FAIL: 3, Effect.PASS: 2, Effect.PARTIAL: 1}


@dataclass
class Scan:
    """The probe's items for one repository, with the views a reviewer reads."""

    items: list[ProbeItem]
    notes: tuple[Note, ...]

    def evidence(self, control: str, rule: str | None = None) -> list[Evidence]:
        return [i for i in self.items if isinstance(i, Evidence) and i.control == control
                and (rule is None or i.rule == rule)]

    def findings(self, rule: str | None = None) -> list[Finding]:
        return [i for i in self.items if isinstance(i, Finding) and (rule is None or i.rule == rule)]

    def searched(self, control: str) -> list[str]:
        return [i.what for i in self.items if isinstance(i, Searched) and i.control == control]

    def not_applicable(self, control: str) -> list[str]:
        return [i.reason for i in self.items if isinstance(i, NotApplicable) and i.control == control]

    def status(self, control: str) -> str:
        if self.not_applicable(control):
            return "not_applicable"
        effects = [e.effect for e in self.evidence(control)]
        effects += [f.effect for f in self.findings() if control in f.controls]
        if not effects:
            return "unverified"
        return max(effects, key=lambda e: RANK[e]).value

    def note_for(self, path: str) -> list[Note]:
        return [n for n in self.notes if n.path == path]


def run_probe(path: Path, settings: Settings | None = None) -> Scan:
    settings = settings or Settings()
    repo = RepoView(path, settings)
    items = list(ModelLifecycleProbe().run(repo, settings))
    return Scan(items, repo.notes)


@pytest.fixture
def scan() -> Callable[..., Scan]:
    """``scan("name")`` runs the probe on a fixture repository; ``scan(tmp_path)`` on any folder."""

    def _scan(where: str | Path, settings: Settings | None = None) -> Scan:
        return run_probe(FIXTURES / where if isinstance(where, str) else where, settings)

    return _scan
