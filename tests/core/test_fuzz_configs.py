"""Fuzz: mutated real configuration files of every supported format go through every built-in probe.

Each round copies a few fixture files (YAML, JSON, TOML, INI/cfg, Terraform, Markdown, requirements, lock files,
Dockerfiles, nginx configs, Python) to their usual places in a fresh folder, mutates them (flipped bytes, control
characters, invalid UTF-8, deep nesting, long runs of blanks, truncation, repetition, a lone backslash) and runs
all probes over it. A probe that raises is a failure: file content may only ever produce notes. The random
generator is seeded, so a failing round is reproducible from the seed and round number in the message; the test
stops after a bounded time.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from pathlib import Path

from mlposture.scanner.engine import run_probes
from mlposture.scanner.plugins import discover
from mlposture.scanner.repo import RepoView
from mlposture.scanner.settings import Settings

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
SEED = 20261202
BUDGET_SECONDS = 20.0
MIN_ROUNDS = 3
FILES_PER_ROUND = 8
FORMATS = {
    "yaml": (".yaml", ".yml"), "json": (".json",), "toml": (".toml",), "ini": (".cfg", ".ini"), "tf": (".tf",),
    "markdown": (".md",), "text": (".txt",), "lock": (".lock",), "conf": (".conf",), "python": (".py",),
}
NAMED = ("Dockerfile", "Pipfile", ".gitignore", ".dvcignore")


def _corpus() -> dict[str, list[Path]]:
    groups: dict[str, list[Path]] = {name: [] for name in [*FORMATS, "named"]}
    for path in sorted(FIXTURES.rglob("*")):
        if not path.is_file() or path.is_symlink() or path.stat().st_size > 200_000 or "serialization" in path.parts:
            continue
        if path.name in NAMED:
            groups["named"].append(path)
            continue
        for name, suffixes in FORMATS.items():
            if path.suffix.lower() in suffixes:
                groups[name].append(path)
    return {name: paths for name, paths in groups.items() if paths}


def _mutations(rng: random.Random) -> list[Callable[[bytes], bytes]]:
    def flip(data: bytes) -> bytes:
        out = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            if out:
                out[rng.randrange(len(out))] = rng.randrange(256)
        return bytes(out)

    def insert(piece: bytes) -> Callable[[bytes], bytes]:
        def apply(data: bytes) -> bytes:
            at = rng.randrange(len(data) + 1)
            return data[:at] + piece + data[at:]
        return apply

    def truncate(data: bytes) -> bytes:
        return data[: rng.randrange(len(data) + 1)]

    def repeat(data: bytes) -> bytes:
        if not data:
            return data
        start = rng.randrange(len(data))
        chunk = data[start : start + rng.randint(1, 80)]
        return data[:start] + chunk * rng.randint(20, 400) + data[start:]

    def noise(data: bytes) -> bytes:
        return bytes(rng.randrange(256) for _ in range(rng.randint(1, 4096)))

    return [flip, truncate, repeat, noise,
            insert(b"\x01"), insert(b"\x00"), insert(b"\x1b[31m"), insert(b"\xff\xfe\xfd"),
            insert(b"[" * 3000), insert(b"{" * 3000), insert(b"- " * 2000), insert(b"\n" * 20000),
            insert(b" " * 20000), insert(b"\n\\\n"), insert(b"\t#" * 3000), insert(b"&a [*a, *a]\n" * 50)]


def test_mutated_configs_never_crash_a_probe(tmp_path):
    rng = random.Random(SEED)
    corpus = _corpus()
    assert len(corpus) >= 8, sorted(corpus)
    mutations = _mutations(rng)
    probes = discover().probes
    settings = Settings(no_vulns=True)
    started = time.monotonic()
    rounds = 0
    while rounds < MIN_ROUNDS or time.monotonic() - started < BUDGET_SECONDS:
        root = tmp_path / f"round{rounds}"
        written = []
        for _ in range(FILES_PER_ROUND):
            source = rng.choice(corpus[rng.choice(sorted(corpus))])
            rel = source.relative_to(FIXTURES)
            rel = Path(*rel.parts[2:]) if len(rel.parts) > 2 else Path(rel.name)  # drop "<probe>/<case>/"
            data = source.read_bytes()
            for mutate in rng.sample(mutations, rng.randint(1, 3)):
                data = mutate(data)
            dest = root / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(data)
            written.append(str(rel))
        runs = run_probes(probes, RepoView(root, settings), settings)
        crashed = [f"{r.info.name}: {r.error}" for r in runs if not r.ok]
        assert not crashed, f"seed {SEED} round {rounds} files {written}: {crashed}"
        rounds += 1
    assert rounds >= MIN_ROUNDS
