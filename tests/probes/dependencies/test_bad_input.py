"""Bad input: malformed TOML/YAML/JSON, a line that is not a requirement, a circular -r, a binary
requirements.txt, a huge lock file: a note naming the file and line, the rest of the scan unaffected."""

from __future__ import annotations

from typing import Any

from mlposture.probes.dependencies import DependenciesProbe
from mlposture.scanner.probe import Effect, Finding
from mlposture.scanner.repo import RepoView
from mlposture.scanner.settings import Settings
from mlposture.scanner.sources.manifests.read import declared_requirements
from tests.probe_harness import ROOT

FIXTURES = ROOT / "fixtures" / "dependencies"
NO_VULNS = Settings(no_vulns=True)  # tests never reach a vulnerability service


def _notes(probe_scan: Any) -> set[tuple[str | None, int | None, str]]:
    scan = probe_scan(DependenciesProbe, "dependencies/malformed", NO_VULNS)
    return {(n.path, n.line, n.message) for n in scan.item_notes()}


def test_malformed_files_are_notes_with_file_and_line(probe_scan):
    got = _notes(probe_scan)
    expected = {
        ("requirements-binary.txt", None, "requirements file not read (binary, too large or unreadable)"),
        ("requirements.txt", 1, "circular include requirements-extra.txt -> requirements.txt -> "
                                "requirements-extra.txt, not followed again"),
        ("requirements.txt", 4, "unknown option --frobnicate, ignored"),
        ("Pipfile.lock", 5, "malformed JSON: Expecting property name enclosed in double quotes"),
        ("pyproject.toml", 5, "malformed TOML: Invalid value (at line 5, column 3)"),
        ("uv.lock", 6, "malformed TOML: Unclosed inline table (at line 6, column 48)"),
        ("setup.py", 7, "install_requires is computed (Call), not a literal list: unknown"),
        ("Dockerfile", 2, "shell command with unbalanced quotes, not read"),
        ("Pipfile", 2, "malformed TOML: Illegal character '\\n' (at line 2, column 11)"),
        ("pip.conf", 1, "malformed pip configuration: File contains no section headers."),
        ("setup.cfg", 1, "malformed setup.cfg: File contains no section headers."),
        ("poetry.lock", 3, "malformed TOML: Expected newline or end of document after a statement "
                           "(at line 3, column 15)"),
    }
    assert expected <= got
    [not_req] = [n for n in got if n[0] == "requirements.txt" and n[1] == 3]
    assert not_req[2].startswith("not a requirement: 'this is not a requirement!!'")
    yaml_notes = {(n[0], n[1]) for n in got if n[2].startswith("malformed YAML:")}
    assert yaml_notes == {("environment.yml", 6), ("conda-lock.yml", 4), (".github/workflows/bad.yml", 6)}


def test_the_rest_of_the_scan_is_unaffected(probe_scan):
    reqs = {(r.path, r.line, r.name) for r in declared_requirements(RepoView(FIXTURES / "malformed"))}
    assert reqs == {("requirements.txt", 2, "pandas"), ("requirements.txt", 5, "numpy"),
                    ("requirements-extra.txt", 2, "scipy")}
    scan = probe_scan(DependenciesProbe, "dependencies/malformed", NO_VULNS)
    assert not any(isinstance(i, Finding) for i in scan.items)
    [ev] = scan.evidence("PIPE-01")
    assert ev.effect is Effect.PARTIAL  # computed setup.py: never a silent pass


def test_huge_lock_file_is_a_note_and_the_manifest_still_read(probe_scan, tmp_path):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\ndependencies = ["numpy>=1.26"]\n')
    entry = '[[package]]\nname = "pkg{}"\nversion = "1.0.0"\n\n'
    with (tmp_path / "uv.lock").open("w") as fh:
        fh.write("version = 1\n\n")
        i = 0
        while fh.tell() < 33 * 1024 * 1024:
            fh.write(entry.format(i) * 1000)
            i += 1000
    scan = probe_scan(DependenciesProbe, tmp_path, NO_VULNS)
    assert ("uv.lock", None, "lock file not read (larger than 32 MiB): what it declares is not counted") in {
        (n.path, n.line, n.message) for n in scan.item_notes()}
    unpinned = [i for i in scan.items if isinstance(i, Finding)]
    assert [(f.path, f.line, f.content) for f in unpinned] == [("pyproject.toml", 3, "numpy>=1.26")]


def test_deep_include_chain_is_bounded(tmp_path):
    for i in range(30):
        (tmp_path / f"requirements-{i}.txt").write_text(f"-r requirements-{i + 1}.txt\npkg{i}==1.0\n")
    (tmp_path / "requirements-30.txt").write_text("last==1.0\n")
    repo = RepoView(tmp_path, Settings())
    names = {r.name for r in declared_requirements(repo)}
    assert {"pkg0", "last"} <= names  # every file is also read on its own


def test_huge_manifests_cost_linear_time():
    import json
    import time

    from mlposture.scanner.sources.manifests.pipenv import read_pipfile_lock
    from mlposture.scanner.sources.manifests.pyproject import read_pyproject

    deps = ",\n".join(f'  "\\u0070kg{i}>=1"' for i in range(20000))  # escaped: never found as written
    text = (f'[project]\nname = "x"\ndependencies = [\n{deps}\n]\n[tool.poetry.dependencies]\n'
            + "\n".join(f'p{i} = "^1"' for i in range(20000)))
    lock = json.dumps({"default": {f"p{i}": {"version": "==1.0"} for i in range(20000)}}, indent=4)
    started = time.monotonic()
    res = read_pyproject("pyproject.toml", text)
    locked = read_pipfile_lock("Pipfile.lock", lock).locked
    assert time.monotonic() - started < 60  # quadratic parsing of 40,000 entries would take minutes
    assert (len(res.requirements), res.requirements[0].line, res.requirements[20000].line) == (40000, 3, 20006)
    assert (len(locked), locked[-1].line) == (20000, 60000)  # 3 lines per entry after 2 header lines
