"""Shell command lines a pipeline runs: CI steps, DVC stage commands, shell scripts, Makefiles, Dockerfiles.

Why one list: "is it wired into a pipeline?" and "is there a verification step?" are questions about commands,
wherever they live. Each :class:`Command` keeps its file, line and kind, so the judgement can say "CI job step"
or "DVC stage" and a reviewer can open the line.

CI is read here in a deliberately small way (GitHub Actions ``run:``/``uses:`` and GitLab ``script`` lines through
:mod:`mlposture.scanner.yamlsafe`), not through the shared CI model (:mod:`mlposture.scanner.sources.ci`), which does
not yet give everything a command needs: the line where a one-line ``run: |`` block's text starts, the line of a
step's ``uses:``, workflows in subfolders of ``.github/workflows`` and ``.gitlab-ci.yml`` files below the root; and
it copies a GitLab template's script into every job that extends it, where a command is one line of one file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mlposture.probes.lifecycle.dvc import DvcProject
from mlposture.scanner import yamlsafe
from mlposture.scanner.repo import RepoFile, RepoView

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


_GITLAB_RESERVED = {"stages", "variables", "include", "default", "workflow", "image", "services", "cache",
                    "before_script", "after_script"}


def _block_start(lines: list[str], key_line: int) -> int:
    """First content line of a ``run:`` value: the next line for a block scalar (``|``, ``>-``)."""
    raw = lines[key_line - 1] if 0 < key_line <= len(lines) else ""
    return key_line + 1 if re.search(r":\s*[|>][-+0-9]*\s*(#.*)?$", raw) else key_line


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


def _github(repo: RepoView, f: RepoFile) -> list[Command]:
    text = repo.read_text(f, limit=MAX_SCRIPT_BYTES)
    if text is None:
        return []
    try:
        doc = yamlsafe.load(text)
    except yamlsafe.YamlError:
        return []  # the CI probe reports unparseable workflows
    jobs = doc.get("jobs") if isinstance(doc, yamlsafe.YMap) else None
    if not isinstance(jobs, yamlsafe.YMap):
        return []
    lines = text.splitlines()
    out: list[Command] = []
    for job_id, job in jobs.items():
        steps = job.get("steps") if isinstance(job, yamlsafe.YMap) else None
        if not isinstance(steps, yamlsafe.YList):
            continue
        for step in steps:
            if not isinstance(step, yamlsafe.YMap):
                continue
            run = step.get("run")
            if isinstance(run, str):
                out += _split(run, _block_start(lines, step.line_of("run")), f.path, CI, str(job_id))
            uses = step.get("uses")
            if isinstance(uses, str):
                out.append(Command(f"uses: {uses}", f.path, step.line_of("uses"), CI, str(job_id)))
    return out


def _gitlab(repo: RepoView, f: RepoFile) -> list[Command]:
    text = repo.read_text(f, limit=MAX_SCRIPT_BYTES)
    if text is None:
        return []
    try:
        doc = yamlsafe.load(text)
    except yamlsafe.YamlError:
        return []
    if not isinstance(doc, yamlsafe.YMap):
        return []
    lines = text.splitlines()
    out: list[Command] = []
    for job_id, job in doc.items():
        if job_id in _GITLAB_RESERVED or not isinstance(job, yamlsafe.YMap):
            continue
        for key in ("before_script", "script", "after_script"):
            value = job.get(key)
            if isinstance(value, yamlsafe.YList):
                for i, item in enumerate(value):
                    if isinstance(item, str):
                        out += _split(item, value.line_of(i), f.path, CI, str(job_id))
            elif isinstance(value, str):
                out += _split(value, _block_start(lines, job.line_of(key)), f.path, CI, str(job_id))
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
    for f in repo.files:
        low = f.path.lower()
        if low.startswith(".github/workflows/") and f.suffix in (".yml", ".yaml"):
            out += _github(repo, f)
        elif f.name in (".gitlab-ci.yml", ".gitlab-ci.yaml"):
            out += _gitlab(repo, f)
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
