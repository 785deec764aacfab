"""Model cards as facts: Hugging Face README front matter, ``MODEL_CARD.md`` files and CycloneDX ``modelCard``.

A file is a model card when it is named like one (``MODEL_CARD.md``, ``model_card*.md``, ``modelcard*.md``) or is
a ``README.md`` whose front matter carries model keys (``model-index``, ``base_model``, ``pipeline_tag``,
``library_name``). Dataset cards (``annotations_creators``...) are the data probe's. CycloneDX JSON BOMs are
read (bounded) for components of type ``machine-learning-model`` with a ``modelCard``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from mlposture.scanner.repo import RepoFile, RepoView
from mlposture.scanner.sources import markdown

MAX_CARD_BYTES = 1024 * 1024
CARD_NAME = re.compile(r"(?i)^(model[_-]?card[^/]*|modelcard[^/]*)\.(md|markdown)$")
MODEL_KEYS = ("model-index", "base_model", "pipeline_tag", "library_name", "model_name")
DATASET_KEYS = ("annotations_creators", "language_creators", "source_datasets", "size_categories", "dataset_info")
BOM_NAME = re.compile(r"(?i)(^bom\.json$|\.cdx\.json$|cyclonedx[^/]*\.json$|aibom[^/]*\.json$)")


@dataclass(frozen=True)
class CardFile:
    """A Markdown model card and its parsed document."""

    path: str
    doc: markdown.Document


@dataclass(frozen=True)
class BomModel:
    """A CycloneDX machine-learning-model component."""

    path: str
    name: str
    has_model_card: bool
    card_keys: tuple[str, ...]
    licenses: tuple[str, ...]


def _is_card(f: RepoFile, doc: markdown.Document) -> bool:
    if CARD_NAME.match(f.name):
        return True
    if f.name.lower() != "readme.md" or doc.front is None:
        return False
    return any(k in doc.front for k in MODEL_KEYS) and not any(k in doc.front for k in DATASET_KEYS)


def model_cards(repo: RepoView) -> list[CardFile]:
    """Markdown model cards; broken front matter becomes a note and the headings are still read."""
    out: list[CardFile] = []
    for f in repo.files:
        if f.suffix not in (".md", ".markdown"):
            continue
        if not (CARD_NAME.match(f.name) or f.name.lower() == "readme.md"):
            continue
        text = repo.read_text(f, limit=MAX_CARD_BYTES)
        if text is None:
            continue
        doc = markdown.parse(text, f.path)
        if doc.front_error and (CARD_NAME.match(f.name) or "model" in f.path.lower()):
            repo.note(f"model card front matter not parsed ({doc.front_error}); only headings were read",
                      f.path, doc.front_error_line)
        if _is_card(f, doc):
            out.append(CardFile(f.path, doc))
    return out


def _licenses(component: dict[str, object]) -> tuple[str, ...]:
    out: list[str] = []
    raw = component.get("licenses")
    if isinstance(raw, list):
        for item in raw[:20]:
            lic = item.get("license") if isinstance(item, dict) else None
            if isinstance(lic, dict):
                value = lic.get("id") or lic.get("name")
                if isinstance(value, str):
                    out.append(value)
            elif isinstance(item, dict) and isinstance(item.get("expression"), str):
                out.append(str(item["expression"]))
    return tuple(out)


def bom_models(repo: RepoView) -> list[BomModel]:
    """ML model components of CycloneDX JSON files (invalid JSON becomes a note)."""
    out: list[BomModel] = []
    for f in repo.files:
        if f.suffix != ".json" or not BOM_NAME.search(f.name):
            continue
        text = repo.read_text(f, limit=8 * MAX_CARD_BYTES)
        if text is None:
            continue
        try:
            doc = json.loads(text)
        except (ValueError, RecursionError) as exc:
            repo.note(f"CycloneDX file is not valid JSON ({type(exc).__name__}); not read", f.path)
            continue
        comps = doc.get("components") if isinstance(doc, dict) else None
        if not isinstance(comps, list):
            continue
        for comp in comps[:10000]:
            if not isinstance(comp, dict) or comp.get("type") != "machine-learning-model":
                continue
            card = comp.get("modelCard")
            keys = tuple(sorted(card)) if isinstance(card, dict) else ()
            out.append(BomModel(f.path, str(comp.get("name", "?")), isinstance(card, dict), keys, _licenses(comp)))
    return out
