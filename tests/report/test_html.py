"""HTML report: self-contained, escaped, and working in a real headless Chromium (filters, score, category risks)."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from mlposture.scanner.report.registry import writer_for
from mlposture.scanner.results import ScanResult
from tests.report.conftest import XSS

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-extensions", "--disable-default-apps", "--mute-audio", "--no-pings",
                  "--disable-domain-reliability", "--disable-client-side-phishing-detection",
                  # Chromium's own background services still try Google hosts: resolve nothing, tests stay offline
                  "--host-resolver-rules=MAP * ~NOTFOUND"]
needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="/usr/bin/chromium is absent (apt-get install chromium); .ci/run installs it")


class Page(HTMLParser):
    """Tags with their attributes, control rows with visibility, and text by element id."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.rows: dict[str, bool] = {}  # control id -> visible
        self.hidden_ids: set[str] = set()  # ids of elements with the hidden attribute
        self.scripts = 0
        self.script_text = ""
        self._in_script = False
        self.text: dict[str, str] = {}
        self._capture: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self.tags.append((tag, a))
        if "hidden" in a and a.get("id"):
            self.hidden_ids.add(a["id"])
        if tag == "tr" and a.get("id", "").startswith("control-"):
            self.rows[a["id"][8:]] = "hidden" not in a.get("class", "").split()
        if tag == "script":
            self.scripts += 1
            self._in_script = True
        if a.get("id") in ("count", "score", "category-risk"):
            self._capture.append(a["id"])
            self.text.setdefault(a["id"], "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False
        if self._capture and tag in ("span", "div", "svg"):
            self._capture.pop()

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.script_text += data
        for key in self._capture:
            self.text[key] += data


def parse(text: str) -> Page:
    page = Page()
    page.feed(text)
    return page


def render(result: ScanResult) -> str:
    return writer_for("html").render(result)


def test_self_contained_no_external_resource(sample: ScanResult):
    text = render(sample)
    page = parse(text)
    for tag, attrs in page.tags:
        for key in ("src", "href", "action", "srcset", "poster", "data"):
            assert key not in attrs, (tag, attrs)
        assert tag not in ("link", "iframe", "object", "embed", "img", "base")
    assert "@import" not in text and "url(" not in text
    csp = next(a["content"] for t, a in page.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy")
    assert "default-src 'none'" in csp
    digest = base64.b64encode(hashlib.sha256(page.script_text.encode("utf-8")).digest()).decode()
    assert f"'sha256-{digest}'" in csp


def test_hostile_text_is_escaped(sample: ScanResult):
    text = render(sample)
    assert XSS not in text and "<b>input</b>" not in text
    assert "&lt;script&gt;alert(&quot;xss&quot;)&lt;/script&gt;" in text
    page = parse(text)
    assert page.scripts == 1  # the report's own script only
    assert not any(k.startswith("on") for _, attrs in page.tags for k in attrs)


def test_static_content(sample: ScanResult):
    page = parse(render(sample))
    assert "19.0" in page.text["score"] and "Critical Risk" in page.text["score"]
    assert "Gamma & <Co>" in page.text["category-risk"] and "50.0 · Medium Risk" in page.text["category-risk"]
    assert list(page.rows) == ["AL-01", "AL-02", "AL-03", "BE-01", "BE-02", "GA-01", "GA-02", "GA-03"]


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / "chromium-profile"
    profile.mkdir(exist_ok=True)
    return subprocess.run([str(CHROMIUM), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=90, check=False)


def dump_dom(tmp_path: Path, report: Path, fragment: str) -> Page:
    proc = chromium(tmp_path, "--dump-dom", report.as_uri() + fragment)
    assert proc.returncode == 0, proc.stderr[-2000:]
    page = parse(proc.stdout)
    ready = [a for t, a in page.tags if t == "body"]
    assert ready and ready[0].get("data-ready") == "1", "the page script did not run"
    return page


@needs_chromium
def test_renders_in_chromium_and_the_filters_work(sample: ScanResult, tmp_path: Path):
    report = tmp_path / "report.html"
    report.write_text(render(sample), encoding="utf-8")
    page = dump_dom(tmp_path, report, "")
    assert all(page.rows.values()) and len(page.rows) == 8
    assert page.text["count"] == "8 of 8 controls shown"
    assert "19.0" in page.text["score"] and "Critical Risk" in page.text["score"]
    assert "0.0 · Critical Risk" in page.text["category-risk"]
    assert not any(t == "img" for t, _ in page.tags)  # the hostile <img onerror> stayed text

    failing = dump_dom(tmp_path, report, "#status=fail")
    assert [cid for cid, shown in failing.rows.items() if shown] == ["AL-01", "AL-02", "GA-03"]
    assert failing.text["count"] == "3 of 8 controls shown"

    combined = dump_dom(tmp_path, report, "#severity=critical&category=beta")
    assert [cid for cid, shown in combined.rows.items() if shown] == ["BE-02"]

    text = dump_dom(tmp_path, report, "#q=tmp.tf")
    assert [cid for cid, shown in text.rows.items() if shown] == ["AL-01"]
    assert text.hidden_ids == {"no-match"}

    nothing = dump_dom(tmp_path, report, "#q=no-such-text")
    assert not any(nothing.rows.values()) and "no-match" not in nothing.hidden_ids


@needs_chromium
def test_screenshot(sample: ScanResult, tmp_path: Path):
    report = tmp_path / "report.html"
    report.write_text(render(sample), encoding="utf-8")
    shot = tmp_path / "report.png"
    proc = chromium(tmp_path, "--window-size=1400,1800", f"--screenshot={shot}", report.as_uri())
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (1400, 1800)
    assert len(data) > 50_000  # a blank page compresses to a few kB
    keep = Path(os.environ.get("MLPOSTURE_KEEP_SCREENSHOT", ""))
    if keep.name:
        shutil.copyfile(shot, keep)


def test_no_chromium_needed_for_the_filter_markup(sample: ScanResult):
    page = parse(render(sample))
    selects = {a["id"] for t, a in page.tags if t == "select"}
    assert selects == {"f-status", "f-severity", "f-category"}
    options = [a.get("value") for t, a in page.tags if t == "option"]
    assert {"fail", "unverified", "not_applicable", "critical", "alpha", "gamma"} <= set(options)
    assert re.search(r"data-status=\"fail\" data-severity=\"critical\" data-category=\"alpha\"", render(sample))
