"""The parsers alone: what each format yields, with lines, hashes, markers, extras, VCS refs and lock entries."""

from __future__ import annotations

import ast

import pytest

from mlposture.scanner.repo import RepoView
from mlposture.scanner.sources.manifests.ci import CiResult, read_github_workflow, read_gitlab_ci, read_pip_conf
from mlposture.scanner.sources.manifests.conda import read_conda_lock, read_environment
from mlposture.scanner.sources.manifests.locks import read_toml_lock
from mlposture.scanner.sources.manifests.model import IndexRole, SourceKind
from mlposture.scanner.sources.manifests.pep508 import RequirementError, exact_version, mask_url, parse_requirement
from mlposture.scanner.sources.manifests.pipenv import read_pipfile, read_pipfile_lock
from mlposture.scanner.sources.manifests.pyproject import read_pyproject
from mlposture.scanner.sources.manifests.read import declared_requirements, locked_packages, read_manifests
from mlposture.scanner.sources.manifests.requirements_txt import is_requirements_name, is_runtime_file
from mlposture.scanner.sources.manifests.setuptools_files import read_setup_cfg, read_setup_py
from mlposture.scanner.sources.manifests.shell import read_dockerfile
from tests.probe_harness import ROOT

FIXTURES = ROOT / "fixtures" / "dependencies"

R = SourceKind.REQUIREMENTS


def test_exact_versions():
    assert exact_version("==1.2.3") == "1.2.3"
    assert exact_version("===1.2.3-custom") == "1.2.3-custom"
    assert exact_version("==1.*") is None
    assert exact_version(">=1,<2") is None
    assert exact_version("==1.2,!=1.3") is None


def test_pep508_fields():
    req = parse_requirement('uvicorn[standard,http]==0.29.0 ; python_version >= "3.8"', "r.txt", 3, R)
    assert (req.name, req.version_pinned, req.extras, req.markers) == (
        "uvicorn", "0.29.0", ("http", "standard"), 'python_version >= "3.8"')
    assert req.pinned and req.is_runtime


def test_vcs_refs():
    sha = "3f2a9c1d4b5e6f708192a3b4c5d6e7f8091a2b3c"
    at_commit = parse_requirement(f"git+https://github.com/o/r.git@{sha}#egg=r", "r.txt", 1, R)
    assert (at_commit.name, at_commit.vcs, at_commit.vcs_ref, at_commit.vcs_commit) == ("r", "git", sha, True)
    assert at_commit.pinned
    at_tag = parse_requirement("lib @ git+https://github.com/o/lib.git@v1.0", "r.txt", 1, R)
    assert (at_tag.name, at_tag.vcs_ref, at_tag.pinned) == ("lib", "v1.0", False)
    no_ref = parse_requirement("git+ssh://git@github.com/o/x.git#egg=x", "r.txt", 1, R)
    assert (no_ref.vcs_ref, no_ref.pinned) == (None, False)


def test_urls_local_paths_and_credentials():
    wheel = parse_requirement("https://download.example.com/torch-2.2.2-cp311-cp311-linux_x86_64.whl", "r", 1, R)
    assert (wheel.name, wheel.version_pinned) == ("torch", "2.2.2")
    local = parse_requirement("./libs/inhouse", "r", 1, R, editable=True)
    assert local.local and local.pinned
    assert mask_url("https://user:secret@host.example/simple") == "https://***@host.example/simple"
    with pytest.raises(RequirementError):
        parse_requirement("this is not a requirement!!", "r", 1, R)


def test_requirement_file_names_and_runtime():
    assert is_requirements_name("requirements.txt")
    assert is_requirements_name("requirements/dev.in")
    assert is_requirements_name("constraints.txt")
    assert not is_requirements_name("MANIFEST.in")
    assert not is_requirements_name("docs/notes.txt")
    assert is_runtime_file("requirements.txt")
    assert not is_runtime_file("requirements-dev.txt")
    assert not is_runtime_file("requirements/test.txt")
    assert is_runtime_file("requirements/prod.txt")


def test_requirements_reader_on_the_pinned_fixture():
    reqs = [r for r in declared_requirements(RepoView(FIXTURES / "pinned")) if r.path == "requirements.txt"]
    assert [(r.name, r.line, r.source_kind) for r in reqs] == [
        ("fastapi", 7, SourceKind.PIP_COMPILE), ("pydantic", 9, SourceKind.PIP_COMPILE),
        ("requests", 11, SourceKind.PIP_COMPILE), ("uvicorn", 13, SourceKind.PIP_COMPILE)]
    assert reqs[0].hashes == ("sha256:87a1f6fb632a218222c5984be540055346a8f5d8a68e8f6fb647b1dc9934de4b",)
    assert reqs[3].raw == 'uvicorn[standard]==0.29.0 ; python_version >= "3.8"'


def test_pyproject_poetry_and_pep621():
    text = (FIXTURES / "unpinned" / "pyproject.toml").read_text()
    res = read_pyproject("pyproject.toml", text)
    got = {r.name: (r.line, r.specifier, r.version_pinned, r.is_runtime) for r in res.requirements}
    assert got["torch"] == (9, "^2.2", None, True)
    assert got["mlflow"] == (11, "2.12.1", "2.12.1", True)
    assert got["datasets"][:2] == (12, ">=2.18")
    assert got["ruff"] == (17, "*", None, False)
    peft = next(r for r in res.requirements if r.name == "peft")
    assert peft.vcs_commit and peft.line == 14
    [source] = res.indexes
    assert (source.role, source.line, source.extra, source.name) == (IndexRole.EXTRA, 19, "supplemental", "internal")
    pep621 = read_pyproject("pyproject.toml", (FIXTURES / "pinned" / "pyproject.toml").read_text())
    assert [(r.name, r.line, r.is_runtime, r.group) for r in pep621.requirements] == [
        ("numpy", 6, True, None), ("scikit-learn", 7, True, None), ("pytest", 11, False, "dev")]


def test_pep735_groups_and_uv_dev_dependencies():
    text = ('[project]\nname = "x"\ndependencies = []\n\n[dependency-groups]\ntest = [\n    "pytest>=8",\n]\n\n'
            '[tool.uv]\ndev-dependencies = ["ruff==0.4.1"]\n')
    res = read_pyproject("pyproject.toml", text)
    assert [(r.name, r.line, r.source_kind, r.is_runtime) for r in res.requirements] == [
        ("pytest", 7, SourceKind.PEP735, False), ("ruff", 11, SourceKind.UV, False)]


def test_setup_cfg_and_setup_py():
    cfg = read_setup_cfg("setup.cfg", (FIXTURES / "unpinned" / "setup.cfg").read_text())
    assert [(r.name, r.line, r.pinned) for r in cfg.requirements] == [("tqdm", 6, False), ("click", 7, True)]
    tree = ast.parse((FIXTURES / "unpinned" / "setup.py").read_text())
    py = read_setup_py("setup.py", tree)
    assert [(r.name, r.line, r.group) for r in py.requirements] == [
        ("joblib", 8, None), ("scipy", 9, None), ("cupy-cuda12x", 12, "gpu")]
    named = read_setup_py("setup.py", ast.parse('REQS = ["a==1.0"]\nsetup(install_requires=REQS)\n'))
    assert [(r.name, r.line) for r in named.requirements] == [("a", 1)]
    computed = read_setup_py("setup.py", ast.parse("setup(install_requires=[r for r in x])\n"))
    assert computed.requirements == []
    assert computed.unknown[0].line == 1


def test_pipfile_and_lock():
    res = read_pipfile("Pipfile", (FIXTURES / "locks" / "pipenv" / "Pipfile").read_text())
    assert [(r.name, r.line, r.specifier, r.is_runtime) for r in res.requirements] == [
        ("flask", 7, "", True), ("pillow", 8, ">=9", True), ("pytest", 11, "", False)]
    lock = read_pipfile_lock("Pipfile.lock", (FIXTURES / "locks" / "pipenv" / "Pipfile.lock").read_text())
    assert [(p.name, p.version, p.line) for p in lock.locked] == [
        ("flask", "3.0.2", 9), ("pillow", "10.0.0", 14), ("pytest", "8.1.1", 21)]
    assert lock.locked[0].hashes == ("sha256:3232e0e9c850d781933cf0207523d1ece087eb8d87b23777ae38456e2fbe7c6e",)


def test_conda_environment_and_lock():
    env = read_environment("environment.yml", (FIXTURES / "unpinned" / "environment.yml").read_text())
    assert [(r.name, r.line, r.version_pinned, r.source_kind.value) for r in env.requirements] == [
        ("python", 5, None, "conda"), ("numpy", 6, None, "conda"), ("scipy", 7, "1.12.0", "conda"),
        ("cudatoolkit", 8, None, "conda"), ("pip", 9, None, "conda"), ("accelerate", 11, None, "conda-pip"),
        ("sentencepiece", 12, "0.2.0", "conda-pip")]
    lock = read_conda_lock("conda-lock.yml", (FIXTURES / "locks" / "conda" / "conda-lock.yml").read_text())
    assert [(p.name, p.version, p.line, p.ecosystem) for p in lock.locked] == [
        ("pytorch", "2.2.2", 11, "conda"), ("torchvision", "0.17.2", 19, "conda"), ("python", "3.11.8", 25, "conda"),
        ("timm", "0.9.16", 31, "pypi")]


@pytest.mark.parametrize(("folder", "name", "kind", "expected"), [
    ("locks/poetry", "poetry.lock", SourceKind.POETRY_LOCK, [("numpy", "1.26.4", 3), ("torch", "2.2.2", 13)]),
    ("locks/pdm", "pdm.lock", SourceKind.PDM_LOCK, [("pytest", "8.1.1", 10), ("transformers", "4.40.1", 17)]),
    ("pinned", "uv.lock", SourceKind.UV_LOCK,
     [("numpy", "1.26.4", 13), ("pytest", "8.1.1", 19), ("scikit-learn", "1.4.2", 24)]),
])
def test_toml_lock_files(folder, name, kind, expected):
    locked, notes = read_toml_lock(name, (FIXTURES / folder / name).read_text(), kind)
    assert notes == []
    assert [(p.name, p.version, p.line) for p in locked] == expected


def test_dockerfile_installs_and_index_variables():
    res = read_dockerfile("Dockerfile", (FIXTURES / "unpinned" / "Dockerfile").read_text())
    assert [(r.name, r.line, r.upgrade, r.is_runtime) for r in res.requirements] == [
        ("pip", 3, True, False), ("torch", 4, True, True), ("onnxruntime", 5, True, True),
        ("xgboost", 6, False, True)]
    assert [(i.url, i.role, i.line) for i in res.indexes] == [
        ("https://pkgs.corp.example/simple", IndexRole.EXTRA, 2)]
    variable = read_dockerfile("Dockerfile", "FROM x\nARG TORCH=2.2.2\nRUN pip install torch==${TORCH} $EXTRA\n")
    assert [(r.name, r.version_pinned) for r in variable.requirements] == [("torch", "2.2.2")]
    assert variable.unknown[0].line == 3


def test_github_and_gitlab_ci():
    ci = CiResult()
    read_github_workflow(".github/workflows/train.yml",
                         (FIXTURES / "unpinned" / ".github" / "workflows" / "train.yml").read_text(), ci)
    assert [(a.action, a.ref, a.line, a.sha_pinned) for a in ci.actions] == [
        ("actions/checkout", "v4", 9, False), ("some-org/setup-gpu", "main", 10, False),
        ("docker://ghcr.io/example/trainer:latest", "", 11, False)]
    assert [(r.name, r.line, r.source_kind, r.is_runtime) for r in ci.shell.requirements] == [
        ("wandb", 14, SourceKind.CI, False)]
    pinned = CiResult()
    read_github_workflow("ci.yml", (FIXTURES / "pinned" / ".github" / "workflows" / "ci.yml").read_text(), pinned)
    assert all(a.sha_pinned for a in pinned.actions)
    gl = CiResult()
    read_gitlab_ci(".gitlab-ci.yml", (FIXTURES / "indexes" / ".gitlab-ci.yml").read_text(), gl)
    assert [(i.name, i.role, i.line) for i in gl.shell.indexes] == [("UV_DEFAULT_INDEX", IndexRole.PRIMARY, 2)]
    assert [(r.name, r.line, r.version_pinned) for r in gl.shell.requirements] == [("numpy", 6, "1.26.4")]


def test_pip_conf():
    indexes, notes = read_pip_conf("pip.conf", "[global]\nindex-url = https://a.example/simple\n"
                                               "extra-index-url =\n    https://b.example/simple\n")
    assert notes == []
    assert [(i.url, i.role, i.line) for i in indexes] == [
        ("https://a.example/simple", IndexRole.PRIMARY, 2), ("https://b.example/simple", IndexRole.EXTRA, 4)]


def test_public_api_is_cached_and_complete():
    repo = RepoView(FIXTURES / "locks")
    first = read_manifests(repo)
    assert read_manifests(repo) is first
    assert locked_packages(repo) == first.locked
    assert set(first.lock_files) == {"conda/conda-lock.yml", "pdm/pdm.lock", "pipcompile/constraints.txt",
                                     "pipcompile/requirements.txt", "pipenv/Pipfile.lock", "poetry/poetry.lock"}


def test_dynamic_dependencies_are_unknown_unless_read_from_a_file():
    dynamic = read_pyproject("pyproject.toml", '[project]\nname = "x"\ndynamic = ["dependencies"]\n')
    assert [(u.line, u.message) for u in dynamic.unknown] == [
        (1, "[project] dependencies are dynamic (computed by the build backend): unknown")]
    from_file = read_pyproject("pyproject.toml", '[project]\nname = "x"\ndynamic = ["dependencies"]\n\n'
                               '[tool.setuptools.dynamic]\ndependencies = {file = ["requirements.txt"]}\n')
    assert from_file.unknown == []


def test_multiline_ci_steps_keep_each_requirement_line():
    workflow = (
        "on: push\njobs:\n  build:\n    runs-on: ubuntu-latest\n    steps:\n      - name: deps\n"
        "        run: |\n          python -m pip install --upgrade pip\n          pip install \\\n"
        "            torch==2.2.2 \\\n            'transformers>=4.40' \\\n            -r requirements.txt\n"
        "          pip config set global.index-url https://pypi.corp.example/simple\n"
        "          echo done  # pip install ignored-in-comment\n")
    ci = CiResult()
    read_github_workflow(".github/workflows/b.yml", workflow, ci)
    assert [(r.name, r.line, r.version_pinned) for r in ci.shell.requirements] == [
        ("pip", 8, None), ("torch", 10, "2.2.2"), ("transformers", 11, None)]
    assert [(i.url, i.role, i.line) for i in ci.shell.indexes] == [
        ("https://pypi.corp.example/simple", IndexRole.PRIMARY, 13)]


def test_direct_references_keep_their_url():
    archive = parse_requirement("pkg @ https://example.com/pkg-1.2.3.tar.gz", "r", 1, R)
    assert (archive.name, archive.version_pinned, archive.url) == ("pkg", "1.2.3", "https://example.com/pkg-1.2.3.tar.gz")
    hashed = parse_requirement("pkg @ https://example.com/x.tar.gz#sha256=abcdef", "r", 1, R)
    assert (hashed.hashes, hashed.pinned) == (("sha256:abcdef",), True)
    vcs = parse_requirement("r @ git+https://user:tok@github.com/o/r@v1", "r", 1, R)
    assert (vcs.url, vcs.vcs_ref, vcs.pinned) == ("git+https://***@github.com/o/r@v1", "v1", False)


def test_requirements_options_forms(tmp_path):
    (tmp_path / "requirements.txt").write_text(
        '-e ".[serve]"\n--index-url=https://pypi.corp.example/simple\n-rbase.txt\n'
        "--requirement=more.txt\nfoo==1.0 --hash=sha256:aa --hash=sha256:bb\n")
    (tmp_path / "base.txt").write_text("bar==2.0\n")
    (tmp_path / "more.txt").write_text("baz\n")
    m = read_manifests(RepoView(tmp_path))
    assert [(r.path, r.line, r.name, r.local, r.hashes) for r in m.requirements] == [
        ("requirements.txt", 1, ".[serve]", True, ()), ("base.txt", 1, "bar", False, ()),
        ("more.txt", 1, "baz", False, ()), ("requirements.txt", 5, "foo", False, ("sha256:aa", "sha256:bb"))]
    assert [(i.url, i.line) for i in m.indexes] == [("https://pypi.corp.example/simple", 2)]
