"""The data lifecycle probe on its fixture repositories: statuses, evidence paths and lines, findings, notes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from mlposture.scanner.probe import Effect, Severity

ScanFn = Callable[..., Any]


def test_dvc_pipeline_statuses(scan: ScanFn) -> None:
    s = scan("dvc_pipeline")
    expected = {
        "DATA-01": "unverified", "DATA-04": "pass", "DATA-05": "pass", "DATA-06": "pass", "DATA-07": "pass",
        "DATA-08": "pass", "DATA-09": "partial", "DATA-10": "not_applicable", "DATA-11": "not_applicable",
        "DATA-12": "partial", "DATA-13": "pass", "DATA-14": "pass",
    }
    assert {c: s.status(c) for c in expected} == expected


def test_verification_steps_point_at_ci_lines(scan: ScanFn) -> None:
    s = scan("dvc_pipeline")
    steps = s.evidence("DATA-04", "data_lifecycle.verify-step")
    assert [(e.path, e.line, e.effect) for e in steps] == [
        (".github/workflows/train.yml", 13, Effect.PASS),
        (".github/workflows/train.yml", 14, Effect.PASS),
        (".github/workflows/train.yml", 16, Effect.PASS),
    ]
    assert "dvc pull" in steps[0].message


def test_dvc_facts_and_weak_hash(scan: ScanFn) -> None:
    s = scan("dvc_pipeline")
    stages = s.evidence("DATA-04", "data_lifecycle.dvc-stage")
    assert [(e.path, e.line) for e in stages] == [("dvc.yaml", 2), ("dvc.yaml", 9)]
    assert "2 params, 1 metrics" in stages[1].message
    imp = s.evidence("DATA-08", "data_lifecycle.dvc-import")
    assert [(e.path, e.line, e.effect) for e in imp] == [("data/reference.dvc", 4, Effect.PASS)]
    assert "frozen" in imp[0].message
    weak = s.findings("data_lifecycle.weak-hash")
    assert len(weak) == 1 and weak[0].severity is Severity.INFO and weak[0].effect is Effect.PARTIAL
    assert weak[0].controls == ("DATA-04",)
    assert s.evidence("DATA-01") == []  # remote encryption is the infrastructure probe's


def test_wiring_follows_imports_and_notebooks_are_weaker(scan: ScanFn) -> None:
    s = scan("dvc_pipeline")
    anomaly = {e.path: e for e in s.evidence("DATA-05")}
    wired = anomaly["src/outliers.py"]
    assert wired.effect is Effect.PASS and wired.line == 1
    assert "src/validate.py imports it" in wired.message and "dvc.yaml:3" in wired.message
    nb = anomaly["notebooks/explore.ipynb"]
    assert nb.effect is Effect.PARTIAL and nb.line is None
    assert "cell 2, line 3" in nb.message and "notebook" in nb.message
    schema = s.evidence("DATA-06")
    assert [(e.path, e.line, e.effect) for e in schema] == [("src/validate.py", 5, Effect.PASS)]
    trained = s.evidence("DATA-14")
    assert trained[0].path == "src/train.py" and "dvc.yaml:10" in trained[0].message  # python -m src.train


def test_wiring_reaches_a_check_through_modules_that_hold_no_fact(tmp_path: Path, scan: ScanFn) -> None:
    files = {
        "dvc.yaml": "stages:\n  prepare:\n    cmd: python pipeline/run.py\n",
        "pipeline/run.py": "from pipeline.glue import main\nfrom pipeline.legacy import old\n\nmain()\n",
        "pipeline/glue.py": "from pipeline.checks import validate_batch\n\n\ndef main():\n    validate_batch([])\n",
        "pipeline/checks.py": "import pandera as pa\n\nschema = pa.DataFrameSchema({})\n\n\n"
                              "def validate_batch(df):\n    return schema.validate(df)\n",
        "pipeline/legacy.py": "def old(:\n    pass\n",
    }
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text, encoding="utf-8")
    s = scan(tmp_path)
    (check,) = [e for e in s.evidence("DATA-06") if e.path == "pipeline/checks.py"]
    assert check.effect is Effect.PASS, check.message
    assert "pipeline/glue.py imports it" in check.message and "dvc.yaml" in check.message
    # a module the pipeline reaches but that does not parse is said so, though no reader wanted it for itself
    assert any(n.path == "pipeline/legacy.py" and n.message.startswith("Python syntax error") for n in s.notes)


def test_datasheet_sections_and_retention(scan: ScanFn) -> None:
    s = scan("dvc_pipeline")
    sheet = s.evidence("DATA-13")[0]
    assert sheet.path == "DATASHEET.md" and "8/8" in sheet.message and "bias (line 21)" in sheet.message
    ret = s.evidence("DATA-09")[0]
    assert (ret.path, ret.line, ret.effect) == ("docs/DATA_RETENTION.md", 3, Effect.PARTIAL)
    assert "400 days" in ret.message
    assert s.findings("data_lifecycle.pii-in-data") == []


def test_dataset_revision_pinned(scan: ScanFn) -> None:
    s = scan("dvc_pipeline")
    pins = s.evidence("DATA-08", "data_lifecycle.dataset-revision")
    assert [(e.path, e.line, e.effect) for e in pins] == [("src/train.py", 9, Effect.PASS)]


def test_antipatterns_mutable_downloads(scan: ScanFn) -> None:
    s = scan("antipatterns")
    got = [(f.path, f.line) for f in s.findings("data_lifecycle.mutable-download")]
    assert got == [("src/fetch.py", 10), ("src/fetch.py", 11), ("scripts/get_data.sh", 3)]  # not the API call
    unpinned = s.findings("data_lifecycle.unpinned-dataset")
    assert [(f.path, f.line) for f in unpinned] == [("src/fetch.py", 18), ("src/fetch.py", 19)]
    assert "revision='main'" in unpinned[1].message
    assert s.status("DATA-04") == "fail" and s.status("DATA-08") == "fail"


def test_antipatterns_lfs_without_verification_is_partial_and_says_what_was_searched(
        scan: ScanFn) -> None:
    s = scan("antipatterns")
    lfs = s.evidence("DATA-04", "data_lifecycle.lfs-tracked")
    assert [(e.path, e.line, e.effect) for e in lfs] == [(".gitattributes", 1, Effect.PARTIAL)]
    assert any("hashes without verification are partial" in w for w in s.searched("DATA-04"))
    ptr = s.evidence("DATA-08", "data_lifecycle.lfs-pointer")
    assert [e.path for e in ptr] == ["data/events.parquet"]


def test_pii_findings_are_masked_and_validated(scan: ScanFn) -> None:
    s = scan("antipatterns")
    pii = s.findings("data_lifecycle.pii-in-data")
    kinds = {f.message.split(" in the sampled")[0]: f for f in pii}
    assert set(kinds) == {"1 e-mail address", "1 payment card number (Luhn-valid)", "1 IBAN", "1 SSN-like number",
                          "2 phone numbers"}  # bob@example.com, the bad card, the bad IBAN and SSN 000- are skipped
    for f in pii:
        assert f.path == "data/customers.csv" and f.line == 2 and f.severity is Severity.HIGH
        assert f.controls == ("DATA-07",)
        for raw in ("alice.smith", "4111 1111 1111 1111", "DE89370400440532013000", "123-45-6789", "415 555"):
            assert raw not in f.message and raw not in f.content
    assert "a***@g***.com" in kinds["1 e-mail address"].message
    assert s.status("DATA-07") == "fail"
    assert any(n.message.startswith("binary data format (.parquet)") for n in s.notes)


def test_federated_fedavg_fails_and_synthetic_is_applicable(scan: ScanFn) -> None:
    s = scan("antipatterns")
    fed = s.findings("data_lifecycle.plain-fedavg")
    assert [(f.path, f.line) for f in fed] == [("fl/server.py", 3)]
    assert s.status("DATA-11") == "fail"
    assert s.status("DATA-10") == "unverified"
    assert any("SDV (src/synth.py:1)" in w for w in s.searched("DATA-10"))
    unwired = s.evidence("DATA-06")[0]
    assert unwired.effect is Effect.PARTIAL and "no DVC stage, CI job or orchestrator task" in unwired.message


def test_swallowed_validation_fails(scan: ScanFn) -> None:
    s = scan("antipatterns")
    (f,) = s.findings("data_lifecycle.validation-suppressed")  # the re-raising try at line 12 is fine
    assert (f.path, f.line, f.controls) == ("src/validate_unwired.py", 8, ("DATA-06",))
    assert s.status("DATA-06") == "fail"


def test_robust_strategy_passes(tmp_path: Path, scan: ScanFn) -> None:
    (tmp_path / "server.py").write_text(
        "from flwr.server.strategy import FedTrimmedAvg\n\nstrategy = FedTrimmedAvg(beta=0.2)\n")
    s = scan(tmp_path)
    ev = s.evidence("DATA-11")
    assert [(e.path, e.line, e.effect) for e in ev] == [("server.py", 3, Effect.PASS)]


def test_none_repository_is_unverified_with_searched_text(scan: ScanFn) -> None:
    s = scan("none")
    for control in ("DATA-04", "DATA-05", "DATA-06", "DATA-07", "DATA-08", "DATA-09", "DATA-12", "DATA-13",
                    "DATA-14"):
        assert s.status(control) == "unverified", control
        assert s.searched(control), control
    assert s.status("DATA-10") == "not_applicable"
    assert s.status("DATA-11") == "not_applicable"
    assert s.findings() == []


def test_malformed_files_become_notes(scan: ScanFn) -> None:
    s = scan("malformed")
    notes = {(n.path, n.line): n.message for n in s.notes}
    assert "DVC file not parsed: YAML error" in notes[("dvc.yaml", 5)]
    assert notes[("data/raw.dvc", 1)] == "DVC file not parsed: top level is not a mapping"
    assert "front matter not parsed" in notes[("DATASHEET.md", 2)]
    assert "not valid JSON" in notes[("notebooks/broken.ipynb", None)]
    assert notes[("data/blob.csv", None)] == "binary content in a data file, not sampled for PII"
    assert notes[("train.py", 2)].startswith("Python syntax error")
    assert any("fewer than 3" in w for w in s.searched("DATA-13"))
    assert s.findings() == []


def test_huge_csv_is_sampled_not_read(tmp_path: Path, scan: ScanFn) -> None:
    data = tmp_path / "data"
    data.mkdir()
    with open(data / "big.csv", "w") as fh:
        fh.write("id,email\n1,carol.jones@corp-mail.com\n")
        row = "2,nothing here at all\n" * 200_000
        fh.write(row)
        fh.write("3,late.user@corp-mail.com\n")
    s = scan(tmp_path)
    pii = s.findings("data_lifecycle.pii-in-data")
    assert len(pii) == 1 and pii[0].message.startswith("1 e-mail address") and pii[0].line == 2
    assert any("PII sample read the first 64 KiB" in n.message for n in s.note_for("data/big.csv"))


def test_file_count_is_bounded(tmp_path: Path, scan: ScanFn) -> None:
    for i in range(30):
        (tmp_path / f"part{i:02d}.csv").write_text("a,b\n1,2\n")
    s = scan(tmp_path)
    assert any("covered 25 of 30 data files" in n.message for n in s.notes)
    assert any("of 25 committed data file(s)" in w for w in s.searched("DATA-07"))


def test_orchestrator_task_is_wired(tmp_path: Path, scan: ScanFn) -> None:
    (tmp_path / "dags").mkdir()
    (tmp_path / "dags" / "ingest.py").write_text(
        "from airflow.decorators import task\nimport great_expectations as gx\n")
    s = scan(tmp_path)
    ev = s.evidence("DATA-06")
    assert [(e.path, e.line, e.effect) for e in ev] == [("dags/ingest.py", 2, Effect.PASS)]
    assert "Airflow task definition" in ev[0].message


def test_gx_checkpoint_in_gitlab_ci_passes(tmp_path: Path, scan: ScanFn) -> None:
    (tmp_path / ".gitlab-ci.yml").write_text(
        "stages: [test]\nvalidate:\n  stage: test\n  script:\n    - pip install great_expectations\n"
        "    - great_expectations checkpoint run training_data\n")
    s = scan(tmp_path)
    ev = s.evidence("DATA-06")
    assert [(e.path, e.line, e.effect) for e in ev] == [(".gitlab-ci.yml", 6, Effect.PASS)]


def test_hugging_face_dataset_card(tmp_path: Path, scan: ScanFn) -> None:
    (tmp_path / "README.md").write_text(
        "---\nlicense: cc-by-4.0\nannotations_creators:\n  - crowdsourced\nsource_datasets:\n  - original\n"
        "size_categories:\n  - 10K<n<100K\n---\n# Dataset Card\n\n## Uses\n\n## Preprocessing\n\n"
        "## Bias, Risks, and Limitations\n")
    s = scan(tmp_path)
    (card,) = s.evidence("DATA-13")
    assert card.effect is Effect.PASS and card.message.startswith("dataset card: 7/8")
    assert "source / provenance (line 5)" in card.message and "missing: assumptions" in card.message

