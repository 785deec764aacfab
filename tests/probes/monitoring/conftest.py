"""Fixture: scan a fixture repository copied outside the project's git history."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from mlposture.scanner.settings import Settings
from tests.probes.monitoring.monhelpers import FIXTURES, TODAY, Scan, run_probe


@pytest.fixture
def scan_fixture(tmp_path: Path) -> Callable[..., Scan]:
    """Copy a fixture into ``tmp_path`` (outside the project's git history) and scan it."""

    def _scan(name: str, today: date | None = TODAY, settings: Settings | None = None) -> Scan:
        dst = tmp_path / name
        shutil.copytree(FIXTURES / name, dst)
        return run_probe(dst, today, settings)

    return _scan
