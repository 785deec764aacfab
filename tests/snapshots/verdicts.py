"""Verdict snapshot of every fixture repository and the demo: what a full scan decides, in a form a diff can read.

Run ``python tests/snapshots/verdicts.py`` to rewrite ``verdicts.json`` after a change that alters verdicts on
purpose (say in the commit message which verdicts changed and why); ``test_verdicts.py`` compares against it.
A target's record holds every control's status, every evidence item as ``control effect rule path:line`` and
every finding as ``fingerprint rule path:line``, plus the status of each probe (a crash is a verdict too).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures"
SNAPSHOT = Path(__file__).with_name("verdicts.json")


def targets() -> list[str]:
    """Every fixture repository (``fixtures/<probe>/<case>/``), the serialization repos and models, the demo."""
    found: list[str] = []
    for probe in sorted(p for p in FIXTURES.iterdir() if p.is_dir()):
        if probe.name == "corpus":
            continue  # recorded, with messages, in tests/corpus/snapshot.json
        if probe.name == "demo-repo":
            found.append("demo-repo")
            continue
        for case in sorted(p for p in probe.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))):
            if probe.name == "serialization" and case.name == "repos":
                found.extend(f"serialization/repos/{r.name}" for r in sorted(case.iterdir()) if r.is_dir())
            elif probe.name == "dependencies" and case.name == "osv-db":
                continue  # an advisory database, not a repository
            else:
                found.append(f"{probe.name}/{case.name}")
    return found


def verdicts(target: str) -> dict[str, Any]:
    """Scan one target with every installed probe (no vulnerability audit) and keep what decides the verdict."""
    from mlposture.scanner.config import ConfigError, build_settings
    from mlposture.scanner.scan import scan
    from mlposture.scanner.settings import Settings

    root = FIXTURES / target
    try:
        settings = build_settings(root, {}, {"no_vulns": True}).settings
    except ConfigError:  # a deliberately broken fixture: the CLI stops with a usage error; the probes still judge
        settings = Settings(no_vulns=True)
    result = scan(root, settings, display_target=target)
    controls: dict[str, str] = {}
    evidence: list[str] = []
    for r in result.controls:
        controls[r.control.id] = r.status.value
        for rec in r.evidence:
            e = rec.evidence
            evidence.append(f"{r.control.id} {e.effect.value} {e.rule or '-'} {e.path or '-'}:{e.line or 0}")
    findings = [f"{f.fingerprint} {f.finding.rule} {f.finding.path or '-'}:{f.finding.line or 0}"
                for f in result.findings]
    probes = {p.info.name: ("ok" if p.error is None else "error") for p in result.probes}
    return {"controls": controls, "evidence": sorted(evidence), "findings": sorted(findings),
            "probes": dict(sorted(probes.items()))}


def main() -> int:
    names = targets() if len(sys.argv) < 2 else sys.argv[1:]
    old: dict[str, Any] = json.loads(SNAPSHOT.read_text()) if SNAPSHOT.exists() else {}
    new = dict(old) if len(sys.argv) >= 2 else {}
    for name in names:
        new[name] = verdicts(name)
    SNAPSHOT.write_text(json.dumps(dict(sorted(new.items())), indent=1, sort_keys=False) + "\n")
    changed = sorted(n for n in new if old.get(n) != new[n])
    print(f"{len(new)} targets written to {SNAPSHOT.relative_to(ROOT)}; changed: {', '.join(changed) or 'none'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
