"""Every built-in probe, through the shared harness, on the fixtures of its own folder: no crash, located items
inside the tree with lines >= 1, only declared rules (for probes that declare them)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from mlposture.scanner.plugins import discover

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
PROBES = {cls.name: cls for cls, _ in discover().probes}
CASES = [(name, case.relative_to(FIXTURES).as_posix()) for name in ("cicd", "sbom")
         for case in sorted((FIXTURES / name).iterdir()) if case.is_dir()]


@pytest.mark.parametrize(("probe", "fixture"), CASES)
def test_probe_keeps_the_contract_on_its_fixtures(probe: str, fixture: str, probe_scan: Callable[..., object]) -> None:
    scan = probe_scan(PROBES[probe], fixture)
    assert scan is not None
