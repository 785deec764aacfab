"""SBOM and AI-BOM: CycloneDX/SPDX documents found by content, validated, compared with declared dependencies.

Reads every text file's head for CycloneDX (JSON, XML) and SPDX (JSON, tag-value, YAML, RDF) documents, the CI
model of :mod:`mlposture.scanner.sources.ci` for SBOM generators (syft, anchore/sbom-action, cyclonedx-py, trivy,
pip-audit CycloneDX output, buildx ``--sbom``), and the declared Python dependencies through
:mod:`mlposture.scanner.sources.manifests`. Speaks for PIPE-08.
Also provides ``mlposture sbom`` (:mod:`mlposture.probes.sbom.command`), a CycloneDX 1.6 AI-BOM
builder.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, ClassVar

from mlposture.probes.sbom import judge
from mlposture.probes.sbom.compare import Coverage, coverage
from mlposture.probes.sbom.declared import declared_dependencies
from mlposture.probes.sbom.documents import SbomDocument, find_documents
from mlposture.scanner.probe import Probe, ProbeItem, Rule
from mlposture.scanner.sources.ci import load_ci
from mlposture.scanner.sources.ci.tools import find_tool_uses

if TYPE_CHECKING:
    from mlposture.scanner.repo import RepoView
    from mlposture.scanner.sources import ScanContext

__all__ = ["SbomProbe"]


class SbomProbe(Probe):
    """SBOM per release (PIPE-08): CycloneDX/SPDX documents found by content, validated and compared with the
    declared dependencies; SBOM generation in CI on release.

    Reads the head of every text file (not by name), the CI configuration (GitHub Actions, GitLab CI) and the
    declared Python dependencies. A committed SBOM alone is partial; generation on release is pass.
    """

    name: ClassVar[str] = "sbom"
    version: ClassVar[str] = "0.1.0"
    rules: ClassVar[tuple[Rule, ...]] = (
        Rule("sbom.document", ("PIPE-08",), "a CycloneDX or SPDX document is committed, valid and current"),
        Rule("sbom.generated-in-ci", ("PIPE-08",), "CI generates an SBOM on release"),
    )

    def scan(self, ctx: ScanContext) -> Iterable[ProbeItem]:
        """Yield PIPE-08 evidence, notes for unreadable SBOMs, or what was searched."""
        repo, _settings = ctx.repo, ctx.settings
        return self._run(repo)

    def _run(self, repo: RepoView) -> Iterator[ProbeItem]:
        uses = find_tool_uses(load_ci(repo))
        docs, sniffed = find_documents(repo)
        covered: dict[str, Coverage | None] = {}
        note: str | None = None
        valid = [d for d in docs if isinstance(d, SbomDocument) and d.valid]
        if valid:
            declared, note = declared_dependencies(repo)
            names = [(d.name, d.version) for d in declared or [] if d.direct]
            for doc in valid:
                covered[doc.path] = coverage(doc, names) if declared is not None and names else None
            if declared is not None and not names:
                note = "no declared Python dependency to compare with"
        yield from judge.judge(uses, docs, covered, sniffed, note)
