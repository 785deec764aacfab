"""The dashboard in a real headless Chromium (Debian's package, driven by Playwright) against a real server.

Playwright never downloads a browser here: it drives /usr/bin/chromium. Every request the pages make is
recorded and must go to the server itself; the Content-Security-Policy must never have to block anything.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.dashboard.conftest import HOSTILE_PATH, HOSTILE_REPO, TOKEN, FleetDb, Server

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="/usr/bin/chromium is absent (apt-get install chromium); .ci/run installs it in CI")
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is part of the test extra")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=[
            "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--disable-extensions", "--disable-default-apps",
            "--no-pings", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"])
        try:
            yield chromium
        finally:
            chromium.close()


class Watched:
    """A page that records every request, console message and dialog (an alert would mean script ran)."""

    def __init__(self, browser: Any, server: Server) -> None:
        self.server = server
        self.context = browser.new_context(viewport={"width": 1440, "height": 1000})
        self.page = self.context.new_page()
        self.requests: list[str] = []
        self.console: list[str] = []
        self.dialogs: list[str] = []
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("console", lambda m: self.console.append(f"{m.type}: {m.text}"))
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))

    def goto(self, path: str) -> Any:
        response = self.page.goto(self.server.base + path)
        self.page.wait_for_load_state("load")
        return response

    def rows(self) -> dict[str, str]:
        """Overview rows: repository name (as text) -> risk shown."""
        out = {}
        for row in self.page.locator("tr.repo-row").all():
            out[row.locator("a.repo-link").inner_text()] = row.locator(".risk-tag").inner_text()
        return out

    def check_clean(self) -> None:
        assert all(u.startswith(self.server.base + "/") for u in self.requests), self.requests
        assert not [m for m in self.console if "Content Security Policy" in m or "Refused" in m], self.console
        assert self.dialogs == []
        assert self.page.evaluate("typeof window.__xss") == "undefined"

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def page(browser: Any, server: Server) -> Iterator[Watched]:
    watched = Watched(browser, server)
    yield watched
    watched.check_clean()
    watched.close()


def test_overview_lists_every_repository_with_its_risk(page: Watched, fleet_db: FleetDb) -> None:
    page.goto("/")
    expected = {str(r["repo"]): str(r["risk"]) for r in fleet_db.status}
    assert page.rows() == expected
    assert len(set(expected.values())) >= 3  # the generated fleet spans several risks
    assert page.page.locator("#kpi-repos").inner_text() == str(len(expected))
    cells = page.page.locator("tr.repo-row").first.locator("td.cell")
    assert cells.count() == 5  # one heatmap cell per category


def test_gate_failed_filter_shows_exactly_those(page: Watched, fleet_db: FleetDb) -> None:
    page.goto("/")
    with page.page.expect_navigation():
        page.page.locator("#f-gate").check()  # the page's own script submits the filter form
    assert "gate=failed" in page.page.url
    failed = {str(r["repo"]) for r in fleet_db.status if r["gate_passed"] is False}
    passed = {str(r["repo"]) for r in fleet_db.status if r["gate_passed"] is True}
    assert failed and passed  # the fleet has both, so the filter has something to remove
    assert set(page.rows()) == failed
    page.goto("/?" + urllib.parse.urlparse(page.page.url).query)
    assert set(page.rows()) == failed  # the filter state lives in the URL
    assert page.page.locator("#f-gate").is_checked()


def test_free_text_and_risk_filters_and_sorting(page: Watched, fleet_db: FleetDb) -> None:
    page.goto("/?q=loader")
    assert set(page.rows()) == {str(fleet_db.row(fleet_db.bad)["repo"])}
    risk = str(fleet_db.row(fleet_db.mixed)["risk"])
    page.goto("/?risk=" + urllib.parse.quote(risk))
    assert set(page.rows()) == {str(r["repo"]) for r in fleet_db.status if r["risk"] == risk}
    page.goto("/")
    page.page.locator("th a", has_text="Score").click()  # already sorted by score ascending: flips it
    page.page.wait_for_load_state("load")
    scores = [float(r["score"]) for r in fleet_db.status]  # type: ignore[arg-type]
    shown = [float(t) for t in page.page.locator("tr.repo-row td.score b").all_inner_texts()]
    assert shown == sorted(scores, reverse=True) and "dir=desc" in page.page.url


def test_repository_page_shows_history_and_changes(page: Watched, fleet_db: FleetDb) -> None:
    good = str(fleet_db.row(fleet_db.good)["repo"])
    page.goto("/")
    with page.page.expect_navigation():
        page.page.locator("a.repo-link", has_text=good).click()
    assert page.page.locator("#repo-name").inner_text() == good
    points = page.page.locator("#score-history circle.point")
    assert points.count() == 2
    first, second = (float(points.nth(i).get_attribute("data-score") or "nan") for i in range(2))
    assert second < first
    assert page.page.locator("#score-delta").inner_text() == f"({second - first:+.1f})"
    regression = page.page.locator("#control-changes tr.regressed[data-control='MODEL-03']")
    assert regression.count() == 1 and "regression" in regression.inner_text()
    assert "models/extra.pkl" in page.page.locator("#new-findings").inner_text()
    problem = page.page.locator("tr.problem[data-control='MODEL-03']")
    assert problem.get_attribute("data-status") == "fail" and "models/extra.pkl" in problem.inner_text()
    frame = page.page.frame_locator("#full-report iframe")
    page.page.locator("#full-report iframe").scroll_into_view_if_needed()
    assert "mlposture security report" in frame.locator("header h1").inner_text()


def test_control_page_lists_exactly_the_failing_repositories(page: Watched, server: Server) -> None:
    rows = server.json("/api/controls/MODEL-03")
    assert isinstance(rows, list)
    failing = {r["repo"] for r in rows if r["status"] == "fail"}
    page.goto("/controls/MODEL-03")
    assert "SafeTensors" in page.page.locator("h1").inner_text()
    assert page.page.locator("#mappings").inner_text().count("ML06") == 1
    shown = page.page.locator("tr.control-repo[data-status='fail'] td:first-child a").all_inner_texts()
    assert set(shown) == failing and len(shown) == len(failing)
    page.goto("/controls/MODEL-03?status=fail")
    assert set(page.page.locator("tr.control-repo td:first-child a").all_inner_texts()) == failing


def test_hostile_names_and_paths_stay_text(page: Watched) -> None:
    page.goto("/")
    link = page.page.locator("a.repo-link", has_text="onerror")
    assert link.inner_text() == HOSTILE_REPO
    assert page.page.locator("#repo-table img").count() == 0
    page.goto("/repos/" + urllib.parse.quote(HOSTILE_REPO, safe=""))
    assert page.page.locator("#repo-name").inner_text() == HOSTILE_REPO
    assert HOSTILE_PATH in page.page.locator("#findings").inner_text()
    assert page.page.locator("script").count() == 1  # the dashboard's own
    page.goto("/controls/MODEL-03")
    assert HOSTILE_PATH in page.page.locator(f"tr.control-repo[data-repo='{HOSTILE_REPO}']").inner_text()


def test_token_login(browser: Any, token_server: Server) -> None:
    watched = Watched(browser, token_server)
    try:
        response = watched.goto("/controls")
        assert response.status == 401
        assert watched.page.locator("tr").count() == 0  # nothing of the fleet before signing in
        watched.page.locator("#token").fill("wrong-token-but-long-enough")
        with watched.page.expect_navigation():
            watched.page.locator("#login button").click()
        assert "not valid" in watched.page.locator(".alert").inner_text()
        watched.page.locator("#token").fill(TOKEN)
        with watched.page.expect_navigation():
            watched.page.locator("#login button").click()
        assert watched.page.url.endswith("/controls")
        assert watched.page.locator("#controls-table tbody tr").count() > 60
        watched.check_clean()
    finally:
        watched.close()
