"""CI facts for monitoring, read from the shared CI model (:mod:`mlposture.scanner.sources.ci`).

Raw facts: scheduled jobs (GitHub ``on: schedule``, GitLab schedule pipelines) with what they run, notification
steps (Slack/PagerDuty/Opsgenie/Teams actions, ``curl`` to a webhook), and steps running red-team tools or
rollback commands, each with the trigger events of its workflow.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mlposture.probes.monitoring.infra import AlertRoute, Schedule
from mlposture.scanner.repo import RepoView
from mlposture.scanner.sources.ci import CiModel, Step, load_ci

_NOTIFY_ACTIONS = ("slackapi/slack-github-action", "8398a7/action-slack", "rtcamp/action-slack-notify",
                   "ravsamhq/notify-slack-action", "pagerduty/", "opsgenie/", "jdcargile/ms-teams-notification",
                   "skitionek/notify-microsoft-teams", "dawidd6/action-send-mail")
_NOTIFY_TEXT = re.compile(r"(hooks\.slack\.com|events\.pagerduty\.com|api\.opsgenie\.com|webhook\.office\.com|"
                          r"SLACK_WEBHOOK|PAGERDUTY_|OPSGENIE_|aws sns publish)", re.IGNORECASE)

_INSTALL = re.compile(r"\b(pip3?|uv pip|pipx|npm|pnpm|yarn|apt-get|brew)\s+(install|add|i)\b")
REDTEAM_TOOLS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("garak", re.compile(r"\bgarak\b")),
    ("promptfoo redteam", re.compile(r"\bpromptfoo(@\S+)?\s+(redteam|red-team)\b")),
    ("PyRIT", re.compile(r"\bpyrit\b", re.IGNORECASE)),
    ("ART attack suite", re.compile(r"\b(adversarial-robustness-toolbox|art\.attacks)\b")),
    ("TextAttack", re.compile(r"\btextattack\s+attack\b|\btextattack\b", re.IGNORECASE)),
    ("Giskard scan", re.compile(r"\bgiskard\b", re.IGNORECASE)),
    ("Foolbox", re.compile(r"\bfoolbox\b", re.IGNORECASE)),
    ("RobustBench", re.compile(r"\brobustbench\b", re.IGNORECASE)),
    ("CleverHans", re.compile(r"\bcleverhans\b", re.IGNORECASE)),
    ("torchattacks", re.compile(r"\btorchattacks\b")),
    ("AutoAttack", re.compile(r"\bautoattack\b", re.IGNORECASE)),
)
PROMOTES = re.compile(r"(?i)\bdeploy|\bpromot|\bregister_model|set_registered_model_alias|push_to_hub|"
                      r"huggingface-cli upload|\brelease\b|sagemaker.*(create_model|update-endpoint)")
ROLLBACK = re.compile(r"(\bhelm\s+rollback\b|\bkubectl\s+(argo\s+)?rollouts?\s+(undo|abort)\b|"
                      r"\bkubectl\s+rollout\s+undo\b|\bmake\s+rollback\b|rollback\.sh\b|"
                      r"\baws\s+sagemaker\s+update-endpoint\b.*\bretain|\bmlflow\b.*\btransition.*\bArchived)")


@dataclass(frozen=True)
class CiStepFact:
    """A CI step of interest: ``label`` says what it runs; ``events`` are its workflow/job triggers."""

    label: str
    path: str
    line: int
    job: str
    events: frozenset[str]
    crons: tuple[str, ...]


@dataclass(frozen=True)
class CiFacts:
    """Scheduled jobs, notification routes, red-team and rollback steps."""

    schedules: tuple[Schedule, ...]
    notifies: tuple[AlertRoute, ...]
    redteam: tuple[CiStepFact, ...]
    rollback: tuple[CiStepFact, ...]
    files_read: tuple[str, ...]
    runs: tuple[CiRun, ...] = ()  # every step's command text, to find which CI job runs a script


@dataclass(frozen=True)
class CiRun:
    """One CI step's text with its job, triggers and whether its workflow also promotes or deploys a model."""

    path: str
    line: int
    job: str
    events: frozenset[str]
    text: str
    promotes: bool


def _step_text(step: Step) -> str:
    parts = [step.name or "", step.uses or "", step.run or ""]
    parts.extend(v for _, v in step.with_)
    return "\n".join(parts)


def ci_facts(repo: RepoView) -> CiFacts:
    """Read the CI model once and extract the monitoring facts."""
    model: CiModel = load_ci(repo)
    schedules: list[Schedule] = []
    notifies: list[AlertRoute] = []
    redteam: list[CiStepFact] = []
    rollback: list[CiStepFact] = []
    runs: list[CiRun] = []
    for wf in model.workflows:
        wf_text = "\n".join(_step_text(s) + " " + j.id for j in wf.jobs for s in j.steps)
        promotes = bool(PROMOTES.search(wf_text))
        for job in wf.jobs:
            triggers = wf.job_triggers(job.id)
            events = frozenset(t.event for t in triggers)
            crons = tuple(c for t in triggers if t.event == "schedule" for c in t.crons)
            sched_line = next((t.line for t in triggers if t.event == "schedule"), job.line)
            text = "\n".join(_step_text(s) for s in job.steps)
            if "schedule" in events and not job.hidden:
                detail = f"job '{job.id}'" + (f" cron '{crons[0]}'" if crons else "")
                schedules.append(Schedule("CI schedule", wf.path, sched_line, detail, text, crons, job.id))
            for step in job.steps:
                st = _step_text(step)
                runs.append(CiRun(step.path, step.run_line or step.line, job.id, events, st, promotes))
                if any(step.uses_action(a) for a in _NOTIFY_ACTIONS) or _NOTIFY_TEXT.search(st):
                    notifies.append(AlertRoute("CI notification step", step.path, step.line,
                                               f"job '{job.id}' step {step.name or step.uses or step.index}"))
                    # route identified by its job: attach the job name for linking
                tool_text = "\n".join(ln for ln in st.splitlines() if not _INSTALL.search(ln))
                for label, rx in REDTEAM_TOOLS:
                    if rx.search(tool_text):
                        redteam.append(CiStepFact(label, step.path, step.run_line or step.line, job.id, events,
                                                  crons))
                        break
                m = ROLLBACK.search(st)
                if m or "rollback" in (step.name or "").lower():
                    label = m.group(0).strip() if m else f"step '{step.name}'"
                    rollback.append(CiStepFact(label, step.path, step.run_line or step.line, job.id, events, crons))
    return CiFacts(tuple(schedules), tuple(notifies), tuple(redteam), tuple(rollback), model.files_read,
                   tuple(runs))


def cron_period_days(cron: str) -> float | None:
    """Longest gap between runs of a 5-field cron, in days (approximate); ``None`` when not understood."""
    fields = cron.split()
    if len(fields) != 5:
        return None
    _minute, _hour, dom, month, dow = fields
    if month in ("*", "?"):
        if dom in ("*", "?") and dow in ("*", "?"):
            return 1.0
        if dow not in ("*", "?"):
            return 7.0
        return 31.0
    step = re.fullmatch(r"\*/(\d+)|\d+-\d+/(\d+)", month)
    if step:
        n = int(step.group(1) or step.group(2))
        return 31.0 * max(1, n)
    try:
        months = sorted({int(x) for part in month.split(",") for x in _expand(part)})
    except ValueError:
        return None
    if not months:
        return None
    gaps = [(months[(i + 1) % len(months)] - m) % 12 or 12 for i, m in enumerate(months)]
    return 31.0 * max(gaps)


def _expand(part: str) -> list[int]:
    if "-" in part:
        a, b = part.split("-", 1)
        return list(range(int(a), int(b) + 1))
    return [int(part)]
