"""Every probe on the realistic corpus keeps the reviewed verdicts of ``snapshot.json``.

A change in any verdict fails here with the difference as readable lines (statuses, evidence and findings gone
or new). If the change is on purpose, regenerate with ``python tests/corpus/corpus.py [layout ...]``, review the
new verdicts, and say in the commit message which changed and why.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

_HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("mlposture_corpus_snapshot", _HERE / "corpus.py")
assert _spec is not None and _spec.loader is not None
corpus = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(corpus)

RECORDED: dict[str, Any] = json.loads(corpus.SNAPSHOT.read_text())


def diff(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Readable differences: changed statuses and probe states, then evidence and findings gone (-) and new (+)."""
    out: list[str] = []
    for key in ("controls", "probes"):
        for name in sorted(set(old[key]) | set(new[key])):
            if old[key].get(name) != new[key].get(name):
                out.append(f"  {key[:-1]} {name}: {old[key].get(name)} -> {new[key].get(name)}")
    for key, label in (("evidence", "evidence"), ("findings", "finding")):
        before, after = set(old[key]), set(new[key])
        out += [f"  - {label} {line}" for line in sorted(before - after)]
        out += [f"  + {label} {line}" for line in sorted(after - before)]
    return out


def test_corpus_has_at_least_eight_layouts_all_recorded() -> None:
    assert len(corpus.layouts()) >= 8
    assert sorted(RECORDED) == corpus.layouts(), "run: python tests/corpus/corpus.py"


@pytest.mark.parametrize("layout", sorted(RECORDED))
def test_verdicts_unchanged(layout: str) -> None:
    changes = diff(RECORDED[layout], corpus.verdicts(layout))
    assert not changes, (f"verdicts of corpus/{layout} changed (if on purpose: python tests/corpus/corpus.py "
                         f"{layout}, review the snapshot, and say why in the commit message):\n" + "\n".join(changes))


def test_diff_is_readable() -> None:
    old = {"controls": {"PIPE-01": "pass"}, "probes": {"dependencies": "ok"}, "evidence": ["a"], "findings": []}
    new = {"controls": {"PIPE-01": "fail"}, "probes": {"dependencies": "ok"}, "evidence": ["b"], "findings": ["f"]}
    assert diff(old, new) == ["  control PIPE-01: pass -> fail", "  - evidence a", "  + evidence b", "  + finding f"]


def test_no_probe_crashed_on_the_corpus() -> None:
    assert all(state == "ok" for layout in RECORDED.values() for state in layout["probes"].values())
