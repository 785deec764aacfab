"""JUnit XML: the checklist as a test report, so CI test views (GitLab, Jenkins, Azure) list every control.

One test suite per category and one test case per control (class name ``mlposture.<category>``, name ``<id>
<title>``, unique). A failing control is a ``failure`` carrying its evidence lines; an unverified or not applicable
control is ``skipped`` with the reason; a control left unverified because its probe crashed is an ``error``. Pass
and partial are passing test cases (partial says so in ``system-out``). The layout follows the JUnit XML shape CI
systems read (Jenkins' ``junit-10.xsd``, the ``testsuites`` root GitLab parses).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from mlposture.scanner.report.interface import NOT_COUNTED_TITLE, Writer, finding_location, location
from mlposture.scanner.results import ControlResult, RecordedFinding, ScanResult, Status

# XML 1.0 forbids most control characters even when escaped; repository text may contain them
_XML_BAD = {c: None for c in range(32) if c not in (9, 10, 13)} | {0xFFFE: None, 0xFFFF: None}


def clean(text: object) -> str:
    """Text that XML 1.0 can carry (control characters and lone surrogates removed)."""
    s = str(text).translate(_XML_BAD)
    return s.encode("utf-8", "replace").decode("utf-8") if any(0xD800 <= ord(c) <= 0xDFFF for c in s) else s


def _evidence_lines(r: ControlResult) -> list[str]:
    return [f"[{e.evidence.effect.value}] {location(e.evidence.path, e.evidence.line)} {e.evidence.message} "
            f"({e.probe}{', ' + e.evidence.rule if e.evidence.rule else ''})"
            + ("" if e.counted else f" - not counted ({e.context})") for e in r.evidence]


def crashed_controls(result: ScanResult) -> dict[str, str]:
    """Control id -> error, for controls left unverified because a probe that speaks for them crashed."""
    out: dict[str, str] = {}
    for p in result.probes:
        if p.ok:
            continue
        for cid in p.info.controls:
            r = result.control(cid.upper())
            if r is not None and r.status is Status.UNVERIFIED:
                out.setdefault(r.control.id, f"probe {p.info.name} failed: {p.error}")
    return out


def _case(r: ControlResult, crashed: dict[str, str]) -> tuple[ET.Element, str]:
    c = r.control
    case = ET.Element("testcase", {"classname": clean(f"mlposture.{c.category}"),
                                   "name": clean(f"{c.id} {c.title}"), "time": "0"})
    lines = _evidence_lines(r)
    if r.answer is not None:
        a = r.answer
        lines.append(f"answer: {a.status} by {a.by} on {a.date}" + (f", evidence: {a.evidence}" if a.evidence
                                                                    else ""))
    if r.status is Status.FAIL:
        fails = [e for e in r.evidence if e.evidence.effect.value == "fail" and e.counted]
        first = fails[0].evidence if fails else None
        where = location(first.path, first.line) if first and first.path else "repository level"
        message = (f"{c.severity.value}: {first.message} at {where}" if first
                   else f"{c.severity.value}: {r.contradiction or r.reason or 'failing'}")
        body = lines + ([f"contradiction: {r.contradiction}"] if r.contradiction else [])
        body.append(f"how to fix: {c.remediation}")
        el = ET.SubElement(case, "failure", {"message": clean(message), "type": c.severity.value})
        el.text = clean("\n".join(body))
        return case, "failure"
    if c.id in crashed:
        el = ET.SubElement(case, "error", {"message": clean(crashed[c.id]), "type": "probe-error"})
        el.text = clean(f"{crashed[c.id]}\nthe control is unverified; rerun after fixing the probe, or answer it")
        return case, "error"
    if r.status in (Status.UNVERIFIED, Status.NOT_APPLICABLE):
        reason = r.reason or r.status.value
        label = "unverified" if r.status is Status.UNVERIFIED else "not applicable"
        el = ET.SubElement(case, "skipped", {"message": clean(f"{label}: {reason}")})
        if r.status is Status.UNVERIFIED:
            el.text = clean(f"{label}: {reason}\nevidence that would verify it: {'; '.join(c.evidence)}\n"
                            f"how to fix: {c.remediation}")
        return case, "skipped"
    out = ET.SubElement(case, "system-out")
    out.text = clean("\n".join([f"{r.status.value} ({r.source})", *lines]))
    return case, "passed"


def _not_counted_suite(findings: list[RecordedFinding], generated_at: str) -> ET.Element:
    """Findings outside the counted contexts, as skipped cases: visible in CI, never a failure."""
    suite = ET.Element("testsuite", {"name": clean(f"mlposture: {NOT_COUNTED_TITLE}"),
                                     "timestamp": generated_at.rstrip("Z"), "hostname": "mlposture", "time": "0",
                                     "tests": str(len(findings)), "failures": "0", "errors": "0",
                                     "skipped": str(len(findings))})
    for f in findings:
        x = f.finding
        case = ET.SubElement(suite, "testcase", {"classname": clean(f"mlposture.not_counted.{f.context}"),
                                                 "name": clean(f"{x.rule} {finding_location(x.path, x.lines)}"),
                                                 "time": "0"})
        el = ET.SubElement(case, "skipped", {"message": clean(f"{x.severity.value} in {f.context} code, not "
                                                              f"counted: {x.message}")})
        el.text = clean(f"fingerprint {f.fingerprint}; count it with --context {f.context}")
    return suite


class JunitWriter(Writer):
    """``--format junit``."""

    name = "junit"
    extension = "xml"

    def render(self, result: ScanResult) -> str:
        """The JUnit XML document."""
        crashed = crashed_controls(result)
        root = ET.Element("testsuites", {"name": "mlposture"})
        totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        for cat in result.catalog.categories:
            members = [r for r in result.controls if r.control.category == cat.id]
            if not members:
                continue
            suite = ET.SubElement(root, "testsuite", {"name": clean(f"mlposture: {cat.name}"),
                                                      "timestamp": result.generated_at.rstrip("Z"),
                                                      "hostname": "mlposture", "time": "0"})
            props = ET.SubElement(suite, "properties")
            score = next((s for s in result.scores.categories if s.id == cat.id), None)
            if score is not None:
                ET.SubElement(props, "property", {"name": "score", "value": str(score.score)})
                ET.SubElement(props, "property", {"name": "risk", "value": score.risk})
            for setting in result.repo_config:
                ET.SubElement(props, "property", {"name": "repo-config-lowers-gate",
                                                  "value": clean(setting.describe())})
            counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
            for r in members:
                case, kind = _case(r, crashed)
                suite.append(case)
                counts["tests"] += 1
                if kind == "failure":
                    counts["failures"] += 1
                elif kind != "passed":
                    counts["errors" if kind == "error" else "skipped"] += 1
            for key, value in counts.items():
                suite.set(key, str(value))
                totals[key] += value
        apart = [f for f in result.findings if not f.counted]
        if apart:
            root.append(_not_counted_suite(apart, result.generated_at))
            totals["tests"] += len(apart)
            totals["skipped"] += len(apart)
        for key, value in totals.items():
            root.set(key, str(value))
        root.set("time", "0")
        ET.indent(root)
        body = ET.tostring(root, encoding="unicode")
        return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"
