"""Verdicts of every probe on the realistic repository layouts of ``fixtures/corpus/``, in a reviewable snapshot.

Each layout re-creates by hand, in a few small files, what a kind of public ML repository does (a monorepo with
several projects and lock files, an app split across modules, an IaC-only deployment, a DVC pipeline...). The
snapshot ``snapshot.json`` records per layout every control's status, every evidence item (control, effect, rule,
path:line and message) and every finding (fingerprint, severity, rule, path:line), and each probe's state. It is
reviewed by hand: every verdict in it is one the project defends.

Regenerate after a change that alters verdicts on purpose: ``python tests/corpus/corpus.py [layout ...]`` (all
layouts without arguments); ``test_corpus.py`` shows any difference as readable lines.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "fixtures" / "corpus"
SNAPSHOT = Path(__file__).with_name("snapshot.json")
MESSAGE_CHARS = 140


def layouts() -> list[str]:
    """Every layout folder of the corpus."""
    return sorted(p.name for p in CORPUS.iterdir() if p.is_dir())


def verdicts(name: str) -> dict[str, Any]:
    """Scan one layout with every installed probe (no vulnerability audit) and keep what decides each verdict."""
    from mlposture.scanner.scan import scan
    from mlposture.scanner.settings import Settings

    result = scan(CORPUS / name, Settings(no_vulns=True), display_target=f"corpus/{name}")
    controls: dict[str, str] = {}
    evidence: list[str] = []
    for r in result.controls:
        controls[r.control.id] = r.status.value
        for rec in r.evidence:
            e = rec.evidence
            message = " ".join(e.message.split())[:MESSAGE_CHARS]
            evidence.append(f"{r.control.id} {e.effect.value} {e.rule or '-'} {e.path or '-'}:{e.line or 0} "
                            f"{message}")
    findings = [f"{f.fingerprint} {f.finding.severity.value} {f.finding.rule} {f.finding.path or '-'}:"
                f"{f.finding.line or 0}" for f in result.findings]
    probes = {p.info.name: ("ok" if p.error is None else f"error: {p.error}") for p in result.probes}
    return {"controls": controls, "evidence": sorted(evidence), "findings": sorted(findings),
            "probes": dict(sorted(probes.items()))}


def counts(recorded: dict[str, Any]) -> dict[str, int]:
    """Verdict counts over every layout (for the README and commit messages)."""
    out: dict[str, int] = {}
    for layout in recorded.values():
        for status in layout["controls"].values():
            out[status] = out.get(status, 0) + 1
    return dict(sorted(out.items()))


def main(argv: list[str]) -> int:
    names = argv or layouts()
    old: dict[str, Any] = json.loads(SNAPSHOT.read_text()) if SNAPSHOT.exists() else {}
    new = {k: v for k, v in old.items() if k in layouts()} if argv else {}
    for name in names:
        new[name] = verdicts(name)
    SNAPSHOT.write_text(json.dumps(dict(sorted(new.items())), indent=1) + "\n")
    changed = sorted(n for n in new if old.get(n) != new[n])
    print(f"{len(new)} layouts written to {SNAPSHOT.relative_to(ROOT)}; changed: {', '.join(changed) or 'none'}; "
          f"verdicts: {counts(new)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
