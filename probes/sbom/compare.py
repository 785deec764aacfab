"""Compare the components an SBOM lists with the Python dependencies the repository declares."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from mlposture.probes.sbom.documents import SbomDocument


def normalize(name: str) -> str:
    """PEP 503 normalised project name (``Foo_Bar.baz`` -> ``foo-bar-baz``)."""
    return re.sub(r"[-_.]+", "-", name).lower().strip()


@dataclass(frozen=True)
class Coverage:
    """How many declared dependencies were compared, the ones the SBOM does not list (sorted), and the pinned
    ones it lists at another version (``"numpy 1.26.4 (SBOM: 1.25.0)"``): a stale SBOM."""

    declared: int
    missing: tuple[str, ...]
    stale: tuple[str, ...] = ()


def _component_versions(doc: SbomDocument) -> dict[str, set[str]]:
    """Normalised name -> versions the SBOM lists for it (by name and by pypi purl)."""
    out: dict[str, set[str]] = {}
    for c in doc.components:
        keys = {normalize(c.name)}
        if c.purl and c.purl.startswith("pkg:pypi/"):
            keys.add(normalize(c.purl[len("pkg:pypi/"):].split("@", 1)[0].split("?", 1)[0]))
        for k in keys:
            versions = out.setdefault(k, set())
            if c.version:
                versions.add(c.version)
    return out


def coverage(doc: SbomDocument, declared: Iterable[str | tuple[str, str | None]]) -> Coverage:
    """Compare ``doc`` with declared names (any spelling), optionally ``(name, pinned version)`` pairs."""
    wanted: dict[str, str | None] = {}
    for item in declared:
        name, version = (item, None) if isinstance(item, str) else item
        if name:
            key = normalize(name)
            wanted[key] = wanted.get(key) or version
    have = _component_versions(doc)
    missing = tuple(sorted(k for k in wanted if k not in have))
    stale = tuple(f"{k} {v} (SBOM: {', '.join(sorted(have[k]))})" for k, v in sorted(wanted.items())
                  if v and k in have and have[k] and v not in have[k])
    return Coverage(len(wanted), missing, stale)
