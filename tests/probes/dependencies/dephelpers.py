"""Helpers for the dependencies probe tests (imported by name: the test folders are not packages)."""

from __future__ import annotations

from pathlib import Path

from mlposture.probes.dependencies import DependenciesProbe
from mlposture.scanner.probe import Evidence, Finding, Note, ProbeItem, Searched
from mlposture.scanner.repo import RepoView
from mlposture.scanner.settings import Settings

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "dependencies"


def run_probe(name: str | Path, **settings: object) -> list[ProbeItem]:
    """All items of the probe on a fixture (or any folder), with the vulnerability audit off by default."""
    settings.setdefault("no_vulns", True)
    target = FIXTURES / name if isinstance(name, str) else name
    return list(DependenciesProbe().run(RepoView(target), Settings(**settings)))  # type: ignore[arg-type]


def findings(items: list[ProbeItem], rule: str) -> list[Finding]:
    return [i for i in items if isinstance(i, Finding) and i.rule == rule]


def evidence(items: list[ProbeItem], control: str) -> list[Evidence]:
    return [i for i in items if isinstance(i, Evidence) and i.control == control]


def notes(items: list[ProbeItem]) -> list[Note]:
    return [i for i in items if isinstance(i, Note)]


def searched(items: list[ProbeItem], control: str) -> list[Searched]:
    return [i for i in items if isinstance(i, Searched) and i.control == control]

