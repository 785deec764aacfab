"""SARIF 2.1.0 for GitHub code scanning (and any SARIF viewer).

One run. Rules describe every control of the catalog and every finding rule seen in the scan; results are the
failing controls and the findings. GitHub shows an alert only at a file and line, so every result has a physical
location with ``region.startLine``: the failing evidence when it names a place, otherwise (a repository-level gap)
the file the control names as its evidence when it exists, the repository's ``README``, or the first file the scan
reported. Fingerprints do not depend on lines, so moving code keeps the alert. Accepted exceptions become
``suppressions``; probe crashes and unreadable files become tool execution notifications.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

from mlposture.scanner.catalog import Control
from mlposture.scanner.probe import Effect, Severity
from mlposture.scanner.report.interface import Writer, location
from mlposture.scanner.results import ControlResult, RecordedFinding, ScanResult, Status

SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
FINGERPRINT_KEY = "mlposture/v1"
INFORMATION_URI = "https://lockml.com/research/ml-model-security-checklist.html"
OWASP_URI = "https://owasp.org/www-project-machine-learning-security-top-10"
ATLAS_URI = "https://atlas.mitre.org/mitigations/{}"
MAX_NOTIFICATIONS = 1000
# GitHub code scanning limits: more than 20 tags on a rule rejects the upload (10 are shown); results beyond
# 25,000 per run reject it (5,000 are shown), so the worst findings come first and the rest are counted.
MAX_TAGS = 10
MAX_RESULTS = 5000

# GitHub reads properties.security-severity as a CVSS-like number: >= 9.0 critical, >= 7.0 high, >= 4.0 medium.
SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "7.5",
    Severity.MEDIUM: "5.0",
    Severity.LOW: "2.0",
    Severity.INFO: "0.0",
}
LEVEL = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}
# a file name a control's evidence text points at ("SECURITY.md", ".github/dependabot.yml"), globs excluded
EXPECTED_FILE = re.compile(r"(?<![\w*/.-])((?:[\w.-]+/)*[\w-]+\.(?:md|ya?ml|toml|txt|json|cfg|ini|rst))(?![\w*/-])")
URL_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")  # scp-like "git@host:path" is no URI: left out
MAPPING_TAG = {"owasp": "owasp", "atlas": "atlas", "nist": "nist-ai-rmf", "eu_ai_act": "eu-ai-act"}


def _text(value: str) -> dict[str, str]:
    return {"text": value}


def _rule_name(text: str) -> str:
    """A PascalCase identifier for ``reportingDescriptor.name`` (SARIF recommends one)."""
    return "".join(w[:1].upper() + w[1:] for w in re.split(r"[^0-9A-Za-z]+", text) if w) or "Rule"


def _help_uri(control: Control) -> str:
    if control.lockml_id:
        return INFORMATION_URI
    if control.mappings.atlas:
        return ATLAS_URI.format(quote(control.mappings.atlas[0]))
    return OWASP_URI


def _tags(control: Control) -> list[str]:
    tags = ["security", "ml", control.category]
    for key, values in control.mappings.as_dict().items():
        tags += [f"{MAPPING_TAG[key]}/{v}" for v in values]
    if control.lockml_id:
        tags.append(f"lockml/{control.lockml_id}")
    return list(dict.fromkeys(tags))


def control_rule(control: Control) -> dict[str, Any]:
    """The ``reportingDescriptor`` of one control."""
    evidence = "; ".join(control.evidence) or "a manual answer"
    maps = [f"{MAPPING_TAG[k]}: {', '.join(v)}" for k, v in control.mappings.as_dict().items() if v]
    markdown = [f"**{control.id} {control.title}** ({control.severity.value})", "", control.description.strip(), "",
                f"**How to fix:** {control.remediation}", "", f"**Evidence that verifies it:** {evidence}"]
    if maps:
        markdown += ["", "**Mappings:** " + " · ".join(maps)]
    return {
        "id": control.id,
        "name": _rule_name(control.title),
        "shortDescription": _text(f"{control.id} {control.title}"),
        "fullDescription": _text(" ".join(control.description.split())),
        "help": {"text": f"How to fix: {control.remediation} Evidence that verifies it: {evidence}.",
                 "markdown": "\n".join(markdown)},
        "helpUri": _help_uri(control),
        "defaultConfiguration": {"level": LEVEL[control.severity]},
        "properties": {
            "security-severity": SECURITY_SEVERITY[control.severity],
            "problem.severity": "error" if LEVEL[control.severity] == "error" else "warning",
            "precision": "high",
            "tags": _tags(control)[:MAX_TAGS],
        },
    }


def finding_rule(rule: str, findings: list[RecordedFinding], result: ScanResult) -> dict[str, Any]:
    """The ``reportingDescriptor`` of a finding rule, described through the controls it counts against."""
    worst = max((f.finding.severity for f in findings), key=lambda s: s.rank)
    probe = findings[0].probe
    controls = [c for c in (result.catalog.get(cid) for f in findings for cid in f.finding.controls) if c]
    controls = list({c.id: c for c in controls}.values())
    declared = next((r for p in result.probes for r in p.info.rules if r.id == rule), None)
    words = declared.summary if declared is not None else rule.split(".", 1)[-1].replace("-", " ")
    short = f"{probe}: {words}"
    full = f"Finding '{rule}' reported by the {probe} probe."
    if controls:
        full += " Counts against " + ", ".join(f"{c.id} ({c.title})" for c in controls) + "."
    fixes = [f"{c.id}: {c.remediation}" for c in controls]
    help_text = " ".join(fixes) or "Review the reported location and remove or justify the problem."
    tags = ["security", "ml", probe]
    for c in controls:
        tags += _tags(c)[2:]
    return {
        "id": rule,
        "name": _rule_name(rule),
        "shortDescription": _text(short),
        "fullDescription": _text(full),
        "help": {"text": help_text,
                 "markdown": "\n".join([f"**{short}**", "", full, ""] + [f"- **How to fix {f}**" for f in fixes])},
        "helpUri": _help_uri(controls[0]) if controls else OWASP_URI,
        "defaultConfiguration": {"level": LEVEL[worst]},
        "properties": {
            "security-severity": SECURITY_SEVERITY[worst],
            "problem.severity": "error" if LEVEL[worst] == "error" else ("warning" if worst.rank else "recommendation"),
            "precision": "high",
            "tags": list(dict.fromkeys(tags))[:MAX_TAGS],
        },
    }


class _Locator:
    """Where a result goes: repository-relative URIs (with the scanned folder's prefix inside the git checkout)."""

    def __init__(self, result: ScanResult) -> None:
        git = result.target.git
        self.prefix = git.prefix.strip("/") + "/" if git is not None and git.prefix else ""
        root = Path(result.target.path)
        self.root = root if root.is_dir() else None
        self.readme = self._readme()
        seen = [e.evidence.path for r in result.controls for e in r.evidence if e.evidence.path]
        seen += [f.finding.path for f in result.findings if f.finding.path]
        self.first_seen = seen[0] if seen else None

    def _readme(self) -> str | None:
        if self.root is None:
            return None
        for name in ("README.md", "README.rst", "README.txt", "README"):
            if (self.root / name).is_file():
                return name
        return None

    def exists(self, path: str) -> bool:
        """True when ``path`` is a file of the scanned folder (checked only for local targets)."""
        return self.root is not None and (self.root / path).is_file()

    def physical(self, path: str, line: int | None) -> dict[str, Any]:
        """A ``physicalLocation`` at ``path:line`` (line 1 when the place has no line)."""
        uri = quote(self.prefix + path.lstrip("/"), safe="/")
        return {"artifactLocation": {"uri": uri}, "region": {"startLine": max(1, line or 1)}}

    def fallback(self, control: Control | None) -> tuple[str, int]:
        """The place of a repository-level gap."""
        if control is not None:
            for text in control.evidence:
                for name in EXPECTED_FILE.findall(text):
                    if self.exists(name):
                        return name, 1
        return self.readme or self.first_seen or "README.md", 1

    def for_control(self, r: ControlResult) -> tuple[str, int]:
        """The failing evidence's place, else any evidence of the control with a path, else the fallback."""
        fails = [e.evidence for e in r.evidence if e.evidence.effect is Effect.FAIL and e.evidence.path
                 and e.counted]
        others = [e.evidence for e in r.evidence if e.evidence.path]
        for ev in fails + others:
            assert ev.path is not None
            return ev.path, ev.line or 1
        return self.fallback(r.control)


MAX_RELATED = 100


def _fingerprint(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode("utf-8", "surrogateescape")).hexdigest()[:32]


def _control_result(r: ControlResult, index: int, loc: _Locator) -> dict[str, Any]:
    c = r.control
    path, line = loc.for_control(r)
    fails = [e for e in r.evidence if e.evidence.effect is Effect.FAIL and e.counted]
    why = "; ".join(f"{e.evidence.message} ({location(e.evidence.path, e.evidence.line)})" for e in fails[:5])
    if len(fails) > 5:
        why += f"; and {len(fails) - 5} more"
    if not why:
        why = r.contradiction or r.reason or "failing"
    message = f"{c.id} {c.title} ({c.severity.value}) fails: {why}. How to fix: {c.remediation}"
    out: dict[str, Any] = {
        "ruleId": c.id,
        "ruleIndex": index,
        "level": LEVEL[c.severity],
        "kind": "fail",
        "message": _text(message),
        "locations": [{"physicalLocation": loc.physical(path, line)}],
        "partialFingerprints": {FINGERPRINT_KEY: _fingerprint("control", c.id)},
        "properties": {"category": c.category, "status": r.status.value, "source": r.source},
    }
    related = [e.evidence for e in fails[1:] if e.evidence.path][:50]
    if related:
        out["relatedLocations"] = [
            {"id": i + 1, "physicalLocation": loc.physical(ev.path or "", ev.line), "message": _text(ev.message)}
            for i, ev in enumerate(related)
        ]
    return out


def _finding_result(f: RecordedFinding, index: int, loc: _Locator, result: ScanResult) -> dict[str, Any]:
    x = f.finding
    if x.path:
        path, line = x.path, x.line or 1
    else:
        first = result.catalog.get(x.controls[0]) if x.controls else None
        path, line = loc.fallback(first)
    if f.counted:
        message = x.message + (f" (counts against {', '.join(x.controls)})" if x.controls else "")
    else:  # reported at the lowest level: code scanning keeps it visible without raising an alert
        message = f"{x.message} (in {f.context} code: not counted against any control)"
    out: dict[str, Any] = {
        "ruleId": x.rule,
        "ruleIndex": index,
        "level": LEVEL[x.severity] if f.counted else "note",
        "message": _text(message),
        "locations": [{"physicalLocation": loc.physical(path, line)}],
        "partialFingerprints": {FINGERPRINT_KEY: f.fingerprint},
        "properties": {"probe": f.probe, "severity": x.severity.value, "controls": list(x.controls),
                       "context": f.context, "counted": f.counted},
    }
    others = x.locations[1:MAX_RELATED + 1] if x.path else ()
    if others:
        out["relatedLocations"] = [
            {"id": i + 1, "physicalLocation": loc.physical(path, other.line or 1), "message": _text(other.message)}
            for i, other in enumerate(others)
        ]
    if f.accepted is not None:
        a = f.accepted
        why = f"{a.reason} (accepted by {a.by} on {a.date.isoformat()}"
        why += f", expires {a.expires.isoformat()})" if a.expires else ")"
        out["suppressions"] = [{"kind": "external", "status": "accepted", "justification": why}]
    return out


def _notifications(result: ScanResult, loc: _Locator) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for p in result.probes:
        if not p.ok:
            out.append({"level": "error", "descriptor": {"id": p.info.name},
                        "message": _text(f"probe {p.info.name} {p.info.version} failed: {p.error}; its controls "
                                         f"({', '.join(p.info.controls) or 'none'}) are unverified")})
    for e in result.load_errors:
        out.append({"level": "error", "descriptor": {"id": e.name},
                    "message": _text(f"probe plugin {e.name} could not be loaded: {e.error}")})
    for w in result.warnings:
        out.append({"level": "warning", "message": _text(w)})
    for r in result.repo_config:
        out.append({"level": "warning", "descriptor": {"id": "repo-config-lowers-gate"},
                    "message": _text(r.describe()),
                    "locations": [{"physicalLocation": loc.physical(r.path, r.line)}]})
    for n in result.notes[:MAX_NOTIFICATIONS]:
        item: dict[str, Any] = {"level": "note", "message": _text(n.message)}
        if n.path:
            item["locations"] = [{"physicalLocation": loc.physical(n.path, n.line)}]
        out.append(item)
    if len(result.notes) > MAX_NOTIFICATIONS:
        out.append({"level": "note",
                    "message": _text(f"{len(result.notes) - MAX_NOTIFICATIONS} more notes in the JSON report")})
    return out


def to_sarif(result: ScanResult) -> dict[str, Any]:
    """The SARIF log as plain data."""
    loc = _Locator(result)
    rules = [control_rule(c) for c in result.catalog]
    index = {c.id: i for i, c in enumerate(result.catalog)}
    by_rule: dict[str, list[RecordedFinding]] = {}
    for f in result.findings:
        by_rule.setdefault(f.finding.rule, []).append(f)
    for rule, group in by_rule.items():
        if rule not in index:
            index[rule] = len(rules)
            rules.append(finding_rule(rule, group, result))
    results = [_control_result(r, index[r.control.id], loc) for r in result.controls
               if r.status is Status.FAIL and r.control.id in index]
    kept = result.findings[:max(0, MAX_RESULTS - len(results))]  # the engine sorts findings worst first
    results += [_finding_result(f, index[f.finding.rule], loc, result) for f in kept]
    notifications = _notifications(result, loc)
    if len(kept) < len(result.findings):
        notifications.append({"level": "warning", "message": _text(
            f"{len(result.findings) - len(kept)} lower-severity findings left out of the SARIF report (code "
            f"scanning shows at most {MAX_RESULTS} results); the JSON report has them all")})
    git = result.target.git
    run: dict[str, Any] = {
        "tool": {"driver": {
            "name": "mlposture",
            "version": result.tool_version,
            "semanticVersion": result.tool_version,
            "informationUri": INFORMATION_URI,
            "rules": rules,
        }},
        "invocations": [{
            "executionSuccessful": True,
            "endTimeUtc": result.generated_at,
            "toolExecutionNotifications": notifications,
        }],
        "results": results,
        "columnKind": "unicodeCodePoints",
        "properties": {
            "score": result.scores.score, "risk": result.scores.risk, "coverage": result.scores.coverage,
            "gate": {"fail_on": result.gate.fail_on, "passed": result.gate.passed,
                     "blocking": result.gate.blocking_controls,
                     "repo_config_lowers_gate": [r.describe() for r in result.repo_config]},
        },
    }
    url = result.target.url or ""
    if git is not None and git.commit and URL_SCHEME.match(url):
        # no user information at all (the CLI masks credentials; a masked URL is still not a repository URI)
        prov: dict[str, Any] = {"repositoryUri": re.sub(r"(?<=://)[^/@\s]+@", "", url), "revisionId": git.commit}
        if git.ref:
            prov["branch"] = git.ref
        run["versionControlProvenance"] = [prov]
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}


class SarifWriter(Writer):
    """``--format sarif``: upload with ``github/codeql-action/upload-sarif``."""

    name = "sarif"
    extension = "sarif"

    def render(self, result: ScanResult) -> str:
        """The SARIF log, pretty-printed."""
        return json.dumps(to_sarif(result), indent=2, ensure_ascii=False) + "\n"
