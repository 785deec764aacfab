"""Known vulnerabilities: the REAL pip-audit against the REAL local OSV endpoint serving fixture advisories.

No network: the air-gapped mode serves ``fixtures/dependencies/osv-db``; the online mode is pointed at a second
local endpoint (standing in for api.osv.dev) or at a closed local port (an unreachable service).
"""

from __future__ import annotations

import json
import shutil
import socket
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest

from mlposture.probes.dependencies import DependenciesProbe, vulns
from mlposture.probes.dependencies.audit import AuditReport, run_pip_audit
from mlposture.probes.dependencies.osv import advisory_severity, affects, cvss3_base_score, load_database
from mlposture.probes.dependencies.osv_server import LocalOsvEndpoint, UpstreamOsv
from mlposture.scanner.probe import Effect, Finding, Note, Searched, Severity
from mlposture.scanner.repo import RepoView
from mlposture.scanner.settings import Settings
from mlposture.scanner.sources.manifests.read import read_manifests
from tests.probe_harness import ROOT

FIXTURES = ROOT / "fixtures" / "dependencies"
NO_VULNS = Settings(no_vulns=True)  # tests never reach a vulnerability service

DB = FIXTURES / "osv-db"
RULE = "dependencies.known-vulnerability"
PINS = "requests==2.31.0\nPillow==10.0.0\ntorch==2.5.1\nPyYAML==5.3.1\nnumpy==1.26.0\nflask==3.0.0\n"


def _repo(tmp_path: Path) -> Path:
    (tmp_path / "requirements.txt").write_text(PINS)
    return tmp_path


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_air_gapped_audit_finds_every_fixture_advisory(probe_scan, tmp_path):
    started = time.monotonic()
    scan = probe_scan(DependenciesProbe, _repo(tmp_path), Settings(no_vulns=False, vuln_db=str(DB)))
    seconds = time.monotonic() - started
    got = {(f.path, f.line, f.content, f.severity) for f in scan.findings(RULE)}
    assert got == {
        ("requirements.txt", 1, "GHSA-9wx4-h78v-vm56 requests==2.31.0", Severity.MEDIUM),  # GHSA MODERATE
        ("requirements.txt", 2, "PYSEC-2023-175 pillow==10.0.0", Severity.HIGH),  # CVSS 8.8
        ("requirements.txt", 3, "GHSA-53q9-r3pm-6pq6 torch==2.5.1", Severity.CRITICAL),  # last_affected 2.5.1
        ("requirements.txt", 4, "PYSEC-2022-fixture pyyaml==5.3.1", Severity.HIGH),  # no severity: default
    }  # numpy: withdrawn advisory; flask: none
    by_pkg = {f.content.split()[1]: f for f in scan.findings(RULE)}
    assert by_pkg["requests==2.31.0"].message.startswith(
        "requests==2.31.0: GHSA-9wx4-h78v-vm56 (CVE-2024-35195); fixed in 2.32.0; advisory severity MODERATE")
    assert "(CVE-2023-4863, GHSA-j7hp-h8jx-5ppr); fixed in 10.0.1; CVSS 8.8" in by_pkg["pillow==10.0.0"].message
    assert "no fixed version" in by_pkg["torch==2.5.1"].message
    assert "advisory states no severity: high by default" in by_pkg["pyyaml==5.3.1"].message
    assert all(f.controls == ("PIPE-02",) and f.effect is Effect.PARTIAL for f in scan.findings(RULE))
    assert ("advisory broken.json in " + str(DB) + " is not an OSV JSON document, skipped") in {
        n.message for n in scan.item_notes()}
    assert seconds < 30


def test_zip_export_and_lock_file_lines(probe_scan, tmp_path):
    archive = tmp_path / "all.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for advisory in DB.glob("*.json"):
            zf.write(advisory, advisory.name)
    repo = tmp_path / "repo"
    shutil.copytree(FIXTURES / "locks" / "pipenv", repo)
    (repo / "requirements.txt").write_text("Pillow==10.0.1-rc1\n")  # pip-audit prints 10.0.1rc1
    scan = probe_scan(DependenciesProbe, repo, Settings(no_vulns=False, vuln_db=str(archive)))
    got = {(f.path, f.line, f.content) for f in scan.findings(RULE)}
    assert got == {("Pipfile.lock", 14, "PYSEC-2023-175 pillow==10.0.0"),
                   ("requirements.txt", 1, "PYSEC-2023-175 pillow==10.0.1rc1")}


def test_online_mode_through_the_local_proxy(tmp_path):
    upstream_db = load_database(str(DB))
    with LocalOsvEndpoint(upstream_db) as upstream:
        items = list(vulns.judge(read_manifests(RepoView(_repo(tmp_path))), Settings(),
                                 online_url=upstream.query_url))
    found = {f.content: f.severity for f in items if isinstance(f, Finding)}
    assert found["GHSA-53q9-r3pm-6pq6 torch==2.5.1"] is Severity.CRITICAL  # severity read from the proxied advisory
    assert len(found) == 4


def test_unreachable_service_is_not_checked_never_clean(tmp_path):
    url = f"http://127.0.0.1:{_closed_port()}/v1/query"
    items = list(vulns.judge(read_manifests(RepoView(_repo(tmp_path))), Settings(), online_url=url))
    assert not [i for i in items if isinstance(i, Finding)]
    [note] = [i for i in items if isinstance(i, Note)]
    assert note.message.startswith(f"vulnerabilities not checked: {url} unreachable:")
    assert "no known vulnerabilities" not in note.message
    [search] = [i for i in items if isinstance(i, Searched)]
    assert search.control == "PIPE-02" and "not checked" in search.what


def test_no_vulns_and_bad_database(probe_scan):
    skipped = probe_scan(DependenciesProbe, "dependencies/pinned", NO_VULNS)
    assert [n.message for n in skipped.item_notes()] == [
        "vulnerability audit skipped (--no-vulns)"]
    scan = probe_scan(DependenciesProbe, "dependencies/pinned",
                      Settings(no_vulns=False, vuln_db="/nonexistent/osv.zip"))
    assert "vulnerabilities not checked: vulnerability database /nonexistent/osv.zip not readable: " \
           "/nonexistent/osv.zip does not exist" in {n.message for n in scan.item_notes()}
    assert scan.findings(RULE) == []


def test_clean_audit_says_how_many_were_audited(tmp_path):
    (tmp_path / "requirements.txt").write_text("flask==3.0.0\nnumpy==1.26.0\n")
    db = load_database(str(DB))
    result = run_pip_audit([("flask", "3.0.0"), ("numpy", "1.26.0")], db, "fixture")
    assert isinstance(result, AuditReport)
    assert (result.audited, result.vulnerabilities) == (2, ())


def test_local_endpoint_speaks_osv():
    with LocalOsvEndpoint(load_database(str(DB))) as ep:
        def post(path: str, body: object) -> dict[str, object]:
            req = urllib.request.Request(ep.query_url.replace("/v1/query", path), data=json.dumps(body).encode(),
                                         method="POST")
            with urllib.request.urlopen(req, timeout=5) as resp:
                return json.loads(resp.read())  # type: ignore[no-any-return]
        one = post("/v1/query", {"package": {"name": "Pillow", "ecosystem": "PyPI"}, "version": "9.5.0"})
        assert [v["id"] for v in one["vulns"]] == ["PYSEC-2023-175"]  # type: ignore[union-attr]
        assert one["vulns"][0]["affected"][0]["package"]["name"] == "pillow"  # type: ignore[index]
        assert post("/v1/query", {"package": {"name": "pillow", "ecosystem": "PyPI"}, "version": "10.0.1"}) == {}
        batch = post("/v1/querybatch", {"queries": [
            {"package": {"name": "torch", "ecosystem": "PyPI"}, "version": "2.6.0"},
            {"package": {"name": "torch", "ecosystem": "PyPI"}, "version": "2.0.0"}]})
        assert batch == {"results": [{"vulns": []}, {"vulns": [{"id": "GHSA-53q9-r3pm-6pq6",
                                                                "modified": "2025-04-20T00:00:00Z"}]}]}


def test_upstream_errors_are_recorded():
    backend = UpstreamOsv(f"http://127.0.0.1:{_closed_port()}/v1/query", timeout=2)
    with LocalOsvEndpoint(backend) as ep:
        status, _ = ep.answer({"package": {"name": "x", "ecosystem": "PyPI"}, "version": "1.0"})
    assert status == 502 and ep.errors and "unreachable" in ep.errors[0]


@pytest.mark.parametrize(("vector", "score"), [
    ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8),
    ("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H", 8.8),
    ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 10.0),
    ("CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:L/I:L/A:N", 6.4),
    ("CVSS:3.1/AV:L/AC:H/PR:H/UI:R/S:U/C:H/I:H/A:N", 5.6),
    ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", 0.0),
    ("CVSS:3.1/AV:X", None),
])
def test_cvss3_base_scores(vector, score):
    assert cvss3_base_score(vector) == score


def test_affected_ranges():
    adv = {"affected": [{"package": {"ecosystem": "PyPI", "name": "Some_Pkg"}, "ranges": [
        {"type": "ECOSYSTEM", "events": [{"introduced": "1.0"}, {"fixed": "1.5"}, {"introduced": "2.0"},
                                         {"last_affected": "2.1"}]}]}]}
    assert affects(adv, "some-pkg", "1.2")
    assert not affects(adv, "some-pkg", "1.5")
    assert affects(adv, "some-pkg", "2.1")
    assert not affects(adv, "some-pkg", "2.2")
    assert not affects(adv, "other", "1.2")
    assert advisory_severity(adv) is None


def test_layers_never_repeat_a_package():
    from mlposture.probes.dependencies.audit import layers

    assert layers([("a", "1"), ("a", "2"), ("b", "1"), ("a", "3")]) == [
        [("a", "1"), ("b", "1")], [("a", "2")], [("a", "3")]]


def test_hostile_lock_versions_never_reach_the_audit_file():
    from mlposture.probes.dependencies.vulns import _auditable

    assert _auditable("torch", "2.3.0") and _auditable("scikit-learn", "1.4.2rc1")
    assert not _auditable("torch", "1.0\n-r /etc/passwd")
    assert not _auditable("torch", "1.0 --index-url http://evil.example")
    assert not _auditable("torch\n-r x", "1.0")
