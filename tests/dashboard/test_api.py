"""The dashboard's JSON API and HTTP behaviour, against a real server over a database filled by a real fleet scan."""

from __future__ import annotations

import urllib.parse
from html.parser import HTMLParser
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from mlposture.dashboard.data import FleetData
from mlposture.dashboard.reportview import result_from_report
from mlposture.fleet.store import open_store
from mlposture.fleet.store.store import parse_time
from mlposture.scanner.catalog import load_catalog
from mlposture.scanner.report.json_report import to_dict
from tests.dashboard.conftest import HOSTILE_PATH, HOSTILE_REPO, TOKEN, FleetDb, Server, mlposture, start_server


def q(name: str) -> str:
    return urllib.parse.quote(name, safe="")


def latest_report(server: Server, repo: str) -> dict[str, object]:
    scans = server.json(f"/api/repos/{q(repo)}/scans")
    assert isinstance(scans, list)
    latest = [s for s in scans if s["error"] is None][-1]
    report = server.json(f"/api/repos/{q(repo)}/scans/{latest['id']}/report")
    assert isinstance(report, dict)
    return report


def test_api_repos_is_fleet_status(server: Server, fleet_db: FleetDb) -> None:
    assert server.json("/api/repos") == list(fleet_db.status)
    names = {r["repo"] for r in fleet_db.status}
    assert HOSTILE_REPO in names and len(names) == 4


def test_api_scans_history(server: Server, fleet_db: FleetDb) -> None:
    for folder, count in ((fleet_db.good, 2), (fleet_db.bad, 2), (fleet_db.mixed, 1), (fleet_db.hostile, 1)):
        row = fleet_db.row(folder)
        scans = server.json(f"/api/repos/{q(str(row['repo']))}/scans")
        assert isinstance(scans, list) and len(scans) == count == row["scans"]
        assert [s["id"] for s in scans] == sorted(s["id"] for s in scans)
        assert scans[-1]["score"] == row["score"] and scans[-1]["commit"] == row["commit"]
    good = server.json(f"/api/repos/{q(str(fleet_db.row(fleet_db.good)['repo']))}/scans")
    assert isinstance(good, list) and good[1]["score"] < good[0]["score"]  # a dangerous pickle was added


def test_api_controls_model_03(server: Server, fleet_db: FleetDb) -> None:
    rows = server.json("/api/controls/MODEL-03")
    assert isinstance(rows, list) and {r["repo"] for r in rows} == {r["repo"] for r in fleet_db.status}
    failing = {r["repo"] for r in rows if r["status"] == "fail"}
    expected = set()
    for row in fleet_db.status:
        report = latest_report(server, str(row["repo"]))
        status = next(c["status"] for c in report["controls"] if c["id"] == "MODEL-03")  # type: ignore[attr-defined]
        if status == "fail":
            expected.add(row["repo"])
    assert failing == expected
    good, bad = fleet_db.row(fleet_db.good)["repo"], fleet_db.row(fleet_db.bad)["repo"]
    assert good in failing and HOSTILE_REPO in failing and bad not in failing
    hostile = next(r for r in rows if r["repo"] == HOSTILE_REPO)
    assert any(e["path"] == HOSTILE_PATH for e in hostile["evidence"])


def test_not_found(server: Server) -> None:
    assert server.get("/api/repos/no-such-repo/scans")[0] == 404
    assert server.get("/api/controls/NOPE-99")[0] == 404
    status, _, body = server.get("/repos/no-such-repo", {"Accept": "text/html"})
    assert status == 404 and b"no repository of that name" in body


class Refs(HTMLParser):
    """Every URL-bearing attribute and every tag of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.append((tag, a))
        self.urls += [v or "" for k, v in attrs if k in ("src", "href", "action", "srcset", "poster", "data")]


def test_pages_load_nothing_from_elsewhere(server: Server, fleet_db: FleetDb) -> None:
    hostile = q(HOSTILE_REPO)
    for path in ("/", "/controls", "/controls/MODEL-03", f"/repos/{hostile}", "/?gate=failed&sort=repo&dir=desc"):
        status, headers, body = server.get(path)
        assert status == 200, path
        csp = headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src 'self'" in csp and "style-src 'self'" in csp
        assert "http:" not in csp and "https:" not in csp and "*" not in csp
        refs = Refs()
        refs.feed(body.decode())
        assert all(u.startswith(("/", "?", "#")) and not u.startswith("//") for u in refs.urls), refs.urls
        assert not any(k.startswith("on") for _, a in refs.tags for k in a), path
        assert [a.get("src") for t, a in refs.tags if t == "script"] == ["/static/dashboard.js"]
    status, headers, body = server.get(f"/repos/{hostile}/report")
    assert status == 200 and "frame-ancestors 'self'" in headers["content-security-policy"]
    assert b"&lt;script&gt;window.__xss=2&lt;/script&gt;.pkl" in body


def test_repository_text_is_escaped(server: Server) -> None:
    _, _, overview = server.get("/")
    assert HOSTILE_REPO.encode() not in overview
    assert b"&lt;img src=x onerror=window.__xss=1&gt;" in overview
    _, _, page = server.get(f"/repos/{q(HOSTILE_REPO)}")
    assert b"<script>window.__xss" not in page and b"&lt;script&gt;window.__xss=2&lt;/script&gt;.pkl" in page


def test_stored_reports_render_as_the_scanner_wrote_them(server: Server, fleet_db: FleetDb) -> None:
    catalog = load_catalog()
    for row in fleet_db.status:
        report = latest_report(server, str(row["repo"]))
        rebuilt = to_dict(result_from_report(report, catalog))
        differing = sorted(k for k in report.keys() | rebuilt.keys() if report.get(k) != rebuilt.get(k))
        # a field added to the JSON report must also be read back in dashboard/reportview.py
        assert differing == [], differing


def test_token_required_everywhere(token_server: Server) -> None:
    for path in ("/", "/api/repos", "/controls/MODEL-03", "/api/controls/MODEL-03", "/repos/x"):
        assert token_server.get(path)[0] == 401, path
        assert token_server.get(path, {"Authorization": "Bearer wrong-token-0123456789"})[0] == 401, path
    status, headers, _ = token_server.get("/api/repos")
    assert headers["www-authenticate"].startswith("Bearer")
    status, _, body = token_server.get("/", {"Accept": "text/html"})
    assert status == 401 and b'name="token"' in body  # the login form, with no data
    assert token_server.get("/api/repos", {"Authorization": f"Bearer {TOKEN}"})[0] == 200
    assert token_server.get("/", {"Authorization": f"Bearer {TOKEN}"})[0] == 200
    assert token_server.get("/static/dashboard.css")[0] == 200  # no data in it


def test_login_cookie(token_server: Server) -> None:
    import http.client

    host, port = token_server.base.removeprefix("http://").split(":")
    for token, expected in (("not-the-token-000000", 401), (TOKEN, 303)):
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        body = urllib.parse.urlencode({"token": token, "next": "/controls"})
        conn.request("POST", "/login", body, {"Content-Type": "application/x-www-form-urlencoded"})
        response = conn.getresponse()
        response.read()
        assert response.status == expected
        cookie = response.getheader("set-cookie") or ""
        conn.close()
    assert response.getheader("location") == "/controls"
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    assert TOKEN not in cookie
    session = cookie.split(";")[0]
    assert token_server.get("/api/repos", {"Cookie": session})[0] == 200
    assert token_server.get("/api/repos", {"Cookie": session[:-2] + "00"})[0] == 401


def copy_to(url: str, fleet_db: FleetDb) -> None:
    """Store every scan of the SQLite fleet database again in another database, as ``fleet import`` would."""
    source = open_store(fleet_db.url, readonly=True)
    target = open_store(url)
    try:
        for row in source.latest_per_repo():
            for scan in source.scans_of(row.repo):
                report = source.report_of(scan.id)
                assert report is not None
                target.record_scan(report, source=row.source, ref=scan.ref, finished_at=parse_time(scan.finished_at),
                                   started_at=parse_time(scan.started_at))
    finally:
        source.close()
        target.close()


def assert_read_only(url: str) -> None:
    data = FleetData.open(url)
    try:
        for statement in ("DELETE FROM scans", "CREATE TABLE intruder (x INTEGER)"):
            with data.store.engine.connect() as connection, pytest.raises(DBAPIError):
                connection.execute(text(statement))
        assert len(data.repos()) == 4
    finally:
        data.close()


def test_sqlite_opened_read_only(fleet_db: FleetDb) -> None:
    assert_read_only(fleet_db.url)


def test_postgresql_serves_the_same(fleet_db: FleetDb, server: Server, pg_server: Any) -> None:
    url = pg_server.new_database()
    copy_to(url, fleet_db)
    assert_read_only(url)
    for pg in start_server(url):
        assert pg.json("/api/repos") == server.json("/api/repos")
        def without_ids(rows: Any) -> list[dict[str, Any]]:
            return [{k: v for k, v in r.items() if k != "scan_id"} for r in rows]  # ids differ between databases

        assert without_ids(pg.json("/api/controls/MODEL-03")) == without_ids(server.json("/api/controls/MODEL-03"))
        good = q(str(fleet_db.row(fleet_db.good)["repo"]))
        status, _, body = pg.get(f"/repos/{good}")
        assert status == 200 and b'class="point"' in body and b"regression" in body


def test_serve_warns_off_loopback_and_refuses_a_missing_database(tmp_path) -> None:  # type: ignore[no-untyped-def]
    result = mlposture("serve", "--host", "0.0.0.0", "--db", f"sqlite:///{tmp_path / 'none.db'}", timeout=60)
    assert result.returncode == 2
    assert "warning: listening on 0.0.0.0, not on loopback" in result.stderr
    assert "no fleet database there yet" in result.stderr
    assert not (tmp_path / "none.db").exists()


def test_heatmap_cells_are_the_scans_own_category_scores(server: Server, fleet_db: FleetDb) -> None:
    data = FleetData.open(fleet_db.url)
    try:
        snapshot = data.snapshot()
    finally:
        data.close()
    assert len(snapshot.rows) == 4
    for row in snapshot.rows:
        report = latest_report(server, row.repo)
        expected = [(c["id"], c["name"], c["score"], c["risk"]) for c in report["categories"]]  # type: ignore[attr-defined]
        assert [(c.id, c.name, c.score, c.risk) for c in row.categories] == expected
        assert row.previous_score == (None if row.scans == 1 else server.json(
            f"/api/repos/{q(row.repo)}/scans")[0]["score"])  # type: ignore[index]
    failing = snapshot.control_counts["MODEL-03"]["fail"]
    assert failing == sum(1 for r in server.json("/api/controls/MODEL-03") if r["status"] == "fail")  # type: ignore[index, union-attr]
