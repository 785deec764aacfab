"""Dependency manifests and lock files: every Python dependency a repository declares or locks (raw facts).

:func:`read_manifests` reads them all once per view; the values are the frozen dataclasses of
:mod:`mlposture.scanner.sources.manifests.model`. Shared by the dependencies and sbom probes and open to plugins.
"""

from mlposture.scanner.sources.manifests.model import DeclaredRequirement, LockedPackage, ManifestNote, Manifests
from mlposture.scanner.sources.manifests.read import declared_requirements, locked_packages, read_manifests

__all__ = ["DeclaredRequirement", "LockedPackage", "ManifestNote", "Manifests", "declared_requirements",
           "locked_packages", "read_manifests"]
