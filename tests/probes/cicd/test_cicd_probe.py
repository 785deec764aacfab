"""The cicd probe on fixture repositories: present, absent, anti-pattern, GitLab, malformed."""

from __future__ import annotations

from pathlib import Path

from mlposture.probes.cicd import CicdProbe
from mlposture.scanner.plugins import discover
from mlposture.scanner.probe import Evidence, Finding, NotApplicable, Note, ProbeItem, Searched
from mlposture.scanner.repo import RepoView
from mlposture.scanner.settings import Settings

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "cicd"
SECRETS = (
    "AKIA" "UJZDEGXDNCF32EPF", "2hpChYgCfrL1spNxnyVmihA+2O76UMFxFkM+R5Kj", "hGAkWvj7FAc9QeWJKY40uvSwMFLZDe1f8r",
    "8ihN5KXSc7Tvo-hBKqFYY", "IxNKu8iS2G8NPRVdD53X83RZ", "mUdjAWtGSU8po_799", "aZUPgHV7iB3m03nbqnsGpWLuqIA1id6Vw5DQ",
    "L05HA064GiIjHGb3CXlMaX", "z4FkQ1okTBGzvAmwufUxbvJD", "Tr0ub4dor", "9f3c2a7b41d84e6f", "Q7mZp2LkR9vXw4TnB8yH",
    "4QnEqZcgOXU1K4eLFFyK",
)


def run(path: Path) -> tuple[list[ProbeItem], RepoView]:
    repo = RepoView(path)
    return list(CicdProbe().run(repo, Settings())), repo


def evidence(items: list[ProbeItem], control: str) -> list[tuple[str, str | None, int | None, str]]:
    return [(e.effect.value, e.path, e.line, e.rule) for e in items if isinstance(e, Evidence) and e.control == control]


def findings(items: list[ProbeItem], rule: str | None = None) -> list[tuple[str, str | None, int | None, str]]:
    return [(f.rule, f.path, f.line, f.severity.value) for f in items
            if isinstance(f, Finding) and (rule is None or f.rule == rule)]


def test_present() -> None:
    items, _ = run(FIXTURES / "present")
    ci = ".github/workflows/ci.yml"
    assert evidence(items, "PIPE-02") == [
        ("pass", ci, 13, "cicd.dependency-scan"),
        ("pass", ci, 16, "cicd.dependency-scan"),
        ("pass", ci, 27, "cicd.dependency-scan"),  # the Trivy image scan also scans the image's Python packages
        ("partial", ".pre-commit-config.yaml", 9, "cicd.dependency-scan"),
        ("partial", ".github/dependabot.yml", 7, "cicd.update-bot"),
    ]
    msgs = [e.message for e in items if isinstance(e, Evidence) and e.control == "PIPE-02"]
    assert "runs on pull_request, push" in msgs[0] and "pypa/gh-action-pip-audit" in msgs[0]
    assert evidence(items, "PIPE-05") == [
        ("pass", ci, 6, "cicd.permissions"),
        ("partial", ".pre-commit-config.yaml", 5, "cicd.secret-scanner"),
    ]
    assert evidence(items, "PIPE-09") == [
        ("pass", ci, 27, "cicd.image-scan"),
        ("pass", "infra/ecr.tf", 6, "cicd.ecr-scan-on-push"),
    ]
    # the piped `echo "$REGISTRY_TOKEN" | docker login --password-stdin` and the .env.example placeholders are fine
    assert findings(items) == []
    assert not any(isinstance(i, (Searched, NotApplicable)) for i in items)


def test_absent() -> None:
    items, _ = run(FIXTURES / "absent")
    assert [i.control for i in items if isinstance(i, Searched)] == ["PIPE-02", "PIPE-05"]
    assert [(i.control, i.reason) for i in items if isinstance(i, NotApplicable)] == [
        ("PIPE-09", "no Dockerfile or container image reference found")]
    assert not any(isinstance(i, (Evidence, Finding)) for i in items)
    searched = next(i for i in items if isinstance(i, Searched) and i.control == "PIPE-02")
    assert "pip-audit" in searched.what and "no CI file found" in searched.what


def test_anti_pattern_pipe02_and_pipe09() -> None:
    items, _ = run(FIXTURES / "anti-pattern")
    assert evidence(items, "PIPE-02") == [
        ("partial", ".github/workflows/nightly.yml", 12, "cicd.dependency-scan"),
        ("partial", ".github/workflows/pr.yml", 22, "cicd.dependency-scan"),
        ("partial", ".github/workflows/release.yml", 16, "cicd.dependency-scan"),  # trivy image, tag pushes only
        ("partial", "renovate.json", 1, "cicd.update-bot"),
    ]
    msgs = {e.line: e.message for e in items if isinstance(e, Evidence) and e.control == "PIPE-02"}
    assert "only on schedule (0 3 * * 1), workflow_dispatch" in msgs[12]
    assert "continue-on-error" in msgs[22]
    # `pip install safety` (line 11) is an install, not a scan
    assert 11 not in msgs
    assert evidence(items, "PIPE-09") == [
        ("partial", ".github/workflows/release.yml", 16, "cicd.image-scan"),
        ("partial", "infra/ecr.tf", 4, "cicd.ecr-scan-on-push"),
    ]
    gap = next(e for e in items if isinstance(e, Evidence) and e.path == ".github/workflows/release.yml"
               and e.control == "PIPE-09")
    assert "job publish pushes/deploys (line 12) without needing the scan job scan" in gap.message


def test_anti_pattern_ci_hardening() -> None:
    items, _ = run(FIXTURES / "anti-pattern")
    pr = ".github/workflows/pr.yml"
    assert evidence(items, "PIPE-05") == [
        ("partial", ".github/workflows/nightly.yml", 1, "cicd.permissions"),
        ("partial", pr, 1, "cicd.permissions"),
        ("partial", ".github/workflows/release.yml", 5, "cicd.permissions"),
    ]
    assert findings(items, "cicd.pull-request-target-checkout") == [
        ("cicd.pull-request-target-checkout", pr, 15, "high")]
    assert findings(items, "cicd.secret-echo") == [
        ("cicd.secret-echo", pr, 19, "high"), ("cicd.secret-echo", pr, 20, "high")]
    assert findings(items, "cicd.set-x-secrets") == [("cicd.set-x-secrets", pr, 18, "medium")]
    assert findings(items, "cicd.step-debug") == [("cicd.step-debug", pr, 6, "medium")]
    partial = [f for f in items if isinstance(f, Finding) and f.rule in ("cicd.set-x-secrets", "cicd.step-debug")]
    assert all(f.effect.value == "partial" for f in partial)


def test_anti_pattern_committed_secrets() -> None:
    items, _ = run(FIXTURES / "anti-pattern")
    got = findings(items, "cicd.secret")
    s = "config/settings.py"
    assert got == [
        ("cicd.secret", ".env", 3, "high"),
        ("cicd.secret", ".env", 6, "high"),
        ("cicd.secret", "config/deploy_key", 1, "critical"),
        ("cicd.secret", s, 8, "high"),
        ("cicd.secret", s, 10, "critical"),
        ("cicd.secret", s, 11, "critical"),
        ("cicd.secret", s, 12, "critical"),
        ("cicd.secret", s, 13, "critical"),
        ("cicd.secret", s, 14, "critical"),
        ("cicd.secret", s, 15, "high"),
        ("cicd.secret", s, 3, "critical"),
        ("cicd.secret", s, 4, "critical"),
        ("cicd.secret", "notebooks/explore.ipynb", 10, "high"),
    ]
    secret_findings = [f for f in items if isinstance(f, Finding) and f.rule == "cicd.secret"]
    for f in secret_findings:
        assert f.controls == ("PIPE-05",)
        assert "********" in f.message
        for secret in SECRETS:
            assert secret not in f.message and secret not in f.content
    assert len({f.fingerprint for f in secret_findings}) == len(secret_findings)
    # .env.example, placeholders (lines 6, 7, 9, 16, 17) and the "..." key in the docs are not reported
    assert not any(f.path in (".env.example", "config/docs_key.md") for f in secret_findings)


def test_gitlab() -> None:
    items, _ = run(FIXTURES / "gitlab")
    g = ".gitlab-ci.yml"
    assert evidence(items, "PIPE-02") == [
        ("pass", g, 7, "cicd.dependency-scan"),
        ("partial", g, 29, "cicd.dependency-scan"),
        ("partial", g, 37, "cicd.dependency-scan"),
    ]
    # the echo of $DEPLOY_TOKEN is reported; the piped `echo "$CI_REGISTRY_PASSWORD" | docker login` is not
    assert findings(items) == [("cicd.secret-echo", g, 44, "high")]
    assert evidence(items, "PIPE-09") == [("pass", g, 8, "cicd.image-scan")]


def test_malformed_files_give_notes_and_the_rest_is_scanned(tmp_path: Path) -> None:
    items, repo = run(FIXTURES / "malformed")
    assert evidence(items, "PIPE-02") == [
        ("pass", ".github/workflows/ok.yml", 8, "cicd.dependency-scan"),
        ("partial", ".github/dependabot.yml", 2, "cicd.update-bot"),
    ]
    notes = {(n.path, n.line) for n in repo.notes}
    assert {(".github/workflows/broken.yml", 3), (".github/workflows/list.yml", 1), (".gitlab-ci.yml", 2),
            (".pre-commit-config.yaml", 1)} <= notes
    # the token inside the binary weights.bin is not read
    assert findings(items, "cicd.secret") == []


def test_big_text_files_are_skipped_with_a_note(tmp_path: Path) -> None:
    (tmp_path / "blob.txt").write_text(("x" * 1023 + "\n") * 1100 + "ghp_" "aZUPgHV7iB3m03nbqnsGpWLuqIA1id6Vw5DQ\n")
    (tmp_path / "small.txt").write_text("ghp_" "aZUPgHV7iB3m03nbqnsGpWLuqIA1id6Vw5DQ\n")
    items, _ = run(tmp_path)
    assert findings(items, "cicd.secret") == [("cicd.secret", "small.txt", 1, "critical")]
    notes = [i.message for i in items if isinstance(i, Note)]
    assert notes == ["secret scan skipped 1 file(s) larger than 1024 KiB"]


def test_pull_request_target_without_head_checkout_is_fine(tmp_path: Path) -> None:
    wf = tmp_path / ".github" / "workflows" / "label.yml"
    wf.parent.mkdir(parents=True)
    wf.write_text("on: pull_request_target\npermissions:\n  pull-requests: write\njobs:\n  label:\n"
                  "    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n"
                  "      - uses: actions/labeler@v5\n")
    items, _ = run(tmp_path)
    assert findings(items) == []
    assert evidence(items, "PIPE-05") == [("partial", ".github/workflows/label.yml", 2, "cicd.permissions")]


def test_registered_as_entry_point() -> None:
    loaded = discover()
    assert any(cls is CicdProbe for cls, _ in loaded.probes)
    info = CicdProbe.info()
    assert info.name == "cicd" and info.controls == ("PIPE-02", "PIPE-05", "PIPE-09")
    assert info.description.startswith("CI/CD security")


def test_secrets_found_the_same_in_texts_other_readers_cached() -> None:
    """The secret scan takes a file's text from the view's cache when another reader loaded it first (the Python
    pass, the YAML readers): the findings, lines included, are those of its own reading."""
    fresh, _ = run(FIXTURES / "anti-pattern")
    repo = RepoView(FIXTURES / "anti-pattern")
    for f in repo.files:
        repo.read_text(f)  # what the other readers do first in a full scan
    warm = list(CicdProbe().run(repo, Settings()))
    assert findings(warm, "cicd.secret") == findings(fresh, "cicd.secret")
    assert any(repo.cached_text(f) is not None for f in repo.files if f.path == "config/settings.py")
