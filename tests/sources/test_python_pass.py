"""The one Python pass: each module parsed once, only when a visitor can use it; notebooks as one module; the same
facts whatever the number of workers; a failing or late visitor fails its probe closed."""

from __future__ import annotations

import ast
import json
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, ClassVar

import pytest

from mlposture.scanner.engine import run_probes
from mlposture.scanner.probe import Effect, Evidence, Probe, ProbeItem
from mlposture.scanner.repo import RepoView
from mlposture.scanner.settings import Settings
from mlposture.scanner.sources import ScanContext, Sources
from mlposture.scanner.sources.python import (
    PyModule,
    PythonVisitor,
    VisitorFailed,
    module_of_text,
    run_python_pass,
)


def calls(mod: PyModule) -> tuple[tuple[str, int, tuple[int, int] | None], ...] | None:
    """Every call that names ``torch.load``, with its line and (for notebooks) its cell."""
    out = tuple((name, node.lineno, mod.cell_of(node.lineno)) for node in mod.nodes(ast.Call)
                if (name := mod.qualname(node.func)) and name.endswith("load"))
    return tuple(sorted(out, key=lambda c: c[1])) or None


LOADS = PythonVisitor("test.loads", calls, ("load",))


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return root


def notebook(*cells: tuple[str, str]) -> str:
    return json.dumps({"cells": [{"cell_type": kind, "source": src.splitlines(keepends=True)} for kind, src in cells],
                       "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


def test_aliases_and_qualname_resolve_imports_once() -> None:
    mod = module_of_text("m.py", "import torch as T\nfrom joblib import load as jl\nimport os.path\n"
                                  "from .local import helper\nT.load(p)\njl(f)\nos.path.join(a)\nhelper()\n"
                                  "T.hub.load(r).eval()\n")
    assert isinstance(mod, PyModule)
    names = [mod.qualname(n.func) for n in sorted(mod.nodes(ast.Call), key=lambda n: (n.lineno, n.col_offset))]
    assert names == ["torch.load", "joblib.load", "os.path.join", ".local.helper", "torch.hub.load().eval",
                     "torch.hub.load"]
    assert mod.imported == frozenset({"torch", "joblib", "os.path"})
    sub = ast.parse("a[0].load", mode="eval").body
    call = ast.parse("T.hub.load(r)", mode="eval").body
    assert (mod.qualname(sub), mod.qualname(sub, unknown="?")) == (None, "?.load")
    assert (mod.qualname(call), mod.qualname(call, unknown="?")) == (None, "torch.hub.load()")
    assert mod.imports_any("os") and not mod.imports_any("tor")


def test_a_module_is_parsed_only_when_a_needle_occurs(tmp_path: Path) -> None:
    root = write(tmp_path, {"a.py": "def f(:\n    torch.load(p)\n", "b.py": "def g(:\n    pass\n",
                            "c.py": "import torch\ntorch.load(p)\n", "d.py": "print('nothing here')\n"})
    repo = RepoView(root)
    facts = run_python_pass(repo, [LOADS])
    assert facts.files == 4 and facts.parsed == 1
    assert facts.of(LOADS) == [("c.py", (("torch.load", 2, None),))]
    assert [(n.path, n.line, n.message) for n in repo.notes] == [("a.py", 1, "Python syntax error: invalid syntax")]


def test_a_notebook_is_one_module_with_its_cells_mapped(tmp_path: Path) -> None:
    nb = notebook(("code", "import torch as T\n%matplotlib inline\n"), ("markdown", "# load the model\n"),
                  ("code", "x = 1\n\nm = T.load(path)\n"), ("code", "def broken(:\n  T.load(q)\n"),
                  ("code", "!pip install x\nT.load(other)\n"))
    repo = RepoView(write(tmp_path, {"nb/train.ipynb": nb}))
    facts = run_python_pass(repo, [LOADS])
    # the import of cell 1 resolves the calls of cells 3 and 5; lines are reported inside their cell
    assert facts.of(LOADS) == [("nb/train.ipynb", (("torch.load", 5, (3, 3)), ("torch.load", 7, (5, 2))))]
    assert [(n.path, n.message) for n in repo.notes] == [("nb/train.ipynb", "notebook cell 4 is not valid Python; "
                                                                             "skipped")]


def test_a_notebook_cannot_hide_its_code_from_the_needles_with_json_escapes(tmp_path: Path) -> None:
    escaped = notebook(("code", "import torch\ntorch.load(p)\n")).replace("load", "lo\\u0061d")
    assert "load" not in escaped
    repo = RepoView(write(tmp_path, {"nb.ipynb": escaped}))
    assert run_python_pass(repo, [LOADS]).of(LOADS) == [("nb.ipynb", (("torch.load", 2, (1, 2)),))]


def test_a_notebook_that_is_not_json_is_a_note(tmp_path: Path) -> None:
    repo = RepoView(write(tmp_path, {"x.ipynb": '{"cells": [load'}))
    assert run_python_pass(repo, [LOADS]).of(LOADS) == []
    assert any(n.path == "x.ipynb" and "not valid JSON" in n.message for n in repo.notes)


def test_visitors_skip_notebooks_when_they_ask(tmp_path: Path) -> None:
    visitor = PythonVisitor("test.py-only", calls, ("load",), notebooks=False)
    repo = RepoView(write(tmp_path, {"a.ipynb": notebook(("code", "import torch\ntorch.load(p)\n"))}))
    facts = run_python_pass(repo, [visitor])
    assert facts.files == 0 and facts.of(visitor) == []


def _tree(root: Path, modules: int) -> Path:
    files = {f"pkg{i % 7}/mod{i:03d}.py": (f"import torch as t{i % 3}\n" + "x = 1\n" * (i % 5)
                                          + f"t{i % 3}.load('m{i}.pt')\n" if i % 4 else "print('no needle')\n")
             for i in range(modules)}
    files["pkg0/broken.py"] = "def f(:\n    torch.load(p)\n"
    files["nb.ipynb"] = notebook(("code", "import torch\n"), ("code", "torch.load(p)\n"))
    return write(root, files)


def test_the_facts_do_not_depend_on_the_number_of_workers(tmp_path: Path) -> None:
    root = _tree(tmp_path, 260)
    one, two = RepoView(root), RepoView(root)
    serial, parallel = run_python_pass(one, [LOADS], jobs=1), run_python_pass(two, [LOADS], jobs=2)
    assert serial.of(LOADS) == parallel.of(LOADS)
    assert len(serial.of(LOADS)) == 260 - 65 + 1
    assert serial.parsed == parallel.parsed
    assert one.notes == two.notes and any(n.path == "pkg0/broken.py" for n in two.notes)


def boom(mod: PyModule) -> int | None:
    if mod.path.endswith("mod101.py"):
        raise ValueError("cannot read this")
    return 1


class ReadsPython(Probe):
    """Speaks for AL-01 from a Python visitor's facts."""

    name: ClassVar[str] = "reads_python"
    controls: ClassVar[tuple[str, ...]] = ("AL-01",)
    visitor: ClassVar[PythonVisitor[Any]] = PythonVisitor("test.boom", boom, ("load",))
    python_visitors: ClassVar[tuple[PythonVisitor[Any], ...]] = (visitor,)

    def scan(self, ctx: ScanContext) -> Iterable[ProbeItem]:
        for path, _ in ctx.sources.python(self.visitor):
            yield Evidence("AL-01", Effect.PASS, "read", path, None, "reads_python.read")


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_visitor_that_raises_fails_its_probe_closed(tmp_path: Path, jobs: int) -> None:
    repo = RepoView(_tree(tmp_path, 260))
    [run] = run_probes([(ReadsPython, "test")], repo, Settings(), jobs=jobs)
    assert run.items == ()
    assert run.error is not None
    assert "Python reader test.boom failed on pkg3/mod101.py: ValueError: cannot read this" in run.error
    with pytest.raises(VisitorFailed):
        Sources.of(repo).python(ReadsPython.visitor)


def slow(mod: PyModule) -> int:
    time.sleep(0.4)
    return 1


class SlowPython(ReadsPython):
    """Reads Python slowly."""

    name: ClassVar[str] = "slow_python"
    visitor: ClassVar[PythonVisitor[Any]] = PythonVisitor("test.slow", slow)
    python_visitors: ClassVar[tuple[PythonVisitor[Any], ...]] = (visitor,)


def test_a_pass_past_its_time_budget_fails_the_probes_that_read_it(tmp_path: Path) -> None:
    repo = RepoView(write(tmp_path, {f"m{i}.py": "x = 1\n" for i in range(6)}))
    [run] = run_probes([(SlowPython, "test")], repo, Settings(probe_timeout_seconds=0.5))
    assert run.items == ()
    assert run.error is not None and "Python pass did not finish" in run.error
    assert "budget" in run.error


def test_the_engine_runs_the_pass_once_for_every_probe(tmp_path: Path) -> None:
    seen: list[str] = []

    def record(mod: PyModule) -> str:
        seen.append(mod.path)
        return mod.path

    visitor = PythonVisitor("test.record", record)

    class First(ReadsPython):
        """First reader."""

        name: ClassVar[str] = "first_reader"
        python_visitors: ClassVar[tuple[PythonVisitor[Any], ...]] = (visitor,)

        def scan(self, ctx: ScanContext) -> Iterable[ProbeItem]:
            for path, _ in ctx.sources.python(visitor):
                yield Evidence("AL-01", Effect.PASS, "read", path, None, "first_reader.read")

    class Second(First):
        """Second reader of the same facts."""

        name: ClassVar[str] = "second_reader"

    repo = RepoView(write(tmp_path, {"a.py": "x = 1\n", "b.py": "y = 2\n"}))
    runs = run_probes([(First, "test"), (Second, "test")], repo, Settings())
    assert [len(r.items) for r in runs] == [2, 2] and all(r.error is None for r in runs)
    assert seen == ["a.py", "b.py"]
    assert "python" in Sources.of(repo).timings


def test_needles_case_and_the_needles_a_module_matched(tmp_path: Path) -> None:
    seen: dict[str, tuple[str, frozenset[str]]] = {}

    def record(name: str) -> Callable[[PyModule], str]:
        def visit(mod: PyModule) -> str:
            seen[f"{name}:{mod.path}"] = (mod.path, mod.matched)
            return name
        return visit

    exact = PythonVisitor("test.exact", record("exact"), ("Load", "load"))
    folded = PythonVisitor("test.folded", record("folded"), ("LOAD", "pickle"), ignore_case=True)
    every = PythonVisitor("test.every", record("every"))
    repo = RepoView(write(tmp_path, {"a.py": "x = load(1)\n", "b.py": "Loader = 1\n", "c.py": "y = 2\n"}))
    facts = run_python_pass(repo, [exact, folded, every])
    assert [p for p, _ in facts.of(exact)] == ["a.py", "b.py"]  # "load" is a needle of both kinds
    assert [p for p, _ in facts.of(folded)] == ["a.py", "b.py"]
    assert [p for p, _ in facts.of(every)] == ["a.py", "b.py", "c.py"]
    assert seen["folded:a.py"][1] == frozenset({"load"})
    assert seen["exact:a.py"][1] == frozenset({"load"})
    assert seen["exact:b.py"][1] == frozenset({"Load", "load"})
    assert seen["every:c.py"][1] == frozenset()


def test_a_screen_turns_a_plain_module_down_before_it_is_parsed(tmp_path: Path) -> None:
    screened: list[tuple[str, frozenset[str]]] = []

    def screen(text: str, matched: frozenset[str]) -> bool:
        screened.append((text.splitlines()[0], matched))
        return "torch.load" in text

    loads = PythonVisitor("test.screened-loads", calls, ("load",), screen=screen)
    root = write(tmp_path, {
        "a.py": "# loader docs\nimport torch\ntorch.load(p)\n",
        "b.py": "# upload helpers\ndef upload(x):\n    return x\nupload(1)\n",  # a needle inside a word
        "c.py": "# broken, but turned down first\ndef f(:\n    upload(1)\n",
        "d.ipynb": notebook(("code", "# notebooks are joined first, never screened\nimport torch\ntorch.load(p)\n")),
    })
    repo = RepoView(root)
    facts = run_python_pass(repo, [loads])
    assert facts.parsed == 2 and [p for p, _ in facts.of(loads)] == ["a.py", "d.ipynb"]
    assert sorted(screened) == [("# broken, but turned down first", frozenset({"load"})),
                                ("# loader docs", frozenset({"load"})),
                                ("# upload helpers", frozenset({"load"}))]
    assert repo.notes == ()  # c.py was never parsed, so its syntax error is no note
