"""PIPE-01 on the fixture repositories: every unpinned requirement at its exact line, nothing pinned reported."""

from __future__ import annotations

from mlposture.probes.dependencies import DependenciesProbe
from mlposture.scanner.probe import Effect, Severity
from mlposture.scanner.settings import Settings
from tests.probe_harness import ROOT

FIXTURES = ROOT / "fixtures" / "dependencies"
NO_VULNS = Settings(no_vulns=True)  # tests never reach a vulnerability service

UNPINNED = "dependencies.unpinned-requirement"
ACTION = "dependencies.unpinned-action"

# (path, line) of every unpinned runtime requirement of fixtures/dependencies/unpinned, one per format
UNPINNED_RUNTIME = {
    ("requirements/base.txt", 1),  # requests>=2.31 (reached through -r)
    ("requirements.txt", 5),  # numpy (bare)
    ("requirements.txt", 6),  # pandas>=2.0
    ("requirements.txt", 7),  # scikit-learn~=1.4
    ("requirements.txt", 8),  # transformers==4.* (wildcard)
    ("requirements.txt", 10),  # uvicorn[standard]>=0.29 ; marker
    ("requirements.txt", 11),  # git ... @main
    ("requirements.txt", 12),  # git ... without a ref
    ("requirements.txt", 15),  # direct URL without version or hash
    ("pyproject.toml", 9),  # torch = "^2.2"
    ("pyproject.toml", 10),  # lightgbm = "~4.3"
    ("pyproject.toml", 12),  # datasets = {version = ">=2.18"}
    ("pyproject.toml", 13),  # evaluate = {git, tag}
    ("setup.py", 8),  # joblib>=1.3
    ("setup.py", 12),  # extras: cupy-cuda12x
    ("setup.cfg", 6),  # tqdm
    ("Pipfile", 7),  # flask = "*"
    ("environment.yml", 6),  # numpy=1.26 (conda fuzzy)
    ("environment.yml", 8),  # cudatoolkit
    ("environment.yml", 11),  # pip: accelerate>=0.28
    ("Dockerfile", 4),  # pip install -U torch
    ("Dockerfile", 6),  # python -m pip install "xgboost>=2.0"
}
UNPINNED_NON_RUNTIME = {
    ("requirements-dev.txt", 2),  # pytest
    ("pyproject.toml", 17),  # ruff = "*" in the dev group
    ("Pipfile", 11),  # mypy in dev-packages
    ("environment.yml", 5),  # python=3.11 (interpreter)
    ("environment.yml", 9),  # pip
    ("Dockerfile", 3),  # pip install --upgrade pip
    (".github/workflows/train.yml", 14),  # pip install wandb in CI
    (".gitlab-ci.yml", 6),  # pip install ruff in CI
}


def test_every_unpinned_requirement_at_its_exact_line(probe_scan):
    scan = probe_scan(DependenciesProbe, "dependencies/unpinned", NO_VULNS)
    found = scan.findings(UNPINNED)
    runtime = {(f.path, f.line) for f in found if f.effect is Effect.FAIL}
    other = {(f.path, f.line) for f in found if f.effect is Effect.PARTIAL}
    assert runtime == UNPINNED_RUNTIME
    assert other == UNPINNED_NON_RUNTIME
    assert all(f.severity is Severity.HIGH for f in found if f.effect is Effect.FAIL)
    assert all(f.severity is Severity.LOW for f in found if f.effect is Effect.PARTIAL)
    assert all(f.controls == ("PIPE-01",) for f in found)


def test_pinned_lines_are_never_reported(probe_scan):
    pinned_places = {
        ("requirements/base.txt", 2), ("requirements.txt", 9), ("requirements.txt", 13), ("requirements.txt", 14),
        ("requirements-dev.txt", 3), ("pyproject.toml", 11), ("pyproject.toml", 14), ("setup.py", 9),
        ("setup.cfg", 7), ("Pipfile", 8), ("environment.yml", 7), ("environment.yml", 12), ("Dockerfile", 5),
    }
    scan = probe_scan(DependenciesProbe, "dependencies/unpinned", NO_VULNS)
    reported = {(f.path, f.line) for f in scan.findings(UNPINNED)}
    assert not pinned_places & reported


def test_finding_messages_say_why(probe_scan):
    scan = probe_scan(DependenciesProbe, "dependencies/unpinned", NO_VULNS)
    by_place = {(f.path, f.line): f for f in scan.findings(UNPINNED)}
    assert by_place[("requirements.txt", 8)].message.startswith("transformers==4.*: wildcard version '==4.*'")
    assert "VCS reference at 'main'" in by_place[("requirements.txt", 11)].message
    assert "VCS reference without a commit" in by_place[("requirements.txt", 12)].message
    assert "Poetry range '^2.2'" in by_place[("pyproject.toml", 9)].message
    assert "VCS reference at 'v0.4.1'" in by_place[("pyproject.toml", 13)].message
    assert "with --upgrade" in by_place[("Dockerfile", 4)].message
    assert by_place[("requirements.txt", 5)].content == "numpy"
    assert by_place[("Pipfile", 7)].content == 'flask = "*"'


def test_share_pinned_in_the_fail_evidence(probe_scan):
    [ev] = probe_scan(DependenciesProbe, "dependencies/unpinned", NO_VULNS).evidence("PIPE-01")
    assert ev.effect is Effect.FAIL
    assert ev.message.startswith("11 of 33 runtime dependencies pinned (33%); 11 pinned in place; 22 unpinned")
    assert (ev.path, ev.line) == ("requirements/base.txt", 1)


def test_unpinned_actions_are_their_own_partial_findings(probe_scan):
    scan = probe_scan(DependenciesProbe, "dependencies/unpinned", NO_VULNS)
    found = {(f.path, f.line, f.content, f.severity) for f in scan.findings(ACTION)}
    assert found == {
        (".github/workflows/train.yml", 9, "actions/checkout@v4", Severity.LOW),
        (".github/workflows/train.yml", 10, "some-org/setup-gpu@main", Severity.MEDIUM),
        (".github/workflows/train.yml", 11, "docker://ghcr.io/example/trainer:latest", Severity.MEDIUM),
    }
    scan = probe_scan(DependenciesProbe, "dependencies/unpinned", NO_VULNS)
    assert all(f.effect is Effect.PARTIAL for f in scan.findings(ACTION))


def test_all_pinned_or_lock_covered_passes_with_hashes_noted(probe_scan):
    scan = probe_scan(DependenciesProbe, "dependencies/pinned", NO_VULNS)
    assert scan.findings(UNPINNED) == []
    assert scan.findings(ACTION) == []
    [ev] = scan.evidence("PIPE-01")
    assert ev.effect is Effect.PASS
    assert ev.message == ("12 of 12 runtime dependencies pinned (100%); 6 pinned in place; 4 hash-locked (strong); "
                          "6 covered by requirements.txt, uv.lock")


def test_every_lock_format_covers_its_manifest_ranges(probe_scan):
    scan = probe_scan(DependenciesProbe, "dependencies/locks", NO_VULNS)
    assert scan.findings(UNPINNED) == []
    [ev] = scan.evidence("PIPE-01")
    assert ev.effect is Effect.PASS
    assert ev.message.startswith("11 of 11 runtime dependencies pinned (100%); 2 pinned in place; 9 covered by "
                                 "conda/conda-lock.yml, pdm/pdm.lock, pipcompile/requirements.txt, "
                                 "pipenv/Pipfile.lock, poetry/poetry.lock")


def test_lock_in_another_folder_does_not_cover(probe_scan, tmp_path):
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "requirements.txt").write_text("numpy>=1.26\n")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "requirements.txt").write_text(
        "# This file is autogenerated by pip-compile with Python 3.11\nnumpy==1.26.4\n")
    found = probe_scan(DependenciesProbe, tmp_path, NO_VULNS).findings(UNPINNED)
    assert [(f.path, f.line) for f in found] == [("app/requirements.txt", 1)]


def test_docker_install_with_constraints_is_covered(probe_scan, tmp_path):
    (tmp_path / "constraints.txt").write_text("torch==2.2.2\n")
    (tmp_path / "Dockerfile").write_text("FROM python:3.11\nRUN pip install -c constraints.txt torch\n"
                                         "RUN pip install transformers\n")
    found = probe_scan(DependenciesProbe, tmp_path, NO_VULNS).findings(UNPINNED)
    assert [(f.path, f.line, f.content) for f in found] == [("Dockerfile", 3, "pip install transformers")]


def test_computed_setup_py_caps_at_partial_and_is_noted(probe_scan):
    scan = probe_scan(DependenciesProbe, "dependencies/malformed", NO_VULNS)
    [ev] = scan.evidence("PIPE-01")
    assert ev.effect is Effect.PARTIAL
    assert (ev.path, ev.line) == ("setup.py", 7)
    assert ("setup.py", 7, "install_requires is computed (Call), not a literal list: unknown") in {
        (n.path, n.line, n.message) for n in scan.item_notes()}


def test_absent_repository_is_searched_not_failed(probe_scan):
    scan = probe_scan(DependenciesProbe, "dependencies/absent", NO_VULNS)
    assert scan.evidence("PIPE-01") == []
    assert scan.evidence("PIPE-03") == []
    assert "no runtime dependency declared" in scan.searched("PIPE-01")[0]
    assert "no private index" in scan.searched("PIPE-03")[0]


def test_fixture_root_exists():
    assert (FIXTURES / "unpinned" / "requirements.txt").is_file()
