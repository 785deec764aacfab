"""Data lifecycle probe: provenance, versioning, validation, PII, retention and data documentation.

Reads DVC files (``.dvc/config``, ``dvc.yaml``, ``dvc.lock``, ``*.dvc``), Git LFS attributes and pointers, hash
manifests, Python sources and notebook code cells (with ``ast``, never executed), CI steps, shell scripts,
Makefiles and Dockerfiles, datasheets and dataset cards, and a bounded sample of committed data files for PII.
Speaks for DATA-04 (provenance and hash verification), DATA-05 (anomaly/poison detection), DATA-06 (schema
validation), DATA-07 (PII tools and committed PII), DATA-08 (immutable dataset versions), DATA-09 (retention),
DATA-10 (synthetic data), DATA-11 (robust aggregation), DATA-12 (influence analysis), DATA-13 (datasheets) and
DATA-14 (bias examination). DVC remote encryption (DATA-01) is the infrastructure probe's.

Tool evidence passes only when a pipeline runs it (DVC stage, CI job, orchestrator task, or a module they import);
elsewhere it is partial, and notebooks are named as weaker evidence with their cell and line.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from mlposture.probes.lifecycle.context import SOURCE, context_of
from mlposture.probes.lifecycle.practices import practices
from mlposture.probes.lifecycle.provenance import provenance
from mlposture.probes.lifecycle.pysource import VISITORS
from mlposture.probes.lifecycle.rules_data_lifecycle import RULES
from mlposture.scanner.probe import Probe, ProbeItem
from mlposture.scanner.sources import ScanContext
from mlposture.scanner.sources.python import PythonVisitor


class DataLifecycleProbe(Probe):
    """Data provenance (DVC, LFS, hash manifests, verification), validation, PII, retention and datasheets.

    See the module docstring for the files read and the rules applied.
    """

    name = "data_lifecycle"
    version = "0.1.0"
    rules = RULES
    uses = (SOURCE,)
    python_visitors: ClassVar[tuple[PythonVisitor[Any], ...]] = VISITORS

    def scan(self, scan_ctx: ScanContext) -> Iterable[ProbeItem]:
        """Gather the facts once (shared with the model probe), then judge each control."""
        repo, _settings = scan_ctx.repo, scan_ctx.settings
        ctx = context_of(repo)
        yield from provenance(ctx)
        yield from practices(ctx)
