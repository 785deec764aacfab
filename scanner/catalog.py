"""The control catalog: loaded from ``controls/*.yaml`` (package data) and optional team files.

Control text, severities and mappings live in YAML, never in code (Scorecard keeps probe metadata beside the
probe as data for the same reason: reviewers and teams can read and extend it without touching Python).
Loading validates every control against the schema below and names the file, the control and the key of
the first problem.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from mlposture.scanner import yamlsafe
from mlposture.scanner.errors import InputError
from mlposture.scanner.probe import Severity

CONTROL_ID = re.compile(r"^[A-Z][A-Z0-9]*-\d{2,3}$")
LOCKML_ID = re.compile(r"^(data|model|inference|pipeline|monitoring)-\d$")
AUTOMATION = {"A", "H", "D", "M"}
MAPPING_KEYS = ("owasp", "atlas", "nist", "eu_ai_act")
CONTROL_SEVERITIES = {"critical", "high", "medium", "low"}
APPLICABILITY = {
    "always", "training", "inference", "llm", "federated", "feature_store", "compression", "synthetic_data",
    "containers", "iac", "ci", "third_party_model", "eu_market", "eu_high_risk", "decisions_about_people",
    "deployed_model", "model_promotion", "user_facing", "data_store",
}


class CatalogError(InputError):
    """An invalid catalog file: the message names the file, the control and the key."""


@dataclass(frozen=True)
class Mappings:
    """Framework references of a control."""

    owasp: tuple[str, ...] = ()
    atlas: tuple[str, ...] = ()
    nist: tuple[str, ...] = ()
    eu_ai_act: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, list[str]]:
        """JSON shape of the mappings."""
        return {k: list(getattr(self, k)) for k in MAPPING_KEYS}


@dataclass(frozen=True)
class Category:
    """One of the checklist's categories."""

    id: str
    name: str
    icon: str = ""


@dataclass(frozen=True)
class Control:
    """One checklist control, as data."""

    id: str
    title: str
    description: str
    category: str
    severity: Severity
    lockml_id: str | None
    mappings: Mappings
    automation: tuple[str, ...]
    applicability: str
    applies_when: str
    evidence: tuple[str, ...]
    remediation: str
    source: str = ""  # the file it was loaded from
    line: int = field(default=0, compare=False)  # line of its 'id' key, for error messages

    @property
    def weight(self) -> float:
        """Scorecard-style weight of the severity."""
        return SEVERITY_WEIGHTS[self.severity]


SEVERITY_WEIGHTS = {
    Severity.CRITICAL: 10.0,
    Severity.HIGH: 7.5,
    Severity.MEDIUM: 5.0,
    Severity.LOW: 2.5,
    Severity.INFO: 0.0,
}


@dataclass(frozen=True)
class Catalog:
    """All categories and controls, in catalog order."""

    categories: tuple[Category, ...]
    controls: tuple[Control, ...]
    _index: dict[str, Control] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._index.update({c.id: c for c in self.controls})

    def get(self, control_id: str) -> Control | None:
        """The control with that id (case-insensitive), if any."""
        return self._index.get(control_id.upper())

    def __contains__(self, control_id: object) -> bool:
        return isinstance(control_id, str) and control_id.upper() in self._index

    def __iter__(self) -> Iterator[Control]:
        return iter(self.controls)

    def __len__(self) -> int:
        return len(self.controls)

    def category(self, category_id: str) -> Category | None:
        """The category with that id."""
        return next((c for c in self.categories if c.id == category_id), None)

    def in_category(self, category_id: str) -> list[Control]:
        """Controls of one category, in order."""
        return [c for c in self.controls if c.category == category_id]


def _strings(value: Any, where: str, key: str, path: str, line: int | None) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, (str, int, float)) for v in value):
        return tuple(str(v) for v in value)
    raise CatalogError(path, f"{where}: '{key}' must be a list of strings", line)


def _require_text(raw: Any, key: str, where: str, path: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value.strip():
        line = raw.line_of(key) if isinstance(raw, yamlsafe.YMap) else None
        raise CatalogError(path, f"{where}: '{key}' is required and must be text", line)
    return " ".join(value.split()) if key != "description" else value.strip()


def _parse_control(raw: Any, category: str, path: str) -> Control:
    if not isinstance(raw, dict):
        raise CatalogError(path, "each control must be a mapping")
    line = raw.line if isinstance(raw, yamlsafe.YMap) else None
    cid = raw.get("id")
    if not isinstance(cid, str) or not CONTROL_ID.match(cid):
        raise CatalogError(path, f"control id {cid!r} must look like ABC-01 (key 'id')", line)
    where = f"control {cid}"

    def line_of(key: str) -> int | None:
        return raw.line_of(key) if isinstance(raw, yamlsafe.YMap) else None

    known = {"id", "title", "description", "severity", "lockml_id", "mappings", "automation", "applicability",
             "applies_when", "evidence", "remediation"}
    for key in raw:
        if key not in known:
            raise CatalogError(path, f"{where}: unknown key '{key}'", line_of(str(key)))
    severity = raw.get("severity")
    if severity not in CONTROL_SEVERITIES:
        raise CatalogError(path, f"{where}: 'severity' must be one of {sorted(CONTROL_SEVERITIES)}",
                           line_of("severity"))
    lockml = raw.get("lockml_id")
    if lockml is not None and (not isinstance(lockml, str) or not LOCKML_ID.match(lockml)):
        raise CatalogError(path, f"{where}: 'lockml_id' {lockml!r} must look like data-0", line_of("lockml_id"))
    maps = raw.get("mappings") or {}
    if not isinstance(maps, dict):
        raise CatalogError(path, f"{where}: 'mappings' must be a mapping", line_of("mappings"))
    for key in maps:
        if key not in MAPPING_KEYS:
            raise CatalogError(path, f"{where}: unknown mapping '{key}' (use {', '.join(MAPPING_KEYS)})",
                               line_of("mappings"))
    mappings = Mappings(**{k: _strings(maps.get(k), where, f"mappings.{k}", path, line_of("mappings"))
                           for k in MAPPING_KEYS})
    automation = _strings(raw.get("automation"), where, "automation", path, line_of("automation"))
    if not automation or any(a not in AUTOMATION for a in automation):
        raise CatalogError(path, f"{where}: 'automation' must list some of {sorted(AUTOMATION)}",
                           line_of("automation"))
    applicability = raw.get("applicability", "always")
    if applicability not in APPLICABILITY:
        raise CatalogError(path, f"{where}: 'applicability' {applicability!r} is not one of "
                                 f"{', '.join(sorted(APPLICABILITY))}", line_of("applicability"))
    evidence = _strings(raw.get("evidence"), where, "evidence", path, line_of("evidence"))
    if not evidence:
        raise CatalogError(path, f"{where}: 'evidence' must list what verifies the control", line_of("evidence"))
    return Control(
        id=cid,
        title=_require_text(raw, "title", where, path),
        description=_require_text(raw, "description", where, path),
        category=category,
        severity=Severity(severity),
        lockml_id=lockml,
        mappings=mappings,
        automation=automation,
        applicability=applicability,
        applies_when=str(raw.get("applies_when") or "always"),
        evidence=evidence,
        remediation=_require_text(raw, "remediation", where, path),
        source=path,
        line=line_of("id") or 0,
    )


def parse_catalog_file(text: str, path: str) -> tuple[Category, list[Control]]:
    """One category file: ``category: {id, name, icon}`` and ``controls: [...]``."""
    try:
        doc = yamlsafe.load(text, strict=True)
    except yamlsafe.YamlError as exc:
        raise CatalogError(path, f"invalid YAML: {exc.message}", exc.line) from None
    if not isinstance(doc, dict):
        raise CatalogError(path, "a catalog file must be a mapping with 'category' and 'controls'")
    cat = doc.get("category")
    if not isinstance(cat, dict) or not isinstance(cat.get("id"), str) or not isinstance(cat.get("name"), str):
        line = doc.line_of("category") if isinstance(doc, yamlsafe.YMap) else None
        raise CatalogError(path, "'category' must be a mapping with 'id' and 'name'", line)
    category = Category(id=cat["id"], name=cat["name"], icon=str(cat.get("icon") or ""))
    controls_raw = doc.get("controls")
    if not isinstance(controls_raw, list) or not controls_raw:
        line = doc.line_of("controls") if isinstance(doc, yamlsafe.YMap) else None
        raise CatalogError(path, "'controls' must be a non-empty list", line)
    return category, [_parse_control(raw, category.id, path) for raw in controls_raw]


def builtin_catalog_files() -> list[tuple[str, str]]:
    """(name, text) of the catalog files shipped in the ``controls`` package, in catalog order."""
    order = ["data", "model", "inference", "pipeline", "monitoring"]
    pkg = resources.files("mlposture.controls")
    found = {p.name.removesuffix(".yaml"): p for p in pkg.iterdir() if p.name.endswith(".yaml")}
    names = [n for n in order if n in found] + sorted(n for n in found if n not in order)
    return [(f"controls/{n}.yaml", found[n].read_text("utf-8")) for n in names]


def load_catalog(extra_paths: Sequence[str | Path] = ()) -> Catalog:
    """The built-in catalog plus team controls from ``extra_paths`` (files or folders of YAML files)."""
    sources: list[tuple[str, str]] = list(builtin_catalog_files())
    for extra in extra_paths:
        sources.extend(_read_extra(Path(extra)))
    return build_catalog(sources)


def _read_extra(path: Path) -> Iterable[tuple[str, str]]:
    files = sorted(path.glob("*.y*ml")) if path.is_dir() else [path]
    for f in files:
        try:
            yield str(f), f.read_text("utf-8")
        except OSError as exc:
            raise CatalogError(str(f), f"cannot read: {exc.strerror or exc}") from None
        except UnicodeDecodeError:
            raise CatalogError(str(f), "not UTF-8 text") from None


def build_catalog(sources: Iterable[tuple[str, str]]) -> Catalog:
    """Parse and merge catalog files; a category may span files, ids must be unique."""
    categories: dict[str, Category] = {}
    controls: list[Control] = []
    seen: dict[str, str] = {}
    lockml_seen: dict[str, str] = {}
    for path, text in sources:
        category, parsed = parse_catalog_file(text, path)
        existing = categories.get(category.id)
        if existing is None:
            categories[category.id] = category
        for control in parsed:
            if control.id in seen:
                raise CatalogError(path, f"control {control.id}: duplicate 'id' (first defined in {seen[control.id]})",
                                   control.line or None)
            seen[control.id] = path
            if control.lockml_id is not None:
                if control.lockml_id in lockml_seen:
                    raise CatalogError(path, f"control {control.id}: 'lockml_id' {control.lockml_id} already used by "
                                             f"{lockml_seen[control.lockml_id]}", control.line or None)
                lockml_seen[control.lockml_id] = control.id
            controls.append(control)
    return Catalog(categories=tuple(categories.values()), controls=tuple(controls))
