"""``mlposture scan-models PATH...``: the model scanner alone, for CI and pre-commit beside or instead of
picklescan/modelscan.

Files or folders (walked without following symbolic links, ignoring nothing but ``.git``), every file judged by
content. Text, JSON or SARIF output. Exit 1 when an artifact is dangerous (or at the ``--fail-on`` level), which a
file that could not be fully analysed is unless ``--limit-severity`` lowers it; 0 otherwise, 2 when a path does not
exist.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:  # the scanner is imported when the command runs, not when the CLI starts
    from mlposture.probes.serialization.artifacts import Artifact

DEFAULT_BUDGET = 120.0  # seconds per file, as probes.serialization.artifacts.DEFAULT_BUDGET

LEVELS = {"dangerous": 3, "suspicious": 2, "pickle": 1, "safe": 0}
SARIF_LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}
SECURITY_SEVERITY = {"critical": "9.5", "high": "7.5", "medium": "5.0", "low": "2.0", "info": "0.0"}


def _walk(path: str) -> Iterator[tuple[str, str]]:
    """(absolute path, display path) of every regular file under ``path``."""
    st = os.lstat(path)
    if stat.S_ISREG(st.st_mode):
        yield path, path
        return
    if not stat.S_ISDIR(st.st_mode):
        return
    for top, dirs, files in os.walk(path, followlinks=False):
        dirs[:] = sorted(d for d in dirs if d != ".git")
        for name in sorted(files):
            full = os.path.join(top, name)
            try:
                if not stat.S_ISREG(os.lstat(full).st_mode):
                    continue
            except OSError:
                continue
            rel = os.path.relpath(full, path).replace(os.sep, "/")
            yield full, f"{path.rstrip('/')}/{rel}"


def _as_dict(a: Artifact) -> dict[str, Any]:
    return {
        "path": a.path,
        "format": a.kind,
        "verdict": a.verdict,
        "pickle_based": a.pickle_based,
        "protocol": a.protocol,
        "issues": [
            {"rule": f"serialization.{i.rule}", "severity": i.severity.value, "message": i.message,
             "member": i.member, "offset": i.offset}
            for i in a.issues
        ],
        "notes": list(a.notes),
        "seconds": round(a.seconds, 4),
    }


def _sarif(artifacts: list[Artifact]) -> dict[str, Any]:
    rules: dict[str, dict[str, Any]] = {}
    results = []
    for a in artifacts:
        for i in a.issues:
            rid = f"serialization.{i.rule}"
            rule = rules.setdefault(rid, {"id": rid, "shortDescription": {"text": rid},
                                          "properties": {"security-severity": "0.0", "tags": ["security"]}})
            props = rule["properties"]
            props["security-severity"] = max(props["security-severity"], SECURITY_SEVERITY[i.severity.value],
                                             key=float)
            where = f" [{i.member}]" if i.member else ""
            results.append({
                "ruleId": rid,
                "level": SARIF_LEVEL[i.severity.value],
                "message": {"text": f"{a.kind}{where}: {i.message}"},
                "locations": [{"physicalLocation": {"artifactLocation": {"uri": a.path}}}],
                "partialFingerprints": {"mlposture/v1": hashlib.sha256(
                    f"{a.path}\x00{rid}\x00{i.content or i.message}".encode("utf-8", "surrogateescape")
                ).hexdigest()[:32]},
            })
    return {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{"tool": {"driver": {"name": "mlposture scan-models", "rules": list(rules.values())}},
                  "results": results}],
    }


def _text(artifacts: list[Artifact], files: int) -> str:
    lines = []
    for a in artifacts:
        proto = f", protocol {a.protocol}" if a.protocol is not None else ""
        lines.append(f"{a.verdict.upper():10} {a.path} ({a.kind}{proto})")
        for i in a.issues:
            where = f" [{i.member}]" if i.member else ""
            lines.append(f"           {i.severity.value}: serialization.{i.rule}{where}: {i.message}")
        for n in a.notes:
            lines.append(f"           note: {n}")
    counts = {v: sum(1 for a in artifacts if a.verdict == v) for v in LEVELS}
    lines.append(f"{files} files, {len(artifacts)} model artifacts: " + ", ".join(f"{n} {v}" for v, n in
                                                                                   counts.items()))
    return "\n".join(lines)


@click.command("scan-models")
@click.argument("paths", nargs=-1, required=True)
@click.option("--format", "fmt", type=click.Choice(["text", "json", "sarif"]), default="text", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write the report here instead of standard output.")
@click.option("--fail-on", type=click.Choice(["dangerous", "suspicious", "pickle", "none"]), default="dangerous",
              show_default=True, help="Lowest verdict that makes the exit code 1.")
@click.option("--budget", type=float, default=DEFAULT_BUDGET, show_default=True,
              help="Time budget per file, in seconds (at most 9 s for a file under 1 MB).")
@click.option("--scan-budget", type=float, default=600.0, show_default=True,
              help="Time budget for all files together, in seconds (0: none).")
@click.option("--scan-budget-bytes", type=int, default=64 << 30, show_default=True,
              help="Bytes of all files together (0: none).")
@click.option("--limit-severity", type=click.Choice(["critical", "high", "medium", "low"]), default="critical",
              show_default=True, help="Severity of 'not fully analysed' (a cap reached); critical blocks.")
def scan_models(paths: tuple[str, ...], fmt: str, output: str | None, fail_on: str, budget: float,
                scan_budget: float, scan_budget_bytes: int, limit_severity: str) -> None:
    """Scan model files by content (pickle, PyTorch, joblib, NumPy, safetensors, GGUF, ONNX, Keras) without
    loading them; exit 1 on a dangerous artifact, and on a file that could not be fully analysed."""
    from mlposture.probes.serialization import ScanBudget
    from mlposture.probes.serialization.artifacts import Artifact, Issue, scan_file
    from mlposture.probes.serialization.policy import Level
    from mlposture.scanner.probe import Severity

    missing = [p for p in paths if not os.path.lexists(p)]
    if missing:
        click.echo(f"mlposture scan-models: no such file or folder: {', '.join(missing)}", err=True)
        sys.exit(2)
    severity = Severity(limit_severity)
    total = ScanBudget(scan_budget, scan_budget_bytes)
    artifacts: list[Artifact] = []
    files = 0
    for path in paths:
        for full, display in _walk(path):
            files += 1
            try:
                left = total.take(os.path.getsize(full))
                if left is None:
                    continue
                art = scan_file(full, display, budget=min(budget, left), limit_severity=severity)
            except OSError as exc:
                click.echo(f"mlposture scan-models: {display}: not readable: {exc.strerror or exc}", err=True)
                continue
            if art is not None:
                artifacts.append(art)
    if total.skipped:
        issue = Issue("scan-limit", severity, total.message(), content="model-scan-budget")
        level = Level.DANGEROUS if severity == Severity.CRITICAL else Level.SUSPICIOUS
        artifacts.append(Artifact(paths[0], "scan budget", False, False, None, level, (issue,), (), 0.0))
    if fmt == "json":
        text = json.dumps({"tool": "mlposture scan-models", "files": files,
                           "artifacts": [_as_dict(a) for a in artifacts]}, indent=2)
    elif fmt == "sarif":
        text = json.dumps(_sarif(artifacts), indent=2)
    else:
        text = _text(artifacts, files)
    if output:
        with open(output, "w", encoding="utf-8") as fh:
            fh.write(text + "\n")
    else:
        click.echo(text)
    if fail_on != "none" and any(LEVELS[a.verdict] >= LEVELS[fail_on] for a in artifacts):
        sys.exit(1)
