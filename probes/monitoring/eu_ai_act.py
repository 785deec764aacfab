"""MON-11 and the EU AI Act applicability switch.

The risk tier is read from a machine-readable record: ``eu_ai_act: {risk_tier: ...}`` in ``.mlposture.yaml`` (first)
or in a model card's YAML front matter (``README.md``, ``MODEL_CARD.md``, ``model_card.md``...). A recorded tier is
MON-11 pass; a classification only in prose is partial. The tier decides applicability: ``minimal`` and ``limited``
make MON-12 and INF-14 not applicable (high-risk obligations; evidence from another probe, such as agent code for
INF-14, still wins over the verdict); ``high`` keeps MON-12, MON-13, INF-13 and INF-14 applicable. No recorded
tier leaves everything to other evidence.

:func:`read_eu_risk_tier` is the API the core calls to fill ``Settings.eu_risk_tier``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from mlposture.probes.monitoring.docs import parse_document
from mlposture.probes.monitoring.finder import by_name, documents, norm
from mlposture.scanner.probe import Effect, Evidence, NotApplicable, Note, ProbeItem, Searched
from mlposture.scanner.repo import RepoView
from mlposture.scanner.yamlsafe import YamlError, YMap, load

TIERS = ("minimal", "limited", "high", "unacceptable")
ALIASES = {"high-risk": "high", "high_risk": "high", "prohibited": "unacceptable", "limited-risk": "limited",
           "minimal-risk": "minimal", "limited_risk": "limited", "minimal_risk": "minimal"}
CONFIG = ".mlposture.yaml"
CARD_NAMES = ("model_card.md", "model-card.md", "modelcard.md", "readme.md")
MAX_CONFIG_BYTES = 256 * 1024
PROSE = re.compile(r"(?i)(\b(high|limited|minimal)[- ]risk (ai )?system\b|risk (tier|category|classification)"
                   r"\W{0,4}(is\W+)?(high|limited|minimal|unacceptable)|annex iii)")
PROSE_NAME = re.compile(r"(risk-classification|ai-act-classification|eu-ai-act)")


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


HIGH_RISK_ONLY = ("MON-12", "INF-14")


def classification(repo: RepoView, settings_tier: str | None) -> Iterator[ProbeItem]:
    """MON-11 evidence and the NotApplicable verdicts the tier implies."""
    records = tier_records(repo)
    valid = [r for r in records if r.tier is not None]
    for r in records:
        if r.tier is None:
            yield Evidence("MON-11", Effect.PARTIAL, f"eu_ai_act.risk_tier '{r.raw}' is not one of "
                           f"{', '.join(TIERS)}", r.path, r.line, "monitoring.eu-risk-tier")
    chosen = valid[0] if valid else None
    if chosen is not None:
        yield Evidence("MON-11", Effect.PASS, f"EU AI Act risk tier recorded: {chosen.tier}", chosen.path,
                       chosen.line, "monitoring.eu-risk-tier")
        for other in valid[1:]:
            if other.tier != chosen.tier:
                yield Note(f"EU AI Act risk tier '{other.tier}' here disagrees with '{chosen.tier}' in "
                           f"{chosen.path}:{chosen.line}, which is used", other.path, other.line)
        if chosen.tier == "unacceptable":
            yield Note("EU AI Act risk tier recorded as unacceptable: a prohibited practice (Art. 5) cannot be "
                       "placed on the EU market", chosen.path, chosen.line)
        tier, where = chosen.tier, f"{chosen.path}:{chosen.line}"
    elif settings_tier:
        tier, where = normalise(settings_tier), "the scan settings"
    else:
        tier, where = None, ""
    if tier in ("minimal", "limited"):
        for control in HIGH_RISK_ONLY:
            yield NotApplicable(control, f"EU AI Act risk tier recorded as {tier} in {where}")
    if chosen is None:
        prose = _prose(repo)
        if prose is not None:
            yield Evidence("MON-11", Effect.PARTIAL, "risk classification stated in prose only; record "
                           "eu_ai_act: {risk_tier: ...} in .mlposture.yaml or the model card",
                           prose[0], prose[1], "monitoring.eu-risk-tier")
        elif not records:
            yield Searched("MON-11", "eu_ai_act.risk_tier in .mlposture.yaml and model-card front matter; "
                                     "risk-classification documents")


def _prose(repo: RepoView) -> tuple[str, int] | None:
    docs = documents(repo)
    named = by_name(docs, PROSE_NAME)
    for f in named + [f for f in docs if f not in named and f.path.count("/") <= 2]:
        if f.size > 512 * 1024:
            continue
        lines = repo.lines(f)
        for i, line in enumerate(lines, 1):
            if PROSE.search(line):
                return f.path, i
        if f in named and "classification" in norm(f.path):
            return f.path, 1
    return None
