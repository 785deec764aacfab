"""PIPE-02: is every commit scanned for vulnerable dependencies? (judgement over the CI tool uses).

- A dependency scanner in CI triggered on ``push``/``pull_request`` (GitLab: branch or merge-request pipelines)
  = pass, at the step's line.
- The same only on a ``schedule`` (or by hand) = partial: "not just weekly".
- A scan whose failure is tolerated (``continue-on-error: true``, ``allow_failure: true``) = partial: it cannot
  block a merge.
- A pre-commit hook alone = partial (it runs on developers' machines); run through ``pre-commit run`` /
  ``pre-commit/action`` in a CI job on push or pull request = pass.
- An image scan that also scans the image's language packages (Trivy ``image`` unless ``vuln-type``/
  ``pkg-types`` is ``os`` only) is a dependency scan too.
- ``push`` filtered to tags only is a release trigger, not every commit.
- An update bot (Dependabot, Renovate) = partial: it proposes upgrades, it does not scan every commit.
- Nothing = ``Searched`` with what was read.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from mlposture.scanner.probe import Effect, Evidence, ProbeItem, Searched
from mlposture.scanner.sources.ci import CiModel, Trigger
from mlposture.scanner.sources.ci.tools import Category, ToolUse

CONTROL = "PIPE-02"
_TOLERATED = "continue-on-error/allow_failure is true on the scan"
RULE_SCAN = "cicd.dependency-scan"
RULE_BOT = "cicd.update-bot"
EVERY_COMMIT = frozenset({"push", "pull_request", "pull_request_target", "merge_group", "merge_request"})
PYTHON_ECOSYSTEMS = frozenset({"pip", "uv", "pipenv", "poetry", "pip-compile", "conda"})

_SCHEDULE_ONLY_IF = re.compile(r"github\.event_name\s*==\s*['\"](schedule|workflow_dispatch)['\"]")


def commit_events(use: ToolUse) -> tuple[frozenset[str], int]:
    """Events of ``use`` that fire on commits, and the line of the trigger that says so (0 when none)."""
    triggers: tuple[Trigger, ...] = use.triggers
    cond = use.step_condition
    if _SCHEDULE_ONLY_IF.search(cond) and "!=" not in cond and "||" not in cond:
        return frozenset(), 0
    every = [t for t in triggers if t.event in EVERY_COMMIT and not _tags_only(t)]
    return frozenset(t.event for t in every), (every[0].line if every else 0)


def _tags_only(t: Trigger) -> bool:
    """``on: push: tags: [v*]`` without branches fires for releases, not for every commit."""
    return t.event == "push" and bool(t.tags) and not t.branches


def describe_triggers(use: ToolUse) -> str:
    """``on: schedule (0 3 * * 1), workflow_dispatch`` as a short text."""
    parts = []
    for t in use.triggers:
        if t.crons:
            parts.append(f"{t.event} ({', '.join(t.crons)})")
        elif _tags_only(t):
            parts.append(f"{t.event} of tags {', '.join(t.tags)}")
        else:
            parts.append(t.event)
    return ", ".join(parts) or "no trigger"


def judge(ci: CiModel, uses: list[ToolUse]) -> Iterator[ProbeItem]:
    """Evidence for PIPE-02 from the recognised tool uses and update bots."""
    scans = [u for u in uses if u.category is Category.DEPENDENCY_SCAN]
    precommit_in_ci = [u for u in uses if u.category is Category.PRE_COMMIT_RUN and commit_events(u)[0]]
    found = False
    for use in scans:
        found = True
        if use.workflow is None:  # pre-commit hook
            if precommit_in_ci:
                ci_run = precommit_in_ci[0]
                yield Evidence(CONTROL, Effect.PASS,
                               f"{use.tool} pre-commit hook, run in CI by {ci_run.how} "
                               f"({ci_run.path}:{ci_run.line}) on {describe_triggers(ci_run)}",
                               use.path, use.line, RULE_SCAN)
            else:
                yield Evidence(CONTROL, Effect.PARTIAL,
                               f"{use.tool} pre-commit hook ({use.how}) runs on developers' machines only; "
                               "no CI job runs pre-commit on every commit", use.path, use.line, RULE_SCAN)
            continue
        events, _ = commit_events(use)
        if use.tolerated:
            yield Evidence(CONTROL, Effect.PARTIAL,
                           f"{use.tool} ({use.how}) never fails the pipeline: "
                           f"{use.reports_only or _TOLERATED}", use.path, use.line, RULE_SCAN)
        elif events:
            yield Evidence(CONTROL, Effect.PASS,
                           f"{use.tool} ({use.how}) runs on {', '.join(sorted(events))}",
                           use.path, use.line, RULE_SCAN)
        else:
            yield Evidence(CONTROL, Effect.PARTIAL,
                           f"{use.tool} ({use.how}) runs only on {describe_triggers(use)}, "
                           "not on every commit", use.path, use.line, RULE_SCAN)
    for bot in ci.update_bots:
        found = True
        ecos = ", ".join(e for e, _ in bot.ecosystems)
        python = [e for e in bot.ecosystems if e[0] in PYTHON_ECOSYSTEMS]
        line = python[0][1] if python else bot.line
        what = f" for {ecos}" if ecos else ""
        yield Evidence(CONTROL, Effect.PARTIAL,
                       f"{bot.kind} configured{what}: proposes dependency updates, does not scan every commit",
                       bot.path, line, RULE_BOT)
    if not found:
        read = ", ".join(ci.files_read) or "no CI file found"
        yield Searched(CONTROL, "dependency scanners (pip-audit, Safety, Snyk, osv-scanner, Trivy fs, Grype, "
                                "dependency-review, GitLab Dependency-Scanning) and update bots (Dependabot, "
                                f"Renovate) in CI and pre-commit configuration; read: {read}")
