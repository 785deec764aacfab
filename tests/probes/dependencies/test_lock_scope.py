"""PIPE-01 in monorepos: a lock file covers only the manifest it was generated from, never another project folder.

Also the parsers that fed false findings: Dockerfile ``pip install`` continuations (comment lines inside, unquoted
``>=``, redirections) and the project's own extras or workspace members named in its own manifest.
"""

from __future__ import annotations

from pathlib import Path

from mlposture.probes.dependencies import DependenciesProbe
from mlposture.scanner.probe import Effect
from mlposture.scanner.settings import Settings
from tests.probe_harness import ROOT, ProbeScan, scan_with

FIXTURES = ROOT / "fixtures" / "dependencies"
NO_VULNS = Settings(no_vulns=True)  # tests never reach a vulnerability service

UNPINNED = "dependencies.unpinned-requirement"


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def _places(scan: ProbeScan) -> dict[tuple[str, int], str]:
    return {(f.path, f.line): f.message for f in scan.findings(UNPINNED) if f.effect is Effect.FAIL}


def test_monorepo_every_project_judged_by_its_own_lock(probe_scan):
    found = _places(probe_scan(DependenciesProbe, "dependencies/monorepo", NO_VULNS))
    assert set(found) == {
        ("services/api/requirements.txt", 1),  # fastapi>=0.110: the root Pipfile.lock pins fastapi for the root app
        ("services/api/Dockerfile", 7),  # vllm>=0.4.0 after a comment line inside the continuation
        ("ml/packages/core/pyproject.toml", 6),  # scipy>=1.11: a workspace member, but its uv.lock is stale
        ("ml/tools/bench/pyproject.toml", 5),  # locust: a folder under the workspace that is not a member
        ("jobs/report/requirements.txt", 1),  # polars>=0.20: jobs/etl's pip-compile output is not its lock
    }
    assert found[("services/api/requirements.txt", 1)] == (
        "fastapi>=0.110: range '>=0.110' accepts new releases; no lock file was generated from this manifest "
        "(Pipfile.lock pins it for another project, which does not cover this one) (runtime dependency, requirements)")
    assert "ml/uv.lock, generated from this manifest, does not pin it" in found[("ml/packages/core/pyproject.toml", 6)]
    assert found[("services/api/Dockerfile", 7)].startswith("pip install vllm>=0.4.0: range '>=0.4.0' accepts new")
    assert "jobs/etl/requirements.txt pins it for another project" in found[("jobs/report/requirements.txt", 1)]


def test_monorepo_locks_cover_what_they_were_generated_from(probe_scan):
    scan = probe_scan(DependenciesProbe, "dependencies/monorepo", NO_VULNS)
    reported = set(_places(scan))
    covered = {
        ("Pipfile", 7), ("Pipfile", 8), ("Pipfile", 9),  # Pipfile ranges, pinned by the Pipfile.lock beside it
        ("ml/pyproject.toml", 7),  # torch>=2.2: uv.lock beside it
        ("ml/pyproject.toml", 11),  # fastapi>=0.110 in the serve extra
        ("ml/packages/core/pyproject.toml", 5),  # numpy>=1.26: a workspace member uv.lock lists
        ("jobs/etl/requirements.in", 1),  # the input named in the pip-compile header
    }
    assert not covered & reported
    # the project itself and its workspace member are local, never "no version constraint"
    assert not {("ml/pyproject.toml", 6), ("ml/pyproject.toml", 12)} & {(f.path, f.line) for f in
                                                                         scan.findings(UNPINNED)}
    [ev] = scan.evidence("PIPE-01")
    assert (ev.effect, ev.path, ev.line) == (Effect.FAIL, "jobs/report/requirements.txt", 1)
    assert "covered by Pipfile.lock, jobs/etl/requirements.txt, ml/uv.lock" in ev.message


def test_root_lock_never_passes_a_subproject(tmp_path):
    """The measured false pass: a root Pipfile.lock counted for an unpinned requirements.txt in another folder."""
    _write(tmp_path, {
        "Pipfile": '[packages]\nnumpy = "*"\n',
        "Pipfile.lock": '{"default": {"numpy": {"version": "==1.26.4", "hashes": []}}, "develop": {}}\n',
        "serving/requirements.txt": "numpy>=1.26\n",
    })
    scan = scan_with(DependenciesProbe, tmp_path)
    assert scan.status("PIPE-01") == "fail"
    assert [(f.path, f.line) for f in scan.findings(UNPINNED)] == [("serving/requirements.txt", 1)]
    [ev] = scan.evidence("PIPE-01")
    assert (ev.effect, ev.path, ev.line) == (Effect.FAIL, "serving/requirements.txt", 1)


def test_parent_poetry_lock_does_not_cover_a_nested_project(tmp_path):
    _write(tmp_path, {
        "pyproject.toml": '[tool.poetry]\nname = "app"\n[tool.poetry.dependencies]\npython = "^3.11"\n'
                          'numpy = "^1.26"\n',
        "poetry.lock": '[[package]]\nname = "numpy"\nversion = "1.26.4"\n',
        "plugins/extra/pyproject.toml": '[project]\nname = "extra"\nversion = "1"\ndependencies = ["numpy>=1.26"]\n',
    })
    scan = scan_with(DependenciesProbe, tmp_path)
    assert [(f.path, f.line) for f in scan.findings(UNPINNED)] == [("plugins/extra/pyproject.toml", 4)]
    assert scan.status("PIPE-01") == "fail"


def test_lock_present_passes(tmp_path):
    _write(tmp_path, {
        "pyproject.toml": '[project]\nname = "app"\nversion = "1"\ndependencies = ["numpy>=1.26"]\n',
        "uv.lock": 'version = 1\n[[package]]\nname = "app"\nversion = "1"\nsource = { editable = "." }\n'
                   '[[package]]\nname = "numpy"\nversion = "1.26.4"\n',
    })
    scan = scan_with(DependenciesProbe, tmp_path)
    assert scan.findings(UNPINNED) == []
    assert scan.status("PIPE-01") == "pass"
    [ev] = scan.evidence("PIPE-01")
    assert ev.message == "1 of 1 runtime dependencies pinned (100%); 0 pinned in place; 1 covered by uv.lock"


def test_malformed_lock_covers_nothing_and_is_noted(probe_scan, tmp_path):
    _write(tmp_path, {
        "pyproject.toml": '[project]\nname = "app"\nversion = "1"\ndependencies = ["numpy>=1.26"]\n',
        "uv.lock": '[[package]\nname = "numpy"\n',
    })
    scan = probe_scan(DependenciesProbe, tmp_path, NO_VULNS)
    assert [(f.path, f.line) for f in scan.findings(UNPINNED)] == [("pyproject.toml", 4)]
    assert any(n.path == "uv.lock" and n.message.startswith("malformed TOML") for n in scan.item_notes())


def test_pipenv_lock_of_the_editable_project_covers_its_setup_py(probe_scan, tmp_path):
    _write(tmp_path, {
        "setup.py": 'from setuptools import setup\nsetup(name="svc", install_requires=[\n    "numpy>=1.26",\n])\n',
        "Pipfile": '[packages]\nsvc = {path = ".", editable = true}\n',
        "Pipfile.lock": '{"default": {"numpy": {"version": "==1.26.4"}, "svc": {"editable": true, "path": "."}},'
                        ' "develop": {}}\n',
        "other/setup.py": 'from setuptools import setup\nsetup(name="o", install_requires=["numpy>=1.0"])\n',
    })
    found = {(f.path, f.line) for f in probe_scan(DependenciesProbe, tmp_path, NO_VULNS).findings(UNPINNED)}
    assert found == {("other/setup.py", 2)}


def test_pip_compile_inputs_named_from_the_repository_root(probe_scan, tmp_path):
    _write(tmp_path, {
        "requirements/prod.in": "torch>=2.2\n",
        "requirements/prod.txt": "# This file is autogenerated by pip-compile with Python 3.11\n# by the following "
                                 "command:\n#\n#    pip-compile --output-file=requirements/prod.txt "
                                 "requirements/prod.in\n#\ntorch==2.2.2\n",
        "requirements/serve.in": "torch>=2.0\n",
    })
    found = {(f.path, f.line) for f in probe_scan(DependenciesProbe, tmp_path, NO_VULNS).findings(UNPINNED)}
    assert found == {("requirements/serve.in", 1)}


def test_constraints_cover_the_files_that_name_them(probe_scan, tmp_path):
    _write(tmp_path, {
        "constraints.txt": "numpy==1.26.4\n",
        "requirements.txt": "-c constraints.txt\n-r requirements/base.txt\n",
        "requirements/base.txt": "numpy>=1.26\n",
        "tools/requirements.txt": "numpy>=1.20\n",
    })
    found = {(f.path, f.line) for f in probe_scan(DependenciesProbe, tmp_path, NO_VULNS).findings(UNPINNED)}
    assert found == {("tools/requirements.txt", 1)}


def test_own_extras_and_setup_cfg_name_are_local(probe_scan, tmp_path):
    _write(tmp_path, {
        "pyproject.toml": '[project]\nname = "My_Pkg"\nversion = "1"\ndependencies = ["numpy==1.26.4"]\n'
                          '[project.optional-dependencies]\ntorch = ["torch==2.2.2"]\nall = ["my-pkg[torch]"]\n',
        "legacy/setup.cfg": "[metadata]\nname = oldpkg\n[options]\ninstall_requires =\n    requests==2.31.0\n"
                            "[options.extras_require]\nall =\n    oldpkg[cli]\n    rich>=13\n",
    })
    found = {(f.path, f.line, f.content) for f in probe_scan(DependenciesProbe, tmp_path, NO_VULNS).findings(UNPINNED)}
    assert found == {("legacy/setup.cfg", 9, "rich>=13")}


def test_dockerfile_continuations_keep_their_version(probe_scan, tmp_path):
    _write(tmp_path, {"Dockerfile": (
        "FROM python:3.11\n"
        "RUN pip install --no-cache-dir \\\n"
        "    # pinned runtime\n"
        "    \"transformers==4.40.0\" \\\n"
        "    vllm>=0.4.0 \\\n"
        "    accelerate \\\n"
        "    > /tmp/pip.log 2>&1\n"
        "RUN pip install torch==2.2.2 >/dev/null\n")})
    scan = probe_scan(DependenciesProbe, tmp_path, NO_VULNS)
    found = {(f.path, f.line): f.message for f in scan.findings(UNPINNED)}
    assert set(found) == {("Dockerfile", 5), ("Dockerfile", 6)}
    assert found[("Dockerfile", 5)].startswith("pip install vllm>=0.4.0: range '>=0.4.0' accepts new releases")
    assert found[("Dockerfile", 6)].startswith("pip install accelerate: no version constraint")
    assert [(n.path, n.line) for n in scan.item_notes() if "redirection" in n.message] == [("Dockerfile", 5)]
    assert not [n for n in scan.item_notes() if "is not a requirement" in n.message]


def test_fixture_exists():
    assert (FIXTURES / "monorepo" / "ml" / "uv.lock").is_file()
