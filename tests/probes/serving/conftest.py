"""Helpers for the serving probe tests, on the shared probe harness (``probe_scan`` in tests/conftest.py).

A scan goes through the real engine (``run_probe``) and statuses come from the real ``decide``; serving's tests
add two views a reviewer of this probe reads: every note (the probe's and the view's) and where each control's
evidence and findings point.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from mlposture.probes.serving import ServingProbe
from mlposture.scanner.probe import Evidence, Finding, Note
from mlposture.scanner.settings import Settings
from tests.probe_harness import ProbeScan

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = ROOT / "fixtures" / "serving"


@dataclass
class Scan(ProbeScan):
    """The serving probe's items for one repository."""

    def all_notes(self) -> list[Note]:
        """The probe's notes, then the view's (parse errors of the files it read)."""
        return [i for i in self.items if isinstance(i, Note)] + list(self.notes)

    def where(self, control: str) -> set[tuple[str | None, int | None, str]]:
        """(path, line, effect) of every evidence and finding for a control."""
        out: set[tuple[str | None, int | None, str]] = set()
        for i in self.items:
            if (isinstance(i, Evidence) and i.control == control) or (isinstance(i, Finding) and control in i.controls):
                out.add((i.path, i.line, i.effect.value))
        return out


@pytest.fixture
def scan(probe_scan: Callable[..., ProbeScan]) -> Callable[..., Scan]:
    """Scan a fixture by name (under fixtures/serving) or a path, with optional settings."""

    def _scan(target: str | Path, settings: Settings | None = None) -> Scan:
        path = Path(target)
        found = probe_scan(ServingProbe, path if path.is_absolute() else FIXTURES / path, settings)
        return Scan(found.items, found.notes, found.probe)

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
