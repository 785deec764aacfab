"""Python dependencies: pinning (PIPE-01), known vulnerabilities through pip-audit, private index (PIPE-03).

Reads every Python manifest without executing it (requirements files with their includes, pyproject.toml for
PEP 621/Poetry/PDM/uv, setup.cfg, setup.py through ``ast``, Pipfile, conda environment files), every lock file
(poetry.lock, uv.lock, pdm.lock, Pipfile.lock, conda-lock.yml, pip-compile output), ``pip install`` in
Dockerfiles and CI steps, GitHub Actions ``uses:`` references, and index settings (pip.conf, index options and
variables, Poetry/PDM/uv/Pipfile sources). Modules: ``manifests`` (the public parser API, reused by the SBOM
builder), one parser module per format, and one judgement module per question: ``pinning`` (PIPE-01),
``indexes`` (PIPE-03), ``vulns`` (known vulnerabilities, with ``audit``, ``osv`` and ``osv_server`` for the real
pip-audit against a local OSV endpoint).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, ClassVar

from mlposture.probes.dependencies import indexes, pinning, vulns
from mlposture.probes.dependencies.rules import RULES
from mlposture.scanner.probe import Note, Probe, ProbeItem
from mlposture.scanner.sources.manifests.read import read_manifests

if TYPE_CHECKING:
    from mlposture.scanner.repo import RepoView
    from mlposture.scanner.settings import Settings
    from mlposture.scanner.sources import ScanContext

__all__ = ["DependenciesProbe"]


class DependenciesProbe(Probe):
    """Python dependencies: every requirement pinned or lock-covered (PIPE-01), known vulnerabilities of the
    pinned set through pip-audit, online or air-gapped with --vuln-db (findings against PIPE-02), and
    installs from a private index without dependency confusion (PIPE-03).

    Reads requirements*.txt/*.in, pyproject.toml, setup.cfg, setup.py (ast), Pipfile(.lock), environment.yml,
    poetry.lock, uv.lock, pdm.lock, conda-lock.yml, pip-compile output, pip install lines in Dockerfiles and CI,
    GitHub Actions uses: references, pip.conf/pip.ini and index variables. Nothing is executed.
    """

    name: ClassVar[str] = "dependencies"
    version: ClassVar[str] = "0.1.0"
    rules = RULES

    def scan(self, ctx: ScanContext) -> Iterable[ProbeItem]:
        """Yield PIPE-01 and PIPE-03 evidence, unpinned/vulnerable/confusion findings and parser notes."""
        repo, settings = ctx.repo, ctx.settings
        return self._run(repo, settings)

    def _run(self, repo: RepoView, settings: Settings) -> Iterator[ProbeItem]:
        manifests = read_manifests(repo)
        for note in manifests.notes:
            yield Note(note.message, note.path, note.line)
        for unknown in manifests.unknown:
            yield Note(unknown.message, unknown.path, unknown.line)
        yield from pinning.judge(manifests)
        yield from indexes.judge(manifests)
        yield from vulns.judge(manifests, settings)
