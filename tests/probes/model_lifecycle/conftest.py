"""Helpers for the model_lifecycle probe tests: ``scan("fixture")`` or ``scan(tmp_path)`` runs the probe."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from mlposture.probes.lifecycle import ModelLifecycleProbe
from mlposture.scanner.settings import Settings
from tests.probe_harness import ROOT, ProbeScan, scan_with

FIXTURES = ROOT / "fixtures" / "model_lifecycle"
Scan = ProbeScan


def run_probe(path: Path, settings: Settings | None = None) -> ProbeScan:
    return scan_with(ModelLifecycleProbe, path, settings)


@pytest.fixture
def scan() -> Callable[..., ProbeScan]:
    """``scan("name")`` runs the probe on a fixture repository; ``scan(tmp_path)`` on any folder."""

    def _scan(where: str | Path, settings: Settings | None = None) -> ProbeScan:
        return run_probe(FIXTURES / where if isinstance(where, str) else where, settings)

    return _scan
