"""pre-commit hooks and Dependabot configuration."""

from __future__ import annotations

from typing import Any

from mlposture.scanner.sources.ci.model import (
    PreCommitHook,
    UpdateBot,
)
from mlposture.scanner.sources.ci.nodes import item_line, key_line, text_of
from mlposture.scanner.yamlsafe import YamlError


# ---------------------------------------------------------------------------------------------------------- others
def parse_precommit(path: str, doc: Any) -> tuple[PreCommitHook, ...]:
    if not isinstance(doc, dict) or not isinstance(doc.get("repos"), list):
        raise YamlError("no 'repos:' list", 1)
    hooks: list[PreCommitHook] = []
    repos = doc["repos"]
    for i, repo in enumerate(repos):
        if not isinstance(repo, dict):
            continue
        url = text_of(repo.get("repo"))
        rev = text_of(repo["rev"]) if "rev" in repo else None
        hk = repo.get("hooks")
        if not isinstance(hk, list):
            continue
        for j, hook in enumerate(hk):
            if isinstance(hook, dict) and "id" in hook:
                hooks.append(PreCommitHook(path, item_line(hk, j, item_line(repos, i, 1)), url, text_of(hook["id"]),
                                           rev))
    return tuple(hooks)


def parse_dependabot(path: str, doc: Any) -> UpdateBot:
    if not isinstance(doc, dict):
        raise YamlError("dependabot.yml is not a mapping", 1)
    ecos: list[tuple[str, int]] = []
    updates = doc.get("updates")
    if isinstance(updates, list):
        for i, upd in enumerate(updates):
            if isinstance(upd, dict) and "package-ecosystem" in upd:
                ecos.append((text_of(upd["package-ecosystem"]),
                             key_line(upd, "package-ecosystem", item_line(updates, i, 1))))
    return UpdateBot("dependabot", path, key_line(doc, "updates", 1), tuple(ecos))


