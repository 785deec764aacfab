"""Compare the components an SBOM lists with the Python dependencies the repository declares."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from probes.sbom.documents import SbomDocument


def normalize(name: str) -> str:
    """PEP 503 normalised project name (``Foo_Bar.baz`` -> ``foo-bar-baz``)."""
    return re.sub(r"[-_.]+", "-", name).lower().strip()


@dataclass(frozen=True)
class Coverage:
    """How many declared dependencies were compared, and the ones the SBOM does not list (sorted)."""

    declared: int
    missing: tuple[str, ...]


def _component_names(doc: SbomDocument) -> set[str]:
    names: set[str] = set()
    for c in doc.components:
        names.add(normalize(c.name))
        if c.purl and c.purl.startswith("pkg:pypi/"):
            names.add(normalize(c.purl[len("pkg:pypi/"):].split("@", 1)[0].split("?", 1)[0]))
    return names


def coverage(doc: SbomDocument, declared: Iterable[str]) -> Coverage:
    """Declared names (any spelling) that no component of ``doc`` matches by normalised name or pypi purl."""
    wanted = {normalize(n) for n in declared if n}
    have = _component_names(doc)
    return Coverage(len(wanted), tuple(sorted(wanted - have)))
