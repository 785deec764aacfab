"""Fail closed: a built-in probe that crashes or cannot load blocks the gate whatever the answers say."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from click.testing import CliRunner

from mlposture.scanner.cli import cli
from mlposture.scanner.probe import Probe, ProbeItem
from mlposture.scanner.repo import RepoView
from mlposture.scanner.scan import scan
from mlposture.scanner.settings import Settings

ANSWERS = """version: 1
answers:
  MODEL-03:
    status: implemented
    by: sec@example.com
    date: 2026-11-20
    evidence: https://wiki.example.com/model-formats
"""


class Crashes(Probe):
    """Stands for a built-in probe hitting a bug on some input."""

    name = "crashes"
    controls = ("MODEL-03",)

    def run(self, repo: RepoView, settings: Settings) -> Iterable[ProbeItem]:
        yield from ()
        raise RuntimeError("parser exploded on model.pkl")


def _repo(tmp_path: Path) -> Path:
    (tmp_path / "model.pkl").write_bytes(b"\x80\x04N.")
    (tmp_path / "answers.yaml").write_text(ANSWERS)
    return tmp_path


def test_crashed_builtin_probe_blocks_although_answered(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    result = scan(root, Settings(allow_unverified=True), root / "answers.yaml",
                  probes=[(Crashes, "mlposture")])
    m3 = next(c for c in result.controls if c.control.id == "MODEL-03")
    assert m3.status.value == "pass" and m3.source == "answer"  # the answer alone would pass it
    assert not result.gate.passed
    [blocker] = [b for b in result.gate.blockers if b.kind == "probe"]
    assert blocker.id == "crashes" and blocker.severity == "critical"
    assert "RuntimeError: parser exploded on model.pkl" in blocker.message


def test_allow_probe_errors_turns_it_into_a_warning(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    result = scan(root, Settings(allow_unverified=True, allow_probe_errors=True), root / "answers.yaml",
                  probes=[(Crashes, "mlposture")])
    assert not [b for b in result.gate.blockers if b.kind == "probe"]
    assert any("built-in probe crashes did not run to completion" in w for w in result.gate.warnings)


def test_third_party_probe_crash_does_not_block(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    result = scan(root, Settings(allow_unverified=True), root / "answers.yaml",
                  probes=[(Crashes, "someone-elses-plugin")])
    assert not [b for b in result.gate.blockers if b.kind == "probe"]


def test_cli_json_lists_no_blocking_probe_when_all_ran(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("hello\n")
    out = tmp_path / "r.json"
    res = CliRunner().invoke(cli, ["scan", str(tmp_path), "--no-vulns", "--allow-probe-errors", "-f", "json",
                                    "-o", str(out), "-q"])
    assert res.exit_code in (0, 1), res.output
    report = json.loads(out.read_text())
    assert report["gate"]["blocking_probes"] == []
