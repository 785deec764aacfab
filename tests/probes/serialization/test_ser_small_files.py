"""Small files are read once and scanned in memory; large ones are streamed: both give the same verdicts."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

from mlposture.probes.serialization import SerializationProbe
from mlposture.probes.serialization.artifacts import HEAD
from mlposture.scanner.engine import run_probe
from mlposture.scanner.probe import Finding, Note
from mlposture.scanner.repo import RepoView
from mlposture.scanner.settings import Settings


class _Reduce:
    def __init__(self, func: object, args: tuple[object, ...]) -> None:
        self.func, self.args = func, args

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return (self.func, self.args)


def _payload(padding: int) -> bytes:
    return pickle.dumps({"pad": "x" * padding, "run": _Reduce(os.system, ("true",))}, protocol=4)


def test_small_and_large_pickles_are_judged_alike(tmp_path: Path) -> None:
    small, large = _payload(10), _payload(HEAD * 3)
    assert len(small) <= HEAD < len(large)
    (tmp_path / "small.pkl").write_bytes(small)
    (tmp_path / "large.pkl").write_bytes(large)
    (tmp_path / "exactly.bin").write_bytes(small + b"\x00" * (HEAD - len(small)))  # HEAD bytes: the in-memory path
    settings = Settings()
    run = run_probe(SerializationProbe, "", RepoView(tmp_path, settings), settings)
    flagged = {(i.path, i.severity.value) for i in run.items if isinstance(i, Finding)}
    assert {("small.pkl", "critical"), ("large.pkl", "critical"), ("exactly.bin", "critical")} <= flagged


def test_a_file_gone_after_the_walk_is_noted_whichever_path_reads_it(tmp_path: Path) -> None:
    (tmp_path / "small.pkl").write_bytes(_payload(10))
    (tmp_path / "large.pkl").write_bytes(_payload(HEAD * 3))
    settings = Settings()
    repo = RepoView(tmp_path, settings)
    (tmp_path / "small.pkl").unlink()
    (tmp_path / "large.pkl").unlink()
    run = run_probe(SerializationProbe, "", repo, settings)
    assert run.error is None
    assert not [i for i in run.items if isinstance(i, Finding)]
    noted = {n.path for n in repo.notes if "not readable" in n.message}
    noted |= {i.path for i in run.items if isinstance(i, Note) and "not readable" in i.message}
    assert noted == {"small.pkl", "large.pkl"}
