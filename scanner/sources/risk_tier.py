"""The EU AI Act risk tier as configuration: read once, before any probe, from the repository's own record.

The tier is a machine-readable record: ``eu_ai_act: {risk_tier: ...}`` in ``.mlposture.yaml`` (first) or in a model
card's YAML front matter (``README.md``, ``MODEL_CARD.md``, ``model_card.md``... at the root or one level down).
The scan fills ``Settings.eu_risk_tier`` from it (unless set explicitly); probes switch thresholds and
applicability on the setting and never read the record themselves, except to judge it as evidence (MON-11).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlposture.scanner.repo import RepoView
from mlposture.scanner.sources.markdown import parse_document
from mlposture.scanner.yamlsafe import YamlError, YMap, load

TIERS = ("minimal", "limited", "high", "unacceptable")
ALIASES = {"high-risk": "high", "high_risk": "high", "prohibited": "unacceptable", "limited-risk": "limited",
           "minimal-risk": "minimal", "limited_risk": "limited", "minimal_risk": "minimal"}
CONFIG = ".mlposture.yaml"
CARD_NAMES = ("model_card.md", "model-card.md", "modelcard.md", "readme.md")
MAX_CONFIG_BYTES = 256 * 1024


@dataclass(frozen=True)
class TierRecord:
    """A machine-readable ``risk_tier``: the value as written, the normalised tier (``None`` if unknown)."""

    path: str
    line: int
    raw: str
    tier: str | None


def normalise(raw: str) -> str | None:
    """``High-Risk`` -> ``high``; ``None`` for a value outside the four tiers."""
    value = raw.strip().lower()
    value = ALIASES.get(value, value)
    return value if value in TIERS else None


def _from_mapping(doc: Any, path: str) -> TierRecord | None:
    if not isinstance(doc, YMap):
        return None
    block = doc.get("eu_ai_act")
    if not isinstance(block, YMap):
        return None
    if "risk_tier" not in block:
        return None
    raw = str(block["risk_tier"])
    return TierRecord(path, block.line_of("risk_tier"), raw, normalise(raw))


def tier_records(repo: RepoView) -> list[TierRecord]:
    """Every machine-readable tier record: ``.mlposture.yaml`` first, then model cards (root and one level down)."""
    out: list[TierRecord] = []
    cfg = repo.get(CONFIG)
    if cfg is not None:
        text = repo.read_text(cfg, MAX_CONFIG_BYTES)
        if text is not None:
            try:
                rec = _from_mapping(load(text), cfg.path)
            except YamlError as exc:
                repo.note(f"{CONFIG} not parsed (YAML): {exc.message}", cfg.path, exc.line)
                rec = None
            if rec is not None:
                out.append(rec)
    for f in repo.files:
        if f.name.lower() in CARD_NAMES and f.path.count("/") <= 1:
            doc = parse_document(repo, f)
            if doc is not None:
                rec = _from_mapping(doc.front_matter, f.path)
                if rec is not None:
                    out.append(rec)
    return out


def read_eu_risk_tier(repo: RepoView) -> tuple[str, str, int] | None:
    """The recorded EU AI Act risk tier as ``(tier, path, line)``, or ``None`` when none is validly recorded."""
    for rec in tier_records(repo):
        if rec.tier is not None:
            return rec.tier, rec.path, rec.line
    return None
