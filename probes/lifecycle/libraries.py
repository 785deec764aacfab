"""Library-usage evidence: "this control's tooling is used, and here is how firmly it is wired in".

One small judgement shared by the controls that are met by running a tool (anomaly detection, schema validation,
PII scrubbing, influence analysis, bias examination, adversarial training): a use in a file a pipeline runs is
``pass``; a use in plain code no pipeline was seen to run is ``partial``; a use only in a notebook is ``partial``
and says so (weaker evidence). A tool's command line in a CI step or DVC stage is ``pass`` on its own.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from mlposture.probes.lifecycle.commands import Command, is_pipeline
from mlposture.probes.lifecycle.pysource import SourceFacts
from mlposture.probes.lifecycle.wiring import Wiring
from mlposture.scanner.probe import Effect, Evidence


@dataclass(frozen=True)
class Library:
    """A tool recognised by dotted-name prefixes in code and, optionally, a command-line pattern."""

    label: str
    modules: tuple[str, ...]
    cli: str | None = None  # regular expression matched against pipeline commands


@dataclass(frozen=True)
class Usage:
    """Where a library was seen, and whether that place is wired."""

    library: Library
    path: str
    line: int | None
    where: str
    notebook: bool
    wired: str | None
    name: str


def find_usages(facts: list[SourceFacts], libraries: tuple[Library, ...], wiring: Wiring) -> list[Usage]:
    """The first use of each library in each file (most specific symbol seen at the earliest line)."""
    out: list[Usage] = []
    for f in facts:
        for lib in libraries:
            hits = f.imports(*lib.modules)
            if not hits:
                continue
            first = min(hits, key=lambda s: (s.site.cell or 0, s.site.line or s.site.cell_line or 0))
            out.append(Usage(lib, f.path, first.site.line, first.site.where(), f.notebook,
                             None if f.notebook else wiring.why(f.path), first.name))
    return out


def find_cli(commands: list[Command], libraries: tuple[Library, ...]) -> list[tuple[Library, Command]]:
    """Pipeline commands (CI steps, DVC stages) that run one of the libraries' command-line tools."""
    out = []
    for lib in libraries:
        if lib.cli is None:
            continue
        pattern = re.compile(lib.cli)
        for cmd in commands:
            if is_pipeline(cmd) and pattern.search(cmd.text):
                out.append((lib, cmd))
    return out


def usage_evidence(control: str, rule: str, purpose: str, usages: list[Usage],
                   cli: list[tuple[Library, Command]]) -> Iterator[Evidence]:
    """Evidence per usage: pass when wired, partial otherwise (notebooks named as weaker evidence)."""
    for lib, cmd in cli:
        yield Evidence(control, Effect.PASS, f"{lib.label} {purpose} runs in {cmd.describe()}: {cmd.text[:120]}",
                       cmd.path, cmd.line, rule)
    for u in usages:
        if u.notebook:
            yield Evidence(control, Effect.PARTIAL,
                           f"{lib_name(u)} {purpose} only in a notebook ({u.where}): weaker evidence, "
                           "not wired into a pipeline", u.path, u.line, rule)
        elif u.wired:
            yield Evidence(control, Effect.PASS, f"{lib_name(u)} {purpose}, wired into a pipeline: {u.wired}",
                           u.path, u.line, rule)
        else:
            yield Evidence(control, Effect.PARTIAL,
                           f"{lib_name(u)} {purpose} in {u.where}, but no DVC stage, CI job or orchestrator "
                           "task was seen to run this file", u.path, u.line, rule)


def lib_name(u: Usage) -> str:
    """``pandera (pandera.DataFrameSchema)``."""
    return f"{u.library.label} ({u.name})"


def searched_text(libraries: tuple[Library, ...]) -> str:
    """The list of tools for a Searched item."""
    return ", ".join(lib.label for lib in libraries)
