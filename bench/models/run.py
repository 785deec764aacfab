"""Benchmark ``mlposture scan-models`` against picklescan and modelscan on the same files, in one run.

    python bench/models/run.py --fixvenv /work/fixvenv --toolvenv /work/benchvenv --scale 0.25 --runs 3

``--fixvenv``: an environment with the ``fixtures`` extra (writes the files with gen.py). ``--toolvenv``: an
environment with ``picklescan`` and ``modelscan`` installed (``pip install picklescan modelscan``), kept apart from
mlposture's. Each tool runs as its own process on each file, ``--runs`` times; wall time and the peak RSS of the
process tree are measured by measure.py; medians and ratios are printed as a Markdown table. ``--corpus`` also runs
the three tools on every sample of ``fixtures/serialization`` and counts what each one flags.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
FILES = ["opcodes_5m.pkl", "numpy_1g_inband.pkl", "torch_2g_20k.pt", "forest_100.pkl", "forest_100.joblib",
         "payload_first_540m.pkl"]


def tools(toolvenv: Path) -> dict[str, list[str]]:
    return {
        "mlposture": [str(Path(sys.executable).parent / "mlposture"), "scan-models"],
        "mlposture -m": [sys.executable, "-m", "mlposture.probes.serialization"],
        "picklescan": [str(toolvenv / "bin" / "picklescan"), "--path"],
        "modelscan": [str(toolvenv / "bin" / "modelscan"), "-p"],
    }


def measure(cmd: list[str]) -> dict[str, float]:
    out = subprocess.run([sys.executable, str(HERE / "measure.py"), *cmd], capture_output=True, text=True,
                         check=True)
    result: dict[str, float] = json.loads(out.stdout)
    return result


def machine() -> str:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs ({cpu}), "
            f"Python {platform.python_version()}")


def bench_files(args: argparse.Namespace) -> list[str]:
    work = Path(args.workdir)
    if not all((work / f).exists() for f in FILES):
        subprocess.run([str(Path(args.fixvenv) / "bin" / "python"), str(HERE / "gen.py"), str(work), str(args.scale)],
                       check=True)
    cmds = {k: v for k, v in tools(Path(args.toolvenv)).items() if k in args.tools}
    lines = ["| file | size MiB | tool | median s | peak RSS MiB | exit | time vs picklescan |",
             "|---|---:|---|---:|---:|---:|---:|"]
    for name in FILES:
        path = work / name
        size = path.stat().st_size / 2**20
        results = {}
        for tool, cmd in cmds.items():
            runs = [measure([*cmd, str(path)]) for _ in range(args.runs)]
            results[tool] = (statistics.median(r["wall"] for r in runs), max(r["rss_mib"] for r in runs),
                             int(runs[0]["exit"]))
        base = results["picklescan"][0]
        for tool, (wall, rss, code) in results.items():
            lines.append(f"| {name} | {size:.0f} | {tool} | {wall:.2f} | {rss:.0f} | {code} | {wall / base:.2f}x |")
            print(lines[-1], flush=True)
    return lines


def corpus(args: argparse.Namespace) -> list[str]:
    expected: dict[str, str | None] = json.loads((ROOT / "fixtures/serialization/expected.json").read_text())
    cmds = tools(Path(args.toolvenv))
    malicious = [n for n, v in expected.items() if v == "dangerous"]
    benign = [n for n, v in expected.items() if v in ("pickle", "safe")]
    lines = ["| tool | malicious flagged | benign flagged (false alarms) | malicious missed | false alarms |",
             "|---|---:|---:|---|---|"]
    for tool, cmd in cmds.items():
        if tool == "mlposture -m":
            continue  # same scanner as "mlposture"
        flagged = {}
        for name in malicious + benign:
            proc = subprocess.run([*cmd, str(ROOT / "fixtures/serialization/models" / name)], capture_output=True,
                                  text=True, check=False)
            flagged[name] = proc.returncode == 1
        missed = [n for n in malicious if not flagged[n]]
        alarms = [n for n in benign if flagged[n]]
        lines.append(f"| {tool} | {len(malicious) - len(missed)}/{len(malicious)} | {len(alarms)}/{len(benign)} | "
                     f"{', '.join(missed) if missed else '-'} | {', '.join(alarms) if alarms else '-'} |")
        print(lines[-1], flush=True)
    return lines


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--fixvenv", default="/work/fixvenv")
    ap.add_argument("--toolvenv", default="/work/benchvenv")
    ap.add_argument("--workdir", default="/tmp/mlposture-bench-models")
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--corpus", action="store_true")
    ap.add_argument("--tools", default="mlposture,mlposture -m,picklescan,modelscan",
                    help="comma-separated subset of the tools to time (picklescan is the baseline: keep it)")
    ap.add_argument("--skip-files", action="store_true")
    args = ap.parse_args()
    args.tools = [t.strip() for t in args.tools.split(",")]
    print(machine())
    if not args.skip_files:
        bench_files(args)
    if args.corpus:
        corpus(args)


if __name__ == "__main__":
    main()
