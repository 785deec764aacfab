"""One finding per problem, one fingerprint per finding.

Probes report facts one line at a time: every ``>=`` line of a requirements file, every ``torch.load`` call. Ten
such lines in one file are one problem to a reader ("this file does not pin its dependencies"), so the engine folds
facts of one kind (same probe, rule, file, severity and effect) into one finding with several locations. Its
fingerprint hashes the path, the rule and the sorted set of what each fact identified, so it names exactly that
problem: accepting it as a risk covers those lines and nothing else, and a new line of the same kind changes it.

Accepted-risk exceptions are matched on each fact first, so an exception written for one line (by its own
fingerprint, or by rule and path) keeps covering exactly that line: covered and uncovered facts never share a
finding. An exception whose fingerprint prefix would cover more than one finding covers none, with a warning (a
prefix too short to name one problem would silence problems nobody looked at).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from mlposture.scanner.answers import RiskException
from mlposture.scanner.probe import Finding, Location

MAX_LISTED_LINES = 8


@dataclass(frozen=True)
class Grouped:
    """A finding as the engine records it: the probe, the (possibly folded) finding and its exception."""

    probe: str
    finding: Finding
    accepted: RiskException | None


def _accepting(exceptions: Iterable[RiskException], finding: Finding) -> RiskException | None:
    fp = finding.fingerprint
    return next((e for e in exceptions if e.matches(fp, finding.rule, finding.path)), None)


def _fold(members: Sequence[Finding]) -> Finding:
    """One finding for several facts of one kind in one file."""
    first = members[0]
    if len(members) == 1:
        return first
    ordered = sorted(members, key=lambda f: (f.line or 0, f.content or f.message))
    locations = tuple(Location(f.line, f.message, f.content) for f in ordered)
    lines = [str(f.line) for f in ordered if f.line is not None]
    shown = ", ".join(lines[:MAX_LISTED_LINES]) + (", ..." if len(lines) > MAX_LISTED_LINES else "")
    message = f"{ordered[0].message} (and {len(ordered) - 1} more like it in this file" + (
        f"; lines {shown})" if lines else ")")
    contents = sorted({f.content or f.message for f in ordered})
    controls = tuple(dict.fromkeys(c for f in ordered for c in f.controls))
    return dataclasses.replace(ordered[0], message=message, controls=controls, content="\x00".join(contents),
                               locations=locations)


def group_findings(found: Sequence[tuple[str, Finding]],
                   exceptions: Sequence[RiskException]) -> tuple[list[Grouped], list[str]]:
    """Fold repeated facts, apply exceptions, and make every fingerprint unique. Returns findings and warnings."""
    buckets: dict[tuple[object, ...], list[Finding]] = {}
    accepted_by: dict[tuple[object, ...], RiskException | None] = {}
    for probe, finding in found:
        exc = _accepting(exceptions, finding)
        key = (probe, finding.rule, finding.path, finding.severity, finding.effect, id(exc) if exc else None)
        buckets.setdefault(key, []).append(finding)
        accepted_by[key] = exc
    out: list[Grouped] = []
    for bucket, members in buckets.items():
        folded = _fold(members)
        exc = accepted_by[bucket]
        if exc is None and len(members) > 1:
            exc = _accepting(exceptions, folded)
        out.append(Grouped(str(bucket[0]), folded, exc))
    out = _unique(out)
    return _unambiguous(out, exceptions)


def _unique(found: list[Grouped]) -> list[Grouped]:
    """Give a distinct fingerprint to findings that would share one (same file, rule and content from two probes
    or at two severities): the later one's basis gains its probe, severity and first line."""
    seen: set[str] = set()
    out = []
    for g in sorted(found, key=lambda g: (g.finding.path or "", g.finding.rule, g.finding.line or 0,
                                           g.probe, g.finding.severity.rank)):
        finding = g.finding
        salt = 0
        while finding.fingerprint in seen:
            salt += 1
            extra = f"{g.probe}\x00{finding.severity.value}\x00{finding.line}\x00{salt}"
            finding = dataclasses.replace(g.finding, content=f"{g.finding.content or g.finding.message}\x00{extra}")
        seen.add(finding.fingerprint)
        out.append(Grouped(g.probe, finding, g.accepted))
    return out


def _unambiguous(found: list[Grouped], exceptions: Sequence[RiskException]) -> tuple[list[Grouped], list[str]]:
    warnings: list[str] = []
    for exc in exceptions:
        if exc.fingerprint is None:
            continue
        covered = [i for i, g in enumerate(found) if g.accepted is exc]
        if len(covered) <= 1:
            continue
        warnings.append(f"{exc.file}:{exc.line}: the exception for fingerprint {exc.fingerprint!r} matches "
                        f"{len(covered)} findings; it covers none of them (give more of the fingerprint)")
        for i in covered:
            found[i] = Grouped(found[i].probe, found[i].finding, None)
    return found, warnings
