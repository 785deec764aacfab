"""The lifecycle reader of Python modules and notebooks in the one Python pass (facts, not judgements)."""

from __future__ import annotations

import json
from pathlib import Path

from mlposture.probes.lifecycle import pysource
from mlposture.probes.lifecycle.pysource import VISITOR, VISITORS, source_facts
from mlposture.scanner.probe import Effect
from mlposture.scanner.repo import RepoView
from mlposture.scanner.sources.python import PyModule, module_of_text, run_python_pass
from tests.probes.data_lifecycle.conftest import run_probe


def _facts(code: str, path: str = "m.py") -> pysource.SourceFacts:
    mod = module_of_text(path, code)
    assert isinstance(mod, PyModule), mod
    facts = source_facts(mod)
    assert facts is not None
    return facts


def _notebook(path: Path, *cells: tuple[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"cells": [{"cell_type": kind, "source": src} for kind, src in cells],
                                "nbformat": 4}))


def test_facts_resolve_aliases_constants_and_digest_checks() -> None:
    facts = _facts("import hashlib\nimport numpy as np\nfrom opacus import PrivacyEngine as PE\nEPS = 2.5\n"
                   "def check(p):\n    if hashlib.sha256(open(p,'rb').read()).hexdigest() != 'x':\n"
                   "        raise ValueError\n"
                   "def go(m):\n    e = PE()\n    e.make_private_with_epsilon(module=m, target_epsilon=EPS)\n"
                   "    np.load(f'https://h/{m}.npy')\n")
    names = {c.name for c in facts.calls}
    assert "opacus.PrivacyEngine" in names and "numpy.load" in names
    call = facts.calls_named("make_private_with_epsilon")[0]
    assert call.kw("target_epsilon") == 2.5 and call.function == "go" and call.site.line == 10
    assert [(d.function, d.site.line) for d in facts.digest_checks] == [("check", 6)]
    url = facts.calls_named("load")[0].args[0]
    assert isinstance(url, pysource.FString) and url.head == "https://h/"
    assert facts.imports("opacus")[0].site.line == 3 and facts.uses_module("numpy")


def test_scopes_functions_swallowing_try_and_nested_digest_checks() -> None:
    facts = _facts("import hashlib, pandera\n"
                   "@pandera.check_io(out=x())\n"
                   "def outer(p):\n"
                   "    def inner(q):\n"
                   "        return hashlib.sha256(q).hexdigest() == p\n"
                   "    try:\n"
                   "        schema.validate(p)\n"
                   "    except Exception:\n"
                   "        log(p)\n"
                   "    f = lambda: hashlib.md5(p).hexdigest() == 1\n"
                   "    return inner(p)\n"
                   "validate(1)\n")
    by_name = {c.name: c for c in facts.calls}
    assert by_name["pandera.check_io"].function == "outer"  # a decorator belongs to what it decorates
    assert by_name["schema.validate"].swallowed and by_name["schema.validate"].function == "outer"
    assert not by_name["log"].swallowed and not by_name["validate"].swallowed
    assert by_name["validate"].function == ""
    assert by_name["hashlib.sha256"].function == "inner"
    # the digest compared inside the lambda is no check of outer's; inner's is
    assert [(d.function, d.site.line) for d in facts.digest_checks] == [("inner", 5)]


def test_module_without_a_needle_yields_no_facts() -> None:
    mod = module_of_text("m.py", "import json\nimport torch\nx = json.load(open('a'))\ntorch.tensor(x).step()\n")
    assert isinstance(mod, PyModule) and source_facts(mod) is None
    aliased = module_of_text("m.py", "import torch as T\nm = T.load('w.pt')\n")
    assert isinstance(aliased, PyModule)
    got = source_facts(aliased)
    assert got is not None and [c.name for c in got.calls] == ["torch.load"]


def test_notebook_import_in_cell_1_call_in_cell_3(tmp_path: Path) -> None:
    _notebook(tmp_path / "nb" / "prep.ipynb",
              ("code", ["%pip install datasets\n", "import datasets as ds\n"]),
              ("markdown", "# Load"),
              ("code", ["x = 1\n", "data = ds.load_dataset('org/corpus')\n"]))
    s = run_probe(tmp_path)
    found = s.findings("data_lifecycle.unpinned-dataset")
    assert len(found) == 1 and found[0].path == "nb/prep.ipynb" and found[0].line is None
    assert found[0].message.endswith("(cell 3, line 2)"), found[0].message


def test_notebook_with_a_broken_cell_reads_the_others(tmp_path: Path) -> None:
    _notebook(tmp_path / "explore.ipynb",
              ("code", "import pandera as pa\n"),
              ("code", "def broken(:\n"),
              ("code", "schema = pa.DataFrameSchema({})\n"))
    s = run_probe(tmp_path)
    assert any("cell 2 is not valid Python" in n.message for n in s.note_for("explore.ipynb"))
    ev = s.evidence("DATA-06")
    assert len(ev) == 1 and ev[0].effect is Effect.PARTIAL and "explore.ipynb cell 1, line 1" in ev[0].message


def test_syntax_error_is_noted_only_where_a_reader_looks(tmp_path: Path) -> None:
    (tmp_path / "plain.py").write_text("x = (\n")
    (tmp_path / "tool.py").write_text("import pandera\nx = (\n")
    s = run_probe(tmp_path)
    assert s.note_for("plain.py") == []
    assert [n.message.startswith("Python syntax error") for n in s.note_for("tool.py")] == [True]


def test_facts_identical_serial_and_parallel(tmp_path: Path) -> None:
    for i in range(240):
        d = tmp_path / f"pkg{i % 6}"
        d.mkdir(exist_ok=True)
        kind = i % 4
        if kind == 0:
            text = f"import torch\nimport json\ndef f{i}(p):\n    return json.load(open(p))\n"
        elif kind == 1:
            text = (f"import hashlib\nimport torch\nfrom pkg0 import m{i - 1}\ndef load{i}(p):\n"
                    f"    if hashlib.sha256(open(p, 'rb').read()).hexdigest() != 'ab':\n        raise ValueError\n"
                    f"    return torch.load(p)\n")
        elif kind == 2:
            text = f"from datasets import load_dataset\nds = load_dataset('org/d{i}', revision='main')\n"
        else:
            text = f"VALUE_{i} = {i}\n"
        (d / f"m{i}.py").write_text(text)
    _notebook(tmp_path / "nb.ipynb", ("code", "import pandera\n"), ("code", "pandera.check(1)\n"))
    serial = run_python_pass(RepoView(tmp_path), VISITORS, jobs=1)
    parallel = run_python_pass(RepoView(tmp_path), VISITORS, jobs=2)
    assert serial.files == parallel.files == 241
    for visitor in VISITORS:
        assert serial.of(visitor) == parallel.of(visitor)
    assert len(serial.of(VISITOR)) == 121  # the 60 modules of kind 0 and the 60 of kind 3 hold nothing


def test_every_judged_library_has_a_needle() -> None:
    """A tool added to a judgement's list without a needle would never be read: its modules are skipped."""
    from mlposture.probes.lifecycle import practices, provenance, training

    libraries = [*practices.ANOMALY, *practices.SCHEMA, *practices.GENERIC_SCHEMA, *practices.PII_TOOLS,
                 *practices.SYNTH_GENERATORS, *practices.SYNTH_VALIDATION, *practices.INFLUENCE, *practices.BIAS,
                 *training.COMPRESSION, *training.ATTACKS, *training.HARDENING]
    prefixes = [m for lib in libraries for m in lib.modules]
    prefixes += [*practices.FEDERATED, *training.DP_MODULES, *provenance.LINEAGE]
    missing = [p for p in prefixes
               if not any(n in part.lower() for part in p.split(".") for n in pysource.STRONG_NEEDLES)]
    assert missing == []


def test_links_in_prose_do_not_get_a_module_parsed_but_literal_urls_and_torch_hub_do(tmp_path: Path) -> None:
    (tmp_path / "prose.py").write_text(  # 'hub' inside github, 'http' in a docstring and a comment only
        '"""Port of https://github.com/org/repo (see http://example.org)."""\n# https://github.com/x\n'
        "def f(:\n    pass\n")
    (tmp_path / "fetch.py").write_text("import requests\n\nrows = requests.get('https://data.example.com/t.csv')\n")
    (tmp_path / "backbone.py").write_text("from torch import hub\n\nnet = hub.load('org/vision', 'resnet')\n")
    facts = run_python_pass(RepoView(tmp_path), VISITORS, jobs=1)
    assert facts.parsed == 2 and [p for p, _ in facts.of(VISITOR)] == ["backbone.py", "fetch.py"]
    s = run_probe(tmp_path)
    assert s.note_for("prose.py") == []  # never parsed: its syntax error is nobody's business
    assert [(f.path, f.line) for f in s.findings("data_lifecycle.mutable-download")] == [("fetch.py", 3)]
    mod = module_of_text("prose_ok.py", '"""See https://github.com/org/repo."""\nx = 1\n')
    assert isinstance(mod, PyModule) and source_facts(mod) is None  # the same answer outside the pass
