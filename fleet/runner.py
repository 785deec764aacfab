"""Run a fleet scan on Dask distributed: one task per repository, results stored as they arrive.

Only this process writes to the database (workers return reports), so the database URL and its credentials never
leave the machine that runs the command, and every scan is stored by one transaction of one writer. A failed
attempt (clone error, scanner failure, timeout, a lost worker) is submitted again up to ``retries`` times; what
still fails is stored with its error. Ctrl-C cancels what is still queued; everything stored so far stays.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from mlposture.fleet.sources import Source
from mlposture.fleet.store import ReportError, Store
from mlposture.fleet.task import ScanOptions, TaskResult, scan_repository


@dataclass(frozen=True)
class RunOptions:
    """How to run: a local cluster of ``workers`` processes, or an existing ``scheduler``."""

    workers: int | None
    scheduler: str | None
    retries: int
    force: bool
    scan: ScanOptions


@dataclass
class RunSummary:
    """What a run did."""

    total: int
    stored: int = 0
    unchanged: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (source, error)
    interrupted: bool = False

    @property
    def finished(self) -> int:
        """Repositories with a final outcome."""
        return self.stored + self.unchanged + len(self.failed)


def default_workers() -> int:
    """One worker process per core."""
    return max(1, os.cpu_count() or 1)


def _distributed() -> Any:
    """The ``distributed`` module (untyped; imported only when a fleet scan runs)."""
    import importlib

    return importlib.import_module("distributed")


@contextmanager
def dask_client(options: RunOptions) -> Iterator[Any]:
    """A client of the given scheduler, or of a new local cluster of worker processes (one thread each).

    The local cluster listens on the loopback interface only: a Dask scheduler runs whatever task it is sent.
    """
    distributed = _distributed()
    if options.scheduler:
        with distributed.Client(options.scheduler, timeout="30s") as client:
            yield client
        return
    cluster = distributed.LocalCluster(n_workers=options.workers or default_workers(), threads_per_worker=1,
                                       processes=True, host="127.0.0.1", dashboard_address="127.0.0.1:0",
                                       silence_logs=logging.ERROR, memory_limit=0)
    try:
        with distributed.Client(cluster) as client:
            yield client
    finally:
        cluster.close()


def run_fleet(sources: list[Source], store: Store, options: RunOptions, client: Any,
              echo: Callable[[str], None]) -> RunSummary:
    """Scan every source on ``client``'s cluster and store each result; returns the counts and failures."""
    summary = RunSummary(total=len(sources))
    run_id = uuid.uuid4().hex[:8]
    pending: dict[Any, tuple[Source, int]] = {}

    def submit(source: Source, attempt: int) -> Any:
        future = client.submit(scan_repository, source.target, source.ref, options.scan, pure=False,
                               key=f"mlposture-scan-{run_id}-{len(pending)}-{attempt}-{uuid.uuid4().hex[:6]}")
        pending[future] = (source, attempt)
        return future

    queue = _distributed().as_completed([submit(s, 1) for s in sources])
    try:
        for future in queue:
            source, attempt = pending.pop(future)
            result = _result_of(future)
            if result.error is not None and attempt <= options.retries:
                echo(f"retry {attempt}/{options.retries} {source.key}: {result.error}")
                queue.add(submit(source, attempt + 1))
                continue
            _record(store, source, result, options.force, summary, echo, attempt)
    except KeyboardInterrupt:
        summary.interrupted = True
        client.cancel(list(pending))
    return summary


def _result_of(future: Any) -> TaskResult:
    """The task's result; an exception of the task or a lost worker becomes an error result."""
    from mlposture.fleet.store.store import utcnow

    try:
        result = future.result()
    except Exception as exc:  # the task itself failed (a lost worker, a serialisation error...)
        now = utcnow()
        return TaskResult(None, f"task failed: {type(exc).__name__}: {exc}"[:4000], now, now)
    finally:
        future.release()
    if not isinstance(result, TaskResult):
        now = utcnow()
        return TaskResult(None, f"task returned {type(result).__name__}, not a scan result", now, now)
    return result


def _record(store: Store, source: Source, result: TaskResult, force: bool, summary: RunSummary,
            echo: Callable[[str], None], attempts: int) -> None:
    error = result.error
    if error is None and result.report is not None:
        try:
            recorded = store.record_scan(json.loads(result.report), source=source.key, ref=source.ref,
                                         started_at=result.started_at, finished_at=result.finished_at, force=force,
                                         attestation=result.attestation)
        except (ValueError, ReportError) as exc:
            error = f"the scanner wrote an unusable report: {exc}"
        else:
            if recorded.outcome == "stored":
                summary.stored += 1
            else:
                summary.unchanged += 1
            echo(_progress(summary) + f" {recorded.repo}: {recorded.outcome}")
            return
    message = (error or "no report") + (f" (after {attempts} attempts)" if attempts > 1 else "")
    recorded = store.record_failure(source=source.key, error=message, ref=source.ref,
                                    started_at=result.started_at, finished_at=result.finished_at)
    summary.failed.append((source.key, message))
    echo(_progress(summary) + f" {recorded.repo}: FAILED: {message}")


def _progress(summary: RunSummary) -> str:
    done = summary.stored + summary.unchanged
    return f"[{summary.finished}/{summary.total}] done {done}, failed {len(summary.failed)}, total {summary.total}:"
