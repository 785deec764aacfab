"""MON-11 and the EU AI Act applicability switch.

The risk tier is read from a machine-readable record: ``eu_ai_act: {risk_tier: ...}`` in ``.mlposture.yaml`` (first)
or in a model card's YAML front matter (``README.md``, ``MODEL_CARD.md``, ``model_card.md``...). A recorded tier is
MON-11 pass; a classification only in prose is partial. The tier decides applicability: ``minimal`` and ``limited``
make MON-12 and INF-14 not applicable (high-risk obligations; evidence from another probe, such as agent code for
INF-14, still wins over the verdict); ``high`` keeps MON-12, MON-13, INF-13 and INF-14 applicable. No recorded
tier leaves everything to other evidence.

The record itself is read by :mod:`mlposture.scanner.sources.risk_tier`, once, before any probe.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from mlposture.probes.monitoring.finder import by_name, documents, norm
from mlposture.scanner.probe import Effect, Evidence, NotApplicable, Note, ProbeItem, Searched
from mlposture.scanner.repo import RepoView
from mlposture.scanner.sources.risk_tier import TIERS, normalise, tier_records

PROSE = re.compile(r"(?i)(\b(high|limited|minimal)[- ]risk (ai )?system\b|risk (tier|category|classification)"
                   r"\W{0,4}(is\W+)?(high|limited|minimal|unacceptable)|annex iii)")
PROSE_NAME = re.compile(r"(risk-classification|ai-act-classification|eu-ai-act)")


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
