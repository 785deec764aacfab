"""The raw facts of one scan, gathered once and shared by every judgement of both lifecycle probes.

Registered as the source ``lifecycle.context`` so the scan's :class:`~mlposture.scanner.sources.Sources` builds it
once (timed apart from the probes) for the data and model probes, which ask about the same sources, commands and
DVC files. The Python facts come from the scan's one Python pass (the probes declare :data:`.pysource.VISITORS`).
"""

from __future__ import annotations

from dataclasses import dataclass

from mlposture.probes.lifecycle import commands as cmdmod
from mlposture.probes.lifecycle.dvc import DvcProject, read_project
from mlposture.probes.lifecycle.pysource import VISITOR, VISITORS, ModuleImports, SourceFacts
from mlposture.probes.lifecycle.wiring import Wiring
from mlposture.scanner.repo import RepoView
from mlposture.scanner.sources import Sources, register_source

SOURCE = "lifecycle.context"


@dataclass(frozen=True)
class Context:
    """Sources, commands, DVC project and wiring index of one repository view.

    ``facts`` holds only the modules and notebooks that may matter to a judgement (see :mod:`.pysource`).
    """

    repo: RepoView
    facts: tuple[SourceFacts, ...]
    commands: tuple[cmdmod.Command, ...]
    dvc: DvcProject
    wiring: Wiring


def context_of(repo: RepoView) -> Context:
    """The facts of ``repo``, computed on first use (once per scan)."""
    ctx: Context = Sources.of(repo).get(SOURCE)
    return ctx


def build_context(repo: RepoView) -> Context:
    """Gather the facts now (uncached); the Python pass runs now unless the engine already ran it."""
    sources = Sources.of(repo)
    sources.run_python(VISITORS)
    facts = tuple(fact for _, fact in sources.python(VISITOR))
    imports = ModuleImports(repo, facts)
    dvc = read_project(repo)
    commands = cmdmod.collect(repo, dvc)
    wiring = Wiring(commands, imports, {f.path for f in repo.files})
    return Context(repo, facts, tuple(commands), dvc, wiring)


register_source(SOURCE, build_context)
