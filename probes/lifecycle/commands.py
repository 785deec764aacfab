"""Shell command lines a pipeline runs: CI steps, DVC stage commands, shell scripts, Makefiles, Dockerfiles.

Why one list: "is it wired into a pipeline?" and "is there a verification step?" are questions about commands,
wherever they live. Each :class:`Command` keeps its file, line and kind, so the judgement can say "CI job step"
or "DVC stage" and a reviewer can open the line.

CI steps come from the shared CI model (:mod:`mlposture.scanner.sources.ci`): the files it reads are the CI files
here too, and a ``run:`` block's commands are numbered from the line where its text starts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mlposture.probes.lifecycle.dvc import DvcProject
from mlposture.scanner.repo import RepoFile, RepoView
from mlposture.scanner.sources.ci import load_ci

MAX_SCRIPT_BYTES = 512 * 1024

CI = "CI job step"
DVC = "DVC stage"
SCRIPT = "shell script"
MAKE = "Makefile"
DOCKER = "Dockerfile"


@dataclass(frozen=True)
class Command:
    """One command line and where it runs."""

    text: str
    path: str
    line: int
    kind: str
    context: str = ""  # job or stage name

    def describe(self) -> str:
        """``CI job step 'train' (.github/workflows/ci.yml:12)``."""
        ctx = f" '{self.context}'" if self.context else ""
        return f"{self.kind}{ctx} ({self.path}:{self.line})"


def _logical_lines(lines: list[str]) -> list[tuple[int, str]]:
    """``(index of the first physical line, text)`` with backslash continuations joined."""
    out: list[tuple[int, str]] = []
    buf: list[str] = []
    start = 0
    for i, raw in enumerate(lines):
        if not buf:
            start = i
        stripped = raw.strip()
        if stripped.endswith("\\") and len(buf) < 200:
            buf.append(stripped[:-1].strip())
            continue
        buf.append(stripped)
        out.append((start, " ".join(p for p in buf if p)))
        buf = []
    if buf:
        out.append((start, " ".join(p for p in buf if p)))
    return out


def _split(text: str, first_line: int, path: str, kind: str, context: str) -> list[Command]:
    out = []
    for i, stripped in _logical_lines(text.splitlines()):
        if stripped and not stripped.startswith("#"):
            out.append(Command(stripped, path, first_line + i, kind, context))
    return out


def _ci(repo: RepoView) -> dict[str, list[Command]]:
    """The commands of every CI file, by path: each line of a ``run:`` or GitLab script, and each ``uses:``.

    A GitLab job that extends a template (or takes ``default:`` scripts) holds the template's lines as its own
    steps; a command is one line of one file, so it is kept once, under the first job that runs it.
    """
    out: dict[str, list[Command]] = {}
    seen: set[tuple[str, int, str]] = set()
    for step in load_ci(repo).steps():
        found: list[Command] = []
        if step.run is not None:
            found += _split(step.run, step.run_line or step.line, step.path, CI, step.job)
        if step.uses is not None:
            found.append(Command(f"uses: {step.uses}", step.path, step.uses_line or step.line, CI, step.job))
        for cmd in found:
            key = (cmd.path, cmd.line, cmd.text)
            if key not in seen:
                seen.add(key)
                out.setdefault(cmd.path, []).append(cmd)
    return out


def _plain(repo: RepoView, f: RepoFile, kind: str) -> list[Command]:
    text = repo.read_text(f, limit=MAX_SCRIPT_BYTES)
    if text is None:
        return []
    out = []
    raw_lines = text.splitlines()
    for index, stripped in _logical_lines(raw_lines):
        number, raw = index + 1, raw_lines[index]
        if not stripped or stripped.startswith("#"):
            continue
        if kind == DOCKER:
            match = re.match(r"(?i)^RUN\s+(.*)$", stripped)
            if match is None:
                continue
            stripped = match.group(1)
        if kind == MAKE and not raw.startswith("\t"):
            continue
        out.append(Command(stripped.lstrip("@-"), f.path, number, kind))
    return out


def collect(repo: RepoView, dvc: DvcProject) -> list[Command]:
    """Every command line of the repository's pipelines and scripts."""
    out: list[Command] = []
    ci = _ci(repo)
    for f in repo.files:
        if f.path in ci:
            out += ci[f.path]
        elif f.suffix in (".sh", ".bash"):
            out += _plain(repo, f, SCRIPT)
        elif f.name in ("Makefile", "makefile", "GNUmakefile") or f.suffix == ".mk":
            out += _plain(repo, f, MAKE)
        elif f.name == "Dockerfile" or f.name.startswith("Dockerfile.") or f.suffix == ".dockerfile":
            out += _plain(repo, f, DOCKER)
    for path, stages in dvc.pipelines:
        for stage in stages:
            for text, line in stage.cmds:
                out.append(Command(text.strip(), path, line, DVC, stage.name))
    return out


def is_pipeline(cmd: Command) -> bool:
    """CI steps and DVC stages are pipelines; scripts, Makefiles and Dockerfiles are entry points."""
    return cmd.kind in (CI, DVC)
