"""Helpers for the serving probe tests: run the probe on a fixture and fold its items into statuses.

The folding follows the engine's documented rule (DESIGN.md): fail evidence wins over pass, pass over partial,
no evidence = unverified; a NotApplicable verdict makes the control not_applicable.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from mlposture.scanner.probe import Effect, Evidence, Finding, NotApplicable, Note, ProbeItem, Searched
from mlposture.scanner.repo import RepoView
from mlposture.scanner.settings import Settings

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = ROOT / "fixtures" / "serving"


@dataclass
class Scan:
    """The probe's items for one repository, with the views a reviewer reads."""

    items: list[ProbeItem]
    view_notes: tuple[Note, ...] = ()
    statuses: dict[str, str] = field(default_factory=dict)

    def evidence(self, control: str) -> list[Evidence]:
        return [i for i in self.items if isinstance(i, Evidence) and i.control == control]

    def findings(self, rule: str | None = None) -> list[Finding]:
        return [i for i in self.items if isinstance(i, Finding) and (rule is None or i.rule == rule)]

    def notes(self) -> list[Note]:
        return [i for i in self.items if isinstance(i, Note)] + list(self.view_notes)

    def searched(self, control: str) -> list[Searched]:
        return [i for i in self.items if isinstance(i, Searched) and i.control == control]

    def status(self, control: str) -> str:
        return self.statuses.get(control, "unverified")

    def where(self, control: str) -> set[tuple[str | None, int | None, str]]:
        """(path, line, effect) of every evidence and finding for a control."""
        out: set[tuple[str | None, int | None, str]] = set()
        for i in self.items:
            if (isinstance(i, Evidence) and i.control == control) or (isinstance(i, Finding) and control in i.controls):
                out.add((i.path, i.line, i.effect.value))
        return out


def fold(items: list[ProbeItem]) -> dict[str, str]:
    effects: dict[str, set[Effect]] = {}
    na: set[str] = set()
    for i in items:
        if isinstance(i, Evidence):
            effects.setdefault(i.control, set()).add(i.effect)
        elif isinstance(i, Finding):
            for c in i.controls:
                effects.setdefault(c, set()).add(i.effect)
        elif isinstance(i, NotApplicable):
            na.add(i.control)
    out: dict[str, str] = {}
    for control, got in effects.items():
        for e in (Effect.FAIL, Effect.PASS, Effect.PARTIAL):
            if e in got:
                out[control] = e.value
                break
    for control in na:
        out.setdefault(control, "not_applicable")
    return out


def run_scan(path: str | Path, settings: Settings | None = None) -> Scan:
    from mlposture.probes.serving import ServingProbe

    settings = settings or Settings()
    view = RepoView(path, settings)
    items = list(ServingProbe().run(view, settings))
    return Scan(items, view.notes, fold(items))


@pytest.fixture
def scan() -> Callable[..., Scan]:
    """Scan a fixture by name (under fixtures/serving) or a path, with optional settings."""

    def _scan(target: str | Path, settings: Settings | None = None) -> Scan:
        path = Path(target)
        return run_scan(path if path.is_absolute() else FIXTURES / path, settings)

    return _scan


@pytest.fixture
def copy_fixture(tmp_path: Path) -> Callable[[str], Path]:
    """Copy a fixture to a temporary folder so a test can change one value."""

    def _copy(name: str) -> Path:
        dest = tmp_path / name
        shutil.copytree(FIXTURES / name, dest)
        return dest

    return _copy


def write(root: Path, rel: str, text: str) -> Path:
    """Write a file below ``root`` (creating folders)."""
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text, encoding="utf-8")
    return p
