"""MODEL-08 (model cards with security metadata) and MODEL-13 (third-party model and dataset licences).

MODEL-08: each model card is scored on six sections (intended use, out-of-scope use, limitations, bias, evaluation,
security); the message lists the sections found (with lines), those missing, and the Hugging Face front-matter keys
present. Security section and at least four of six -> pass; otherwise partial. A CycloneDX
``machine-learning-model`` with a ``modelCard`` is partial (its considerations are not scored here).
MODEL-13: ``license:`` values of model and dataset cards and CycloneDX model components; non-commercial licences
(``cc-by-nc-*``, ``*-nc-*``, "non-commercial", research-only) are medium findings; custom or restrictive ones
(``other``, ``llama*``, ``openrail*``, ``gemma``...) are low findings to review (partial); permissive or known open
licences pass. Third-party inventories (``THIRD_PARTY_MODELS.md``, ``NOTICE``) are partial.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from mlposture.probes.lifecycle.cards import CardFile, bom_models
from mlposture.probes.lifecycle.context import Context
from mlposture.scanner import yamlsafe
from mlposture.scanner.probe import Effect, Evidence, Finding, ProbeItem, Searched, Severity
from mlposture.scanner.sources import markdown

R = "model_lifecycle."
CARD_SECTIONS = (
    ("intended use", r"intended use|\buses?\b|direct use|use cases?"),
    ("out-of-scope use", r"out[- ]of[- ]scope|misuse|prohibited"),
    ("limitations", r"limitation|risks?\b|caveat"),
    ("bias", r"bias|fairness"),
    ("evaluation", r"evaluat|results|metrics|performance|benchmark"),
    ("security", r"security|adversarial|robustness|known vulnerab|threat|attack"),
)
FRONT_KEYS = ("license", "datasets", "metrics", "base_model", "model-index", "pipeline_tag", "library_name")
FRONT_SECTIONS = {"evaluation": ("model-index",)}
NONCOMMERCIAL = re.compile(r"(?i)(^|[-_ ])nc([-_ ]|$)|non[- ]?commercial|research[- ]only|cc-by-nc")
RESTRICTIVE = re.compile(r"(?i)^(other|unknown|llama\d*(\.\d+)?|openrail.*|bigscience.*|creativeml-openrail.*|gemma|"
                         r"deepfloyd.*|bigcode-openrail.*|.*-rail-.*)$")
INVENTORY = re.compile(r"(?i)^(third[_-]?party[_-]?(models|notices|licenses?)[^/]*|NOTICE(\.md|\.txt)?|"
                       r"THIRD_PARTY[^/]*)$")
LICENSE_TOOLS = re.compile(r"\b(pip-licenses|liccheck|scancode|reuse\s+lint|licensecheck)\b")


def model_cards_control(cards: list[CardFile], ctx: Context) -> Iterator[ProbeItem]:
    """MODEL-08."""
    for card in cards:
        result = markdown.sections(card.doc, CARD_SECTIONS, FRONT_SECTIONS)
        names = {name for name, _ in result.found}
        front = card.doc.front
        keys = [k for k in FRONT_KEYS if front is not None and k in front]
        meta = f"; front matter: {', '.join(keys)}" if keys else "; no front matter" if front is None else ""
        if "security" in names and len(names) >= 4:
            effect, verdict = Effect.PASS, "model card with a security section"
        elif "security" not in names:
            effect, verdict = Effect.PARTIAL, "model card without a security / robustness section"
        else:
            effect, verdict = Effect.PARTIAL, "model card covers fewer than 4 of 6 sections"
        yield Evidence("MODEL-08", effect, f"{verdict}: {len(names)}/6 {result.describe()}{meta}", card.path, 1,
                       R + "model-card")
    for bom in bom_models(ctx.repo):
        if bom.has_model_card:
            yield Evidence("MODEL-08", Effect.PARTIAL, f"CycloneDX modelCard for '{bom.name}' "
                           f"({', '.join(bom.card_keys) or 'empty'}); sections not scored", bom.path, None,
                           R + "model-card")
    yield Searched("MODEL-08", "MODEL_CARD.md, model_card*.md, modelcard*.md, README.md with Hugging Face model front "
                   "matter, CycloneDX machine-learning-model components with modelCard; sections: "
                   + ", ".join(n for n, _ in CARD_SECTIONS))


def _license_values(front: yamlsafe.YMap) -> list[tuple[str, int]]:
    raw = front.get("license")
    line = front.line_of("license")
    if isinstance(raw, str):
        return [(raw, line)]
    if isinstance(raw, yamlsafe.YList):
        return [(str(v), raw.line_of(i)) for i, v in enumerate(raw) if isinstance(v, str)]
    return []


def _judge_license(value: str, what: str, path: str, line: int | None) -> ProbeItem:
    if NONCOMMERCIAL.search(value):
        return Finding(R + "noncommercial-license", Severity.MEDIUM, f"{what} licence '{value}' forbids commercial "
                       "use", path, line, ("MODEL-13",), f"license:{value}")
    if RESTRICTIVE.match(value):
        return Finding(R + "restrictive-license", Severity.LOW, f"{what} licence '{value}' is custom or carries use "
                       "restrictions: review it against the intended use", path, line, ("MODEL-13",),
                       f"license:{value}", Effect.PARTIAL)
    return Evidence("MODEL-13", Effect.PASS, f"{what} licence recorded: {value}", path, line, R + "license-recorded")


def licences(cards: list[CardFile], ctx: Context) -> Iterator[ProbeItem]:
    """MODEL-13."""
    docs: list[tuple[str, markdown.Document, str]] = [(c.path, c.doc, "model card") for c in cards]
    card_paths = {c.path for c in cards}
    for f in ctx.repo.files:
        if f.name.lower() == "readme.md" and f.path not in card_paths:
            text = ctx.repo.read_text(f, limit=1024 * 1024)
            if text is None or not text.startswith("---"):
                continue
            doc = markdown.parse(text, f.path)
            if doc.front is not None and any(k in doc.front for k in ("annotations_creators", "source_datasets",
                                                                      "size_categories", "task_categories")):
                docs.append((f.path, doc, "dataset card"))
    for path, doc, what in docs:
        if doc.front is None:
            continue
        for value, line in _license_values(doc.front):
            yield _judge_license(value, what, path, line)
        base = doc.front.get("base_model")
        if isinstance(base, str) and "license" not in doc.front:
            yield Evidence("MODEL-13", Effect.PARTIAL, f"base model {base} named, but no licence recorded", path,
                           doc.front.line_of("base_model"), R + "license-recorded")
    for bom in bom_models(ctx.repo):
        for value in bom.licenses:
            yield _judge_license(value, f"CycloneDX model '{bom.name}'", bom.path, None)
    for f in ctx.repo.files:
        if INVENTORY.match(f.name):
            yield Evidence("MODEL-13", Effect.PARTIAL, "third-party inventory / notice file", f.path, 1,
                           R + "third-party-inventory")
    for cmd in ctx.commands:
        if LICENSE_TOOLS.search(cmd.text):
            yield Evidence("MODEL-13", Effect.PARTIAL, f"licence tooling in {cmd.describe()} (packages, not models): "
                           f"{cmd.text[:100]}", cmd.path, cmd.line, R + "license-tooling")
    yield Searched("MODEL-13", "license: in model and dataset card front matter, CycloneDX model licences, "
                   "THIRD_PARTY_MODELS.md/NOTICE inventories, pip-licenses/liccheck/scancode/reuse in CI")
