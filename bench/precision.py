"""Precision figures over the demo repository and every fixture repository.

For each repository (``fixtures/demo-repo`` and each ``fixtures/<probe>/<case>`` folder) the script runs a full scan
without the vulnerability audit and counts:

* findings at medium or above that count (production context, or a context named with ``--context``) and all of them;
* fingerprints shared by two different problems: two findings with the same fingerprint but a different rule, path or
  set of locations.

Usage: ``python bench/precision.py [--json out.json] [--context test,example] [--fixtures DIR]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path

from mlposture.scanner.probe import Severity
from mlposture.scanner.scan import scan
from mlposture.scanner.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
MEDIUM = Severity.MEDIUM.rank


def repositories(fixtures: Path) -> list[Path]:
    """The demo, then every fixture case folder, sorted."""
    out = [fixtures / "demo-repo"]
    for probe_dir in sorted(fixtures.iterdir()):
        if not probe_dir.is_dir() or probe_dir.name == "demo-repo":
            continue
        out.extend(sorted(p for p in probe_dir.iterdir() if p.is_dir()))
    return out


def _locations(finding: object) -> tuple[tuple[str | None, int | None], ...]:
    locs = getattr(finding, "locations", ())
    if locs:
        return tuple((getattr(finding, "path", None), loc.line) for loc in locs)
    return ((getattr(finding, "path", None), getattr(finding, "line", None)),)


def measure(repo: Path, fixtures: Path, contexts: tuple[str, ...]) -> dict[str, object]:
    """Counts for one repository."""
    settings = Settings(no_vulns=True)
    if contexts and "contexts" in Settings.field_names():
        settings = Settings(no_vulns=True, **{"contexts": contexts})  # type: ignore[arg-type]
    result = scan(repo, settings)
    counted = 0
    total = 0
    by_print: dict[str, set[tuple[object, ...]]] = defaultdict(set)
    for rec in result.findings:
        f = rec.finding
        problem = (f.rule, f.path, _locations(f))
        by_print[rec.fingerprint].add(problem)
        if f.severity.rank >= MEDIUM:
            total += 1
            if getattr(rec, "counted", True):
                counted += 1
    shared = sum(1 for problems in by_print.values() if len(problems) > 1)
    fails = sum(1 for c in result.controls if c.status.value == "fail")
    return {"repo": str(repo.relative_to(fixtures)), "medium_plus": counted, "medium_plus_all": total,
            "findings": len(result.findings), "shared_fingerprints": shared, "control_fails": fails}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", help="write the per-repository rows here")
    parser.add_argument("--fixtures", default=str(ROOT / "fixtures"),
                        help="fixtures folder to scan (to run an older checkout's code on today's fixtures)")
    parser.add_argument("--context", default="", help="contexts to count besides production (test,example,...)")
    args = parser.parse_args(argv)
    contexts = tuple(c for c in args.context.split(",") if c)
    fixtures = Path(args.fixtures).resolve()
    rows = [measure(repo, fixtures, contexts) for repo in repositories(fixtures)]
    print(f"{'repository':48} {'med+':>5} {'med+all':>7} {'all':>5} {'shared':>6} {'fails':>5}")
    for r in rows:
        print(f"{r['repo']:48} {r['medium_plus']:>5} {r['medium_plus_all']:>7} {r['findings']:>5} "
              f"{r['shared_fingerprints']:>6} {r['control_fails']:>5}")
    med = statistics.median(int(str(r["medium_plus"])) for r in rows)
    med_all = statistics.median(int(str(r["medium_plus_all"])) for r in rows)
    with_any = [int(str(r["medium_plus"])) for r in rows if int(str(r["medium_plus_all"])) > 0]
    print(f"median over the {len(with_any)} repositories with any finding at medium+: "
          f"{statistics.median(with_any) if with_any else 0}")
    shared = sum(int(str(r["shared_fingerprints"])) for r in rows)
    total = sum(int(str(r["medium_plus"])) for r in rows)
    print(f"repositories: {len(rows)}; median findings at medium+ (counted): {med}; (all contexts): {med_all}; "
          f"total counted: {total}; fingerprints shared by two problems: {shared}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
