"""The public plugin API: what a third-party probe may import.

Everything a probe needs is re-exported here; the modules behind it are internal and may move between releases.
"""

from mlposture.scanner.probe import (
    Effect,
    Evidence,
    Finding,
    NotApplicable,
    Note,
    Probe,
    ProbeInfo,
    Rule,
    Searched,
    Severity,
)
from mlposture.scanner.repo import RepoFile, RepoView
from mlposture.scanner.settings import Settings
from mlposture.scanner.sources import ScanContext, Sources, register_source
from mlposture.scanner.sources.python import PyModule, PythonVisitor, VisitorFailed

__all__ = [
    "Effect",
    "Evidence",
    "Finding",
    "NotApplicable",
    "Note",
    "Probe",
    "ProbeInfo",
    "PyModule",
    "PythonVisitor",
    "RepoFile",
    "RepoView",
    "Rule",
    "ScanContext",
    "Searched",
    "Settings",
    "Severity",
    "Sources",
    "VisitorFailed",
    "register_source",
]
