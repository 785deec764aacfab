"""Names spelled with compatibility characters (fullwidth letters, ligatures) are the ASCII names to Python: the
parser NFKC-normalises identifiers. Every text check that stands for a name must see them so, or a repository
could hide an unsafe load, a drift check or its training code from the readers and get past the gate."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

from click.testing import CliRunner

from mlposture.scanner.cli import cli
from mlposture.scanner.sources.python_text import as_python_reads


def wide(name: str) -> str:
    """``name`` in fullwidth letters (what Python reads as ``name``)."""
    return "".join(chr(ord(c) + 0xFEE0) if c.isascii() and c.isalpha() else c for c in name)


def scan_json(root: Path, tmp_path: Path) -> dict:  # type: ignore[type-arg]
    out = tmp_path / "report.json"
    result = CliRunner().invoke(cli, ["scan", str(root), "--no-vulns", "--format", "json", "--output", str(out)])
    assert result.exit_code in (0, 1), result.output
    return json.loads(out.read_text())  # type: ignore[no-any-return]


def findings(report: dict) -> set[tuple[str, str, int | None]]:  # type: ignore[type-arg]
    return {(f["rule"], f["path"], f.get("line")) for f in report["findings"]}


def test_normalising_keeps_ascii_as_it_is_and_lines_where_they_are() -> None:
    plain = "import torch\nx = torch.load(p)\n"
    assert as_python_reads(plain) is plain
    text = f"import torch\n\nx = torch.{wide('load')}('w.pt')  # \uff02quoted\uff02\n"
    normal = as_python_reads(text)
    assert "torch.load(" in normal and normal.count("\n") == text.count("\n")
    assert unicodedata.normalize("NFKC", wide("load")) == "load"


def test_hidden_names_reach_every_reader(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    (root / "src").mkdir(parents=True)
    # a fullwidth quote inside a string: the file is parsed as written, not as normalised (that would not parse)
    (root / "src" / "serve.py").write_text(
        f"import torch\n\nmodel = torch.{wide('load')}('weights.pt')  # \"\uff02\"\n")
    (root / "src" / "backbone.py").write_text(f"import torch\n\nnet = torch.{wide('hub')}.load('org/vision')\n")
    (root / "src" / "train.py").write_text(
        f"import {wide('sklearn')}.linear_model as lm\n\nclf = lm.LogisticRegression()\nclf.{wide('fit')}(X, y)\n")
    (root / "src" / "drift.py").write_text(
        f"def {wide('calculate_psi')}(a, b):\n    return 0.0\n\n"
        f"if {wide('calculate_psi')}(ref, live) > 0.2:\n    raise SystemExit(1)\n")
    nb = {"cells": [{"cell_type": "code", "metadata": {}, "outputs": [],
                     "source": f"import datasets\ncorpus = datasets.{wide('load_dataset')}('org/corpus')\n"}],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (root / "explore.ipynb").write_text(json.dumps(nb, ensure_ascii=False))  # raw characters, no \\u escapes
    report = scan_json(root, tmp_path)
    found = findings(report)
    assert ("serialization.torch-load-unsafe", "src/serve.py", 3) in found
    assert ("model_lifecycle.unpinned-pretrained", "src/backbone.py", 3) in found
    assert any(rule == "data_lifecycle.unpinned-dataset" and path == "explore.ipynb" for rule, path, _ in found)
    controls = {c["id"]: c for c in report["controls"]}
    mon01 = controls["MON-01"]
    assert any(e["path"] == "src/drift.py" and e["line"] == 4 for e in mon01["evidence"]), mon01
    # the training code is seen, so the training controls are judged, not set aside as not applicable
    assert all(c["status"] != "not_applicable" or "no training code" not in json.dumps(c) for c in controls.values())
    assert not any(n.get("path") for n in report["notes"] if "syntax error" in n["message"])


def test_a_declared_source_encoding_is_read_as_the_interpreter_reads_it(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    # each of these runs torch.load under CPython; read as UTF-8 none of them shows a load
    (root / "seven.py").write_bytes(b"# -*- coding: utf-7 -*-\nimport torch\n\nm = torch.+AGwAbwBhAGQ-('w.pt')\n")
    (root / "escapes.py").write_bytes(b"# coding: unicode_escape\nimport torch\n\nm = torch.\\u006coad('w.pt')\n")
    (root / "late.py").write_bytes(b"#" + b"x" * 2000 + b"\n# vim: set fileencoding=utf-7 :\nimport torch\n"
                                   b"m = torch.+AGwAbwBhAGQ-('w.pt')\n")  # the cookie may sit on line 2
    # a newline spelled as an escape: the interpreter's line 2 is the file's line 1
    (root / "lines.py").write_bytes(b"# coding: unicode_escape\nimport torch\\nm = torch.load('w.pt')\n")
    # declared encodings the interpreter refuses or cannot apply: it cannot run them, they read as UTF-8
    (root / "refused.py").write_bytes(b"# coding: rot13\nvzcbeg gbepu\n")
    (root / "broken.py").write_bytes(b"# coding: ascii\nimport torch\nm = torch.load('\xff.pt')\n")
    (root / "latin.py").write_bytes(b"# -*- coding: latin-1 -*-\nimport torch\nm = torch.load('caf\xe9.pt')\n")
    # training code whose import and fit call only show once decoded
    (root / "train.py").write_bytes(b"# coding: utf-7\n+AGk-mport sklearn.linear_model as lm\n"
                                    b"clf = lm.LogisticRegression()\nclf.+AGY-it(X, y)\n")
    report = scan_json(root, tmp_path)
    assert "no training code" not in json.dumps(report["controls"])
    loads = {(path, line) for rule, path, line in findings(report) if rule == "serialization.torch-load-unsafe"}
    assert loads == {("seven.py", 4), ("escapes.py", 4), ("late.py", 4), ("lines.py", 3), ("broken.py", 3),
                     ("latin.py", 3)}
    noted = {n["path"]: n["message"] for n in report["notes"] if "encoding" in n["message"]}
    assert set(noted) == {"lines.py"} and "unicode_escape" in noted["lines.py"]


def test_scripts_without_an_extension_that_run_python_are_read(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    (root / "bin").mkdir(parents=True)
    (root / "bin" / "serve").write_text("#!/usr/bin/env python3\nimport torch\n\nmodel = torch.load('w.pt')\n")
    (root / "bin" / "fit").write_text("#!/opt/conda/bin/python3.11 -u\nimport sklearn.linear_model as lm\n"
                                      "clf = lm.LogisticRegression()\nclf.fit(X, y)\n")
    # a shell script that mentions python after its first line, and a data file: neither is read as Python
    (root / "bin" / "deploy").write_text("#!/bin/sh\npython -c 'import torch; torch.load(\"w.pt\")'\n")
    (root / "data").mkdir()
    (root / "data" / "blob").write_bytes(b"\x00torch.load(" * 10)
    report = scan_json(root, tmp_path)
    loads = {(path, line) for rule, path, line in findings(report) if rule == "serialization.torch-load-unsafe"}
    assert loads == {("bin/serve", 4)}
    assert "no training code" not in json.dumps(report["controls"])  # bin/fit is training code
    assert not [n for n in report["notes"] if n.get("path") in ("bin/deploy", "data/blob")]


def test_the_plugin_readers_of_the_view_read_python_the_same_way(tmp_path: Path) -> None:
    import ast

    from mlposture.scanner.repo import RepoView

    (tmp_path / "train").write_text("#!/usr/bin/env python\nprint(1)\n")
    (tmp_path / "seven.py").write_bytes(b"# coding: utf-7\nimport torch\nm = torch.+AGwAbwBhAGQ-('w.pt')\n")
    (tmp_path / "notes").write_text("python is mentioned, but this is no script\n")
    view = RepoView(tmp_path)
    assert [f.path for f in view.python_files()] == ["seven.py", "train"]
    tree = view.python_ast("seven.py")
    assert tree is not None
    assert [n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)] == ["load"]
