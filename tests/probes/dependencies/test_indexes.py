"""PIPE-03: private index evidence, and dependency confusion when a private index is mixed with a public one."""

from __future__ import annotations

from typing import Any

from mlposture.probes.dependencies import DependenciesProbe
from mlposture.probes.dependencies.indexes import is_public
from mlposture.scanner.probe import Effect, Evidence, Finding
from mlposture.scanner.settings import Settings

NO_VULNS = Settings(no_vulns=True)  # tests never reach a vulnerability service

CONFUSION = "dependencies.index-confusion"


def _pipe03(probe_scan: Any, name: str) -> set[tuple[str | None, int | None, Effect]]:
    out: set[tuple[str | None, int | None, Effect]] = set()
    for item in probe_scan(DependenciesProbe, f"dependencies/{name}", NO_VULNS).items:
        if isinstance(item, Evidence) and item.control == "PIPE-03":
            out.add((item.path, item.line, item.effect))
        if isinstance(item, Finding) and "PIPE-03" in item.controls:
            out.add((item.path, item.line, item.effect))
    return out


def test_each_index_configuration_at_its_line(probe_scan):
    assert _pipe03(probe_scan, "indexes") == {
        ("req-private/requirements.txt", 1, Effect.PASS),  # -i private + extra private
        ("pipenv-private/Pipfile", 1, Effect.PASS),  # first source private
        ("uv-default/pyproject.toml", 6, Effect.PASS),  # uv index default = true
        (".gitlab-ci.yml", 2, Effect.PASS),  # UV_DEFAULT_INDEX
        ("uv-explicit/pyproject.toml", 6, Effect.PARTIAL),
        ("poetry-explicit/pyproject.toml", 10, Effect.PARTIAL),
        ("pdm-pypi/pyproject.toml", 6, Effect.FAIL),  # PDM source beside PyPI
        ("uv-unsafe/pyproject.toml", 9, Effect.FAIL),  # unsafe-best-match
        (".github/workflows/build.yml", 9, Effect.FAIL),  # PIP_INDEX_URL private + extra pytorch
    }


def test_extra_index_mixing_is_a_dependency_confusion_finding(probe_scan):
    scan = probe_scan(DependenciesProbe, "dependencies/unpinned", NO_VULNS)
    found = {(f.path, f.line, f.content) for f in scan.findings(CONFUSION)}
    assert found == {
        ("requirements.txt", 3, "extra https://pypi.org/simple"),  # --index-url private + --extra-index-url PyPI
        ("Dockerfile", 2, "extra https://pkgs.corp.example/simple"),  # PIP_EXTRA_INDEX_URL private, PyPI default
        ("pyproject.toml", 19, "extra https://ml.jfrog.io/artifactory/api/pypi/ml-pypi/simple"),  # supplemental
    }
    scan = probe_scan(DependenciesProbe, "dependencies/unpinned", NO_VULNS)
    assert all("dependency confusion" in f.message for f in scan.findings(CONFUSION))


def test_credentials_never_reach_messages(probe_scan):
    scan = probe_scan(DependenciesProbe, "dependencies/indexes", NO_VULNS)
    messages = " ".join(getattr(i, "message", "") for i in scan.items)
    assert "s3cret" not in messages and "PYPI_PASSWORD" not in messages
    assert "https://***@pypi.corp.example/simple" in messages


def test_private_primary_passes(probe_scan):
    scan = probe_scan(DependenciesProbe, "dependencies/pinned", NO_VULNS)
    [ev] = [i for i in scan.items if isinstance(i, Evidence) and i.control == "PIPE-03"]
    assert (ev.path, ev.line, ev.effect) == ("pip.conf", 2, Effect.PASS)


def test_public_hosts():
    assert is_public("https://pypi.org/simple")
    assert is_public("https://download.pytorch.org/whl/cu121")
    assert not is_public("https://artifactory.corp.example/api/pypi/simple")
    assert not is_public("https://${HOST}/simple")


def test_poetry_primary_mirror_with_pypi_supplemental_is_confusion(probe_scan, tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[tool.poetry]\nname = "x"\nversion = "0.1.0"\n\n'
        '[[tool.poetry.source]]\nname = "mirror"\nurl = "https://nexus.corp.example/repository/pypi/simple"\n'
        'priority = "primary"\n\n'
        '[[tool.poetry.source]]\nname = "PyPI"\npriority = "supplemental"\n')
    found = probe_scan(DependenciesProbe, tmp_path, NO_VULNS).findings(CONFUSION)
    assert [(f.path, f.line, f.content) for f in found] == [("pyproject.toml", 10, "extra https://pypi.org/simple")]
