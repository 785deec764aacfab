"""Shared test helpers: a small catalog and probes defined in the test, so core rules are tested alone."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from mlposture.scanner.catalog import Catalog, build_catalog

MINI_CATALOG = """
category: {id: alpha, name: Alpha}
controls:
  - id: AL-01
    title: Critical thing
    description: A critical control.
    severity: critical
    lockml_id: data-0
    automation: [A]
    evidence: [a config key]
    remediation: Set the key.
  - id: AL-02
    title: High thing
    description: A high control.
    severity: high
    lockml_id: data-1
    automation: [H]
    evidence: [a library call]
    remediation: Call the library.
  - id: AL-03
    title: Medium thing
    description: A medium control.
    severity: medium
    automation: [D]
    evidence: [a document]
    remediation: Write the document.
"""
MINI_CATALOG_2 = """
category: {id: beta, name: Beta}
controls:
  - id: BE-01
    title: Low thing
    description: A low control.
    severity: low
    lockml_id: model-0
    automation: [M]
    evidence: [an answer]
    remediation: Answer it.
  - id: BE-02
    title: Another critical
    description: Critical again.
    severity: critical
    automation: [A]
    evidence: [a file]
    remediation: Add the file.
"""


@pytest.fixture
def mini_catalog() -> Catalog:
    return build_catalog([("alpha.yaml", MINI_CATALOG), ("beta.yaml", MINI_CATALOG_2)])



@pytest.fixture(autouse=True)
def _no_network_audits(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never reach a vulnerability service; the audit itself is tested against a local endpoint."""
    monkeypatch.setenv("MLPOSTURE_NO_VULNS", "1")


@pytest.fixture
def probe_scan() -> Callable[..., object]:
    """``probe_scan(ProbeClass, folder, settings=None)``: one probe through the real engine, items checked against
    the probe contract, read through :class:`tests.probe_harness.ProbeScan` (statuses from the real ``decide``)."""
    from tests.probe_harness import scan_with

    def scan(probe: type, folder: str | Path, settings: object = None) -> object:
        root = Path(__file__).resolve().parents[1]
        path = Path(folder) if Path(folder).is_absolute() else root / "fixtures" / folder
        return scan_with(probe, path, settings)  # type: ignore[arg-type]

    return scan
