"""Which security tools a CI configuration runs, and how PIPE-02/PIPE-09 judge them."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlposture.probes.cicd import CicdProbe
from mlposture.scanner.probe import Evidence, Finding, NotApplicable, ProbeItem, Searched
from mlposture.scanner.repo import RepoView
from mlposture.scanner.settings import Settings
from mlposture.scanner.sources.ci import load_ci
from mlposture.scanner.sources.ci.tools import find_tool_uses

HEAD = "on: [push, pull_request]\njobs:\n  j:\n    runs-on: ubuntu-latest\n    steps:\n"


def _write(root: Path, files: dict[str, str]) -> RepoView:
    for rel, text in files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    return RepoView(root)


def _uses(tmp_path: Path, steps: str) -> list[tuple[str, str, int]]:
    repo = _write(tmp_path, {".github/workflows/w.yml": HEAD + steps})
    return [(u.tool, u.category.value, u.line) for u in find_tool_uses(load_ci(repo))]


@pytest.mark.parametrize(("steps", "expected"), [
    ("      - run: pip-audit --strict -f cyclonedx-json -o sbom.json\n",
     [("pip-audit", "dependency-scan", 6), ("pip-audit", "sbom", 6)]),
    ("      - run: safety scan\n", [("safety", "dependency-scan", 6)]),
    ("      - run: safety --version\n", []),
    ("      - run: snyk test --severity-threshold=high\n", [("snyk", "dependency-scan", 6)]),
    ("      - run: snyk container test ml/serve:1\n", [("snyk", "image-scan", 6)]),
    ("      - uses: snyk/actions/docker@master\n        with:\n          image: ml/serve\n",
     [("snyk", "image-scan", 6)]),
    ("      - uses: snyk/actions/setup@master\n", []),
    ("      - uses: google/osv-scanner-action/osv-scanner-action@v1.9.0\n", [("osv-scanner", "dependency-scan", 6)]),
    ("      - run: osv-scanner scan image ml/serve:1\n", [("osv-scanner", "image-scan", 6)]),
    ("      - uses: actions/dependency-review-action@v4\n", [("dependency-review", "dependency-scan", 6)]),
    ("      - run: grype dir:. --fail-on high\n", [("grype", "dependency-scan", 6)]),
    ("      - run: grype ml/serve:1 --fail-on high\n", [("grype", "image-scan", 6)]),
    ("      - uses: anchore/scan-action@v4\n        with:\n          image: ml/serve:1\n",
     [("grype", "image-scan", 6)]),
    ("      - uses: anchore/scan-action@v4\n        with:\n          path: .\n", [("grype", "dependency-scan", 6)]),
    ("      - run: docker scout cves ml/serve:1 --exit-code\n", [("docker-scout", "image-scan", 6)]),
    ("      - uses: docker/scout-action@v1\n        with:\n          command: cves,recommendations\n",
     [("docker-scout", "image-scan", 6)]),
    ("      - run: trivy image --format cyclonedx -o bom.json ml/serve:1\n",
     [("trivy", "image-scan", 6), ("trivy", "sbom", 6)]),
    ("      - uses: aquasecurity/trivy-action@0.28.0\n        with:\n          scan-type: config\n", []),
    ("      - run: trivy image --exit-code 1 ml/serve:1\n",
     [("trivy", "image-scan", 6), ("trivy", "dependency-scan", 6)]),
    ("      - run: trivy image --pkg-types os --exit-code 1 ml/serve:1\n", [("trivy", "image-scan", 6)]),
    ("      - uses: aquasecurity/trivy-action@0.28.0\n        with:\n          image-ref: ml/serve:1\n"
     "          vuln-type: os,library\n", [("trivy", "image-scan", 6), ("trivy", "dependency-scan", 6)]),
    ("      - uses: aquasecurity/trivy-action@0.28.0\n        with:\n          image-ref: ml/serve:1\n"
     "          vuln-type: os\n", [("trivy", "image-scan", 6)]),
    ("      - run: syft version\n", []),
    ("      - run: docker buildx build --sbom=true -t x .\n", [("buildkit", "sbom", 6)]),
    ("      - run: gitleaks detect --redact\n", [("gitleaks", "secret-scan", 6)]),
    ("      - uses: trufflesecurity/trufflehog@main\n", [("trufflehog", "secret-scan", 6)]),
    ("      - run: |\n          pip install pip-audit\n          uv run pip-audit\n",
     [("pip-audit", "dependency-scan", 8)]),
])
def test_recognised_tools(tmp_path: Path, steps: str, expected: list[tuple[str, str, int]]) -> None:
    assert _uses(tmp_path, steps) == expected


def run(repo: RepoView) -> list[ProbeItem]:
    return list(CicdProbe().run(repo, Settings()))


def pipe(items: list[ProbeItem], control: str) -> list[tuple[str, str | None, int | None]]:
    return [(e.effect.value, e.path, e.line) for e in items if isinstance(e, Evidence) and e.control == control]


def test_precommit_hook_run_in_ci_is_pass(tmp_path: Path) -> None:
    repo = _write(tmp_path, {
        ".pre-commit-config.yaml": "repos:\n  - repo: https://github.com/pypa/pip-audit\n    rev: v2.7.3\n"
                                   "    hooks:\n      - id: pip-audit\n",
        ".github/workflows/lint.yml": HEAD + "      - uses: pre-commit/action@v3.0.1\n",
    })
    items = run(repo)
    assert pipe(items, "PIPE-02") == [("pass", ".pre-commit-config.yaml", 5)]
    msg = next(e.message for e in items if isinstance(e, Evidence) and e.control == "PIPE-02")
    assert "run in CI by uses: pre-commit/action@v3.0.1 (.github/workflows/lint.yml:6)" in msg


def test_step_condition_limited_to_schedule_is_partial(tmp_path: Path) -> None:
    repo = _write(tmp_path, {".github/workflows/w.yml": (
        "on:\n  push:\n  schedule:\n    - cron: '0 0 * * *'\njobs:\n  audit:\n    runs-on: ubuntu-latest\n"
        "    steps:\n      - run: pip-audit\n        if: github.event_name == 'schedule'\n")})
    assert pipe(run(repo), "PIPE-02") == [("partial", ".github/workflows/w.yml", 9)]


def test_gitlab_component_and_secret_detection(tmp_path: Path) -> None:
    repo = _write(tmp_path, {".gitlab-ci.yml": (
        "include:\n  - component: $CI_SERVER_FQDN/components/dependency-scanning/main@0.2\n"
        "  - template: Jobs/Secret-Detection.gitlab-ci.yml\n"
        "test:\n  script:\n    - pytest\n")})
    items = run(repo)
    assert pipe(items, "PIPE-02") == [("pass", ".gitlab-ci.yml", 2)]
    assert pipe(items, "PIPE-05") == [("pass", ".gitlab-ci.yml", 3)]
    assert [i.control for i in items if isinstance(i, NotApplicable)] == ["PIPE-09"]


def test_compose_image_makes_pipe09_applicable(tmp_path: Path) -> None:
    repo = _write(tmp_path, {"deploy/docker-compose.yml": "services:\n  api:\n    image: ghcr.io/acme/api:1.2\n"})
    items = run(repo)
    assert not any(isinstance(i, NotApplicable) for i in items)
    searched = [i for i in items if isinstance(i, Searched) and i.control == "PIPE-09"]
    assert len(searched) == 1 and "deploy/docker-compose.yml:3" in searched[0].what


def test_scan_after_push_in_the_same_job_is_partial(tmp_path: Path) -> None:
    repo = _write(tmp_path, {
        "Dockerfile": "FROM python:3.11\n",
        ".github/workflows/w.yml": HEAD + (
            "      - run: docker build -t r/x:1 . && docker push r/x:1\n"
            "      - run: trivy image --exit-code 1 r/x:1\n"),
    })
    items = run(repo)
    assert pipe(items, "PIPE-09") == [("partial", ".github/workflows/w.yml", 7)]
    msg = next(e.message for e in items if isinstance(e, Evidence) and e.control == "PIPE-09")
    assert "the scan runs after the push/deploy step at line 6" in msg


def test_ecr_registry_scanning_configuration_is_pass(tmp_path: Path) -> None:
    repo = _write(tmp_path, {"ecr.tf": (
        'resource "aws_ecr_registry_scanning_configuration" "main" {\n  scan_type = "ENHANCED"\n}\n'
        'resource "aws_ecr_repository" "r" {\n  name = "r"\n}\n')})
    items = run(repo)
    assert pipe(items, "PIPE-09") == [("pass", "ecr.tf", 1)]


@pytest.mark.parametrize(("steps", "why"), [
    ("      - run: trivy fs .\n", "trivy without a non-zero --exit-code reports only"),
    ("      - run: trivy fs --exit-code 0 .\n", "trivy without a non-zero --exit-code reports only"),
    ("      - run: pip-audit || true\n", "'||' after the command ignores its failure"),
    ("      - run: grype dir:.\n", "grype without --fail-on reports only"),
    ("      - uses: aquasecurity/trivy-action@0.28.0\n        with:\n          scan-type: fs\n",
     "trivy-action without a non-zero exit-code reports only"),
    ("      - uses: anchore/scan-action@v4\n        with:\n          path: .\n          fail-build: false\n",
     "fail-build: false"),
])
def test_scans_that_only_report_are_partial(tmp_path: Path, steps: str, why: str) -> None:
    repo = _write(tmp_path, {".github/workflows/w.yml": HEAD + steps})
    items = run(repo)
    assert pipe(items, "PIPE-02") == [("partial", ".github/workflows/w.yml", 6)]
    msg = next(e.message for e in items if isinstance(e, Evidence) and e.control == "PIPE-02")
    assert msg.endswith(f"never fails the pipeline: {why}")


@pytest.mark.parametrize("steps", [
    "      - run: trivy fs --exit-code 1 --severity CRITICAL .\n",
    "      - run: grype dir:. --fail-on critical\n",
    "      - run: pip-audit && echo done || exit 1\n",
    "      - uses: anchore/scan-action@v4\n        with:\n          path: .\n",
])
def test_blocking_scans_pass(tmp_path: Path, steps: str) -> None:
    repo = _write(tmp_path, {".github/workflows/w.yml": HEAD + steps})
    assert pipe(run(repo), "PIPE-02") == [("pass", ".github/workflows/w.yml", 6)]


def test_plaintext_credentials_in_ci_env(tmp_path: Path) -> None:
    token = "ghp_" "aZUPgHV7iB3m03nbqnsGpWLuqIA1id6Vw5DQ"
    repo = _write(tmp_path, {
        ".github/workflows/w.yml": (
            "on: push\npermissions: read-all\nenv:\n  DB_PASSWORD: 'S3cr3t-Pa55w0rd!'\n"
            f"  GH_TOKEN: {token}\n  API_TOKEN: ${{{{ secrets.API_TOKEN }}}}\n  TOKEN_URL: https://x\n"
            "jobs:\n  j:\n    runs-on: ubuntu-latest\n    steps:\n      - run: make\n"
            "        env:\n          SERVICE_API_KEY: changeme\n"),
        ".gitlab-ci.yml": "variables:\n  DEPLOY_PASSWORD: hunter2hunter2X9\n  DEPLOY_TOKEN: $DEPLOY_TOKEN_VAR\n"
                          "test:\n  script:\n    - make\n",
    })
    items = run(repo)
    got = [(f.path, f.line, f.severity.value, f.message.split(":")[0]) for f in items
           if isinstance(f, Finding) and f.rule == "cicd.secret"]
    assert got == [
        (".github/workflows/w.yml", 4, "high", "plaintext credential DB_PASSWORD in CI configuration"),
        (".gitlab-ci.yml", 2, "high", "plaintext credential DEPLOY_PASSWORD in CI configuration"),
        (".github/workflows/w.yml", 5, "critical", "GitHub token committed to the repository"),
    ]
    assert all("S3cr3t" not in f.message and "hunter2" not in f.message for f in items if isinstance(f, Finding))


def test_workflow_run_checkout_of_the_head_and_gitlab_debug_trace(tmp_path: Path) -> None:
    repo = _write(tmp_path, {
        ".github/workflows/after.yml": (
            "on:\n  workflow_run:\n    workflows: [ci]\n    types: [completed]\npermissions: read-all\n"
            "jobs:\n  j:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n"
            "        with:\n          ref: ${{ github.event.workflow_run.head_sha }}\n"),
        ".gitlab-ci.yml": "variables:\n  CI_DEBUG_TRACE: \"true\"\ntest:\n  script:\n    - make\n",
    })
    items = run(repo)
    got = [(f.rule, f.path, f.line) for f in items if isinstance(f, Finding)]
    assert got == [("cicd.pull-request-target-checkout", ".github/workflows/after.yml", 12),
                   ("cicd.step-debug", ".gitlab-ci.yml", 2)]
    prt = next(f for f in items if isinstance(f, Finding) and f.rule == "cicd.pull-request-target-checkout")
    assert prt.message.startswith("workflow_run (line 2) checks out the pull request head")


def test_reusable_workflow_inherits_the_callers_triggers(tmp_path: Path) -> None:
    repo = _write(tmp_path, {
        ".github/workflows/audit.yml": ("on:\n  workflow_call:\njobs:\n  a:\n    runs-on: ubuntu-latest\n"
                                        "    steps:\n      - run: pip-audit -r requirements.txt\n"),
        ".github/workflows/ci.yml": "on: [pull_request]\njobs:\n  audit:\n    uses: ./.github/workflows/audit.yml\n",
        ".github/workflows/orphan.yml": ("on: workflow_call\njobs:\n  a:\n    runs-on: ubuntu-latest\n"
                                         "    steps:\n      - run: safety check\n"),
    })
    assert pipe(run(repo), "PIPE-02") == [("pass", ".github/workflows/audit.yml", 7),
                                          ("partial", ".github/workflows/orphan.yml", 6)]
