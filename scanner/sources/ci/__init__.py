"""A shared, parsed model of a repository's CI configuration (raw facts, no judgement).

Several probes ask the same questions of CI files ("is there a step running ``dvc pull``?", "does a step run
``cosign verify`` before the deploy job?"), so the parsing lives here once, and probes only judge the facts.

What is read (always with :mod:`mlposture.scanner.yamlsafe`, never executed):

- GitHub Actions: ``.github/workflows/*.yml|*.yaml``: the ``on:`` triggers in all their shapes (a string, a list,
  a mapping with ``push: {branches, tags}``, ``schedule: [{cron}]``...), top-level and job ``permissions:`` and
  ``env:``, jobs (``needs``, ``if``, ``continue-on-error``, ``runs-on``, ``container``/``services`` images, a
  reusable-workflow ``uses:``) and their steps (``uses``, ``run``, ``with``, ``env``, ``if``,
  ``continue-on-error``, ``shell``), each with its 1-based line.
- GitLab CI: ``.gitlab-ci.yml`` and any ``*.gitlab-ci.yml`` in any folder, ``.yaml`` spellings too (a project may
  point its CI path at one; included files are listed, not followed):
  ``stages``, ``include:`` (``template``, ``local``, ``remote``, ``project``, ``component``; plain strings
  too), ``workflow: rules``, jobs (hidden ``.templates`` included, flagged) with ``image``, ``services``,
  ``stage``, ``needs``,
  ``rules``/``only``, ``allow_failure``, ``variables``, one level of ``extends``, ``default:``; every line of
  ``before_script``, ``script`` and ``after_script`` becomes a :class:`Step` with ``run`` set and the line of that
  script item.
- pre-commit: ``.pre-commit-config.yaml`` hooks (repo, rev, id, line).
- Update bots: ``.github/dependabot.yml|yaml`` (ecosystems with lines) and Renovate configs (``renovate.json``,
  ``renovate.json5``, ``.renovaterc``, ``.renovaterc.json``, ``.github/renovate.json[5]``, ``.gitlab/renovate.json``,
  or a ``"renovate"`` key in ``package.json``): presence and line.

API (all values are frozen dataclasses; ``path`` is repo-relative, ``line`` 1-based)::

    from mlposture.scanner.sources.ci import load_ci
    ci = load_ci(repo)                      # cached per RepoView; parse errors become repo notes
    for step in ci.steps():                 # every GitHub step and every GitLab script line
        if step.runs_command("dvc", "pull"):        # first word(s) of a shell command, wrappers skipped
            print(step.path, step.line, step.job)
    ci.find_steps(lambda s: s.uses_action("sigstore/cosign-installer"))
    wf = ci.workflow_of(step)               # the Workflow holding a step: triggers, permissions, env
    wf.jobs_needed_by("deploy")             # transitive ``needs`` of a job (to check a gate precedes it)
    step.commands()                         # ShellCommand(argv, line, text, piped, redirected, or_else)
    step.is_failure_tolerated               # continue-on-error (step or job) / GitLab allow_failure
    wf.job_triggers(step.job)               # the Triggers that run this step's job

    from mlposture.scanner.sources.ci.tools import Category, find_tool_uses
    for use in find_tool_uses(ci):          # recognised security tools: tool, category, path, line, how, step
        if use.category is Category.SBOM: ...   # DEPENDENCY_SCAN, IMAGE_SCAN, SBOM, SECRET_SCAN, PRE_COMMIT_RUN

A workflow's :attr:`Workflow.triggers` are :class:`Trigger` values (``event`` in GitHub's names: ``push``,
``pull_request``, ``schedule``, ``release``, ``workflow_dispatch``...); GitLab pipelines are mapped to the same
names (``push`` for branch pipelines, ``merge_request`` for MR pipelines, ``schedule``, ``tag``), per job in
:attr:`Job.triggers` because GitLab decides them per job with ``rules``/``only``.

Files that do not parse are recorded once as notes of the view (``repo.note``, deduplicated), whichever probe
calls :func:`load_ci` first; callers never need to yield them.
"""


from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from mlposture.scanner.repo import RepoFile, RepoView
from mlposture.scanner.sources.ci.github import parse_github
from mlposture.scanner.sources.ci.gitlab import parse_gitlab
from mlposture.scanner.sources.ci.model import (
    GITHUB,
    GITLAB,
    CiModel,
    Include,
    Job,
    Permissions,
    PreCommitHook,
    Step,
    Trigger,
    UpdateBot,
    Workflow,
)
from mlposture.scanner.sources.ci.precommit import parse_dependabot, parse_precommit
from mlposture.scanner.sources.shell import ShellCommand, split_commands
from mlposture.scanner.yamlsafe import YamlError, load

__all__ = [
    "GITHUB", "GITLAB", "MAX_CI_BYTES", "RENOVATE_FILES", "CiModel", "Include", "Job", "Permissions",
    "PreCommitHook", "ShellCommand", "Step", "Trigger", "UpdateBot", "Workflow", "build_ci", "load_ci",
    "split_commands",
]

MAX_CI_BYTES = 2 * 1024 * 1024
GITLAB_FILES = (".gitlab-ci.yml", "*.gitlab-ci.yml", ".gitlab-ci.yaml", "*.gitlab-ci.yaml")  # in any folder

RENOVATE_FILES = (
    "renovate.json", "renovate.json5", ".renovaterc", ".renovaterc.json", ".renovaterc.json5",
    ".github/renovate.json", ".github/renovate.json5", ".gitlab/renovate.json", ".gitlab/renovate.json5",
)



def _yaml(repo: RepoView, f: RepoFile, what: str) -> tuple[bool, Any]:
    text = repo.read_text(f, MAX_CI_BYTES)
    if text is None:
        return False, None
    try:
        return True, load(text)
    except YamlError as exc:
        repo.note(f"{what} not parsed (YAML): {exc.message}", f.path, exc.line)
        return False, None


def load_ci(repo: RepoView) -> CiModel:
    """The CI model of ``repo`` (built once per scan by the view's :class:`Sources`; unparsable files are notes)."""
    from mlposture.scanner.sources import Sources

    return Sources.of(repo).ci


def build_ci(repo: RepoView) -> CiModel:
    """Parse the CI configuration of ``repo`` now (uncached: :class:`~mlposture.scanner.sources.Sources` caches)."""
    workflows: list[Workflow] = []
    read: list[str] = []
    unparsed: list[str] = []
    hooks: list[PreCommitHook] = []
    bots: list[UpdateBot] = []

    readers: list[tuple[tuple[str, ...], str, Callable[[str, Any], list[Any]], list[Any]]] = [
        ((".github/workflows/*.yml", ".github/workflows/*.yaml"), "GitHub Actions workflow",
         lambda path, doc: [parse_github(path, doc)], workflows),
        (GITLAB_FILES, "GitLab CI file", lambda path, doc: [parse_gitlab(path, doc)],
         workflows),
        ((".pre-commit-config.yaml", ".pre-commit-config.yml"), "pre-commit config",
         lambda path, doc: list(parse_precommit(path, doc)), hooks),
    ]
    for patterns, label, parse, sink in readers:
        for f in repo.find(*patterns):
            if patterns[0].startswith(".github/workflows/") and f.path.count("/") != 2:
                continue
            ok, doc = _yaml(repo, f, label)
            read.append(f.path)
            if not ok:
                unparsed.append(f.path)
                continue
            try:
                sink.extend(parse(f.path, doc))
            except YamlError as exc:
                repo.note(f"{label} not understood: {exc.message}", f.path, exc.line)
                unparsed.append(f.path)
    for name in (".github/dependabot.yml", ".github/dependabot.yaml"):
        bot = repo.get(name)
        if bot is None:
            continue
        ok, doc = _yaml(repo, bot, "Dependabot config")
        read.append(bot.path)
        if not ok:
            unparsed.append(bot.path)
            bots.append(UpdateBot("dependabot", bot.path))
            continue
        try:
            bots.append(parse_dependabot(bot.path, doc))
        except YamlError as exc:
            repo.note(f"Dependabot config not understood: {exc.message}", bot.path, exc.line)
            unparsed.append(bot.path)
    for name in RENOVATE_FILES:
        ren = repo.get(name)
        if ren is not None:
            read.append(ren.path)
            bots.append(UpdateBot("renovate", ren.path))
    pkg = repo.get("package.json")
    if pkg is not None:
        lines = repo.lines(pkg, MAX_CI_BYTES)
        for n, text in enumerate(lines, 1):
            if re.match(r'\s*"renovate"\s*:', text):
                bots.append(UpdateBot("renovate", pkg.path, n))
                break
    return CiModel(tuple(workflows), tuple(hooks), tuple(bots), tuple(read), tuple(unparsed))
