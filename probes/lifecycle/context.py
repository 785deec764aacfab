"""The raw facts of one scan, gathered once and shared by every judgement of both lifecycle probes.

Built lazily per :class:`RepoView` (a weak cache) so that the data and model probes, which ask about the same
sources, commands and DVC files, parse them once.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

from mlposture.probes.lifecycle import commands as cmdmod
from mlposture.probes.lifecycle.dvc import DvcProject, read_project
from mlposture.probes.lifecycle.pysource import SourceFacts, all_facts
from mlposture.probes.lifecycle.wiring import Wiring
from mlposture.scanner.repo import RepoView


@dataclass(frozen=True)
class Context:
    """Sources, commands, DVC project and wiring index of one repository view."""

    repo: RepoView
    facts: tuple[SourceFacts, ...]
    commands: tuple[cmdmod.Command, ...]
    dvc: DvcProject
    wiring: Wiring


_CACHE: weakref.WeakKeyDictionary[RepoView, Context] = weakref.WeakKeyDictionary()


def context_of(repo: RepoView) -> Context:
    """The facts of ``repo``, computed on first use."""
    ctx = _CACHE.get(repo)
    if ctx is None:
        dvc = read_project(repo)
        facts = all_facts(repo)
        commands = cmdmod.collect(repo, dvc)
        wiring = Wiring(commands, facts, {f.path for f in repo.files})
        ctx = Context(repo, tuple(facts), tuple(commands), dvc, wiring)
        _CACHE[repo] = ctx
    return ctx
