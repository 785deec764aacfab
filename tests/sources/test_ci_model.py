"""The shared CI model: GitHub Actions, GitLab CI, pre-commit, update bots, shell splitting, lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlposture.scanner.repo import RepoView
from mlposture.scanner.sources.ci import GITHUB, GITLAB, load_ci, split_commands

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "cicd"


def _repo(tmp_path: Path, files: dict[str, str]) -> RepoView:
    for rel, text in files.items():
        target = tmp_path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    return RepoView(tmp_path)


def test_github_workflow_jobs_steps_and_lines() -> None:
    ci = load_ci(RepoView(FIXTURES / "present"))
    wf = next(w for w in ci.workflows if w.path == ".github/workflows/ci.yml")
    assert wf.system == GITHUB and wf.name == "CI"
    assert [(t.event, t.line, t.branches) for t in wf.triggers] == [("push", 3, ("main",)), ("pull_request", 5, ())]
    assert not wf.triggers[0].runs_on_tags
    assert wf.permissions is not None and wf.permissions.line == 6 and wf.permissions.read_only
    assert [j.id for j in wf.jobs] == ["audit", "image", "publish"]
    audit = wf.jobs[0]
    assert [(s.line, s.action) for s in audit.steps] == [
        (12, "actions/checkout"), (13, "pypa/gh-action-pip-audit"), (16, "aquasecurity/trivy-action")]
    trivy = audit.steps[2]
    assert trivy.name == "Trivy filesystem scan"
    assert trivy.input("scan-type") == "fs" and trivy.input_line("scan-type") == 19
    assert trivy.action_ref == "0.28.0"
    assert audit.steps[1].action_ref == "1220774d901786e6f652ae159f7b6bc8fea6d266"
    publish = wf.job("publish")
    assert publish is not None and publish.needs == ("audit", "image")
    assert wf.jobs_needed_by("publish") == {"audit", "image"}
    push = publish.steps[0]
    assert push.env == (("REGISTRY_TOKEN", "${{ secrets.REGISTRY_TOKEN }}"),)
    assert push.run_line == 41
    cmds = push.commands()
    assert [(c.program, c.line, c.piped) for c in cmds] == [("echo", 41, True), ("docker", 41, False),
                                                            ("docker", 42, False)]
    assert push.runs_command("docker", "push") is not None
    assert push.runs_command("docker", "pull") is None
    assert ci.find_steps(lambda s: s.uses_action("aquasecurity/trivy-action"))[1].line == 27
    assert ci.workflow_of(push) is wf


def test_on_in_all_its_shapes(tmp_path: Path) -> None:
    repo = _repo(tmp_path, {
        ".github/workflows/a.yml": "on: push\njobs: {}\n",
        ".github/workflows/b.yml": "on: [push, pull_request]\njobs: {}\n",
        ".github/workflows/c.yaml": (
            "name: c\n'on':\n  schedule:\n    - cron: '0 1 * * *'\n    - cron: '0 2 * * 6'\n"
            "  push:\n    tags: ['v*']\n  release:\n    types: [published]\njobs: {}\n"),
        ".github/workflows/nested/ignored.yml": "on: push\n",
        ".github/workflows/d.yml": "on:\n  push:\njobs: {}\n",
    })
    ci = load_ci(repo)
    by = {w.path.rsplit("/", 1)[1]: w for w in ci.workflows}
    assert sorted(by) == ["a.yml", "b.yml", "c.yaml", "d.yml"]
    assert [(t.event, t.line) for t in by["a.yml"].triggers] == [("push", 1)]
    assert [t.event for t in by["b.yml"].triggers] == ["push", "pull_request"]
    c = by["c.yaml"].triggers
    assert [(t.event, t.line) for t in c] == [("schedule", 3), ("push", 6), ("release", 8)]
    assert c[0].crons == ("0 1 * * *", "0 2 * * 6")
    assert c[1].tags == ("v*",) and c[1].runs_on_tags
    assert by["d.yml"].triggers[0].runs_on_tags  # no filter: branches and tags


def test_permissions_shapes(tmp_path: Path) -> None:
    repo = _repo(tmp_path, {
        ".github/workflows/a.yml": "on: push\npermissions: write-all\njobs: {}\n",
        ".github/workflows/b.yml": "on: push\npermissions: {}\njobs: {}\n",
        ".github/workflows/c.yml": ("on: push\njobs:\n  j:\n    permissions:\n      contents: write\n"
                                    "      id-token: write\n    steps: []\n"),
    })
    by = {w.path.rsplit("/", 1)[1]: w for w in load_ci(repo).workflows}
    a, b = by["a.yml"].permissions, by["b.yml"].permissions
    assert a is not None and a.write_scopes == ("*",) and not a.read_only
    assert b is not None and b.shorthand == "{}" and b.read_only
    job = by["c.yml"].jobs[0]
    assert job.permissions is not None and job.permissions.line == 4
    assert job.permissions.write_scopes == ("contents", "id-token")


def test_gitlab_pipeline() -> None:
    ci = load_ci(RepoView(FIXTURES / "gitlab"))
    (wf,) = ci.workflows
    assert wf.system == GITLAB and wf.path == ".gitlab-ci.yml"
    assert wf.stages == ("build", "test", "deploy")
    assert [(i.kind, i.value, i.line) for i in wf.includes] == [
        ("template", "Security/Dependency-Scanning.gitlab-ci.yml", 7),
        ("template", "Jobs/Container-Scanning.gitlab-ci.yml", 8),
        ("local", "ci/extra.yml", 9),
    ]
    jobs = {j.id: j for j in wf.jobs}
    assert sorted(jobs) == ["build-image", "leaky", "osv-weekly", "pip-audit", "sbom"]
    assert "variables" not in jobs
    assert jobs["build-image"].images == (("docker:27", 16), ("docker:27-dind", 18))
    audit = jobs["pip-audit"]
    assert audit.continue_on_error and audit.stage == "test"
    assert [(s.line, s.run) for s in audit.steps] == [
        (28, "pip install pip-audit"), (29, "pip-audit -r requirements.txt")]
    assert all(s.continue_on_error for s in audit.steps)
    assert [t.event for t in audit.triggers] == ["push", "merge_request"]
    assert [(t.event, t.line) for t in jobs["osv-weekly"].triggers] == [("schedule", 35)]
    assert [t.event for t in jobs["sbom"].triggers] == ["tag"]
    assert wf.jobs_needed_by("sbom") >= {"build-image", "pip-audit"}


def test_gitlab_extends_only_and_default(tmp_path: Path) -> None:
    repo = _repo(tmp_path, {".gitlab-ci.yml": (
        "default:\n  before_script:\n    - pip install -r requirements.txt\n"
        ".audit:\n  script:\n    - safety check\n  allow_failure: false\n"
        "nightly:\n  extends: .audit\n  only:\n    - schedules\n"
    )})
    (wf,) = load_ci(repo).workflows
    jobs = {j.id: j for j in wf.jobs}
    assert jobs[".audit"].hidden
    nightly = jobs["nightly"]
    assert [(s.name, s.line, s.run) for s in nightly.steps] == [
        ("before_script", 3, "pip install -r requirements.txt"), ("script", 6, "safety check")]
    assert [(t.event, t.line) for t in nightly.triggers] == [("schedule", 10)]


def test_precommit_and_update_bots() -> None:
    ci = load_ci(RepoView(FIXTURES / "present"))
    assert [(h.id, h.line, h.rev) for h in ci.precommit] == [("gitleaks", 5, "v8.18.4"), ("pip-audit", 9, "v2.7.3")]
    (bot,) = ci.update_bots
    assert bot.kind == "dependabot" and bot.ecosystems == (("github-actions", 3), ("pip", 7))
    anti = load_ci(RepoView(FIXTURES / "anti-pattern"))
    assert [(b.kind, b.path) for b in anti.update_bots] == [("renovate", "renovate.json")]


def test_renovate_in_package_json(tmp_path: Path) -> None:
    repo = _repo(tmp_path, {"package.json": '{\n  "name": "x",\n  "renovate": {"extends": []}\n}\n'})
    assert [(b.kind, b.line) for b in load_ci(repo).update_bots] == [("renovate", 3)]


def test_load_ci_is_cached_per_view() -> None:
    repo = RepoView(FIXTURES / "present")
    assert load_ci(repo) is load_ci(repo)


def test_malformed_files_become_notes_and_the_rest_is_read() -> None:
    repo = RepoView(FIXTURES / "malformed")
    ci = load_ci(repo)
    assert [w.path for w in ci.workflows] == [".github/workflows/ok.yml"]
    assert ci.present
    notes = {(n.path, n.line) for n in repo.notes}
    assert (".github/workflows/broken.yml", 3) in notes
    assert (".github/workflows/list.yml", 1) in notes
    assert (".gitlab-ci.yml", 2) in notes
    assert (".pre-commit-config.yaml", 1) in notes
    assert any("not parsed (YAML)" in n.message for n in repo.notes if n.path == ".github/workflows/broken.yml")


@pytest.mark.parametrize(("script", "expected"), [
    ("pip-audit -r requirements.txt", [("pip-audit", "-r", "requirements.txt")]),
    ("python -m pip_audit --strict", [("pip-audit", "--strict")]),
    ("uv run pip-audit", [("pip-audit",)]),
    ("FOO=1 poetry run safety check", [("safety", "check")]),
    ("sudo -E trivy fs .", [("trivy", "fs", ".")]),
    ("pip install pip-audit && pip-audit  # audit", [("pip", "install", "pip-audit"), ("pip-audit",)]),
    ("trivy image \\\n  --exit-code 1 img:1", [("trivy", "image", "--exit-code", "1", "img:1")]),
    ("# only a comment", []),
    ("echo 'a && b' ; ls", [("echo", "a && b"), ("ls",)]),
])
def test_split_commands(script: str, expected: list[tuple[str, ...]]) -> None:
    assert [c.argv for c in split_commands(script, 1)] == expected


def test_split_commands_lines_pipes_and_redirects() -> None:
    cmds = split_commands("set -e\necho $T > token.txt\necho $T | login --stdin\nls \\\n  -l\nx", 10)
    assert [(c.program, c.line, c.piped, c.redirected) for c in cmds] == [
        ("set", 10, False, False), ("echo", 11, False, True), ("echo", 12, True, False), ("login", 12, False, False),
        ("ls", 13, False, False), ("x", 15, False, False)]


def test_script_text_lines_and_uses_lines(tmp_path: Path) -> None:
    repo = _repo(tmp_path, {
        ".github/workflows/ci.yml": (
            "on: push\njobs:\n  t:\n    runs-on: x\n    steps:\n"
            "      - name: one line in a block\n        run: |\n          dvc pull\n"   # 6-8
            "      - uses: actions/checkout@v4\n"                                     # 9
            "      - name: pinned\n        uses: actions/setup-python@v5\n"           # 10-11
            "      - run: dvc repro\n"),                                             # 12
        ".github/workflows/nested/not-a-workflow.yml": "on: push\njobs:\n  t:\n    steps:\n      - run: x\n",
        "ci/.gitlab-ci.yaml": "job:\n  script: |\n    make train\n  after_script:\n    - |\n      echo done\n",
    })
    ci = load_ci(repo)
    assert {w.path for w in ci.workflows} == {".github/workflows/ci.yml", "ci/.gitlab-ci.yaml"}
    steps = list(next(w for w in ci.workflows if w.system == GITHUB).steps())
    assert [(s.line, s.run_line, s.uses_line) for s in steps] == [(6, 8, None), (9, None, 9), (10, None, 11),
                                                                 (12, 12, None)]
    assert [(c.program, c.line) for c in steps[0].commands()] == [("dvc", 8)]
    gitlab = list(next(w for w in ci.workflows if w.system == GITLAB).steps())
    assert [(s.name, s.line, s.run_line, s.run.strip() if s.run else None) for s in gitlab] == [
        ("script", 2, 3, "make train"), ("after_script", 5, 6, "echo done")]


def test_gitlab_template_script_lines_keep_the_template_lines(tmp_path: Path) -> None:
    repo = _repo(tmp_path, {".gitlab-ci.yml": (
        ".train:\n  script: |\n    python train.py\n"       # 1-3
        "a:\n  extends: .train\n"                            # 4-5
        "b:\n  extends: .train\n")})                         # 6-7
    (wf,) = load_ci(repo).workflows
    runs = {j.id: [(s.line, s.run_line) for s in j.steps] for j in wf.jobs}
    assert runs == {".train": [(2, 3)], "a": [(2, 3)], "b": [(2, 3)]}
