"""The evidence engine: runs probes in isolation and decides each control's status.

Rules (docs/contracts.md, "Statuses"): per control, fail evidence wins over pass, pass over partial; no evidence
leaves the control unverified (never fail: fail needs something present that violates the control). Then answers are
merged (an answer never overrides fail evidence; the contradiction is reported), then applicability.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import gc
import multiprocessing
import os
import signal
import threading
import time
import traceback
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from mlposture.scanner.answers import AnswersFile
from mlposture.scanner.catalog import Catalog, Control
from mlposture.scanner.context import Context, ContextRule, accepts_test_evidence
from mlposture.scanner.grouping import group_findings
from mlposture.scanner.probe import (
    Effect,
    Evidence,
    Finding,
    NotApplicable,
    Note,
    Probe,
    ProbeItem,
    ProbeRun,
    Searched,
)
from mlposture.scanner.repo import RepoView
from mlposture.scanner.results import ControlResult, RecordedEvidence, RecordedFinding, Status
from mlposture.scanner.settings import Settings
from mlposture.scanner.sources import ScanContext, Sources

ANSWER_STATUS = {
    "implemented": Status.PASS,
    "partial": Status.PARTIAL,
    "not_implemented": Status.FAIL,
    "not_applicable": Status.NOT_APPLICABLE,
}
MAX_ITEMS_PER_PROBE = 200_000
#: Below this many walked files the probes run in this process whatever ``jobs`` is: forking a pool costs more
#: than it saves on a small tree.
PARALLEL_MIN_FILES = 500
#: Forked probe workers share the parent's pages until they write to them, and reading a fact writes its reference
#: count, so a worker can end up with a private copy of every fact it reads. The probe phase forks no more workers
#: than keep (1 + workers) x the parent's resident memory within this budget; past it the probes run here.
PROBE_MEMORY_BUDGET = 480 * 1024 * 1024
GC_GEN0_THRESHOLD = 100_000


class ProbeTimeout(BaseException):
    """Raised into a probe that ran past its time budget (a BaseException, so ``except Exception`` inside a
    probe cannot swallow it)."""


@contextlib.contextmanager
def _deadline(seconds: float) -> Iterator[None]:
    """Interrupt the code inside after ``seconds`` (SIGALRM; a no-op off the main thread or where absent)."""
    usable = seconds > 0 and hasattr(signal, "SIGALRM") and threading.current_thread() is threading.main_thread()
    if not usable:
        yield
        return

    def expire(signum: int, frame: object) -> None:
        raise ProbeTimeout(f"did not finish within its {seconds:g} s budget (probe_timeout_seconds)")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _build_sources(names: Iterable[str], sources: Sources, seconds: float) -> None:
    """Build shared facts before the probes that use them, under their own time budget; a failure is kept by
    :class:`Sources` and raised again inside every probe that reads the fact (that probe then fails closed)."""
    for name in names:
        if sources.built(name):
            continue
        try:
            with _deadline(seconds):
                sources.get(name)
        except (Exception, ProbeTimeout):
            continue


def _python_pass(probes: Sequence[tuple[type[Probe], str]], sources: Sources, seconds: float, jobs: int) -> None:
    """Every probe's Python visitors in one pass over the modules, under one time budget; when it fails, each
    visitor's facts raise inside the probes that read them (they fail closed)."""
    visitors = [v for cls, _ in probes for v in cls.python_visitors]
    if not visitors:
        return
    try:
        with _deadline(seconds):
            sources.run_python(visitors, jobs)
    except (Exception, ProbeTimeout):
        return


def run_probe(probe_cls: type[Probe], distribution: str, repo: RepoView, settings: Settings) -> ProbeRun:
    """Run one probe; an exception, or running past its time budget, becomes the run's error instead of stopping
    (or hanging) the scan. Items yielded before that still count. The facts it ``uses`` are built first, timed
    apart (``Sources.timings``)."""
    info = probe_cls.info(distribution)
    sources = Sources.of(repo)
    _build_sources(probe_cls.uses, sources, settings.probe_timeout_seconds)
    start = time.perf_counter()
    items: list[ProbeItem] = []
    try:
        with _deadline(settings.probe_timeout_seconds):
            probe = probe_cls()
            produced = (probe.scan(ScanContext(repo, settings, sources)) if probe_cls.uses_context()
                        else probe.run(repo, settings))
            for item in produced:
                if not isinstance(item, (Evidence, Finding, Note, NotApplicable, Searched)):
                    raise TypeError(f"probe yielded {type(item).__name__}, not a probe item")
                items.append(item)
                if len(items) > MAX_ITEMS_PER_PROBE:
                    items.append(Note(f"probe {info.name} produced more than {MAX_ITEMS_PER_PROBE} items; "
                                      "the rest were dropped"))
                    break
    except ProbeTimeout as exc:
        return ProbeRun(info, tuple(items), f"ProbeTimeout: {exc}", time.perf_counter() - start)
    except Exception as exc:
        frame = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
        where = f" at {frame.filename.rsplit('/', 1)[-1]}:{frame.lineno}" if frame else ""
        return ProbeRun(info, tuple(items), f"{type(exc).__name__}: {exc}{where}", time.perf_counter() - start)
    return ProbeRun(info, tuple(items), None, time.perf_counter() - start)


def _resident_bytes() -> int | None:
    """This process's resident memory now (Linux), or ``None`` when it cannot be read."""
    try:
        with open("/proc/self/statm", encoding="ascii") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def probe_workers(jobs: int, probes: int, resident: int | None) -> int:
    """How many forked workers the probe phase may use: at most ``jobs`` and one per probe, and no more than the
    memory budget allows for a parent of ``resident`` bytes (1 means: run the probes in this process)."""
    workers = min(jobs, probes)
    if resident:
        workers = min(workers, PROBE_MEMORY_BUDGET // resident - 1)
    return max(1, workers)


def default_jobs() -> int:
    """The number of cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


# The probes and view a forked worker inherits (set in the parent just before the pool forks; never pickled).
_FORKED: tuple[Sequence[tuple[type[Probe], str]], RepoView, Settings] | None = None


def _run_in_worker(index: int) -> tuple[ProbeRun, tuple[Note, ...], dict[str, float]]:
    """One probe in a forked worker: its run, the notes it added to the view, the facts it had to build."""
    assert _FORKED is not None
    probes, repo, settings = _FORKED
    before = len(repo.notes)
    Sources.of(repo).jobs = 1  # a Python pass a probe starts here runs here: a worker does not fork workers
    timings = dict(Sources.of(repo).timings)
    probe_cls, dist = probes[index]
    run = run_probe(probe_cls, dist, repo, settings)
    built = {k: v for k, v in Sources.of(repo).timings.items() if timings.get(k) != v}
    return run, repo.notes[before:], built


def _run_parallel(probes: Sequence[tuple[type[Probe], str]], repo: RepoView, settings: Settings, jobs: int,
                  on_probe: Callable[[str], None] | None) -> list[ProbeRun]:
    """Probes in a pool of forked processes; results merged in probe order, so the report does not depend on
    ``jobs`` (notes too: each probe's new notes are added in probe order, duplicates dropped by the view)."""
    global _FORKED
    sources = Sources.of(repo)
    _FORKED = (probes, repo, settings)
    results: dict[int, ProbeRun] = {}
    notes: dict[int, tuple[Note, ...]] = {}
    try:
        ctx = multiprocessing.get_context("fork")
        with concurrent.futures.ProcessPoolExecutor(max_workers=jobs, mp_context=ctx,
                                                    initializer=gc.freeze) as pool:
            # longest first (results are merged in probe order, whatever order they finish in)
            order = sorted(range(len(probes)), key=lambda i: not probes[i][0].reads_every_file)
            futures = {pool.submit(_run_in_worker, i): i for i in order}
            for done, future in enumerate(concurrent.futures.as_completed(futures), start=1):
                i = futures[future]
                probe_cls, dist = probes[i]
                try:
                    run, new_notes, built = future.result()
                except Exception as exc:  # the worker died (out of memory, a signal): that probe failed
                    run, new_notes, built = (ProbeRun(probe_cls.info(dist), (), f"worker process failed: "
                                                      f"{type(exc).__name__}: {exc}"), (), {})
                results[i], notes[i] = run, new_notes
                for name, secs in built.items():
                    sources.timings[name] = max(sources.timings.get(name, 0.0), secs)
                if on_probe is not None:
                    on_probe(f"probe {done}/{len(probes)} done: {probe_cls.name}")
    finally:
        _FORKED = None
    for i in range(len(probes)):
        for n in notes[i]:
            repo.note(n.message, n.path, n.line)
    return [results[i] for i in range(len(probes))]


def run_probes(probes: Sequence[tuple[type[Probe], str]], repo: RepoView, settings: Settings,
               on_probe: Callable[[str], None] | None = None, jobs: int = 1) -> list[ProbeRun]:
    """Run every probe over the shared view, in name order; with ``jobs`` > 1 in forked worker processes.

    Probes build millions of short-lived AST nodes; with the default thresholds the cyclic garbage collector
    then spends a large share of a big scan re-traversing the long-lived view and caches. A higher first-
    generation threshold for the duration of the probes keeps collections rare; the previous thresholds are
    restored afterwards.
    """
    previous = gc.get_threshold()
    gc.set_threshold(GC_GEN0_THRESHOLD, *previous[1:])
    try:
        # the one Python pass first (its own pool of workers on a large tree), then the facts declared in
        # ``uses``, each built once before any probe fork, so every worker inherits them
        _python_pass(probes, Sources.of(repo), settings.probe_timeout_seconds, jobs)
        _build_sources(dict.fromkeys(n for cls, _ in probes for n in cls.uses), Sources.of(repo),
                       settings.probe_timeout_seconds)
        workers = probe_workers(jobs, len(probes), _resident_bytes()) if jobs > 1 else 1
        if workers > 1 and len(repo.files) >= PARALLEL_MIN_FILES and "fork" in multiprocessing.get_all_start_methods():
            return _run_parallel(probes, repo, settings, workers, on_probe)
        runs = []
        for index, (probe_cls, dist) in enumerate(probes, start=1):
            if on_probe is not None:
                on_probe(f"probe {index}/{len(probes)}: {probe_cls.name}")
            runs.append(run_probe(probe_cls, dist, repo, settings))
        return runs
    finally:
        gc.set_threshold(*previous)


def _undeclared_rules(run: ProbeRun) -> list[Note]:
    """A note per rule id a probe emitted without declaring it (only for probes that declare their rules)."""
    if not run.info.rules:
        return []
    declared = {r.id for r in run.info.rules}
    emitted = dict.fromkeys(i.rule for i in run.items if isinstance(i, (Evidence, Finding, NotApplicable)) and i.rule)
    return [Note(f"probe {run.info.name} emitted rule {rid!r}, which it does not declare")
            for rid in emitted if rid not in declared]


@dataclass(frozen=True)
class Decision:
    """The engine's output: control results, findings and notes about unknown ids."""

    controls: tuple[ControlResult, ...]
    findings: tuple[RecordedFinding, ...]
    notes: tuple[Note, ...]
    warnings: tuple[str, ...] = ()


def _status_of(effects: Iterable[Effect]) -> Status | None:
    found = set(effects)
    if Effect.FAIL in found:
        return Status.FAIL
    if Effect.PASS in found:
        return Status.PASS
    if Effect.PARTIAL in found:
        return Status.PARTIAL
    return None


def _evidence_counts(context: Context, effect: Effect, counted: frozenset[Context], control: Control | None) -> bool:
    """Whether a plain evidence item from ``context`` may decide its control (docs/context.md, "Evidence").

    Counted contexts always count. Otherwise a failure never does (a test key is not a leak); a pass or partial
    does from documentation (policies, runbooks and model cards live there), and from tests only for controls
    whose evidence is a test (fairness tests, rollback drills); examples, fixtures and vendored code never speak
    for the project (a monitor set up only in an example is not production monitoring).
    """
    if context in counted:
        return True
    if effect is Effect.FAIL:
        return False
    if context is Context.DOCS:
        return True
    return context is Context.TEST and control is not None and accepts_test_evidence(control.evidence)


def decide(catalog: Catalog, runs: Sequence[ProbeRun], answers: AnswersFile, rule: ContextRule | None = None,
           counted: Iterable[Context] = ()) -> Decision:
    """Turn probe items, answers and applicability into one result per control.

    Every evidence item and finding gets the context of its path from ``rule``; findings outside the ``counted``
    contexts (production always counts) are recorded but speak for no control and never gate.
    """
    rule = rule or ContextRule()
    counting = frozenset({Context.PRODUCTION, *counted})
    evidence: dict[str, list[RecordedEvidence]] = defaultdict(list)
    searched: dict[str, list[str]] = defaultdict(list)
    not_applicable: dict[str, list[str]] = defaultdict(list)
    errors: dict[str, list[str]] = defaultdict(list)
    coverers: dict[str, list[str]] = defaultdict(list)
    findings: list[RecordedFinding] = []
    notes: list[Note] = []
    unknown: set[tuple[str, str]] = set()
    found: list[tuple[str, Finding]] = []

    def known(control: str, probe: str) -> str | None:
        cid = control.upper()
        if cid in catalog:
            return cid
        if (probe, cid) not in unknown:
            unknown.add((probe, cid))
            notes.append(Note(f"probe {probe} spoke for unknown control {control!r}; ignored"))
        return None

    for run in runs:
        name = run.info.name
        notes.extend(_undeclared_rules(run))
        for cid in run.info.controls:
            coverers[cid.upper()].append(name)
        if run.error is not None:
            for cid in run.info.controls:
                errors[cid.upper()].append(f"probe {name} failed: {run.error}")
        for item in run.items:
            if isinstance(item, Evidence):
                ecid = known(item.control, name)
                if ecid:
                    context = rule.of(item.path)
                    evidence[ecid].append(RecordedEvidence(
                        name, item, context=context.value,
                        counted=_evidence_counts(context, item.effect, counting, catalog.get(ecid))))
            elif isinstance(item, Finding):
                found.append((name, item))
            elif isinstance(item, NotApplicable):
                ncid = known(item.control, name)
                if ncid:
                    not_applicable[ncid].append(item.reason)
            elif isinstance(item, Searched):
                scid = known(item.control, name)
                if scid:
                    searched[scid].append(f"{name}: {item.what}")
            else:
                notes.append(item)

    grouped, warnings = group_findings(found, answers.exceptions)
    for g in grouped:
        item, accepted, name = g.finding, g.accepted, g.probe
        context = rule.of(item.path)
        in_scope = context in counting
        findings.append(RecordedFinding(name, item, accepted, context.value, in_scope))
        for control in item.controls:
            fcid = known(control, name)
            if fcid is None:
                continue
            effect: Effect
            message: str
            if accepted is not None:
                effect = Effect.PARTIAL if item.effect is Effect.FAIL else item.effect
                message = (f"accepted risk ({accepted.by}, {accepted.date}: {accepted.reason}): "
                           f"{item.message}")
            else:
                effect, message = item.effect, item.message
            evidence[fcid].append(RecordedEvidence(
                name, Evidence(fcid, effect, message, item.path, item.line, item.rule), item.fingerprint,
                context.value, in_scope))

    results = [
        _decide_control(control, evidence[control.id], answers, not_applicable[control.id],
                        searched[control.id], errors[control.id], coverers[control.id])
        for control in catalog
    ]
    findings.sort(key=lambda f: (not f.counted, -f.finding.severity.rank, f.finding.path or "", f.finding.line or 0,
                                 f.finding.rule))
    return Decision(tuple(results), tuple(findings), tuple(notes), tuple(warnings))


def _decide_control(control: Control, evidence: list[RecordedEvidence], answers: AnswersFile,
                    not_applicable: list[str], searched: list[str], errors: list[str],
                    coverers: list[str]) -> ControlResult:
    ordered = tuple(sorted(evidence, key=lambda e: (not e.counted, _EFFECT_ORDER[e.evidence.effect],
                                                    e.evidence.path or "", e.evidence.line or 0)))
    from_evidence = _status_of(e.evidence.effect for e in evidence if e.counted)
    answer = answers.answers.get(control.id)
    looked = tuple(dict.fromkeys(searched))

    def result(status: Status, source: str, reason: str = "", contradiction: str | None = None) -> ControlResult:
        return ControlResult(control=control, status=status, source=source, evidence=ordered, answer=answer,
                             reason=reason, searched=looked, contradiction=contradiction)

    if from_evidence is Status.FAIL:
        contradiction = None
        if answer is not None and answer.status != "not_implemented":
            contradiction = (f"answered '{answer.status}' by {answer.by} on {answer.date} "
                             f"({answer.path}:{answer.line}), but the evidence shows a failure")
        return result(Status.FAIL, "evidence", contradiction or "", contradiction)
    if answer is not None:
        status = ANSWER_STATUS[answer.status]
        reason = ""
        if status is Status.NOT_APPLICABLE:
            reason = f"answered not applicable by {answer.by}: {answer.note or answer.evidence}"
        elif from_evidence is Status.PASS and status in (Status.PARTIAL, Status.FAIL):
            reason = f"evidence suggests pass, but the answer ({answer.status}) is more conservative and wins"
        return result(status, "answer", reason)
    if from_evidence is not None:
        reason = ""
        if not_applicable:
            reason = f"evidence found although a probe judged it not applicable ({not_applicable[0]})"
        return result(from_evidence, "evidence", reason)
    if not_applicable:
        return result(Status.NOT_APPLICABLE, "evidence", not_applicable[0])
    if errors:
        reason = "; ".join(errors)
    elif looked:
        reason = "no evidence found; searched: " + "; ".join(looked)
    elif coverers:
        reason = f"no evidence found by probe(s) {', '.join(dict.fromkeys(coverers))}"
    else:
        reason = "no probe can see this in a repository; it needs a manual answer"
    return result(Status.UNVERIFIED, "none", reason)


_EFFECT_ORDER = {Effect.FAIL: 0, Effect.PARTIAL: 1, Effect.PASS: 2}
