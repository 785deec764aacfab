"""Shared facts are built once per scan and timed apart; --jobs changes nothing in the report but the times."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, ClassVar

import pytest
from click.testing import CliRunner

from mlposture.scanner import engine
from mlposture.scanner.cli import cli
from mlposture.scanner.engine import run_probes
from mlposture.scanner.probe import Effect, Evidence, Probe, ProbeItem
from mlposture.scanner.repo import RepoView
from mlposture.scanner.settings import Settings
from mlposture.scanner.sources import ScanContext, Sources, register_source
from mlposture.scanner.sources import python as python_pass
from mlposture.scanner.sources.python import PythonVisitor

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "fixtures" / "demo-repo"

BUILDS: list[str] = []


def _count_files(repo: RepoView) -> int:
    BUILDS.append(repo.root.name)
    return len(repo.files)


register_source("test.file-count", _count_files)


class OldStyleProbe(Probe):
    """A third-party probe written against the original ``run(repo, settings)`` signature."""

    name: ClassVar[str] = "old_style"
    controls: ClassVar[tuple[str, ...]] = ("AL-01",)

    def run(self, repo: RepoView, settings: Settings) -> Iterable[ProbeItem]:
        workflows = Sources.of(repo).ci.workflows  # the shared CI model, without importing any probe
        yield Evidence("AL-01", Effect.PASS, f"{len(workflows)} workflows", ".github/workflows/ci.yml", 1)


class CountingProbe(Probe):
    """A probe on the context signature that declares the facts it uses."""

    name: ClassVar[str] = "counting"
    controls: ClassVar[tuple[str, ...]] = ("AL-02",)
    uses: ClassVar[tuple[str, ...]] = ("test.file-count", "ci")

    def scan(self, ctx: ScanContext) -> Iterable[ProbeItem]:
        count = ctx.sources.get("test.file-count")
        yield Evidence("AL-02", Effect.PARTIAL, f"{count} files", "README.md", 1)


def test_declared_facts_are_built_once_before_the_probes_and_timed(tmp_path: Path) -> None:
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    (tmp_path / ".github" / "workflows" / "ci.yml").write_text("on: push\njobs: {}\n")
    (tmp_path / "README.md").write_text("# x\n")
    BUILDS.clear()
    repo = RepoView(tmp_path)
    runs = run_probes([(CountingProbe, ""), (CountingProbe, ""), (OldStyleProbe, "")], repo, Settings())
    assert [r.error for r in runs] == [None, None, None]
    assert [i.message for r in runs for i in r.items] == ["2 files", "2 files", "1 workflows"]  # type: ignore[union-attr]
    assert [tmp_path.name] == BUILDS
    assert set(Sources.of(repo).timings) == {"test.file-count", "ci"}
    assert OldStyleProbe().run(repo, Settings()) is not None  # the old entry point still works when called directly
    assert [i.message for i in CountingProbe().run(repo, Settings())] == ["2 files"]  # type: ignore[union-attr]


def test_a_fact_that_fails_to_build_fails_every_probe_that_reads_it(tmp_path: Path) -> None:
    def broken(repo: RepoView) -> int:
        raise ValueError("unreadable")

    register_source("test.broken", broken)

    class Reader(CountingProbe):
        name: ClassVar[str] = "reader"
        uses: ClassVar[tuple[str, ...]] = ("test.broken",)

        def scan(self, ctx: ScanContext) -> Iterable[ProbeItem]:
            yield Evidence("AL-02", Effect.PASS, str(ctx.sources.get("test.broken")), "x", 1)

    runs = run_probes([(Reader, ""), (Reader, "")], RepoView(tmp_path), Settings())
    assert [r.error is not None and "ValueError: unreadable" in r.error for r in runs] == [True, True]


def _report(jobs: int, out: Path) -> dict[str, Any]:
    result = CliRunner().invoke(cli, ["scan", str(DEMO), "--no-vulns", "-q", "-f", "json", "-o", str(out),
                                      "--jobs", str(jobs)])
    assert result.exit_code in (0, 1), result.output
    report: dict[str, Any] = json.loads(out.read_text())
    report.pop("generated_at")
    for p in report["probes"]:
        p.pop("seconds")
    for s in report["sources"]:
        s.pop("seconds")
    return report


def test_the_json_report_does_not_depend_on_jobs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "PARALLEL_MIN_FILES", 0)  # the demo is small: use the pool anyway
    monkeypatch.setattr(engine, "PROBE_MEMORY_BUDGET", 1 << 40)  # and whatever the test process already holds
    one = _report(1, tmp_path / "one.json")
    four = _report(4, tmp_path / "four.json")
    assert one == four
    assert {s["name"] for s in one["sources"]} >= {"ci", "manifests", "lifecycle.context"}
    assert len(one["probes"]) >= 10 and all(p["status"] == "ok" for p in one["probes"])


def test_probe_workers_stay_within_the_memory_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "PROBE_MEMORY_BUDGET", 480 << 20)
    assert engine.probe_workers(4, 10, 60 << 20) == 4  # a small parent: every core
    assert engine.probe_workers(4, 3, 60 << 20) == 3  # never more workers than probes
    assert engine.probe_workers(8, 10, 150 << 20) == 2  # 150 MB x (1 + 2) fits 480 MB, x (1 + 3) would not
    assert engine.probe_workers(2, 10, 300 << 20) == 1  # one copy more would not fit: run the probes here
    assert engine.probe_workers(2, 10, None) == 2  # memory unknown (not Linux): the cores decide


class PidProbe(Probe):
    """Says which process ran it."""

    name: ClassVar[str] = "pid"

    def scan(self, ctx: ScanContext) -> Iterable[ProbeItem]:
        yield Evidence("AL-02", Effect.PASS, str(os.getpid()), "x", 1)


def _probe_pids(root: Path) -> set[str]:
    runs = run_probes([(PidProbe, ""), (PidProbe, "")], RepoView(root), Settings(), jobs=2)
    assert all(r.error is None for r in runs)
    return {r.items[0].message for r in runs if isinstance(r.items[0], Evidence)}


def test_a_large_parent_runs_the_probes_in_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "PARALLEL_MIN_FILES", 0)
    monkeypatch.setattr(engine, "PROBE_MEMORY_BUDGET", 1 << 40)
    assert str(os.getpid()) not in _probe_pids(tmp_path)  # within the budget: forked workers
    monkeypatch.setattr(engine, "PROBE_MEMORY_BUDGET", 1)  # any parent is too large
    assert _probe_pids(tmp_path) == {str(os.getpid())}


def _started(log: Path, name: str) -> None:
    with open(log, "a", encoding="utf-8") as fh:
        fh.write(name + "\n")


class SlowProbe(Probe):
    """Keeps a worker busy for a while."""

    name: ClassVar[str] = "slow"

    def scan(self, ctx: ScanContext) -> Iterable[ProbeItem]:
        _started(ctx.repo.root / "started.log", self.name)
        time.sleep(0.5)
        yield Evidence("AL-02", Effect.PASS, "slow", "x", 1)


class OtherSlowProbe(SlowProbe):
    name: ClassVar[str] = "slow2"


class WholeTreeProbe(Probe):
    """Reads every file (in a real probe): started first."""

    name: ClassVar[str] = "whole"
    reads_every_file: ClassVar[bool] = True

    def scan(self, ctx: ScanContext) -> Iterable[ProbeItem]:
        _started(ctx.repo.root / "started.log", self.name)
        yield Evidence("AL-02", Effect.PASS, "whole", "x", 1)


def test_probes_that_read_every_file_start_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "PARALLEL_MIN_FILES", 0)
    monkeypatch.setattr(engine, "PROBE_MEMORY_BUDGET", 1 << 40)
    probes = [(SlowProbe, ""), (OtherSlowProbe, ""), (WholeTreeProbe, "")]
    runs = run_probes(probes, RepoView(tmp_path), Settings(), jobs=2)
    assert [r.items[0].message for r in runs if isinstance(r.items[0], Evidence)] == ["slow", "slow", "whole"]
    started = (tmp_path / "started.log").read_text().split()
    assert "whole" in started[:2], started  # not left waiting behind two slow probes


LATE = PythonVisitor("test.late", lambda mod: os.getpid(), needles=("late",))
DECLARED = PythonVisitor("test.declared", lambda mod: None, needles=("nowhere",))


class LatePassProbe(Probe):
    """Asks for a visitor no probe declared, from inside a probe worker (it declares another, so the scan's own
    pass runs with ``--jobs``)."""

    name: ClassVar[str] = "late"
    python_visitors: ClassVar[tuple[PythonVisitor[Any], ...]] = (DECLARED,)

    def scan(self, ctx: ScanContext) -> Iterable[ProbeItem]:
        pids = {pid for _, pid in ctx.sources.python(LATE)}
        yield Evidence("AL-02", Effect.PASS, " ".join(map(str, [os.getpid(), *sorted(pids)])), "x", 1)


def test_a_later_pass_inside_a_probe_worker_runs_in_that_worker(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "PARALLEL_MIN_FILES", 0)
    monkeypatch.setattr(engine, "PROBE_MEMORY_BUDGET", 1 << 40)
    monkeypatch.setattr(python_pass, "PARALLEL_MIN_FILES", 1)  # a pass that would fork if it could
    for n in range(4):
        (tmp_path / f"m{n}.py").write_text("late = 1\n")
    runs = run_probes([(LatePassProbe, ""), (PidProbe, "")], RepoView(tmp_path), Settings(), jobs=2)
    assert all(r.error is None for r in runs), [r.error for r in runs]
    item = runs[0].items[0]
    assert isinstance(item, Evidence)
    worker, *visited = item.message.split()
    assert worker != str(os.getpid())  # the probe ran in a worker
    assert visited == [worker]  # and its late pass in that same process: no workers of its own
