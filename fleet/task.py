"""The unit of work a Dask worker runs: scan one repository and return its JSON report, or why it failed.

Each scan runs ``mlposture scan`` in a child process of the worker: the very engine and options of a single scan
(a clone through the scanner's own safe remote code for URLs), a hard time limit that can stop a hung clone or
probe (a worker thread cannot be interrupted, and the engine's per-probe budget needs a main thread), and a scan
that crashes or exhausts memory takes down only itself, never the worker.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

MAX_STDERR = 4000


@dataclass(frozen=True)
class ScanOptions:
    """Options every task of a run shares."""

    timeout: float
    no_vulns: bool = False
    vuln_db: str | None = None
    attest_key: str | None = None  # absolute path of a PEM private key: sign an audit record of each scan


@dataclass(frozen=True)
class TaskResult:
    """A report (JSON text) or an error, with when the attempt ran."""

    report: str | None
    error: str | None
    started_at: dt.datetime
    finished_at: dt.datetime
    worker: str = ""
    attestation: str | None = None  # the signed audit record (one line) when the scan was attested


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def scan_command(target: str, ref: str | None, options: ScanOptions, output: str) -> list[str]:
    """The ``mlposture scan`` command line for one repository (a local folder at a ref is cloned from file://)."""
    if ref is not None and not _is_url(target):
        target = Path(target).resolve().as_uri()
    argv = [sys.executable, "-m", "mlposture.scanner", "scan", target, "-f", "json", "-o", output, "-q"]
    if ref is not None:
        argv += ["--ref", ref]
    if options.no_vulns:
        argv.append("--no-vulns")
    if options.vuln_db:
        argv += ["--vuln-db", options.vuln_db]
    if options.attest_key:
        argv += ["--attest", options.attest_key]
    return argv


def _is_url(target: str) -> bool:
    from mlposture.scanner.remote import is_remote

    return is_remote(target)


def _error_text(code: int, stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    messages = [line for line in lines if line.startswith("mlposture: error") or "internal error" in line]
    detail = (messages or lines[-3:] or [f"exit code {code}"])[-1]
    detail = detail.removeprefix("mlposture: error: ")
    kind = {2: "unusable input", 3: "scanner failed"}.get(code, f"scanner exited with code {code}")
    return f"{kind}: {detail}"[:MAX_STDERR]


def scan_repository(target: str, ref: str | None, options: ScanOptions) -> TaskResult:
    """Scan one repository in a child process; never raises for a repository's fault."""
    started = _now()
    worker = _worker_name()
    if not _is_url(target) and not Path(target).exists():
        return TaskResult(None, f"{target}: no such file or folder", started, _now(), worker)
    with tempfile.TemporaryDirectory(prefix="mlposture-fleet-") as tmp:
        output = str(Path(tmp) / "report.json")
        argv = scan_command(target, ref, options, output)
        env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, env=env, cwd=tmp)
        deadline = time.monotonic() + options.timeout if options.timeout > 0 else None
        try:
            _, stderr = process.communicate(timeout=None if deadline is None else max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _kill_group(process)
            return TaskResult(None, f"timed out after {options.timeout:g} s", started, _now(), worker)
        except BaseException:
            _kill_group(process)
            raise
        text = stderr.decode("utf-8", "replace")
        if process.returncode not in (0, 1):
            return TaskResult(None, _error_text(process.returncode, text), started, _now(), worker)
        try:
            report = Path(output).read_text("utf-8")
            attestation = _attestation(Path(output)) if options.attest_key else None
        except OSError as exc:
            return TaskResult(None, f"scanner wrote no report: {exc.strerror or exc}", started, _now(), worker)
    return TaskResult(report, None, started, _now(), worker, attestation)


def _attestation(report: Path) -> str:
    """The record ``scan --attest`` wrote beside the report (it exits 2 when it cannot write one)."""
    from mlposture.scanner.attestation.beside import record_path_beside

    return record_path_beside(report).read_text("utf-8").strip()


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """Stop the scan and anything it started (a git clone) together.

    The child stays in the worker's process group, so Ctrl-C in a terminal reaches it like the rest of the run.
    """
    import psutil  # a dependency of distributed

    try:
        family = [*psutil.Process(process.pid).children(recursive=True)]
    except psutil.Error:
        family = []
    process.kill()
    for child in family:
        with contextlib.suppress(psutil.Error):
            child.kill()
    process.wait()


def _worker_name() -> str:
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except (ImportError, ValueError):
        return ""
