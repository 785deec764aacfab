"""Monitoring on the one Python pass: notebooks cell by cell, modules without a trigger word left unparsed, and the
same facts whatever the number of workers."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from mlposture.probes.monitoring import MonitoringProbe
from mlposture.probes.monitoring.pysource import VISITOR, scan_module
from mlposture.scanner.repo import RepoView
from mlposture.scanner.sources.python import PyModule, module_of_text, run_python_pass
from tests.probe_harness import ProbeScan

ScanFn = Callable[..., ProbeScan]


def write(root: Path, rel: str, text: str) -> None:
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)


def notebook(*cells: str) -> str:
    return json.dumps({"cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "source": c} for c in cells],
                       "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


def test_drift_detector_after_a_broken_cell_is_found(tmp_path: Path, probe_scan: ScanFn) -> None:
    write(tmp_path, "notebooks/explore.ipynb", notebook(
        "import pandas as pd\ndf = pd.read_csv('ref.csv'",  # cell 1: not valid Python
        "%matplotlib inline\nfrom alibi_detect.cd import KSDrift\ncd = KSDrift(x_ref, p_val=0.05)\n"))
    scan = probe_scan(MonitoringProbe, tmp_path)
    [drift] = scan.evidence("MON-01")
    assert (drift.path, drift.line, drift.effect.value) == ("notebooks/explore.ipynb", None, "partial")
    assert "KSDrift (alibi-detect) only in a notebook (weaker evidence)" in drift.message
    assert scan.status("MON-01") == "partial"
    assert [n.message for n in scan.note_for("notebooks/explore.ipynb")] == [
        "notebook cell 1 is not valid Python; skipped"]


def test_module_without_a_trigger_word_is_not_parsed(tmp_path: Path, probe_scan: ScanFn) -> None:
    write(tmp_path, "app/util.py", "def broken(:\n    return start_artifact()\n")  # 'art' inside words only
    # a detector's library named in prose or imported alone is no fact: the module is not parsed for it
    write(tmp_path, "docs_helpers.py", '"""Plots in the style of scipy and evidently."""\ndef f(:\n    pass\n')
    write(tmp_path, "monitoring/drift.py", "from evidently.presets import DataDriftPreset\ndef check(:\n    pass\n")
    scan = probe_scan(MonitoringProbe, tmp_path)
    assert scan.note_for("app/util.py") == [] and scan.note_for("docs_helpers.py") == []
    [note] = scan.note_for("monitoring/drift.py")
    assert (note.message, note.line) == ("Python syntax error: invalid syntax", 2)
    assert scan.status("MON-01") == "unverified" and scan.evidence("MON-01") == []


def test_a_hand_rolled_psi_function_is_read_in_a_plain_module_and_a_notebook(tmp_path: Path,
                                                                           probe_scan: ScanFn) -> None:
    # 'calc_psi' is one of the names the hand-rolled PSI rule looks for; its needle 'psi' is not at a word start,
    # which once kept every plain module that only calls it from being read
    code = "def calc_psi(a, b):\n    return 0\n\nscore = calc_psi(x, y)\n"
    mod = module_of_text("m.py", code)
    assert isinstance(mod, PyModule)
    facts = scan_module(mod)
    assert facts is not None
    assert [(d.control, d.name, d.line, d.notebook) for d in facts.detectors] == [("MON-01", "calc_psi", 4, False)]
    nb = PyModule("n.ipynb", code, mod.tree, notebook=True)
    facts = scan_module(nb)
    assert facts is not None and facts.notebook
    assert [(d.control, d.name, d.line, d.notebook) for d in facts.detectors] == [("MON-01", "calc_psi", None, True)]
    write(tmp_path, "monitoring/drift_job.py", "def calculate_psi(ref, cur):\n    return 0.0\n\n"
                                               "if calculate_psi(load_ref(), load_live()) > 0.2:\n    alert()\n")
    scan = probe_scan(MonitoringProbe, tmp_path)
    assert ("monitoring/drift_job.py", 4) in {(e.path, e.line) for e in scan.evidence("MON-01")}


def test_facts_are_small_and_in_source_order() -> None:
    code = ("import requests\nfrom airflow import DAG\nfrom sagemaker.model_monitor import DefaultModelMonitor\n"
            "def later():\n    DefaultModelMonitor(role='r')\n"
            "DefaultModelMonitor(role='x')\n"
            "requests.post('https://hooks.slack.com/services/T/B/X', json={})\n"
            "with DAG('drift', schedule='@daily'):\n    pass\n")
    mod = module_of_text("dags/drift.py", code)
    assert isinstance(mod, PyModule)
    facts = scan_module(mod)
    assert facts is not None
    assert [(d.name, d.line) for d in facts.detectors] == [("DefaultModelMonitor", 5)]
    assert [(s.kind, s.line, s.detail) for s in facts.schedules] == [("Airflow DAG", 8, "'@daily'")]
    assert [(n.kind, n.line) for n in facts.notifies] == [("Slack webhook", 7)]
    assert "airflow" in facts.imports and "drift" in facts.strings  # kept: a schedule needs them for linking
    plain = module_of_text("m.py", "from evidently.presets import DataDriftPreset\nDataDriftPreset()\n")
    assert isinstance(plain, PyModule)
    only = scan_module(plain)
    assert only is not None and only.imports == frozenset() and only.strings == ()
    nothing = module_of_text("n.py", "import mlflow\nmlflow.log_metric('acc', 1.0)\n")
    assert isinstance(nothing, PyModule) and scan_module(nothing) is None


SNIPPETS = (
    "from evidently.presets import DataDriftPreset\nfrom evidently import Report\nReport([DataDriftPreset()])\n",
    "import fairlearn.metrics as fm\nfm.MetricFrame(metrics={}, y_true=y, y_pred=p, sensitive_features=s)\n",
    "from prometheus_client import Histogram\nH = Histogram('prediction_confidence', 'c')\n",
    "from textattack.attack_recipes import TextFoolerJin2019\nTextFoolerJin2019.build(model)\n",
    "import boto3\nboto3.client('sns').publish(TopicArn='arn:aws:sns:x', Message='drift')\n",
    "from airflow import DAG\nwith DAG('mon', schedule_interval='@hourly'):\n    pass\n",
    "def psi(a, b):\n    return 0\npsi(1, 2)\n",
    "import os\nprint(os.getcwd())\n",  # no needle
    "def broken(:\n    import nannyml\n    CBPE()\n",  # a trigger word and a syntax error
)


def test_facts_identical_with_one_and_two_workers(tmp_path: Path) -> None:
    for i in range(216):
        write(tmp_path, f"pkg{i % 7}/mod{i:03d}.py", SNIPPETS[i % len(SNIPPETS)])
    write(tmp_path, "nb/drift.ipynb", notebook("bad(", "from nannyml import CBPE\nCBPE()\n"))
    serial = run_python_pass(RepoView(tmp_path), [VISITOR], jobs=1)
    parallel_view = RepoView(tmp_path)
    parallel = run_python_pass(parallel_view, [VISITOR], jobs=2)
    assert serial.files == parallel.files == 217
    facts = serial.of(VISITOR)
    assert facts == parallel.of(VISITOR)
    assert len(facts) == 7 * 24 + 1  # seven snippets with facts, plus the notebook
    assert [p for p, _ in facts] == sorted(p for p, _ in facts)
    assert any(f.attack_tool == ("TextAttack", 1) for _, f in facts)
    assert sorted((n.path, n.message) for n in parallel_view.notes) == sorted(
        [(f"pkg{i % 7}/mod{i:03d}.py", "Python syntax error: invalid syntax") for i in range(216)
         if i % len(SNIPPETS) == 8] + [("nb/drift.ipynb", "notebook cell 1 is not valid Python; skipped")])


def test_the_trigger_automaton_answers_as_the_trigger_expression() -> None:
    from mlposture.probes.monitoring.pysource import TRIGGER, triggered

    root = Path(__file__).resolve().parents[3]
    texts = [p.read_text(encoding="utf-8", errors="replace") for p in sorted((root / "fixtures").rglob("*.py"))]
    texts += [p.read_text(encoding="utf-8") for p in sorted((root / "probes" / "monitoring").glob("*.py"))]
    texts += [  # word starts, words inside words, case, and the letters re.IGNORECASE folds that lower() does not
        "epsilon = 1e-8", "def calc_psi(a, b): pass", "x = np.psi", "xpsi", "_psi", "9psi", "café psi", "épsi",
        "self.calculate_psi()", "get_Kl_divergence(p, q)", "KL_DIVERGENCE", "requests.post('https://hooks.slack.com/x')",
        "xhooks.slack.com", "mlflowx", "xmlflow", "from evidently import Report", "DataDriftPreset()", "",
        "\u0130psi", "p\u017fi", "\u017fcipy", "\u212aSDrift()", "KSDrift()", "\u0131mport mlflow", "ml\u0131flow",
    ]
    assert [triggered(t) for t in texts] == [TRIGGER.search(t) is not None for t in texts]
    assert triggered("score = calc_psi(x, y)") and not triggered("epsilon = 1e-8")
