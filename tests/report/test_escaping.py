"""File names carry what the repository wants: newlines, HTML, ANSI/OSC escapes, bidi overrides. Markdown and
the terminal get them neutralised; JSON and SARIF keep them exactly."""

from __future__ import annotations

import json
import os
import pickle
import re
from pathlib import Path
from urllib.parse import unquote

from click.testing import CliRunner

from mlposture.scanner.cli import cli
from mlposture.scanner.report.textsafe import md_code, md_text, plain

NAMES = [
    "evil\nname.pkl",
    "<img src=x onerror=alert(1)>.pkl",
    "\x1b]8;;https:evil.example\x07click\x1b]8;;\x07\x1b[31m.pkl",
    "model\u202egnp.pkl",
    "tick`s|pipe.pkl",
]


class Evil:
    def __reduce__(self):
        return (os.system, ("true",))


def hostile_repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    for name in NAMES:
        (root / name).write_bytes(pickle.dumps(Evil(), protocol=2))
    return root


def test_reports_neutralise_file_names_in_markdown_and_terminal_and_keep_them_exact_in_json(tmp_path):
    root = hostile_repo(tmp_path)
    out = tmp_path / "out"
    res = CliRunner().invoke(cli, ["scan", str(root), "--no-vulns", "-q", "-f", "md", "-f", "json", "-f", "sarif",
                                   "--output-dir", str(out)])
    assert res.exit_code == 1, res.output
    md = (out / "mlposture-report.md").read_text("utf-8")
    for bad in ("\x1b", "\x07", "\u202e", "evil\nname"):
        assert bad not in md, repr(bad)
    outside_code = re.sub(r"(`+)(?!`).*?(?<!`)\1(?!`)", "", md)  # code spans show HTML as text
    assert "<img" not in outside_code
    assert "`<img src=x onerror=alert(1)>.pkl`" in md
    assert "evil name.pkl" in md and "model\\u202egnp.pkl" in md
    finding_rows = [line for line in md.splitlines() if "serialization." in line and line.startswith("| ")]
    assert len(finding_rows) >= len(NAMES)  # one table row each: no name broke out of its row
    report = json.loads((out / "mlposture-report.json").read_text("utf-8"))
    paths = {f["path"] for f in report["findings"]}
    assert set(NAMES) <= paths  # exact, as the file system has them
    sarif = json.loads((out / "mlposture-report.sarif").read_text("utf-8"))
    uris = {unquote(loc["physicalLocation"]["artifactLocation"]["uri"])
            for r in sarif["runs"][0]["results"] for loc in r.get("locations", [])}
    assert set(NAMES) <= uris

    terminal = CliRunner().invoke(cli, ["scan", str(root), "--no-vulns", "-f", "terminal"])
    for bad in ("\x1b", "\x07", "\u202e"):
        assert bad not in terminal.output, repr(bad)
    assert not any(line.startswith("name.pkl") for line in terminal.output.splitlines())
    assert "evil name.pkl" in terminal.output and "\\x1b]8;;https:evil.example\\x07click" in terminal.output


def test_markdown_helpers():
    assert md_text("a*b* [x](javascript:y) <b>&") == "a\\*b\\* \\[x\\]\\(javascript:y\\) &lt;b&gt;&amp;"
    assert md_code("a`b") == "``a`b``" and md_code("`x") == "`` `x ``" and md_code("a|b", table=True) == "`a\\|b`"
    assert plain("a\nb\tc\x1b[0m\u2066") == "a b c\\x1b[0m\\u2066"
