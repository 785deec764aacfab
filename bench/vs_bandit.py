#!/usr/bin/env python3
"""mlposture against Bandit and one bare ``ast.parse`` pass, on the same files, in one run.

For a tree (``--tree PATH``, e.g. the site-packages of a venv holding numpy, scipy, scikit-learn and pandas, or
``--generated`` for bench/scale.py's 20,000-file tree) it times, ``--runs`` times each with warm caches:

* ``ast``: every ``*.py`` file read and parsed once with :func:`ast.parse` (one process, nothing else);
* ``mlposture scan --no-vulns -f json`` with the default ``--jobs`` (one worker per core) and with ``--jobs 1``;
* ``bandit -r -q -f json`` on the same tree (``--bandit`` names its executable);

both tools byte-compiled first, as installed by pip (an editable install would compile its sources on every run),
the rows run round-robin (``--runs`` rounds of every row, so a machine whose speed drifts affects every row alike),

and reports medians, the ratios the targets are stated in, and each command's peak memory, sampled every 50 ms from
``/proc`` over the command and all its child processes: the summed RSS (a page shared by forked workers counts once
per process) and the summed PSS (shared pages divided between the processes: what the command really holds).

Usage::

    python bench/vs_bandit.py --tree /path/to/site-packages --bandit /path/to/venv/bin/bandit --runs 3
    python bench/vs_bandit.py --generated --bandit /path/to/venv/bin/bandit --runs 3
    python bench/vs_bandit.py --generated --scale 10 --dir /tmp/mlposture-scale-200k --runs 1 --skip bandit

The real tree of bench/RESULTS.md is the four packages as pip installs them, in one folder::

    pip install --target /tmp/realtree-site numpy==2.4.6 scipy==1.17.1 scikit-learn==1.9.1 pandas==3.1.1
    mkdir /tmp/realtree && cp -r /tmp/realtree-site/{numpy,scipy,sklearn,pandas} /tmp/realtree/
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def _tree_memory_kib(pid: int) -> tuple[int, int]:
    """Summed RSS and summed PSS (KiB) of ``pid`` and all its descendants, from /proc.

    RSS counts a page shared by forked workers once in every process; PSS divides it between them, so its sum is
    the memory the command really holds.
    """
    rss = pss = 0
    stack = [pid]
    while stack:
        p = stack.pop()
        try:
            with open(f"/proc/{p}/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        rss += int(line.split()[1])
                        break
            with open(f"/proc/{p}/smaps_rollup") as fh:
                for line in fh:
                    if line.startswith("Pss:"):
                        pss += int(line.split()[1])
                        break
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    stack.extend(int(c) for c in fh.read().split())
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return rss, pss


def timed(cmd: list[str]) -> tuple[float, int, int]:
    """Wall seconds, peak summed RSS and peak summed PSS (KiB) of one command; exit codes 0 and 1 (findings) are
    success."""
    peak_rss = peak_pss = 0
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    done = threading.Event()

    def sample() -> None:
        nonlocal peak_rss, peak_pss
        while not done.is_set():
            rss, pss = _tree_memory_kib(proc.pid)
            peak_rss, peak_pss = max(peak_rss, rss), max(peak_pss, pss)
            done.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, err = proc.communicate()
    elapsed = time.perf_counter() - start
    done.set()
    sampler.join()
    if proc.returncode not in (0, 1):
        raise SystemExit(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{err.decode()[-2000:]}")
    return elapsed, peak_rss, peak_pss


AST_PASS = """
import ast, sys
from pathlib import Path
n = 0
for p in Path(sys.argv[1]).rglob("*.py"):
    try:
        ast.parse(p.read_bytes())
        n += 1
    except (SyntaxError, ValueError, OSError):
        pass
"""


def byte_compile(executable: str, packages: tuple[str, ...]) -> None:
    """Compile a tool's packages to byte code first, as ``pip install`` does: an editable install (or
    ``PYTHONDONTWRITEBYTECODE``) would otherwise make every run compile the tool's own sources again."""
    python = Path(executable).with_name("python")
    if not python.exists():
        return
    code = ("import importlib, sys\n"
            "for name in sys.argv[1:]:\n"
            "    for path in importlib.import_module(name).__path__:\n"
            "        print(path)")
    found = subprocess.run([str(python), "-c", code, *packages], capture_output=True, text=True, check=False)
    folders = found.stdout.split()
    if folders:
        subprocess.run([str(python), "-m", "compileall", "-q", *folders], check=False)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tree", default=None, help="folder to scan")
    ap.add_argument("--generated", action="store_true", help="bench/scale.py's 20k tree (generated once)")
    ap.add_argument("--dir", default="/tmp/mlposture-scale", help="where the generated tree lives")
    ap.add_argument("--scale", type=int, default=1,
                    help="with --generated: that many times bench/scale.py's tree (10 = 200,000 files)")
    ap.add_argument("--bandit", default="bandit")
    ap.add_argument("--mlposture", default=str(Path(sys.executable).with_name("mlposture")))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--skip", action="append", default=[], help="skip a row: ast, jobs-default, jobs-1, bandit")
    args = ap.parse_args()
    if args.generated:
        from scale import MODEL_FILES, SOURCE_FILES, generate

        root = Path(args.dir)
        generate(root, SOURCE_FILES * args.scale, MODEL_FILES * args.scale)
    elif args.tree:
        root = Path(args.tree)
    else:
        raise SystemExit("--tree PATH or --generated")
    byte_compile(args.mlposture, ("mlposture.scanner", "mlposture.probes", "mlposture.controls"))
    byte_compile(args.bandit, ("bandit",))
    files = sum(1 for p in root.rglob("*") if p.is_file())
    modules = sum(1 for _ in root.rglob("*.py"))
    rows = {
        "ast": [sys.executable, "-c", AST_PASS, str(root)],
        "jobs-default": [args.mlposture, "scan", str(root), "--no-vulns", "-q", "-f", "json", "-o", os.devnull],
        "jobs-1": [args.mlposture, "scan", str(root), "--no-vulns", "-q", "-f", "json", "-o", os.devnull,
                   "--jobs", "1"],
        "bandit": [args.bandit, "-r", "-q", "-f", "json", "-o", os.devnull, str(root)],
    }
    results: dict[str, tuple[float, int, int]] = {}
    chosen = {name: cmd for name, cmd in rows.items() if name not in args.skip}
    # round-robin: a shared machine that slows down mid-run slows every row alike, so the ratios stay fair
    samples: dict[str, list[tuple[float, int, int]]] = {name: [] for name in chosen}
    for _ in range(args.runs):
        for name, cmd in chosen.items():
            samples[name].append(timed(cmd))
    for name, runs in samples.items():
        results[name] = (statistics.median(t for t, _, _ in runs), max(m for _, m, _ in runs),
                         max(p for _, _, p in runs))
        print(f"{name:13s} median {results[name][0]:8.2f} s  peak RSS {results[name][1] / 1024:7.0f} MB  "
              f"peak PSS {results[name][2] / 1024:7.0f} MB  runs {', '.join(f'{t:.1f}' for t, _, _ in runs)}",
              flush=True)
    print(f"tree: {root} ({files} files, {modules} Python modules); cores {os.cpu_count()}; "
          f"{platform.machine()} Python {platform.python_version()}")
    for label, mine, theirs in (("mlposture (default jobs) / bandit", "jobs-default", "bandit"),
                                ("mlposture (--jobs 1) / ast.parse pass", "jobs-1", "ast")):
        if mine in results and theirs in results:
            rounds = [a[0] / b[0] for a, b in zip(samples[mine], samples[theirs], strict=True)]
            print(f"{label}: {results[mine][0] / results[theirs][0]:.2f}x (ratio of medians); per round "
                  f"{', '.join(f'{r:.2f}' for r in rounds)}, median {statistics.median(rounds):.2f}x")


if __name__ == "__main__":
    main()
