"""Known-vulnerability findings for the pinned set (rule ``dependencies.known-vulnerability``).

Choice of control: a vulnerable pin is attached to PIPE-02 ("dependency vulnerability scanning in CI") with a
*partial* effect. It is the very thing PIPE-02 exists to catch, and its presence shows the scanning is missing or
not acted on, but it does not prove the absence of scanning (an advisory may be a day old), so it cannot fail
the control on its own: CI scanning evidence (the ``cicd`` probe) still passes it. The finding itself
carries the advisory's severity (``high`` when the advisory states none), so the gate blocks on it
independently of any control status, and an accepted exception (its fingerprint is path + advisory + package +
version) silences it. It is not attached to PIPE-01: a vulnerable version can be perfectly pinned.

Modes: ``settings.no_vulns`` skips the audit (a note says so); ``settings.vuln_db`` audits air-gapped against an
OSV export; otherwise api.osv.dev is asked, and an unreachable service yields a note and a ``Searched`` item
"vulnerabilities not checked: <reason>", never "no vulnerabilities".
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from packaging.version import InvalidVersion, Version

from mlposture.probes.dependencies.audit import AuditReport, NotChecked, run_pip_audit
from mlposture.probes.dependencies.osv import VulnDbError, load_database
from mlposture.probes.dependencies.osv_server import OsvBackend, UpstreamError, UpstreamOsv
from mlposture.scanner.probe import Effect, Finding, Note, ProbeItem, Searched, Severity
from mlposture.scanner.settings import Settings
from mlposture.scanner.sources.manifests.model import Manifests

RULE_VULN = "dependencies.known-vulnerability"
PREFLIGHT_TIMEOUT = 5.0
Location = tuple[str | None, int | None, bool]  # path, line, runtime
Auditor = Callable[[list[tuple[str, str]], OsvBackend, str], "AuditReport | NotChecked"]


def normalized_version(version: str) -> str:
    """PEP 440 normal form (``1.0-rc1`` -> ``1.0rc1``), as pip-audit prints it; the text itself if invalid."""
    try:
        return str(Version(version))
    except InvalidVersion:
        return version


def _auditable(name: str, version: str) -> bool:
    """Only a valid project name and a valid PEP 440 version reach pip-audit's requirements file: a version taken
    from a hostile lock file could otherwise smuggle a newline and a ``-r /some/local/file`` line into it."""
    if not _NAME.match(name):
        return False
    try:
        Version(version)
    except InvalidVersion:
        return False
    return True


_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9._-]*[a-z0-9])?$", re.IGNORECASE)


def pinned_set(manifests: Manifests) -> dict[tuple[str, str], list[Location]]:
    """Every exact PyPI pin (declared or locked) with the places that pin it."""
    out: dict[tuple[str, str], list[Location]] = {}
    for req in manifests.requirements:
        if req.version_pinned and req.ecosystem == "pypi" and _auditable(req.canonical, req.version_pinned):
            key = (req.canonical, normalized_version(req.version_pinned))
            out.setdefault(key, []).append((req.path, req.line, req.is_runtime))
    for pkg in manifests.locked:
        if pkg.ecosystem == "pypi" and _auditable(pkg.canonical, pkg.version):
            places = out.setdefault((pkg.canonical, normalized_version(pkg.version)), [])
            if (pkg.path, pkg.line) not in {(p, n) for p, n, _ in places}:
                places.append((pkg.path, pkg.line, True))
    return out


def judge(manifests: Manifests, settings: Settings, auditor: Auditor = run_pip_audit,
          online_url: str | None = None) -> Iterator[ProbeItem]:
    """Audit the pinned set and yield findings, or notes saying why it was not checked."""
    if settings.no_vulns:
        yield Note("vulnerability audit skipped (--no-vulns)")
        return
    pins = pinned_set(manifests)
    if not pins:
        return
    names = {name for name, _ in pins}
    backend: OsvBackend
    if settings.vuln_db:
        try:
            backend = load_database(settings.vuln_db, names)
        except VulnDbError as exc:
            yield from _not_checked(f"vulnerability database {settings.vuln_db} not readable: {exc}")
            return
        service = f"OSV export {settings.vuln_db} (air-gapped)"
        for bad in backend.bad_files[:20]:
            yield Note(f"advisory {bad} in {settings.vuln_db} is not an OSV JSON document, skipped")
    else:
        upstream = UpstreamOsv(online_url) if online_url else UpstreamOsv()
        try:  # one cheap query first: offline machines learn it in one round trip, not through pip-audit
            UpstreamOsv(upstream.url, timeout=PREFLIGHT_TIMEOUT).query("pip", "0.1")
        except UpstreamError as exc:
            yield from _not_checked(str(exc))
            return
        backend = upstream
        service = f"OSV ({online_url or 'api.osv.dev'})"
    result = auditor(sorted(pins), backend, service)
    if isinstance(result, NotChecked):
        yield from _not_checked(result.reason)
        return
    for name, reason in result.skipped:
        yield Note(f"pip-audit skipped {name}: {reason}")
    for v in result.vulnerabilities:
        places = pins.get((v.package, v.version), [])
        aliases = f" ({', '.join(v.aliases)})" if v.aliases else ""
        fix = f"fixed in {', '.join(v.fix_versions)}" if v.fix_versions else "no fixed version"
        sev = v.severity or Severity.HIGH
        sev_note = v.severity_source or "advisory states no severity: high by default"
        for path, line, runtime in places or [(None, None, True)]:
            scope = "" if runtime else ", development dependency"
            yield Finding(
                rule=RULE_VULN, severity=sev, path=path, line=line, controls=("PIPE-02",), effect=Effect.PARTIAL,
                content=f"{v.id} {v.package}=={v.version}",
                message=f"{v.package}=={v.version}: {v.id}{aliases}; {fix}; {sev_note}{scope}"
                        + (f"; {v.summary}" if v.summary else ""))
    if not result.vulnerabilities:
        yield Note(f"{result.audited} pinned package version(s) audited with pip-audit against {service}: "
                   f"no known vulnerabilities ({result.seconds:.1f} s)")


def _not_checked(reason: str) -> Iterator[ProbeItem]:
    yield Note(f"vulnerabilities not checked: {reason}")
    yield Searched("PIPE-02", f"known vulnerabilities of the pinned dependencies: not checked ({reason})")
