"""Every fixture repository and the demo keep the verdicts recorded in ``verdicts.json``.

A refactoring must leave this test green. A change that alters verdicts on purpose regenerates the snapshot with
``python tests/snapshots/verdicts.py [target ...]`` and says in its commit message which verdicts changed and why.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

_HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("mlposture_verdict_snapshot", _HERE / "verdicts.py")
assert _spec is not None and _spec.loader is not None
snapshot = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(snapshot)

RECORDED: dict[str, Any] = json.loads(snapshot.SNAPSHOT.read_text())


def _diff(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Readable differences: changed control statuses and probe states, lines gone and lines new."""
    out: list[str] = []
    for key in ("controls", "probes"):
        for name in sorted(set(old[key]) | set(new[key])):
            if old[key].get(name) != new[key].get(name):
                out.append(f"  {key[:-1]} {name}: {old[key].get(name)} -> {new[key].get(name)}")
    for key in ("evidence", "findings"):
        before, after = set(old[key]), set(new[key])
        out += [f"  - {key[:-1] if key == 'findings' else key} {line}" for line in sorted(before - after)]
        out += [f"  + {key[:-1] if key == 'findings' else key} {line}" for line in sorted(after - before)]
    return out


def test_every_target_is_recorded() -> None:
    assert sorted(snapshot.targets()) == sorted(RECORDED), "run: python tests/snapshots/verdicts.py"


@pytest.mark.parametrize("target", sorted(RECORDED))
def test_verdicts_unchanged(target: str) -> None:
    now = snapshot.verdicts(target)
    diff = _diff(RECORDED[target], now)
    assert not diff, (f"verdicts of {target} changed (if on purpose: python tests/snapshots/verdicts.py {target}, "
                      "and say why in the commit message):\n" + "\n".join(diff))
