"""Known vulnerabilities of the pinned set, through the real pip-audit.

Interface choice: pip-audit's **command line with ``-f json``**. Its Python modules are all private
(``pip_audit._audit``, ``pip_audit._service``, ``pip_audit._dependency_source``: underscore names, no documented
API and no stability promise), while its CLI flags and exit codes are documented in its README and its JSON
format (``{"dependencies": [{"name", "version", "vulns": [{"id", "fix_versions", "aliases", "description"}]}
| {"name", "skip_reason"}], "fixes": [...]}``) is what CI integrations parse. Running it as a subprocess also keeps
its HTTP stack, caches and logging out of the scanner process and lets us bound it with a timeout.

How: the pinned packages are written to a generated requirements file (``name==version`` lines only: nothing
from the repository is handed to pip-audit, which never sees the repository path, so no build backend or
``setup.py`` can run) and audited with ``--no-deps --disable-pip -s osv --osv-url <local endpoint>``. The local
endpoint (:mod:`mlposture.probes.dependencies.osv_server`) serves either an OSV export (air-gapped, ``--vuln-db``) or
forwards to api.osv.dev (online); either way every advisory passes through it, which gives the severity that
pip-audit's JSON leaves out, and any upstream failure, so "not checked" can never read as "no vulnerabilities".
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from mlposture.probes.dependencies.osv import advisory_severity
from mlposture.probes.dependencies.osv_server import LocalOsvEndpoint, OsvBackend
from mlposture.scanner.probe import Severity

PIP_AUDIT_TIMEOUT = 15  # seconds per HTTP request inside pip-audit
BASE_TIMEOUT = 120.0  # seconds for the whole subprocess, plus PER_PACKAGE_TIMEOUT each
PER_PACKAGE_TIMEOUT = 1.0


@dataclass(frozen=True)
class Vulnerability:
    """One advisory affecting one audited package version."""

    id: str
    aliases: tuple[str, ...]
    package: str
    version: str
    fix_versions: tuple[str, ...]
    summary: str
    severity: Severity | None  # from the advisory, when it states one
    severity_source: str = ""


@dataclass(frozen=True)
class AuditReport:
    """pip-audit completed: what it found, what it skipped."""

    vulnerabilities: tuple[Vulnerability, ...]
    audited: int
    skipped: tuple[tuple[str, str], ...]
    service: str
    seconds: float


@dataclass(frozen=True)
class NotChecked:
    """The audit could not be done; ``reason`` says why (never read as "no vulnerabilities")."""

    reason: str


def _valid_pins(pins: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    out: set[tuple[str, str]] = set()
    for name, version in pins:
        try:
            Version(version)
        except InvalidVersion:
            continue
        canonical = canonicalize_name(name)
        if canonical and all(c.isalnum() or c in "-_." for c in canonical):
            out.add((canonical, version))
    return sorted(out)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_AUDIT_", "PIP_"))}
    local = "127.0.0.1,localhost"
    env["NO_PROXY"] = env["no_proxy"] = ",".join(x for x in (env.get("NO_PROXY", ""), local) if x)
    env["PIP_NO_INPUT"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def layers(pins: list[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    """Split pins so that no package appears twice in one layer: pip-audit rejects a requirements file that
    names a package twice ("duplicate requirements"), and a repository often pins two versions of one package."""
    out: list[list[tuple[str, str]]] = []
    seen: dict[str, int] = {}
    for name, version in pins:
        index = seen.get(name, 0)
        seen[name] = index + 1
        if index == len(out):
            out.append([])
        out[index].append((name, version))
    return out


def run_pip_audit(pins: Iterable[tuple[str, str]], backend: OsvBackend, service: str,
                  timeout: float | None = None) -> AuditReport | NotChecked:
    """Audit ``(name, version)`` pins with the real pip-audit against a local endpoint serving ``backend``.

    One pip-audit run per layer (see :func:`layers`; one run in the usual case), all against the same endpoint.
    """
    wanted = _valid_pins(pins)
    if not wanted:
        return AuditReport((), 0, (), service, 0.0)
    started = time.monotonic()
    limit = timeout if timeout is not None else BASE_TIMEOUT + PER_PACKAGE_TIMEOUT * len(wanted)
    reports: list[Any] = []
    with tempfile.TemporaryDirectory(prefix="mlposture-audit-") as tmp, LocalOsvEndpoint(backend) as endpoint:
        for number, layer in enumerate(layers(wanted)):
            remaining = limit - (time.monotonic() - started)
            outcome = _run_once(layer, os.path.join(tmp, str(number)), endpoint, remaining)
            if isinstance(outcome, NotChecked):
                return outcome
            reports.append(outcome)
        served = dict(endpoint.served)
    deps = [d for r in reports for d in (r.get("dependencies") or [] if isinstance(r, dict) else [])]
    return _report({"dependencies": deps}, served, service, time.monotonic() - started)


def _run_once(layer: list[tuple[str, str]], folder: str, endpoint: LocalOsvEndpoint, limit: float
              ) -> Any | NotChecked:
    """One pip-audit run over one layer; its parsed JSON output, or why there is none."""
    if limit <= 0:
        return NotChecked("pip-audit ran out of time")
    os.makedirs(folder)
    req_file = os.path.join(folder, "pinned-requirements.txt")
    out_file = os.path.join(folder, "pip-audit.json")
    with open(req_file, "w", encoding="utf-8") as fh:
        fh.writelines(f"{name}=={version}\n" for name, version in layer)
    cmd = [sys.executable, "-m", "pip_audit", "-r", req_file, "--no-deps", "--disable-pip",
           "-f", "json", "-o", out_file, "-s", "osv", "--osv-url", endpoint.query_url,
           "--cache-dir", os.path.join(folder, "cache"), "--progress-spinner", "off",
           "--timeout", str(PIP_AUDIT_TIMEOUT), "--desc", "on", "--aliases", "on"]
    try:
        proc = subprocess.run(cmd, cwd=folder, env=_env(), capture_output=True, timeout=limit, check=False,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return NotChecked(f"pip-audit did not finish within {limit:.0f} s")
    except OSError as exc:
        return NotChecked(f"pip-audit could not be started: {exc}")
    if endpoint.errors:
        return NotChecked(endpoint.errors[0])
    try:
        with open(out_file, encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError):
        tail = (proc.stderr or b"").decode("utf-8", "replace").strip().splitlines()
        return NotChecked(f"pip-audit failed (exit {proc.returncode}): {tail[-1][:300] if tail else 'no output'}")


def _report(report: Any, served: dict[str, dict[str, Any]], service: str, seconds: float
            ) -> AuditReport | NotChecked:
    deps = report.get("dependencies") if isinstance(report, dict) else None
    if not isinstance(deps, list):
        return NotChecked("pip-audit output has no 'dependencies' list")
    vulns: list[Vulnerability] = []
    skipped: list[tuple[str, str]] = []
    audited = 0
    for dep in deps:
        if not isinstance(dep, dict):
            continue
        if "skip_reason" in dep:
            skipped.append((str(dep.get("name")), str(dep["skip_reason"])))
            continue
        audited += 1
        for v in dep.get("vulns") or []:
            vid = str(v.get("id"))
            advisory = served.get(vid) or next((a for a in served.values() if vid in (a.get("aliases") or [])), {})
            sev = advisory_severity(advisory) if advisory else None
            ids = [vid, *sorted(str(a) for a in v.get("aliases") or [])]  # pip-audit's alias order varies
            if advisory:  # name it by the advisory's own id and aliases, in the advisory's order
                ids = [str(advisory["id"]), *(str(a) for a in advisory.get("aliases") or []), *ids]
            vid = ids[0]
            aliases = tuple(dict.fromkeys(a for a in ids[1:] if a != vid))
            vulns.append(Vulnerability(
                id=vid, aliases=aliases, package=str(dep.get("name")), version=str(dep.get("version")),
                fix_versions=tuple(str(f) for f in v.get("fix_versions") or []),
                summary=" ".join(str(v.get("description") or advisory.get("summary") or "").split())[:200],
                severity=sev[0] if sev else None, severity_source=sev[1] if sev else ""))
    return AuditReport(tuple(vulns), audited, tuple(skipped), service, seconds)
