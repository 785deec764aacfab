"""The CI model: frozen values for GitHub Actions, GitLab CI, pre-commit and update bots (raw facts, no judgement)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from mlposture.scanner.sources.shell import ShellCommand, split_commands

GITHUB = "github-actions"
GITLAB = "gitlab-ci"


@dataclass(frozen=True)
class Step:
    """One GitHub Actions step, or one line of a GitLab job script.

    ``with_`` and ``env`` keep string values as written (expressions such as ``${{ secrets.X }}`` included).
    ``continue_on_error`` is true for ``continue-on-error: true`` on the step (GitHub) or ``allow_failure: true``
    on the job (GitLab); ``job_continue_on_error`` for GitHub's job-level flag. ``run_line`` is where the script's
    text starts (the line after ``run: |``), ``uses_line`` the line of the ``uses:`` key. A GitLab job that extends
    a template holds the template's script lines as its own steps, with the template's path and lines.
    """

    path: str
    line: int
    system: str
    job: str
    index: int
    name: str | None = None
    uses: str | None = None
    uses_line: int | None = None
    run: str | None = None
    run_line: int | None = None
    with_: tuple[tuple[str, str], ...] = ()
    with_lines: tuple[tuple[str, int], ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    if_: str | None = None
    continue_on_error: bool = False
    job_continue_on_error: bool = False
    shell: str | None = None

    def input(self, key: str) -> str | None:
        """The ``with:`` value of ``key`` (case-insensitive), or ``None``."""
        low = key.lower()
        for k, v in self.with_:
            if k.lower() == low:
                return v
        return None

    def input_line(self, key: str) -> int:
        """Line of the ``with:`` key, else the step's line."""
        low = key.lower()
        for k, n in self.with_lines:
            if k.lower() == low:
                return n
        return self.line

    @property
    def action(self) -> str | None:
        """``owner/repo[/path]`` of ``uses:`` without the ``@ref`` (lower-cased), or ``None``."""
        if not self.uses:
            return None
        return self.uses.split("@", 1)[0].strip().lower()

    @property
    def action_ref(self) -> str | None:
        """The ``@ref`` of ``uses:`` (a tag, branch or 40-hex SHA), or ``None``."""
        if not self.uses or "@" not in self.uses:
            return None
        return self.uses.split("@", 1)[1].strip()

    def uses_action(self, prefix: str) -> bool:
        """True when ``uses:`` names the action ``prefix`` (``owner/repo`` or ``owner/repo/sub``)."""
        action = self.action
        if action is None:
            return False
        p = prefix.lower().rstrip("/")
        return action == p or action.startswith(p + "/")

    def commands(self) -> tuple[ShellCommand, ...]:
        """The ``run`` script as simple commands (see :func:`split_commands`)."""
        if not self.run:
            return ()
        return split_commands(self.run, self.run_line or self.line)

    def runs_command(self, program: str, *subcommand: str) -> ShellCommand | None:
        """The first command running ``program`` (optionally followed by ``subcommand`` words), or ``None``."""
        for cmd in self.commands():
            if cmd.program != program:
                continue
            if subcommand and tuple(cmd.argv[1:1 + len(subcommand)]) != subcommand:
                continue
            return cmd
        return None

    @property
    def is_failure_tolerated(self) -> bool:
        """True when a failing step does not fail the pipeline (step, job or GitLab ``allow_failure``)."""
        return self.continue_on_error or self.job_continue_on_error


@dataclass(frozen=True)
class Trigger:
    """One event that starts a workflow (GitHub names; GitLab mapped to them).

    ``branches``/``tags`` hold the filters as written (empty: no filter); ``crons`` the schedule expressions.
    """

    event: str
    line: int
    branches: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()
    crons: tuple[str, ...] = ()
    branch_filtered: bool = False

    @property
    def runs_on_tags(self) -> bool:
        """A ``push`` that also fires for tags: explicit ``tags:`` or no branch filter at all."""
        return self.event == "tag" or (self.event == "push" and (bool(self.tags) or not self.branch_filtered))


@dataclass(frozen=True)
class Permissions:
    """A ``permissions:`` block: ``shorthand`` (``read-all``, ``write-all``, ``{}``) or ``scopes``."""

    line: int
    shorthand: str | None = None
    scopes: tuple[tuple[str, str], ...] = ()

    @property
    def write_scopes(self) -> tuple[str, ...]:
        """Scopes granted ``write`` (``("*",)`` for ``write-all``)."""
        if self.shorthand == "write-all":
            return ("*",)
        return tuple(k for k, v in self.scopes if v == "write")

    @property
    def read_only(self) -> bool:
        """True when nothing is granted ``write``."""
        return not self.write_scopes

    def grants(self, scope: str, level: str = "write") -> bool:
        """True when ``scope`` is granted ``level``."""
        if self.shorthand == "write-all":
            return True
        return any(k == scope and v == level for k, v in self.scopes)


@dataclass(frozen=True)
class Job:
    """A GitHub job or a GitLab job (``hidden`` for GitLab ``.template`` jobs)."""

    path: str
    id: str
    line: int
    system: str
    steps: tuple[Step, ...] = ()
    name: str | None = None
    needs: tuple[str, ...] = ()
    if_: str | None = None
    permissions: Permissions | None = None
    env: tuple[tuple[str, str], ...] = ()
    continue_on_error: bool = False
    uses: str | None = None
    images: tuple[tuple[str, int], ...] = ()
    stage: str | None = None
    triggers: tuple[Trigger, ...] = ()
    hidden: bool = False


@dataclass(frozen=True)
class Include:
    """A GitLab ``include:`` entry: ``kind`` is template/local/remote/project/component/file."""

    kind: str
    value: str
    line: int


@dataclass(frozen=True)
class Workflow:
    """One CI file: a GitHub workflow or the GitLab pipeline."""

    path: str
    system: str
    line: int = 1
    name: str | None = None
    triggers: tuple[Trigger, ...] = ()
    permissions: Permissions | None = None
    env: tuple[tuple[str, str], ...] = ()
    jobs: tuple[Job, ...] = ()
    includes: tuple[Include, ...] = ()
    stages: tuple[str, ...] = ()

    def steps(self) -> Iterator[Step]:
        """Every step of every job, in file order."""
        for job in self.jobs:
            yield from job.steps

    def job(self, job_id: str) -> Job | None:
        """The job with that id."""
        for job in self.jobs:
            if job.id == job_id:
                return job
        return None

    def trigger_events(self, job: str | None = None) -> frozenset[str]:
        """Event names that start the workflow (GitLab: of that job when given)."""
        if self.system == GITLAB and job is not None:
            j = self.job(job)
            if j is not None:
                return frozenset(t.event for t in j.triggers)
        return frozenset(t.event for t in self.triggers)

    def job_triggers(self, job: str) -> tuple[Trigger, ...]:
        """Triggers relevant to one job (the workflow's on GitHub, the job's own on GitLab)."""
        if self.system == GITLAB:
            j = self.job(job)
            return j.triggers if j is not None else self.triggers
        return self.triggers

    def jobs_needed_by(self, job_id: str) -> frozenset[str]:
        """Transitive ``needs`` of a job (GitLab: plus every job of an earlier stage when ``needs`` is absent)."""
        seen: set[str] = set()
        todo = [job_id]
        while todo:
            current = self.job(todo.pop())
            if current is None:
                continue
            preds = list(current.needs)
            if self.system == GITLAB and not current.needs and current.stage and current.stage in self.stages:
                earlier = set(self.stages[: self.stages.index(current.stage)])
                preds.extend(j.id for j in self.jobs if j.stage in earlier and not j.hidden)
            for p in preds:
                if p not in seen:
                    seen.add(p)
                    todo.append(p)
        return frozenset(seen)


@dataclass(frozen=True)
class PreCommitHook:
    """One hook of ``.pre-commit-config.yaml``."""

    path: str
    line: int
    repo: str
    id: str
    rev: str | None = None


@dataclass(frozen=True)
class UpdateBot:
    """Dependabot or Renovate configuration; ``ecosystems`` with their lines (Dependabot only)."""

    kind: str
    path: str
    line: int = 1
    ecosystems: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class CiModel:
    """Everything parsed from the CI configuration of one repository."""

    workflows: tuple[Workflow, ...] = ()
    precommit: tuple[PreCommitHook, ...] = ()
    update_bots: tuple[UpdateBot, ...] = ()
    files_read: tuple[str, ...] = ()
    unparsed: tuple[str, ...] = ()

    @property
    def present(self) -> bool:
        """True when any CI file (workflow or GitLab pipeline) exists, parsed or not."""
        return bool(self.workflows) or any(
            p.startswith(".github/workflows/") or p.endswith((".gitlab-ci.yml", ".gitlab-ci.yaml"))
            for p in self.unparsed)

    def steps(self) -> Iterator[Step]:
        """Every step of every workflow."""
        for wf in self.workflows:
            yield from wf.steps()

    def find_steps(self, predicate: Callable[[Step], bool]) -> list[Step]:
        """Steps for which ``predicate`` is true, in file order."""
        return [s for s in self.steps() if predicate(s)]

    def workflow_of(self, step: Step) -> Workflow:
        """The workflow that holds ``step``."""
        for wf in self.workflows:
            if wf.path == step.path:
                return wf
        raise KeyError(step.path)

