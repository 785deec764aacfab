"""Smaller safety contracts of the CLI: output paths checked before the scan, atomic report files, Ctrl-C exits
130, strict answers (expiry values, exact control ids), answers files that leave the scanned folder."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from mlposture.scanner.cli import cli, write_atomic


def scan(*args: str):
    return CliRunner().invoke(cli, ["scan", *args])


def small_repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    (root / "train.py").write_text("print(1)\n")
    return root


def test_bad_output_paths_fail_with_exit_2_before_the_scan(tmp_path):
    root = small_repo(tmp_path)
    (root / ".mlposture").mkdir()
    (root / ".mlposture" / "answers.yaml").write_text("version: 9\n")  # the scan would stop on this (exit 2 too)
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    res = scan(str(root), "--no-vulns", "-f", "json", "-o", str(blocker / "report.json"))
    assert res.exit_code == 2
    assert "report.json: cannot create the folder" in res.output and "answers.yaml" not in res.output
    res = scan(str(root), "--no-vulns", "-f", "json", "-o", str(tmp_path))
    assert res.exit_code == 2 and "is a folder" in res.output


def test_reports_are_replaced_atomically(tmp_path):
    root = small_repo(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    (out / "r.json").write_text("old")
    res = scan(str(root), "--no-vulns", "-q", "-f", "json", "-o", str(out / "r.json"))
    assert res.exit_code in (0, 1)
    assert json.loads((out / "r.json").read_text())["schema_version"] == 1
    assert sorted(p.name for p in out.iterdir()) == ["r.json"]  # no temporary file left behind
    with pytest.raises(TypeError):
        write_atomic(out / "r.json", 42)  # type: ignore[arg-type]  # fails while writing
    assert json.loads((out / "r.json").read_text())["schema_version"] == 1  # the old report is intact
    assert sorted(p.name for p in out.iterdir()) == ["r.json"]


def test_ctrl_c_exits_130(tmp_path):
    root = small_repo(tmp_path)
    fifo = tmp_path / "answers.yaml"
    os.mkfifo(fifo)
    proc = subprocess.Popen([sys.executable, "-m", "mlposture.scanner", "scan", str(root), "--no-vulns", "-q",
                             "--answers", str(fifo)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    writer = None
    while writer is None:  # the scan opens the answers file: it is then blocked reading it
        try:
            writer = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:
            assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
            time.sleep(0.05)
    try:
        time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        os.close(writer)
    assert proc.returncode == 130, err
    assert b"interrupted" in err and b"Traceback" not in err


@pytest.mark.parametrize(("expires", "line"), [("0", 7), ("false", 7), ('""', 7), ("", 7)])
def test_answers_expiry_must_be_a_date(tmp_path, expires, line):
    root = small_repo(tmp_path)
    answers = tmp_path / "answers.yaml"
    answers.write_text("version: 1\nanswers:\n  DATA-01:\n    status: implemented\n    by: a@example.com\n"
                       f"    date: 2026-01-02\n    expires: {expires}\n    evidence: https://wiki.example.com/x\n")
    res = scan(str(root), "--no-vulns", "-q", "--answers", str(answers))
    assert res.exit_code == 2, res.output
    assert f"answers.yaml:{line}: 'expires' must be a date" in res.output


def test_answers_control_ids_are_exact(tmp_path):
    root = small_repo(tmp_path)
    answers = tmp_path / "answers.yaml"
    answers.write_text("version: 1\nanswers:\n  data-01:\n    status: not_applicable\n    by: a@example.com\n"
                       "    date: 2026-01-02\n    evidence: https://wiki.example.com/x\n")
    res = scan(str(root), "--no-vulns", "-q", "--answers", str(answers))
    assert res.exit_code == 2
    assert "answers.yaml:3: unknown control id 'data-01' (control ids are exact: DATA-01)" in res.output


def test_answers_file_linking_out_of_the_target_is_refused_without_echo(tmp_path):
    root = small_repo(tmp_path)
    secret = tmp_path / "secret.txt"
    secret.write_text("version: TOPSECRET\n")
    (root / ".mlposture").mkdir()
    (root / ".mlposture" / "answers.yaml").symlink_to(secret)
    res = scan(str(root), "--no-vulns", "-q")
    assert res.exit_code == 2
    assert "symbolic link out of the scanned folder" in res.output and "TOPSECRET" not in res.output


def test_an_output_that_is_not_a_regular_file_is_written_in_place_never_replaced(tmp_path):
    """``-o /dev/null`` as root once replaced the device node with a file; a FIFO stands in for the device here."""
    import stat
    import threading

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[str] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_text()))
    reader.start()
    write_atomic(fifo, "report\n")
    reader.join(timeout=10)
    assert got == ["report\n"]
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert [p.name for p in tmp_path.iterdir()] == ["pipe"]  # no temporary file left behind


def test_report_files_keep_ordinary_permissions(tmp_path):
    target = tmp_path / "r.json"
    write_atomic(target, "{}")
    mask = os.umask(0)
    os.umask(mask)
    assert (target.stat().st_mode & 0o777) == (0o666 & ~mask)
