"""Serialized model artifacts, found by content, and how the code loads them (MODEL-03, MODEL-07, MODEL-01).

Reads every file's first bytes (whatever its name) to find pickles (protocols 0-5), PyTorch zip/legacy/tar
checkpoints, TorchScript, joblib (plain and compressed), gzip/bz2/xz-wrapped pickles, NumPy object arrays, npz,
safetensors, GGUF (chat templates), ONNX (external data paths), Keras HDF5 / .keras / SavedModel metadata (Lambda
layers), TensorFlow SavedModel graphs (file and Python ops), 7z; walks pickle opcodes without unpickling to prove
which imports loading would run. Reads Python sources with ``ast`` for pickle-based loading calls (``torch.load``
without ``weights_only=True``, ``joblib.load``, ``numpy.load(allow_pickle=True)``...), ``trust_remote_code=True``, hub
downloads pinned or not to a commit, and digest checks before load.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, ClassVar

from mlposture.probes.serialization.code_signals import VISITOR as CODE_VISITOR
from mlposture.probes.serialization.rules import RULES
from mlposture.scanner.probe import Effect, Evidence, Finding, Note, Probe, ProbeItem, Searched, Severity
from mlposture.scanner.sources import ScanContext
from mlposture.scanner.sources.python import PythonVisitor

if TYPE_CHECKING:  # parsers are imported when the probe runs: ``mlposture --help`` does not pay for them
    from mlposture.probes.serialization.artifacts import Artifact, Issue
    from mlposture.probes.serialization.code_signals import CodeSignal
    from mlposture.scanner.repo import RepoView
    from mlposture.scanner.settings import Settings

ISSUE_CONTROLS = {
    "dangerous-global": ("MODEL-03",),
    "unknown-global": ("MODEL-03",),
    "keras-lambda": ("MODEL-03",),
    "archive-anomaly": ("MODEL-03",),
    "onnx-external-data": ("MODEL-03",),
    "gguf-template": ("MODEL-03",),
    "disguised-format": ("MODEL-03",),
    "tf-unsafe-op": ("MODEL-03",),
}
MANIFEST_NAMES = ("sha256sums", "sha256sums.txt", "checksums.json", "checksums.txt", "sha512sums")
MANIFEST_SUFFIXES = (".sha256", ".sha512", ".sha256sum")
REQUIREMENT_PATTERNS = ("requirements*.txt", "pyproject.toml", "setup.cfg", "environment*.yml",
                        "environment*.yaml", "Pipfile", "constraints*.txt")


def limit_severity(text: str) -> Severity:
    """The configured severity of "not fully analysed"; anything unknown stays critical (fail closed)."""
    try:
        return Severity(text.strip().lower())
    except ValueError:
        return Severity.CRITICAL


class ScanBudget:
    """Time and bytes for all files of one scan together: past either, files are counted, not scanned."""

    def __init__(self, seconds: float, max_bytes: int) -> None:
        import time

        self._clock = time.monotonic
        self.deadline = self._clock() + seconds if seconds > 0 else None
        self.max_bytes = max_bytes
        self.used = 0
        self.skipped = 0
        self.seconds = seconds

    def take(self, size: int) -> float | None:
        """Seconds left for a file of ``size`` bytes, or None (and counted as skipped) when the budget is spent."""
        left = float("inf") if self.deadline is None else self.deadline - self._clock()
        if left <= 0 or (self.max_bytes > 0 and self.used + size > self.max_bytes):
            self.skipped += 1
            return None
        self.used += size
        return left

    def message(self) -> str:
        return (f"not fully analysed: the scan's model budget ({self.seconds:g} s, {self.max_bytes} bytes across "
                f"all files) ran out; {self.skipped} files were not scanned")


def artifact_items(art: Artifact) -> Iterator[ProbeItem]:
    """Findings, evidence and notes for one scanned artifact (shared with ``scan-models`` and history)."""
    for issue in art.issues:
        yield _finding(art, issue)
    if art.pickle_based:
        proto = f"protocol {art.protocol}" if art.protocol is not None else "protocol unknown"
        kind = "" if art.kind == "pickle" else f", {art.kind}"
        yield Evidence("MODEL-03", Effect.FAIL, f"pickle model file ({proto}{kind})", art.path, None,
                       "serialization.pickle-format")
    elif art.safe_format and art.level.name == "SAFE":
        detail = f", {art.detail}" if art.detail else ""
        yield Evidence("MODEL-03", Effect.PASS, f"{art.kind} model file (no code on load{detail})", art.path, None,
                       "serialization.safe-format")
    for note in art.notes:
        yield Note(note, art.path)


def _finding(art: Artifact, issue: Issue) -> Finding:
    where = f" [{issue.member}]" if issue.member else ""
    at = f" (offset {issue.offset})" if issue.offset is not None and "@" not in issue.message else ""
    return Finding(
        rule=f"serialization.{issue.rule}",
        severity=issue.severity,
        message=f"{art.kind}{where}: {issue.message}{at}",
        path=art.path,
        line=None,
        controls=ISSUE_CONTROLS.get(issue.rule, ()),
        content=issue.content or issue.message,
    )


class SerializationProbe(Probe):
    """Model files found by content: can loading them execute code? Plus how the code loads models.

    Speaks for MODEL-03 (pickle-based artifacts fail, safetensors/GGUF/ONNX/Keras-without-Lambda pass; dangerous
    imports, Lambda layers, archive anomalies and ONNX paths out of the model folder are findings; pickle-based
    loading calls fail), MODEL-07 (hub downloads pinned to a commit or not, ``trust_remote_code=True``) and
    MODEL-01 (digest checks before load, digest manifests).
    """

    name: ClassVar[str] = "serialization"
    version: ClassVar[str] = "0.1.0"
    rules = RULES
    python_visitors: ClassVar[tuple[PythonVisitor[Any], ...]] = (CODE_VISITOR,)
    reads_every_file: ClassVar[bool] = True  # every file's content is sniffed for a pickle

    def scan(self, ctx: ScanContext) -> Iterable[ProbeItem]:
        repo, settings = ctx.repo, ctx.settings
        yield from self._artifacts(repo, settings)
        yield from self._code(ctx)
        yield from self._manifests(repo)
        yield Searched("MODEL-03", "every file by content for pickle-based or safe model formats, and Python "
                                   "code for pickle-based loading calls")
        yield Searched("MODEL-07", "hub downloads (from_pretrained, pipeline, hf_hub_download, snapshot_download, "
                                   "torch.hub.load) for a 40-hex revision, and trust_remote_code=True")
        yield Searched("MODEL-01", "digest comparisons, check_hash/known_hash/file_hash, digest manifests")
        if settings.history:
            from mlposture.probes.serialization.history import history_items

            yield from history_items(repo, settings)

    def _artifacts(self, repo: RepoView, settings: Settings) -> Iterator[ProbeItem]:
        from mlposture.probes.serialization.artifacts import DEFAULT_BUDGET, HEAD, scan_file, scan_fileobj

        cap = settings.max_model_bytes_scanned
        severity = limit_severity(settings.model_limit_severity)
        budget = ScanBudget(settings.model_scan_budget_seconds, settings.model_scan_budget_bytes)
        for f in repo.files:
            if f.size < 2:
                continue
            if cap and f.size > cap:
                yield Finding("serialization.scan-limit", severity, f"not fully analysed: larger than "
                              f"max_model_bytes_scanned ({cap} bytes), not scanned for model content", f.path, None,
                              content="max_model_bytes_scanned")
                continue
            seconds = budget.take(f.size)
            if seconds is None:
                continue
            if f.size <= HEAD:  # most files of a repository: one read of the whole file, the same scan in memory
                data = repo.read_bytes(f, HEAD + 1)  # an unreadable file is noted by the view
                if data is None:
                    continue
                art = scan_fileobj(io.BytesIO(data), len(data), f.path, budget=min(DEFAULT_BUDGET, seconds),
                                   limit_severity=severity)
            else:
                try:
                    art = scan_file(f.abspath, f.path, budget=min(DEFAULT_BUDGET, seconds), limit_severity=severity)
                except OSError as exc:
                    yield Note(f"not readable: {exc.strerror or exc}", f.path)
                    continue
            if art is not None:
                yield from artifact_items(art)
        if budget.skipped:
            yield Finding("serialization.scan-limit", severity, budget.message(), None, None,
                          content="model-scan-budget")

    def _code(self, ctx: ScanContext) -> Iterator[ProbeItem]:
        from mlposture.probes.serialization.code_signals import VISITOR, torch_default_safe, with_torch_default

        repo = ctx.repo
        texts = [t for f in repo.find(*REQUIREMENT_PATTERNS) if (t := repo.read_text(f)) is not None]
        default_safe = torch_default_safe(texts)
        for path, signals in ctx.sources.python(VISITOR):
            for sig in signals:
                yield from _signal_items(with_torch_default(sig, default_safe), path)

    def _manifests(self, repo: RepoView) -> Iterator[ProbeItem]:
        for f in repo.files:
            low = f.name.lower()
            if low in MANIFEST_NAMES or low.endswith(MANIFEST_SUFFIXES):
                yield Evidence("MODEL-01", Effect.PARTIAL, f"digest manifest {f.name} (verification before load "
                               "not shown)", f.path, None, "serialization.digest-manifest")


def _signal_items(sig: CodeSignal, path: str) -> Iterator[ProbeItem]:
    if sig.kind == "unsafe" and sig.rule == "serialization.trust-remote-code":
        yield Evidence("MODEL-07", Effect.FAIL, sig.message, path, sig.line, sig.rule)
        yield Finding(sig.rule, Severity.HIGH, sig.message, path, sig.line, ("MODEL-03",),
                      content=f"{sig.call}|trust_remote_code")
    elif sig.kind == "unsafe":
        yield Finding(sig.rule, Severity.HIGH, sig.message, path, sig.line, (sig.control,), content=sig.call)
    elif sig.kind == "unpinned":
        yield Evidence(sig.control, Effect.FAIL, sig.message, path, sig.line, sig.rule)
    elif sig.kind in ("mitigated", "weak-pin"):
        yield Evidence(sig.control, Effect.PARTIAL, sig.message, path, sig.line, sig.rule)
    else:  # safe, pinned, verified
        yield Evidence(sig.control, Effect.PASS, sig.message, path, sig.line, sig.rule)
