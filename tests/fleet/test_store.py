"""The fleet store on SQLite and on a real PostgreSQL server: what is kept from a report, de-duplication, names,
failures, imports, and the schema migrations (from an empty database and from the first schema)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from mlposture.scanner.cli import cli
from tests.fleet.repos import commit_all


@pytest.fixture(scope="session")
def scanned(fleet_repos: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Real JSON reports of three generated repositories (one ``mlposture scan`` each)."""
    out = tmp_path_factory.mktemp("reports")
    reports = {}
    for key, repo in (("good", fleet_repos.good[1]), ("bad", fleet_repos.bad[1]), ("mixed", fleet_repos.mixed[1])):
        path = out / f"{key}.json"
        result = CliRunner().invoke(cli, ["scan", str(repo), "-f", "json", "-o", str(path), "-q", "--no-vulns"])
        assert result.exit_code in (0, 1), result.output
        reports[key] = json.loads(path.read_text())
    return reports


def test_a_scan_is_kept_whole_and_read_back(db_url: str, scanned: dict[str, Any]) -> None:
    from mlposture.fleet.store import open_store

    report = scanned["bad"]
    with open_store(db_url) as store:
        recorded = store.record_scan(report, source="/srv/repos/bad-01")
        assert (recorded.repo, recorded.outcome) == ("bad-01", "stored")
        [row] = store.latest_per_repo()
        assert row.as_dict() == {
            "repo": "bad-01", "source": "/srv/repos/bad-01", "commit": report["target"]["git"]["commit"],
            "score": report["score"], "risk": report["risk"], "coverage": report["coverage"],
            "gate_passed": report["gate"]["passed"], "dangerous_artifacts": 1, "scans": 1,
            "scanned_at": report["generated_at"], "error": None,
        }
        assert store.report_of(recorded.scan_id or 0) == report
        statuses = {c.repo: c.status for c in store.control_statuses("MODEL-03")}
        assert statuses == {"bad-01": "fail"}
        [artifact] = store.dangerous_artifacts()
        assert (artifact.repo, artifact.path) == ("bad-01", "models/classifier-1.pkl")
        [scan] = store.scans_of("bad-01")
        assert scan.tool_version == report["tool"]["version"] and len(scan.catalog_digest or "") == 64
        assert scan.lockml_score == report["lockml"]["score"]
        from sqlalchemy import select

        from mlposture.fleet.store.models import ControlRow, FindingRow

        with store.session() as session:
            controls = {r.control_id: r.status for r in session.scalars(select(ControlRow))}
            prints = sorted(r.fingerprint for r in session.scalars(select(FindingRow)))
        assert controls == {c["id"]: c["status"] for c in report["controls"]}
        assert prints == sorted(f["fingerprint"] for f in report["findings"]) and prints


def test_the_same_commit_is_stored_once_unless_forced(db_url: str, scanned: dict[str, Any]) -> None:
    from mlposture.fleet.store import open_store

    with open_store(db_url) as store:
        assert store.record_scan(scanned["good"], source="/srv/good-01").outcome == "stored"
        assert store.record_scan(scanned["good"], source="/srv/good-01").outcome == "unchanged"
        assert store.record_scan(scanned["good"], source="/srv/good-01", force=True).outcome == "stored"
        newer_tool = {**scanned["good"], "tool": {"name": "mlposture", "version": "9.9.9"}}
        assert store.record_scan(newer_tool, source="/srv/good-01").outcome == "stored"
        assert [r.scans for r in store.latest_per_repo()] == [3]


def test_names_are_the_last_path_component_made_unique_and_urls_lose_credentials(
        db_url: str, scanned: dict[str, Any]) -> None:
    from mlposture.fleet.store import open_store

    with open_store(db_url) as store:
        a = store.record_scan(scanned["good"], source="https://git.example.com/team-a/model.git")
        b = store.record_scan(scanned["good"], source="https://user:s3cret@git.example.com/team-b/model")
        c = store.record_scan(scanned["good"], source="/srv/model/")
        assert (a.repo, b.repo, c.repo) == ("model", "model-2", "model-3")
        sources = {r.repo: r.source for r in store.latest_per_repo()}
        assert sources["model-2"] == "https://***@git.example.com/team-b/model"
        assert "s3cret" not in json.dumps([s.as_dict() for s in store.scans_of("model-2")])


def test_a_failed_attempt_shows_beside_the_last_good_scan(db_url: str, scanned: dict[str, Any]) -> None:
    from mlposture.fleet.store import open_store

    with open_store(db_url) as store:
        store.record_scan(scanned["mixed"], source="/srv/mixed-01")
        store.record_failure(source="/srv/mixed-01", error="timed out after 5 s")
        store.record_failure(source="/srv/never-cloned", error="clone failed")
        rows = {r.repo: r for r in store.latest_per_repo()}
        assert rows["mixed-01"].score == scanned["mixed"]["score"]
        assert (rows["mixed-01"].error, rows["mixed-01"].scans) == ("timed out after 5 s", 2)
        assert (rows["never-cloned"].score, rows["never-cloned"].error) == (None, "clone failed")


def test_report_summary_drops_weeks_and_controls(db_url: str, scanned: dict[str, Any]) -> None:
    from mlposture.fleet.store import open_store
    from mlposture.fleet.summary import build_summary

    good, bad = scanned["good"], scanned["bad"]
    assert bad["score"] < good["score"]
    later = {**bad, "generated_at": "2030-01-08T10:00:00Z"}
    with open_store(db_url) as store:
        store.record_scan({**good, "generated_at": "2030-01-01T10:00:00Z"}, source="/srv/drifting")
        store.record_scan(later, source="/srv/drifting")
        store.record_scan({**good, "generated_at": "2030-01-02T10:00:00Z"}, source="/srv/steady")
        summary = build_summary(store)
    assert [(d.repo, d.previous_score, d.score) for d in summary.drops] == [("drifting", good["score"], bad["score"])]
    assert [(w.week, w.scans) for w in summary.weeks] == [("2030-W01", 2), ("2030-W02", 1)]
    assert summary.weeks[0].mean_score == round(good["score"], 1)
    model03 = next(c for c in summary.controls if c.control == "MODEL-03")
    assert (model03.fail, model03.title) == (1, "SafeTensors (no pickle) for model serialization")
    assert [(a.repo, a.paths) for a in summary.artifacts] == [("drifting", ("models/classifier-1.pkl",))]
    assert "drifting" in {g.risk: g.repos for g in summary.by_risk}[bad["risk"]]
    assert sorted(r for g in summary.by_risk for r in g.repos) == ["drifting", "steady"]


def test_fleet_import_adds_ci_reports_and_refuses_what_is_not_one(db_url: str, scanned: dict[str, Any],
                                                                   tmp_path: Path) -> None:
    report = tmp_path / "ci-report.json"
    report.write_text(json.dumps({**scanned["good"], "target": {**scanned["good"]["target"], "path": "."}}))
    not_a_report = tmp_path / "other.json"
    not_a_report.write_text('{"schema_version": 2}')
    runner = CliRunner()
    result = runner.invoke(cli, ["fleet", "import", str(report), "--db", db_url])
    assert result.exit_code == 2
    assert "does not say which repository" in result.output and "--source" in result.output
    result = runner.invoke(cli, ["fleet", "import", str(report), str(report), "--db", db_url,
                                 "--source", "https://git.example.com/org/served"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [f"{report}: served: stored", f"{report}: served: unchanged"]
    result = runner.invoke(cli, ["fleet", "import", str(not_a_report), "--db", db_url])
    assert result.exit_code == 2 and "not a mlposture JSON report" in result.output
    result = runner.invoke(cli, ["fleet", "status", "--db", db_url, "--format", "json"])
    [row] = json.loads(result.output)
    assert (row["repo"], row["score"], row["scans"]) == ("served", scanned["good"]["score"], 1)


def test_migrations_from_an_empty_database_and_from_the_first_schema(db_url: str, scanned: dict[str, Any]) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import insert, text

    from mlposture.fleet.store import open_store
    from mlposture.fleet.store.engine import create_store_engine
    from mlposture.fleet.store.migrate import current_revision, head_revision, upgrade
    from mlposture.fleet.store.models import Base

    engine = create_store_engine(db_url)
    upgrade(engine, "0001")  # a database written by the first release
    report = scanned["bad"]
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO repositories (id, name, source, created_at) "
                          "VALUES (1, 'old', '/srv/old', '2030-01-01 00:00:00')"))
        conn.execute(text("INSERT INTO scans (id, repository_id, origin, source, finished_at, score, risk, \"commit\") "
                          "VALUES (1, 1, 'fleet', '/srv/old', '2030-01-01 00:00:00', 12.5, 'Critical Risk', 'abc')"))
        conn.execute(text("UPDATE scans SET report = :r"), {"r": json.dumps(report)})
        findings = Base.metadata.tables["findings"]
        conn.execute(insert(findings), [
            {"scan_id": 1, "rule": "serialization.dangerous-global", "severity": "critical", "path": "a.pkl",
             "line": None, "fingerprint": "f1"},
            {"scan_id": 1, "rule": "serialization.dangerous-global", "severity": "critical", "path": "a.pkl",
             "line": 3, "fingerprint": "f2"},
            {"scan_id": 1, "rule": "serialization.archive-anomaly", "severity": "high", "path": "b.pkl",
             "line": None, "fingerprint": "f3"},
        ])
    with engine.connect() as conn:
        assert current_revision(conn) == "0001"
    engine.dispose()

    with open_store(db_url) as store:  # first use by this version: migrated to the newest schema
        with store.engine.connect() as conn:
            assert current_revision(conn) == head_revision()
            assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
        [row] = store.latest_per_repo()
        assert (row.repo, row.score, row.dangerous_artifacts) == ("old", 12.5, 1)
        store.set_attestation(1, '{"payloadType": "application/vnd.in-toto+json"}')
        assert store.attestation_of(1) == '{"payloadType": "application/vnd.in-toto+json"}'
        assert store.scans_of("old")[0].attested is True
    with open_store(db_url) as store:  # opening again changes nothing
        assert [r.repo for r in store.latest_per_repo()] == ["old"]


def test_an_empty_database_gets_the_newest_schema(db_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from mlposture.fleet.store import open_store
    from mlposture.fleet.store.models import Base

    with open_store(db_url) as store, store.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
        assert store.latest_per_repo() == []


def test_a_readonly_store_refuses_an_old_schema_and_never_creates_a_file(tmp_path: Path) -> None:
    from mlposture.fleet.store import StoreError, open_store
    from mlposture.fleet.store.engine import create_store_engine
    from mlposture.fleet.store.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'fleet.db'}"
    with pytest.raises(StoreError, match="no fleet database there yet"):
        open_store(url, readonly=True)
    assert not (tmp_path / "fleet.db").exists()
    engine = create_store_engine(url)
    upgrade(engine, "0001")
    engine.dispose()
    with pytest.raises(StoreError, match="schema revision 0001"):
        open_store(url, readonly=True)
    open_store(url).close()
    with open_store(url, readonly=True) as store:
        assert store.latest_per_repo() == []


def test_a_new_commit_of_the_same_repository_is_a_new_scan(fleet_repos: Any, tmp_path: Path) -> None:
    import shutil

    from mlposture.fleet.store import open_store

    repo = tmp_path / "evolving"
    shutil.copytree(fleet_repos.good[2], repo)
    url = f"sqlite:///{tmp_path / 'fleet.db'}"
    outs = []
    for step in range(2):
        if step:
            (repo / "weights.pkl").write_bytes(b"cos\nsystem\n(S'id'\ntR.")
            commit_all(repo, "add a pickle")
        out = tmp_path / f"r{step}.json"
        CliRunner().invoke(cli, ["scan", str(repo), "-f", "json", "-o", str(out), "-q", "--no-vulns"])
        outs.append(out)
    runner = CliRunner()
    result = runner.invoke(cli, ["fleet", "import", *map(str, outs), "--db", url])
    assert result.exit_code == 0, result.output
    with open_store(url) as store:
        [row] = store.latest_per_repo()
        assert (row.repo, row.scans, row.dangerous_artifacts) == ("evolving", 2, 1)


def test_import_keeps_the_signed_record_written_beside_the_report(fleet_repos: Any, tmp_path: Path) -> None:
    from mlposture.fleet.store import open_store

    runner = CliRunner()
    keys = tmp_path / "keys"
    assert runner.invoke(cli, ["attest", "--generate-key", str(keys)]).exit_code == 0
    key = next(p for p in keys.iterdir() if "pub" not in p.name)
    out = tmp_path / "out"
    result = runner.invoke(cli, ["scan", str(fleet_repos.good[3]), "-f", "json", "--output-dir", str(out), "-q",
                                 "--no-vulns", "--attest", str(key)])
    assert result.exit_code in (0, 1), result.output
    report, record = out / "mlposture-report.json", out / "mlposture-report.intoto.jsonl"
    assert record.is_file()
    url = f"sqlite:///{tmp_path / 'fleet.db'}"
    assert runner.invoke(cli, ["fleet", "import", str(report), "--db", url]).exit_code == 0
    with open_store(url) as store:
        [scan] = store.scans_of("good-03")
        assert scan.attested and store.attestation_of(scan.id) == record.read_text().strip()
    other = json.loads(report.read_text())
    other["score"] = 100.0
    report.write_text(json.dumps(other))  # the record beside no longer embeds this report
    result = runner.invoke(cli, ["fleet", "import", str(report), "--db", url, "--force"])
    assert result.exit_code == 2 and "about another report" in result.output
