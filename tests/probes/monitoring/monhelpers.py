"""Helpers for the monitoring probe tests: run the probe through the shared harness (the engine, the item
contract) with a fixed "today" for report ages, and index its items by control."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from mlposture.probes.monitoring import MonitoringProbe
from mlposture.scanner.probe import Evidence, NotApplicable, Note, ProbeItem, Searched
from mlposture.scanner.settings import Settings
from tests.probe_harness import scan_with

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "monitoring"
TODAY = date(2026, 11, 28)


@dataclass
class Scan:
    """The probe's items for one repository, grouped."""

    items: list[ProbeItem]
    notes: list[Note]
    evidence: dict[str, list[Evidence]] = field(default_factory=lambda: defaultdict(list))
    searched: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    not_applicable: dict[str, str] = field(default_factory=dict)

    def effects(self, control: str) -> set[str]:
        return {e.effect.value for e in self.evidence.get(control, [])}

    def where(self, control: str) -> set[tuple[str | None, int | None]]:
        return {(e.path, e.line) for e in self.evidence.get(control, [])}

    def one(self, control: str, effect: str) -> Evidence:
        found = [e for e in self.evidence.get(control, []) if e.effect.value == effect]
        assert len(found) >= 1, (control, effect, self.evidence.get(control))
        return found[0]


def pinned(today: date | None) -> type[MonitoringProbe]:
    """The monitoring probe with ``today`` fixed (the engine instantiates probes without arguments)."""

    class MonitoringOn(MonitoringProbe):
        def __init__(self) -> None:
            super().__init__(today)

    return MonitoringOn


def run_probe(root: Path, today: date | None = TODAY, settings: Settings | None = None) -> Scan:
    run = scan_with(pinned(today), root, settings)
    scan = Scan(run.items, [i for i in run.items if isinstance(i, Note)] + list(run.notes))
    for it in run.items:
        if isinstance(it, Evidence):
            scan.evidence[it.control].append(it)
        elif isinstance(it, Searched):
            scan.searched[it.control].append(it.what)
        elif isinstance(it, NotApplicable):
            scan.not_applicable[it.control] = it.reason
    return scan
