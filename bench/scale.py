#!/usr/bin/env python3
"""Scale benchmark: a full ``mlposture scan`` of a large generated repository against reading every file once.

Generates (once, in a folder you choose) a repository of 20,000 source and config files and 200 model files, then,
in one run, times:

* ``cat``: every file read once (``find -type f -print0 | xargs -0 cat > /dev/null``), the floor for any scanner;
* ``mlposture scan`` of the same tree (all installed probes, ``--no-vulns`` so no network is involved),

each several times with warm caches, reporting medians, the ratio, and mlposture's peak RSS. Target (issue 2):
within 3x the read time and under 300 MB.

Usage: ``python bench/scale.py [--dir /tmp/mlposture-scale] [--runs 3] [--record bench/RESULTS.md]``
"""

from __future__ import annotations

import argparse
import os
import pickle
import platform
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

SOURCE_FILES = 20_000
MODEL_FILES = 200

PY_TEMPLATE = '''"""Module {i} of a generated ML project."""
import json
import logging

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

LOG = logging.getLogger(__name__)


def load_batch(path: str) -> list:
    with open(path) as fh:
        return json.load(fh)


def score(model, batch) -> float:
    preds = model(torch.tensor(batch["x"]))
    return float(roc_auc_score(batch["y"], preds.detach().numpy()))


class Trainer{i}:
    def __init__(self, lr: float = {lr}) -> None:
        self.lr = lr
        self.history: list[float] = []

    def step(self, model, batch) -> float:
        value = score(model, batch)
        self.history.append(value)
        LOG.info("step %s auc=%.3f", len(self.history), value)
        return value
'''
YAML_TEMPLATE = """name: job-{i}
resources:
  cpu: {cpu}
  memory: {mem}Gi
params:
  learning_rate: {lr}
  epochs: {epochs}
  batch_size: 64
data:
  path: s3://bucket/datasets/part-{i}.parquet
"""
JSON_TEMPLATE = '{{"id": {i}, "metric": "auc", "value": {lr}, "tags": ["nightly", "eu"]}}\n'


def generate(root: Path, source_files: int = SOURCE_FILES, model_files: int = MODEL_FILES) -> None:
    """Write the repository once (idempotent: a marker file says it is complete, and how large)."""
    marker = root / ".generated"
    wanted = "ok\n" if (source_files, model_files) == (SOURCE_FILES, MODEL_FILES) else f"{source_files} {model_files}\n"
    if marker.exists() and marker.read_text() == wanted:
        return
    if root.exists():
        shutil.rmtree(root)
    rng = random.Random(7)
    for i in range(source_files):
        folder = root / f"pkg{i % 50:02d}" / f"sub{i % 7}"
        folder.mkdir(parents=True, exist_ok=True)
        kind = i % 4
        lr = round(rng.uniform(1e-4, 1e-2), 5)
        if kind in (0, 1):
            (folder / f"mod{i}.py").write_text(PY_TEMPLATE.format(i=i, lr=lr))
        elif kind == 2:
            (folder / f"job{i}.yaml").write_text(YAML_TEMPLATE.format(i=i, cpu=rng.randint(1, 8),
                                                                      mem=rng.randint(2, 64), lr=lr,
                                                                      epochs=rng.randint(1, 50)))
        else:
            (folder / f"metric{i}.json").write_text(JSON_TEMPLATE.format(i=i, lr=lr))
    models = root / "models"
    models.mkdir(parents=True, exist_ok=True)
    for i in range(model_files):
        # benign pickles of plain data (written by the standard library, never loaded by the scanner)
        state = {"layer": i, "weights": [rng.random() for _ in range(20_000)], "bias": bytes(rng.randbytes(4096))}
        name = f"checkpoint_{i:04d}.pkl" if model_files > 1000 else f"checkpoint_{i:03d}.pkl"
        (models / name).write_bytes(pickle.dumps(state, protocol=4))
    (root / "requirements.txt").write_text("torch==2.3.0\nnumpy==1.26.4\nscikit-learn==1.4.2\n")
    marker.write_text(wanted)


def timed(cmd: list[str] | str, shell: bool = False) -> tuple[float, int, int]:
    """Wall seconds, exit code and the child's peak RSS in KiB (from wait4)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, shell=shell, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        err = proc.stderr.read().decode() if proc.stderr else ""
        raise SystemExit(f"command failed ({code}): {cmd}\n{err}")
    return elapsed, code, usage.ru_maxrss


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dir", default="/tmp/mlposture-scale")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--record", default=None, help="append a result table to this Markdown file")
    args = ap.parse_args()
    root = Path(args.dir)
    t0 = time.perf_counter()
    generate(root)
    files = sum(1 for p in root.rglob("*") if p.is_file())
    size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    print(f"repository: {root} ({files} files, {size / 1e6:.1f} MB; generated in {time.perf_counter() - t0:.1f}s)")
    mlposture = [sys.executable, "-m", "mlposture.scanner", "scan", str(root), "--no-vulns", "--fail-on", "none",
                 "--format", "json", "-o", os.devnull, "--quiet"]
    cat = f"find {root} -type f -print0 | xargs -0 cat > /dev/null"
    timed(cat, shell=True)  # warm the page cache
    cat_times, scan_times, rss = [], [], []
    for _ in range(args.runs):
        cat_times.append(timed(cat, shell=True)[0])
        seconds, _, peak = timed(mlposture)
        scan_times.append(seconds)
        rss.append(peak)
    cat_s, scan_s = statistics.median(cat_times), statistics.median(scan_times)
    ratio = scan_s / cat_s if cat_s else float("inf")
    peak_mb = max(rss) / 1024
    print(f"cat (read every file once): median {cat_s:.2f}s over {args.runs} runs {cat_times}")
    print(f"mlposture scan:             median {scan_s:.2f}s over {args.runs} runs {scan_times}")
    print(f"ratio {ratio:.1f}x (target <= 3x); peak RSS {peak_mb:.0f} MB (target < 300 MB)")
    if args.record:
        machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
        with open(args.record, "a", encoding="utf-8") as fh:
            fh.write(f"\n| {time.strftime('%Y-%m-%d')} | {machine} | {files} files, {size / 1e6:.0f} MB | "
                     f"{cat_s:.2f} s | {scan_s:.2f} s | {ratio:.1f}x | {peak_mb:.0f} MB |\n")


if __name__ == "__main__":
    main()
