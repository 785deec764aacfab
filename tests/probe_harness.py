"""Run one probe on a folder and read its items the way a reviewer does; statuses come from the real engine.

Shared by the probe test suites, so every probe is judged by exactly the rules ``mlposture scan`` applies.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from mlposture.scanner.answers import AnswersFile
from mlposture.scanner.catalog import Catalog, load_catalog
from mlposture.scanner.engine import decide, run_probe
from mlposture.scanner.probe import Evidence, Finding, NotApplicable, Note, Probe, ProbeItem, Searched
from mlposture.scanner.repo import RepoView
from mlposture.scanner.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


@cache
def catalog() -> Catalog:
    return load_catalog()


@dataclass
class ProbeScan:
    """The probe's items for one repository, with the views a reviewer reads."""

    items: list[ProbeItem]
    notes: tuple[Note, ...]
    probe: type[Probe]

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
        """The status ``mlposture scan`` would give the control on this probe's items alone."""
        from mlposture.scanner.probe import ProbeRun

        run = ProbeRun(self.probe.info(), tuple(self.items))
        decision = decide(catalog(), [run], AnswersFile.empty())
        return next(r.status.value for r in decision.controls if r.control.id == control)

    def note_for(self, path: str) -> list[Note]:
        return [n for n in self.notes if n.path == path]

    def item_notes(self) -> list[Note]:
        """The notes the probe yielded itself (``notes`` holds those the view recorded while reading)."""
        return [i for i in self.items if isinstance(i, Note)]

    def where(self, control: str) -> set[tuple[str | None, int | None, str]]:
        """``(path, line, effect)`` of every evidence item and finding that speaks for ``control``."""
        return {(i.path, i.line, i.effect.value) for i in self.items
                if (isinstance(i, Evidence) and i.control == control)
                or (isinstance(i, Finding) and control in i.controls)}

    def messages(self, control: str) -> list[str]:
        """Messages of the evidence items and findings that speak for ``control``, in the probe's order."""
        return [i.message for i in self.items if (isinstance(i, Evidence) and i.control == control)
                or (isinstance(i, Finding) and control in i.controls)]


def scan_with(probe: type[Probe], path: Path, settings: Settings | None = None) -> ProbeScan:
    """Run ``probe`` over ``path`` through the engine's isolation (a crash fails the test loudly), and check the
    item contract on every scan: a located item names a file of the tree and a line >= 1, and its rule is one the
    probe declares (when it declares rules)."""
    settings = settings or Settings()
    repo = RepoView(path, settings)
    run = run_probe(probe, "", repo, settings)
    assert run.error is None, run.error
    check_contract(probe, run.items, repo)
    return ProbeScan(list(run.items), repo.notes, probe)


def check_contract(probe: type[Probe], items: Iterable[ProbeItem], repo: RepoView) -> None:
    """What every probe's items must satisfy, whatever the repository."""
    declared = {r.id for r in probe.rules}
    paths = {f.path for f in repo.files}
    for item in items:
        if isinstance(item, (Evidence, Finding)):
            if item.line is not None:
                assert item.line >= 1, item
            if item.path is not None and item.line is not None and paths:
                inside = item.path in paths or any(p.startswith(item.path.rstrip("/") + "/") for p in paths)
                assert inside, f"{probe.name}: {item.path}:{item.line} is not a file of the tree"
            if declared:
                assert item.rule in declared, f"{probe.name} emitted undeclared rule {item.rule!r}"
