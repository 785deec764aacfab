"""Build a CycloneDX 1.6 AI-BOM of a repository with cyclonedx-python-lib.

Components: the declared Python dependencies (``library``, with a ``pkg:pypi`` purl, the exact version when the
repository pins or locks it, and the lock file's SHA-256 hashes) and the model artifacts
(``machine-learning-model``, with their SHA-256, format, size, path and the ``serialization`` probe's verdict
as properties). The library serialises and validates the document, so the output follows the official schema.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from cyclonedx.model import HashAlgorithm, HashType, Property
from cyclonedx.model.bom import Bom, BomMetaData
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.output.json import JsonV1Dot6
from packageurl import PackageURL

from mlposture.probes.sbom.compare import normalize
from mlposture.probes.sbom.declared import DeclaredDependency, declared_dependencies
from mlposture.probes.sbom.models import ModelArtifact, find_models
from mlposture.scanner import __version__
from mlposture.scanner.repo import RepoView
from mlposture.scanner.settings import Settings

_HASH_ALGS = {"sha256": (HashAlgorithm.SHA_256, 64), "sha384": (HashAlgorithm.SHA_384, 96),
              "sha512": (HashAlgorithm.SHA_512, 128), "sha1": (HashAlgorithm.SHA_1, 40), "md5": (HashAlgorithm.MD5, 32)}
_HEX = re.compile(r"^[0-9a-fA-F]+$")


@dataclass(frozen=True)
class AiBom:
    """The built document and what went into it."""

    bom: Bom
    dependencies: tuple[DeclaredDependency, ...]
    models: tuple[ModelArtifact, ...]
    notes: tuple[str, ...]

    def to_json(self) -> str:
        """The CycloneDX 1.6 JSON text."""
        return str(JsonV1Dot6(self.bom).output_as_string(indent=2))


def _hash_types(values: tuple[str, ...]) -> list[HashType]:
    out: list[HashType] = []
    for value in values:
        alg, sep, content = value.strip().partition(":")
        known = _HASH_ALGS.get(alg.lower()) if sep else None
        if known is None or len(content) != known[1] or not _HEX.match(content):
            continue  # not hex of the right length for the algorithm: the schema would reject it
        out.append(HashType(alg=known[0], content=content.lower()))
    return out


def _merge(deps: list[DeclaredDependency]) -> list[DeclaredDependency]:
    """One entry per project: a locked exact version wins over a manifest range; hashes are merged."""
    best: dict[str, DeclaredDependency] = {}
    for dep in deps:
        key = normalize(dep.name)
        cur = best.get(key)
        if cur is None:
            best[key] = dep
            continue
        score_new = (dep.version is not None, dep.locked, len(dep.hashes))
        score_cur = (cur.version is not None, cur.locked, len(cur.hashes))
        keep = dep if score_new > score_cur else cur
        hashes = tuple(dict.fromkeys(cur.hashes + dep.hashes)) if cur.version == dep.version else keep.hashes
        best[key] = DeclaredDependency(keep.name, keep.version, keep.path, keep.line, hashes, keep.locked,
                                       cur.direct or dep.direct)
    return [best[k] for k in sorted(best)]


def _dependency_component(dep: DeclaredDependency) -> Component:
    purl = PackageURL(type="pypi", name=normalize(dep.name), version=dep.version)
    props = [Property(name="mlposture:declared-in", value=f"{dep.path}:{dep.line}" if dep.line else dep.path)]
    if dep.version is None:
        props.append(Property(name="mlposture:version", value="not pinned"))
    return Component(type=ComponentType.LIBRARY, name=dep.name, version=dep.version, purl=purl,
                     bom_ref=purl.to_string(), hashes=_hash_types(dep.hashes), properties=props)


def _model_component(model: ModelArtifact) -> Component:
    props = [Property(name="mlposture:path", value=model.path),
             Property(name="mlposture:format", value=model.format),
             Property(name="mlposture:size", value=str(model.size))]
    if model.verdict:
        props.append(Property(name="mlposture:serialization", value=model.verdict))
    return Component(type=ComponentType.MACHINE_LEARNING_MODEL, name=model.path.rsplit("/", 1)[-1],
                     bom_ref=f"model:{model.path}",
                     hashes=[HashType(alg=HashAlgorithm.SHA_256, content=model.sha256)], properties=props,
                     description=f"{model.format} model file at {model.path}")


def make_bom(name: str, version: str | None, deps: list[DeclaredDependency], models: list[ModelArtifact]) -> Bom:
    """A CycloneDX BOM describing the repository ``name`` with these dependencies and model files."""
    root = Component(type=ComponentType.APPLICATION, name=name, version=version, bom_ref=f"repository:{name}")
    tool = Component(type=ComponentType.APPLICATION, name="mlposture", version=__version__)
    meta = BomMetaData(component=root)
    meta.tools.components.add(tool)
    bom = Bom(metadata=meta)
    components = [_dependency_component(d) for d in _merge(deps)] + [_model_component(m) for m in models]
    for comp in components:
        bom.components.add(comp)
    bom.register_dependency(root, components)
    return bom


def build_aibom(repo: RepoView, settings: Settings | None = None, with_verdicts: bool = True) -> AiBom:
    """The AI-BOM of ``repo``: its Python dependencies and model artifacts as one CycloneDX 1.6 BOM."""
    notes: list[str] = []
    declared, why = declared_dependencies(repo)
    if declared is None:
        notes.append(why or "declared dependencies unavailable")
        declared = []
    deps = _merge(declared)
    models = find_models(repo, settings, with_verdicts)
    name = os.path.basename(os.path.abspath(repo.root)) or "repository"
    version = repo.git.commit[:12] if repo.git is not None and repo.git.commit else None
    return AiBom(make_bom(name, version, deps, models), tuple(deps), tuple(models), tuple(notes))
