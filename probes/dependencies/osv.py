"""OSV advisories for PyPI: loading an export (the zip or folder of JSON files OSV publishes, e.g.
``PyPI/all.zip``), deciding whether an advisory affects a version, and reading its severity.

Loading is bounded (entry count, bytes per entry, total bytes; nested archives and symbolic links ignored) and
keeps only the advisories that name one of the packages being audited, so a full PyPI export costs one pass.
"""

from __future__ import annotations

import json
import math
import os
import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from mlposture.scanner.probe import Severity

MAX_ENTRIES = 1_000_000
MAX_ENTRY_BYTES = 8 * 1024 * 1024
MAX_TOTAL_BYTES = 4 * 1024 * 1024 * 1024
GHSA_SEVERITY = {"CRITICAL": Severity.CRITICAL, "HIGH": Severity.HIGH, "MODERATE": Severity.MEDIUM,
                 "MEDIUM": Severity.MEDIUM, "LOW": Severity.LOW}


class VulnDbError(Exception):
    """The advisory database could not be read at all (missing path, not a zip or folder, over the caps)."""


def _parse_version(text: str) -> Version | None:
    try:
        return Version(text)
    except (InvalidVersion, TypeError):
        return None


def affects(advisory: dict[str, Any], name: str, version: str) -> bool:
    """True when one of the advisory's PyPI ``affected`` entries covers ``name`` at ``version``."""
    wanted = canonicalize_name(name)
    ver = _parse_version(version)
    for affected in advisory.get("affected") or []:
        if not isinstance(affected, dict):
            continue
        pkg = affected.get("package") or {}
        if not isinstance(pkg, dict) or not str(pkg.get("ecosystem", "")).startswith("PyPI"):
            continue
        if canonicalize_name(str(pkg.get("name", ""))) != wanted:
            continue
        versions = affected.get("versions") or []
        if version in versions or (ver is not None and any(_parse_version(str(v)) == ver for v in versions)):
            return True
        if ver is not None and _in_ranges(affected.get("ranges") or [], ver):
            return True
    return False


def _in_ranges(ranges: Iterable[Any], ver: Version) -> bool:
    for rng in ranges:
        if not isinstance(rng, dict) or rng.get("type") not in ("ECOSYSTEM", "SEMVER"):
            continue
        start: Version | None = None
        is_open = False
        for event in rng.get("events") or []:
            if not isinstance(event, dict):
                continue
            if "introduced" in event:
                intro = str(event["introduced"])
                start = Version("0") if intro == "0" else _parse_version(intro)
                is_open = start is not None
            elif is_open and start is not None:
                if "fixed" in event or "limit" in event:
                    end = _parse_version(str(event.get("fixed", event.get("limit"))))
                    if end is not None and start <= ver < end:
                        return True
                elif "last_affected" in event:
                    end = _parse_version(str(event["last_affected"]))
                    if end is not None and start <= ver <= end:
                        return True
                is_open = False
        if is_open and start is not None and ver >= start:
            return True
    return False


def fixed_versions(advisory: dict[str, Any], name: str) -> tuple[str, ...]:
    """``fixed`` versions of the advisory's ranges for ``name``, sorted."""
    wanted = canonicalize_name(name)
    out: set[str] = set()
    for affected in advisory.get("affected") or []:
        pkg = affected.get("package") or {} if isinstance(affected, dict) else {}
        if canonicalize_name(str(pkg.get("name", ""))) != wanted:
            continue
        for rng in affected.get("ranges") or []:
            for event in rng.get("events") or [] if isinstance(rng, dict) else []:
                if isinstance(event, dict) and "fixed" in event:
                    out.add(str(event["fixed"]))
    return tuple(sorted(out, key=lambda v: (_parse_version(v) or Version("0"), v)))


# ------------------------------------------------------------------------------------------------ severity
_AV = {"N": 0.85, "A": 0.62, "L": 0.55, "P": 0.2}
_AC = {"L": 0.77, "H": 0.44}
_UI = {"N": 0.85, "R": 0.62}
_CIA = {"H": 0.56, "L": 0.22, "N": 0.0}


def _roundup(value: float) -> float:
    scaled = round(value * 100000)
    if scaled % 10000 == 0:
        return scaled / 100000.0
    return (math.floor(scaled / 10000) + 1) / 10.0


def cvss3_base_score(vector: str) -> float | None:
    """CVSS v3.0/3.1 base score of a vector string (``CVSS:3.1/AV:N/AC:L/...``), or ``None`` if malformed."""
    parts = dict(p.split(":", 1) for p in vector.strip().split("/")[1:] if ":" in p)
    try:
        scope_changed = parts["S"] == "C"
        pr = {"N": 0.85, "L": 0.68 if scope_changed else 0.62, "H": 0.5 if scope_changed else 0.27}[parts["PR"]]
        iss = 1 - (1 - _CIA[parts["C"]]) * (1 - _CIA[parts["I"]]) * (1 - _CIA[parts["A"]])
        expl = 8.22 * _AV[parts["AV"]] * _AC[parts["AC"]] * pr * _UI[parts["UI"]]
    except KeyError:
        return None
    impact = 7.52 * (iss - 0.029) - 3.25 * (iss - 0.02) ** 15 if scope_changed else 6.42 * iss
    if impact <= 0:
        return 0.0
    total = 1.08 * (impact + expl) if scope_changed else impact + expl
    return _roundup(min(total, 10.0))


def severity_of_score(score: float) -> Severity:
    """CVSS qualitative rating (9.0 critical, 7.0 high, 4.0 medium, 0.1 low, 0 none -> info)."""
    if score >= 9.0:
        return Severity.CRITICAL
    if score >= 7.0:
        return Severity.HIGH
    if score >= 4.0:
        return Severity.MEDIUM
    return Severity.LOW if score > 0 else Severity.INFO


def advisory_severity(advisory: dict[str, Any]) -> tuple[Severity, str] | None:
    """Severity the advisory states, and where it came from; ``None`` when it states none.

    Order: ``database_specific.severity`` (GitHub's rating), ``affected[].ecosystem_specific.severity``, then a
    CVSS v3 vector in ``severity[]`` (its base score rated as CVSS does). CVSS v4 vectors are not scored here.
    """
    db = advisory.get("database_specific")
    if isinstance(db, dict) and str(db.get("severity", "")).upper() in GHSA_SEVERITY:
        return GHSA_SEVERITY[str(db["severity"]).upper()], f"advisory severity {db['severity']}"
    for affected in advisory.get("affected") or []:
        eco = affected.get("ecosystem_specific") if isinstance(affected, dict) else None
        if isinstance(eco, dict) and str(eco.get("severity", "")).upper() in GHSA_SEVERITY:
            return GHSA_SEVERITY[str(eco["severity"]).upper()], f"advisory severity {eco['severity']}"
    for sev in advisory.get("severity") or []:
        if isinstance(sev, dict) and str(sev.get("type", "")).startswith("CVSS_V3"):
            score = cvss3_base_score(str(sev.get("score", "")))
            if score is not None:
                return severity_of_score(score), f"CVSS {score}"
    return None


# ------------------------------------------------------------------------------------------------ database
@dataclass
class OsvDatabase:
    """Advisories by canonical package name, loaded from an OSV export."""

    source: str
    by_package: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    files_read: int = 0
    bad_files: list[str] = field(default_factory=list)

    def query(self, name: str, version: str) -> list[dict[str, Any]]:
        """Advisories affecting ``name`` at ``version`` (withdrawn ones included: pip-audit drops them)."""
        return [a for a in self.by_package.get(canonicalize_name(name), []) if affects(a, name, version)]

    def add(self, label: str, data: bytes, wanted: set[str] | None, wanted_re: re.Pattern[bytes] | None) -> None:
        self.files_read += 1
        if wanted_re is not None and not wanted_re.search(data.lower()):
            return
        try:
            advisory = json.loads(data)
        except (ValueError, RecursionError):
            self.bad_files.append(label)
            return
        if not isinstance(advisory, dict) or not isinstance(advisory.get("id"), str):
            self.bad_files.append(label)
            return
        names = set()
        for affected in advisory.get("affected") or []:
            pkg = affected.get("package") if isinstance(affected, dict) else None
            if isinstance(pkg, dict) and str(pkg.get("ecosystem", "")).startswith("PyPI") and pkg.get("name"):
                names.add(canonicalize_name(str(pkg["name"])))
        for name in names:
            if wanted is None or name in wanted:
                self.by_package.setdefault(name, []).append(advisory)


def _wanted_pattern(wanted: set[str] | None) -> re.Pattern[bytes] | None:
    if not wanted:
        return None
    variants: set[str] = set()
    for name in wanted:
        for sep in ("-", "_", "."):
            variants.add(name.replace("-", sep))
    return re.compile(b"|".join(re.escape(v.encode()) for v in sorted(variants)))


def _zip_entries(path: str) -> Iterator[tuple[str, bytes]]:
    total = 0
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise VulnDbError(f"not a readable zip: {exc}") from None
    with archive:
        infos = archive.infolist()
        if len(infos) > MAX_ENTRIES:
            raise VulnDbError(f"more than {MAX_ENTRIES} entries")
        for info in infos:
            if info.is_dir() or not info.filename.lower().endswith(".json"):
                continue
            if info.file_size > MAX_ENTRY_BYTES:
                continue
            total += info.file_size
            if total > MAX_TOTAL_BYTES:
                raise VulnDbError("more than 4 GiB of advisories once decompressed")
            with archive.open(info) as fh:
                data = fh.read(MAX_ENTRY_BYTES + 1)
            if len(data) <= MAX_ENTRY_BYTES:
                yield info.filename, data


def _folder_entries(path: str) -> Iterator[tuple[str, bytes]]:
    count = 0
    for folder, dirs, files in os.walk(path, followlinks=False):
        dirs.sort()
        for name in sorted(files):
            full = os.path.join(folder, name)
            if os.path.islink(full):
                continue
            if name.lower().endswith(".zip"):
                yield from _zip_entries(full)
                continue
            if not name.lower().endswith(".json"):
                continue
            count += 1
            if count > MAX_ENTRIES:
                raise VulnDbError(f"more than {MAX_ENTRIES} files")
            try:
                if os.path.getsize(full) > MAX_ENTRY_BYTES:
                    continue
                with open(full, "rb") as fh:
                    yield os.path.relpath(full, path), fh.read(MAX_ENTRY_BYTES + 1)
            except OSError:
                continue


def load_database(path: str, wanted: Iterable[str] | None = None) -> OsvDatabase:
    """Load an OSV export (zip, or folder of JSON files and/or zips), keeping the ``wanted`` packages only."""
    wanted_set: set[str] | None = {str(canonicalize_name(w)) for w in wanted} if wanted is not None else None
    if not os.path.exists(path):
        raise VulnDbError(f"{path} does not exist")
    db = OsvDatabase(source=path)
    pattern = _wanted_pattern(wanted_set)
    entries = _folder_entries(path) if os.path.isdir(path) else _zip_entries(path)
    for label, data in entries:
        db.add(label, data, wanted_set, pattern)
    return db
