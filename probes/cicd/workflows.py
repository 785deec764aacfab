"""A shared, parsed model of a repository's CI configuration (raw facts, no judgement).

Several probes ask the same questions of CI files ("is there a step running ``dvc pull``?", "does a step run
``cosign verify`` before the deploy job?"), so the parsing lives here once, and probes only judge the facts.

What is read (always with :mod:`mlposture.scanner.yamlsafe`, never executed):

- GitHub Actions: ``.github/workflows/*.yml|*.yaml``: the ``on:`` triggers in all their shapes (a string, a list,
  a mapping with ``push: {branches, tags}``, ``schedule: [{cron}]``...), top-level and job ``permissions:`` and
  ``env:``, jobs (``needs``, ``if``, ``continue-on-error``, ``runs-on``, ``container``/``services`` images, a
  reusable-workflow ``uses:``) and their steps (``uses``, ``run``, ``with``, ``env``, ``if``,
  ``continue-on-error``, ``shell``), each with its 1-based line.
- GitLab CI: ``.gitlab-ci.yml`` and any ``*.gitlab-ci.yml`` (included files are listed, not followed):
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

    from mlposture.probes.cicd.workflows import load_ci
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

    from mlposture.probes.cicd.tools import Category, find_tool_uses
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
import shlex
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from mlposture.scanner.repo import RepoFile, RepoView
from mlposture.scanner.yamlsafe import YamlError, YList, YMap, load

MAX_CI_BYTES = 2 * 1024 * 1024

GITHUB = "github-actions"
GITLAB = "gitlab-ci"

RENOVATE_FILES = (
    "renovate.json", "renovate.json5", ".renovaterc", ".renovaterc.json", ".renovaterc.json5",
    ".github/renovate.json", ".github/renovate.json5", ".gitlab/renovate.json", ".gitlab/renovate.json5",
)

#: Programs that only wrap the command that follows (``uv run pip-audit``, ``poetry run safety check``).
_WRAPPERS = {
    "sudo": 0, "env": 0, "time": 0, "exec": 0, "nohup": 0, "command": 0,
    "uv": 1, "poetry": 1, "pipenv": 1, "pdm": 1, "hatch": 1, "rye": 1, "conda": 1, "micromamba": 1, "pixi": 1,
    "uvx": 0, "pipx": 1, "npx": 0, "tox": 0,
}
_WRAPPER_SUBCOMMANDS = {"run", "exec", "tool"}
_ENV_ASSIGN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


# ---------------------------------------------------------------------------------------------------------- values
@dataclass(frozen=True)
class ShellCommand:
    """One simple command of a ``run:``/``script`` block.

    ``argv`` starts at the real program (env assignments, ``sudo``, ``uv run``, ``poetry run``, ``python -m`` are
    skipped: ``python -m pip_audit`` gives ``("pip-audit", ...)``); ``piped`` is true when its output goes into a
    ``|``; ``redirected`` when its stdout goes to a file (``>``, ``>>``), so nothing reaches the log;
    ``or_else`` when ``||`` follows it (``pip-audit || true``: its failure is ignored).
    """

    argv: tuple[str, ...]
    line: int
    text: str
    piped: bool = False
    redirected: bool = False
    or_else: bool = False

    @property
    def program(self) -> str:
        """The program name without its folder (``/usr/bin/trivy`` -> ``trivy``)."""
        return self.argv[0].rsplit("/", 1)[-1] if self.argv else ""


@dataclass(frozen=True)
class Step:
    """One GitHub Actions step, or one line of a GitLab job script.

    ``with_`` and ``env`` keep string values as written (expressions such as ``${{ secrets.X }}`` included).
    ``continue_on_error`` is true for ``continue-on-error: true`` on the step (GitHub) or ``allow_failure: true``
    on the job (GitLab); ``job_continue_on_error`` for GitHub's job-level flag.
    """

    path: str
    line: int
    system: str
    job: str
    index: int
    name: str | None = None
    uses: str | None = None
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
        return bool(self.workflows) or any(p.startswith(".github/workflows/") or p.endswith(".gitlab-ci.yml")
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


# ---------------------------------------------------------------------------------------------------------- shell
def _strip_comment(line: str) -> str:
    out: list[str] = []
    quote = ""
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1].isspace()):
            break
        out.append(ch)
    return "".join(out)


def _logical_lines(script: str, first_line: int) -> Iterator[tuple[str, int]]:
    """Lines of a script with ``\\`` continuations joined, each with the line where it starts."""
    buf = ""
    start = first_line
    for offset, raw in enumerate(script.splitlines()):
        if not buf:
            start = first_line + offset
        stripped = raw.rstrip()
        if stripped.endswith("\\"):
            buf += stripped[:-1] + " "
            continue
        buf += raw
        yield buf, start
        buf = ""
    if buf:
        yield buf, start


_SEPARATORS = re.compile(r"(\|\||&&|;|\||&(?!>))")


def _split_simple(text: str) -> list[tuple[str, str]]:
    """Split one logical line on ``&&``, ``||``, ``;``, ``|`` and ``&`` outside quotes; (command, separator after)."""
    parts: list[tuple[str, str]] = []
    quote = ""
    current: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if quote:
            current.append(ch)
            if ch == quote:
                quote = ""
            i += 1
            continue
        if ch in "'\"`":
            quote = ch
            current.append(ch)
            i += 1
            continue
        two = text[i:i + 2]
        if two in ("&&", "||"):
            parts.append(("".join(current), two))
            current = []
            i += 2
            continue
        if ch in ";|":
            parts.append(("".join(current), ch))
            current = []
            i += 1
            continue
        if ch == "&" and text[i + 1:i + 2] != ">" and (i == 0 or text[i - 1] not in "<>"):
            parts.append(("".join(current), "&"))
            current = []
            i += 1
            continue
        current.append(ch)
        i += 1
    parts.append(("".join(current), ""))
    return parts


def _words(text: str) -> list[str]:
    try:
        return shlex.split(text, posix=True)
    except ValueError:
        return text.split()


def _unwrap(argv: list[str]) -> list[str]:
    """Drop env assignments and wrappers (``sudo``, ``uv run``, ``python -m``) in front of the real program."""
    for _ in range(8):
        while argv and _ENV_ASSIGN.match(argv[0]):
            argv = argv[1:]
        if not argv:
            return argv
        prog = argv[0].rsplit("/", 1)[-1]
        if prog in ("python", "python3", "py") or re.fullmatch(r"python3\.\d+", prog):
            if len(argv) >= 3 and argv[1] == "-m":
                argv = [argv[2].replace("_", "-"), *argv[3:]]
                continue
            return argv
        if prog in _WRAPPERS:
            rest = argv[1:]
            if _WRAPPERS[prog] == 1:
                if rest and rest[0] in _WRAPPER_SUBCOMMANDS:
                    rest = rest[1:]
                    if prog == "uv" and rest and rest[0] == "run":
                        rest = rest[1:]
                else:
                    return argv
            while rest and rest[0].startswith("-"):
                rest = rest[1:]
            argv = rest
            continue
        return argv
    return argv


def split_commands(script: str, first_line: int) -> tuple[ShellCommand, ...]:
    """A shell script as simple commands with their lines (comments dropped, continuations joined).

    This is a reader of common CI shell, not a shell: quoting, ``&&``/``||``/``;``/``|`` and ``\\``
    continuations are understood; subshells and heredoc bodies are read as plain words.
    """
    out: list[ShellCommand] = []
    for text, line in _logical_lines(script, first_line):
        code = _strip_comment(text)
        if not code.strip():
            continue
        for part, sep in _split_simple(code):
            stripped = part.strip().lstrip("({").strip()
            if not stripped:
                continue
            words = _words(stripped)
            redirected = any(w.startswith((">", "1>")) or w in (">", ">>", "1>", "1>>") for w in words)
            argv = [w for w in words if not re.match(r"^\d?>>?|^&>", w)]
            argv = _unwrap(argv)
            if not argv:
                continue
            out.append(ShellCommand(tuple(argv), line, stripped, piped=sep == "|", redirected=redirected,
                                    or_else=sep == "||"))
    return tuple(out)


# ---------------------------------------------------------------------------------------------------------- helpers
def _s(value: Any) -> str:
    """A scalar as text (YAML ``true`` -> ``"true"``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    return str(value)


def _truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def _str_list(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        return tuple(_s(v) for v in value if not isinstance(v, (dict, list)))
    return ()


def _pairs(value: Any) -> tuple[tuple[str, str], ...]:
    if isinstance(value, dict):
        return tuple((str(k), _s(v)) for k, v in value.items() if not isinstance(v, (dict, list)))
    return ()


def _key_line(container: Any, key: Any, default: int) -> int:
    if isinstance(container, YMap):
        return container.line_of(key)
    return default


def _item_line(container: Any, index: int, default: int) -> int:
    if isinstance(container, YList):
        return container.line_of(index)
    return default


def _value_line(container: Any, key: Any, value: Any, default: int) -> int:
    """Line where a block scalar's text starts: the line after ``run: |``, the key's line otherwise."""
    line = _key_line(container, key, default)
    return line + 1 if isinstance(value, str) and "\n" in value.rstrip("\n") else line


def _permissions(node: Any, line: int) -> Permissions | None:
    if isinstance(node, str):
        return Permissions(line, shorthand=node.strip())
    if isinstance(node, dict):
        if not node:
            return Permissions(line, shorthand="{}")
        return Permissions(line, scopes=tuple((str(k), _s(v)) for k, v in node.items()))
    return None


# ---------------------------------------------------------------------------------------------------------- GitHub
def _github_triggers(on: Any, line: int) -> tuple[Trigger, ...]:
    if isinstance(on, str):
        return (Trigger(on, line),)
    if isinstance(on, list):
        return tuple(Trigger(_s(e), _item_line(on, i, line)) for i, e in enumerate(on))
    if not isinstance(on, dict):
        return ()
    out: list[Trigger] = []
    for event, cfg in on.items():
        ev = _s(event)
        ln = _key_line(on, event, line)
        if isinstance(cfg, dict):
            filtered = any(k in cfg for k in ("branches", "branches-ignore", "tags", "tags-ignore"))
            out.append(Trigger(ev, ln, _str_list(cfg.get("branches")), _str_list(cfg.get("tags")),
                               _str_list(cfg.get("paths")), branch_filtered=filtered))
        elif ev == "schedule" and isinstance(cfg, list):
            crons = tuple(_s(c.get("cron")) for c in cfg if isinstance(c, dict) and "cron" in c)
            out.append(Trigger(ev, ln, crons=crons))
        else:
            out.append(Trigger(ev, ln))
    return tuple(out)


def _job_images(job: dict[str, Any], line: int) -> tuple[tuple[str, int], ...]:
    images: list[tuple[str, int]] = []
    container = job.get("container")
    if isinstance(container, str):
        images.append((container, _key_line(job, "container", line)))
    elif isinstance(container, dict) and isinstance(container.get("image"), str):
        images.append((container["image"], _key_line(container, "image", line)))
    services = job.get("services")
    if isinstance(services, dict):
        for name, svc in services.items():
            if isinstance(svc, dict) and isinstance(svc.get("image"), str):
                images.append((svc["image"], _key_line(svc, "image", _key_line(services, name, line))))
    return tuple(images)


def _parse_github(path: str, doc: Any) -> Workflow:
    if not isinstance(doc, dict):
        raise YamlError("the workflow is not a mapping", 1)
    # YAML 1.1 reads a bare ``on`` key as the boolean true
    on_key: Any = "on" if "on" in doc else (True if True in doc else None)
    triggers = _github_triggers(doc.get(on_key), _key_line(doc, on_key, 1)) if on_key is not None else ()
    perms = _permissions(doc.get("permissions"), _key_line(doc, "permissions", 1)) if "permissions" in doc else None
    jobs: list[Job] = []
    jobs_node = doc.get("jobs")
    if isinstance(jobs_node, dict):
        for job_id, job in jobs_node.items():
            if not isinstance(job, dict):
                continue
            jline = _key_line(jobs_node, job_id, 1)
            job_coe = _truthy(job.get("continue-on-error"))
            steps: list[Step] = []
            steps_node = job.get("steps")
            if isinstance(steps_node, list):
                for i, st in enumerate(steps_node):
                    if not isinstance(st, dict):
                        continue
                    sline = _item_line(steps_node, i, jline)
                    run = st.get("run")
                    with_node = st.get("with")
                    steps.append(Step(
                        path=path, line=sline, system=GITHUB, job=str(job_id), index=i,
                        name=_s(st["name"]) if "name" in st else None,
                        uses=_s(st["uses"]) if "uses" in st else None,
                        run=_s(run) if run is not None else None,
                        run_line=_value_line(st, "run", run, sline) if run is not None else None,
                        with_=_pairs(with_node),
                        with_lines=tuple((str(k), _key_line(with_node, k, sline)) for k in with_node)
                        if isinstance(with_node, dict) else (),
                        env=_pairs(st.get("env")),
                        if_=_s(st["if"]) if "if" in st else None,
                        continue_on_error=_truthy(st.get("continue-on-error")),
                        job_continue_on_error=job_coe,
                        shell=_s(st["shell"]) if "shell" in st else None,
                    ))
            needs = job.get("needs")
            jobs.append(Job(
                path=path, id=str(job_id), line=jline, system=GITHUB, steps=tuple(steps),
                name=_s(job["name"]) if "name" in job else None,
                needs=_str_list(needs),
                if_=_s(job["if"]) if "if" in job else None,
                permissions=_permissions(job.get("permissions"), _key_line(job, "permissions", jline))
                if "permissions" in job else None,
                env=_pairs(job.get("env")),
                continue_on_error=job_coe,
                uses=_s(job["uses"]) if "uses" in job else None,
                images=_job_images(job, jline),
            ))
    return Workflow(path=path, system=GITHUB, line=1, name=_s(doc["name"]) if "name" in doc else None,
                    triggers=triggers, permissions=perms, env=_pairs(doc.get("env")), jobs=tuple(jobs))


# ---------------------------------------------------------------------------------------------------------- GitLab
_GITLAB_RESERVED = {
    "stages", "include", "variables", "workflow", "default", "image", "services", "cache", "before_script",
    "after_script", "types", "pages:deploy",
}


def _gitlab_includes(node: Any, line: int) -> tuple[Include, ...]:
    items = node if isinstance(node, list) else [node]
    out: list[Include] = []
    for i, item in enumerate(items):
        iline = _item_line(node, i, line) if isinstance(node, list) else line
        if isinstance(item, str):
            out.append(Include("remote" if item.startswith(("http://", "https://")) else "local", item, iline))
        elif isinstance(item, dict):
            for kind in ("template", "local", "remote", "project", "component"):
                if kind in item:
                    value = _s(item[kind])
                    if kind == "project" and "file" in item:
                        value += ":" + ",".join(_str_list(item["file"]))
                    out.append(Include(kind, value, _key_line(item, kind, iline)))
                    break
    return tuple(out)


def _gitlab_triggers(job: dict[str, Any], workflow_rules: Any, line: int) -> tuple[Trigger, ...]:
    """Which pipelines run the job: GitLab's default is every branch pipeline (push) and MR pipelines."""

    def from_rules(rules: Any, rline: int) -> tuple[Trigger, ...] | None:
        if not isinstance(rules, list):
            return None
        events: list[Trigger] = []
        for i, rule in enumerate(rules):
            if not isinstance(rule, dict):
                continue
            if _s(rule.get("when")) == "never":
                continue
            cond = _s(rule.get("if"))
            ln = _item_line(rules, i, rline)
            if not cond:
                events.extend([Trigger("push", ln), Trigger("merge_request", ln)])
                continue
            if re.search(r"CI_PIPELINE_SOURCE\s*==\s*['\"]schedule['\"]", cond):
                events.append(Trigger("schedule", ln))
            elif re.search(r"CI_PIPELINE_SOURCE\s*==\s*['\"]merge_request_event['\"]", cond) or \
                    "CI_MERGE_REQUEST" in cond:
                events.append(Trigger("merge_request", ln))
            elif re.search(r"CI_PIPELINE_SOURCE\s*==\s*['\"](web|api|trigger|pipeline)['\"]", cond):
                events.append(Trigger("workflow_dispatch", ln))
            elif "CI_COMMIT_TAG" in cond and "==" not in cond.split("CI_COMMIT_TAG", 1)[1][:4]:
                events.append(Trigger("tag", ln))
            else:
                events.append(Trigger("push", ln, branch_filtered="CI_COMMIT_BRANCH" in cond
                                      or "CI_DEFAULT_BRANCH" in cond))
        return tuple(events)

    own = from_rules(job.get("rules"), _key_line(job, "rules", line))
    if own is not None:
        return own
    only = job.get("only")
    if only is not None:
        refs = only.get("refs") if isinstance(only, dict) else only
        names = _str_list(refs)
        oline = _key_line(job, "only", line)
        events = []
        for n in names:
            if n == "schedules":
                events.append(Trigger("schedule", oline))
            elif n in ("merge_requests", "external_pull_requests"):
                events.append(Trigger("merge_request", oline))
            elif n == "tags":
                events.append(Trigger("tag", oline))
            elif n in ("web", "api", "triggers", "pipelines"):
                events.append(Trigger("workflow_dispatch", oline))
            else:
                events.append(Trigger("push", oline, branch_filtered=n != "branches"))
        if events:
            return tuple(events)
    wf = from_rules(workflow_rules, line)
    if wf:
        return wf
    return (Trigger("push", line), Trigger("merge_request", line))


def _script_steps(path: str, job_id: str, job: dict[str, Any], coe: bool, start: int) -> list[Step]:
    steps: list[Step] = []
    env = _pairs(job.get("variables"))
    for key in ("before_script", "script", "after_script"):
        node = job.get(key)
        if node is None:
            continue
        kline = _key_line(job, key, start)
        items = node if isinstance(node, list) else [node]
        for i, item in enumerate(items):
            lines_items = item if isinstance(item, list) else [item]  # nested lists from !reference
            for sub in lines_items:
                if not isinstance(sub, str):
                    continue
                ln = _item_line(node, i, kline) if isinstance(node, list) else kline
                run_line = ln + 1 if "\n" in sub.rstrip("\n") else ln
                steps.append(Step(path=path, line=ln, system=GITLAB, job=job_id, index=len(steps), name=key,
                                  run=sub, run_line=run_line, env=env, continue_on_error=coe))
    return steps


def _gitlab_images(job: dict[str, Any], line: int) -> tuple[tuple[str, int], ...]:
    images: list[tuple[str, int]] = []
    img = job.get("image")
    if isinstance(img, str):
        images.append((img, _key_line(job, "image", line)))
    elif isinstance(img, dict) and isinstance(img.get("name"), str):
        images.append((img["name"], _key_line(img, "name", line)))
    services = job.get("services")
    if isinstance(services, list):
        for i, svc in enumerate(services):
            name = svc if isinstance(svc, str) else (svc.get("name") if isinstance(svc, dict) else None)
            if isinstance(name, str):
                images.append((name, _item_line(services, i, line)))
    return tuple(images)


def _parse_gitlab(path: str, doc: Any) -> Workflow:
    if not isinstance(doc, dict):
        raise YamlError("the pipeline is not a mapping", 1)
    includes = _gitlab_includes(doc["include"], _key_line(doc, "include", 1)) if "include" in doc else ()
    stages = _str_list(doc.get("stages")) or (".pre", "build", "test", "deploy", ".post")
    workflow = doc.get("workflow")
    wf_rules = workflow.get("rules") if isinstance(workflow, dict) else None
    default = doc.get("default") if isinstance(doc.get("default"), dict) else {}
    jobs: list[Job] = []
    for job_id, job in doc.items():
        if not isinstance(job_id, str) or job_id in _GITLAB_RESERVED or not isinstance(job, dict):
            continue
        if not any(k in job for k in ("script", "extends", "trigger", "stage", "rules", "only", "needs",
                                       "image", "before_script")):
            continue
        jline = _key_line(doc, job_id, 1)
        merged = YMap(job)
        merged.line = jline
        merged.key_lines = dict(job.key_lines) if isinstance(job, YMap) else {}
        parents = _str_list(job.get("extends"))
        for parent in parents:  # one level of ``extends``, enough for the usual ``.template`` pattern
            pnode = doc.get(parent)
            if isinstance(pnode, dict):
                for k, v in pnode.items():
                    if k not in merged:
                        merged[k] = v
                        merged.key_lines[k] = _key_line(pnode, k, jline)
        for k in ("before_script", "after_script", "image", "services"):
            if k not in merged and isinstance(default, dict) and k in default:
                merged[k] = default[k]
                merged.key_lines[k] = _key_line(default, k, jline)
        coe = _truthy(merged.get("allow_failure")) or (isinstance(merged.get("allow_failure"), dict))
        jobs.append(Job(
            path=path, id=job_id, line=jline, system=GITLAB,
            steps=tuple(_script_steps(path, job_id, merged, coe, jline)),
            needs=tuple(n if isinstance(n, str) else _s(n.get("job")) for n in merged.get("needs") or []
                        if isinstance(n, (str, dict))) if isinstance(merged.get("needs"), list) else (),
            env=_pairs(merged.get("variables")),
            continue_on_error=coe,
            images=_gitlab_images(merged, jline),
            stage=_s(merged.get("stage") or "test"),
            triggers=_gitlab_triggers(merged, wf_rules, jline),
            hidden=job_id.startswith("."),
        ))
    return Workflow(path=path, system=GITLAB, line=1, triggers=_gitlab_triggers({}, wf_rules, 1),
                    env=_pairs(doc.get("variables")), jobs=tuple(jobs), includes=includes, stages=stages)


# ---------------------------------------------------------------------------------------------------------- others
def _parse_precommit(path: str, doc: Any) -> tuple[PreCommitHook, ...]:
    if not isinstance(doc, dict) or not isinstance(doc.get("repos"), list):
        raise YamlError("no 'repos:' list", 1)
    hooks: list[PreCommitHook] = []
    repos = doc["repos"]
    for i, repo in enumerate(repos):
        if not isinstance(repo, dict):
            continue
        url = _s(repo.get("repo"))
        rev = _s(repo["rev"]) if "rev" in repo else None
        hk = repo.get("hooks")
        if not isinstance(hk, list):
            continue
        for j, hook in enumerate(hk):
            if isinstance(hook, dict) and "id" in hook:
                hooks.append(PreCommitHook(path, _item_line(hk, j, _item_line(repos, i, 1)), url, _s(hook["id"]),
                                           rev))
    return tuple(hooks)


def _parse_dependabot(path: str, doc: Any) -> UpdateBot:
    if not isinstance(doc, dict):
        raise YamlError("dependabot.yml is not a mapping", 1)
    ecos: list[tuple[str, int]] = []
    updates = doc.get("updates")
    if isinstance(updates, list):
        for i, upd in enumerate(updates):
            if isinstance(upd, dict) and "package-ecosystem" in upd:
                ecos.append((_s(upd["package-ecosystem"]),
                             _key_line(upd, "package-ecosystem", _item_line(updates, i, 1))))
    return UpdateBot("dependabot", path, _key_line(doc, "updates", 1), tuple(ecos))


# ---------------------------------------------------------------------------------------------------------- loading
_CACHE: weakref.WeakKeyDictionary[RepoView, CiModel] = weakref.WeakKeyDictionary()


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
    """Parse the CI configuration of ``repo`` once (cached per view); unparsable files become repo notes."""
    cached = _CACHE.get(repo)
    if cached is not None:
        return cached
    workflows: list[Workflow] = []
    read: list[str] = []
    unparsed: list[str] = []
    hooks: list[PreCommitHook] = []
    bots: list[UpdateBot] = []

    readers: list[tuple[tuple[str, ...], str, Callable[[str, Any], list[Any]], list[Any]]] = [
        ((".github/workflows/*.yml", ".github/workflows/*.yaml"), "GitHub Actions workflow",
         lambda path, doc: [_parse_github(path, doc)], workflows),
        ((".gitlab-ci.yml", "*.gitlab-ci.yml"), "GitLab CI file", lambda path, doc: [_parse_gitlab(path, doc)],
         workflows),
        ((".pre-commit-config.yaml", ".pre-commit-config.yml"), "pre-commit config",
         lambda path, doc: list(_parse_precommit(path, doc)), hooks),
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
            bots.append(_parse_dependabot(bot.path, doc))
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
    model = CiModel(tuple(workflows), tuple(hooks), tuple(bots), tuple(read), tuple(unparsed))
    _CACHE[repo] = model
    return model
