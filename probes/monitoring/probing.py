"""Adversarial robustness testing that is not (yet) scheduled: MON-06 partial credit and PIPE-11.

An evaluation script that runs Foolbox, ART attacks, TextAttack, RobustBench, CleverHans, torchattacks or AutoAttack
against the model is adversarial testing: regular when a schedule runs it (MON-06 pass, judged in
:mod:`freshness`), occasional otherwise (MON-06 partial). PIPE-11 asks for such probing as a gate before a model is
promoted: a CI job on push, pull request or release that runs the attacks in a workflow that also deploys or
promotes the model passes; the same attacks in CI without a promotion, in a script no CI runs, in a notebook, or
only declared as a dependency (an optional ``robustness`` extra) are partial.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from mlposture.probes.monitoring.ci import CiFacts, CiRun
from mlposture.probes.monitoring.freshness import AttackScript
from mlposture.probes.monitoring.runtime import mentions
from mlposture.scanner.probe import Effect, Evidence, ProbeItem, Searched
from mlposture.scanner.repo import RepoView
from mlposture.scanner.sources.manifests.model import SourceKind

RULE = "monitoring.adversarial-probing"
ROBUSTNESS_PACKAGES = {"foolbox": "Foolbox", "adversarial-robustness-toolbox": "ART", "textattack": "TextAttack",
                       "robustbench": "RobustBench", "cleverhans": "CleverHans", "torchattacks": "torchattacks",
                       "autoattack": "AutoAttack", "advertorch": "AdverTorch", "garak": "garak", "pyrit": "PyRIT",
                       "giskard": "Giskard"}


def _ci_runs(ci: CiFacts, path: str) -> list[CiRun]:
    return [r for r in ci.runs if "schedule" not in r.events and mentions(r.text, path)]


def unscheduled(scripts: Sequence[AttackScript]) -> Iterator[ProbeItem]:
    """MON-06: attack scripts no schedule runs are occasional testing, partial."""
    for sc in scripts:
        if not sc.schedules:
            yield Evidence("MON-06", Effect.PARTIAL, f"{sc.label} robustness evaluation in {sc.path}, but no "
                           "schedule runs it: testing is occasional, not regular", sc.path, sc.line,
                           "monitoring.redteam-script")


def gate(repo: RepoView, ci: CiFacts, scripts: Sequence[AttackScript],
         notebooks: Sequence[tuple[str, str]]) -> Iterator[ProbeItem]:
    """PIPE-11 evidence from attack scripts, CI steps running attack tools, notebooks and declared extras."""
    found = False
    for sc in scripts:
        runs = _ci_runs(ci, sc.path)
        gating = next((r for r in runs if r.promotes), None)
        if gating is not None:
            found = True
            yield Evidence("PIPE-11", Effect.PASS, f"{sc.label} attacks ({sc.path}) run in CI job '{gating.job}' "
                           f"on {', '.join(sorted(gating.events)) or 'a trigger'} in the workflow that promotes "
                           "the model: a failing run stops the promotion", gating.path, gating.line, RULE)
        elif runs:
            found = True
            yield Evidence("PIPE-11", Effect.PARTIAL, f"{sc.label} attacks ({sc.path}) run in CI job "
                           f"'{runs[0].job}', but no promotion or deploy was seen behind them",
                           runs[0].path, runs[0].line, RULE)
        elif not sc.schedules:
            found = True
            yield Evidence("PIPE-11", Effect.PARTIAL, f"{sc.label} robustness evaluation in {sc.path}, not run "
                           "as a gate before promotion (no CI job runs it)", sc.path, sc.line, RULE)
    for step in ci.redteam:
        if "schedule" in step.events:
            continue
        run = next((r for r in ci.runs if (r.path, r.line) == (step.path, step.line)), None)
        found = True
        effect = Effect.PASS if run is not None and run.promotes else Effect.PARTIAL
        tail = ("in the workflow that promotes the model" if effect is Effect.PASS
                else "but no promotion or deploy was seen behind it")
        yield Evidence("PIPE-11", effect, f"{step.label} runs in CI job '{step.job}' {tail}", step.path, step.line,
                       RULE)
    for path, label in notebooks:
        found = True
        yield Evidence("PIPE-11", Effect.PARTIAL, f"{label} attacks only in a notebook ({path}): ad hoc, not a gate",
                       path, None, RULE)
    if not found:
        yield from _declared(repo)
    yield Searched("PIPE-11", "Foolbox, ART attacks, TextAttack, RobustBench, CleverHans, torchattacks, AutoAttack, "
                              "garak, PyRIT, Giskard in CI jobs before a promotion, evaluation scripts, notebooks "
                              "and declared (optional) dependencies")


def _declared(repo: RepoView) -> Iterator[ProbeItem]:
    from mlposture.scanner.sources.manifests import read_manifests

    for req in read_manifests(repo).requirements:
        label = ROBUSTNESS_PACKAGES.get(req.canonical)
        if label is not None and req.source_kind not in (SourceKind.CI, SourceKind.DOCKERFILE):
            group = f" (extra '{req.group}')" if req.group else ""
            yield Evidence("PIPE-11", Effect.PARTIAL, f"{label} declared as a dependency{group}, but no script or CI "
                           "job running its attacks was seen", req.path, req.line, RULE)
            return
