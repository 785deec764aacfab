"""Which security tools the CI configuration runs (raw facts for PIPE-02, PIPE-05, PIPE-08 and PIPE-09).

A tool is recognised from a GitHub action reference (``uses: pypa/gh-action-pip-audit@...``), from the program a
``run:``/``script`` line starts (``pip-audit -r requirements.txt``; ``pip install pip-audit`` is not a scan), from
a GitLab ``include: template:`` or CI/CD component, or from a pre-commit hook. The decision about what a use means
for a control lives in the probes, not here.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from mlposture.scanner.sources.ci import CiModel, Job, ShellCommand, Step, Trigger, Workflow
from mlposture.scanner.sources.secrets import redact


class Category(str, enum.Enum):
    """What a tool use does."""

    DEPENDENCY_SCAN = "dependency-scan"
    IMAGE_SCAN = "image-scan"
    SBOM = "sbom"
    SECRET_SCAN = "secret-scan"
    PRE_COMMIT_RUN = "pre-commit-run"


@dataclass(frozen=True)
class ToolUse:
    """One recognised use of a tool: where, how (the ``uses:`` or the command as written), and its context.

    ``step`` is ``None`` for GitLab templates, reusable-workflow jobs and pre-commit hooks; ``workflow`` is
    ``None`` for pre-commit hooks (they run on developers' machines, or in CI through ``pre-commit run``).
    """

    tool: str
    category: Category
    path: str
    line: int
    how: str
    workflow: Workflow | None = None
    job: str | None = None
    step: Step | None = None
    reports_only: str | None = None
    inherited: tuple[Trigger, ...] = ()

    @property
    def tolerated(self) -> bool:
        """True when a failure of this use does not fail the pipeline (``continue-on-error``/``allow_failure``,
        ``|| true``, or a scanner that exits 0 on findings: :attr:`reports_only` says why)."""
        if self.reports_only:
            return True
        if self.step is not None:
            return self.step.is_failure_tolerated
        if self.workflow is not None and self.job is not None:
            job = self.workflow.job(self.job)
            return job.continue_on_error if job is not None else False
        return False

    @property
    def triggers(self) -> tuple[Trigger, ...]:
        """The events that run this use (empty for pre-commit hooks); a reusable workflow (``workflow_call``)
        also runs on the events of the local workflows that call it (:attr:`inherited`)."""
        if self.workflow is None:
            return ()
        own = self.workflow.job_triggers(self.job) if self.job else self.workflow.triggers
        return own + self.inherited

    @property
    def step_condition(self) -> str:
        """The ``if:`` of the step and of its job, joined (``""`` when none)."""
        parts: list[str] = []
        if self.workflow is not None and self.job is not None:
            job = self.workflow.job(self.job)
            if job is not None and job.if_:
                parts.append(job.if_)
        if self.step is not None and self.step.if_:
            parts.append(self.step.if_)
        return " && ".join(parts)


# ---------------------------------------------------------------------------------------------------------- actions
def _from_action(step: Step) -> list[tuple[str, Category, str]]:
    """(tool, category, detail) for a ``uses:`` step."""
    a = step.action or ""
    out: list[tuple[str, Category, str]] = []
    if a.startswith("pypa/gh-action-pip-audit"):
        out.append(("pip-audit", Category.DEPENDENCY_SCAN, ""))
    elif a.startswith("pyupio/safety-action"):
        out.append(("safety", Category.DEPENDENCY_SCAN, ""))
    elif a.startswith("snyk/actions/"):
        if a.startswith("snyk/actions/docker"):
            out.append(("snyk", Category.IMAGE_SCAN, "container"))
        elif not a.startswith("snyk/actions/setup"):
            command = (step.input("command") or "test").strip()
            if command.startswith("test") or command.startswith("monitor"):
                out.append(("snyk", Category.DEPENDENCY_SCAN, ""))
    elif a.startswith("google/osv-scanner-action"):
        out.append(("osv-scanner", Category.DEPENDENCY_SCAN, ""))
    elif a.startswith("actions/dependency-review-action"):
        out.append(("dependency-review", Category.DEPENDENCY_SCAN, ""))
    elif a.startswith("aquasecurity/trivy-action"):
        scan_type = (step.input("scan-type") or "image").strip().lower()
        fmt = (step.input("format") or "").strip().lower()
        if scan_type in ("fs", "filesystem", "repo", "repository", "rootfs", "sbom"):
            out.append(("trivy", Category.DEPENDENCY_SCAN, f"scan-type: {scan_type}"))
        elif scan_type == "image":
            out.append(("trivy", Category.IMAGE_SCAN, f"image-ref: {step.input('image-ref') or '?'}"))
            types = step.input("vuln-type") or step.input("pkg-types") or ""
            if _trivy_scans_libraries(types) and fmt not in ("cyclonedx", "spdx", "spdx-json") and \
                    "vuln" in (step.input("scanners") or "vuln"):
                out.append(("trivy", Category.DEPENDENCY_SCAN, f"image scan of language packages "
                                                               f"(vuln-type: {types or 'os,library by default'})"))
        if fmt in ("cyclonedx", "spdx", "spdx-json"):
            out.append(("trivy", Category.SBOM, f"format: {fmt}"))
    elif a.startswith("anchore/scan-action"):
        if step.input("image"):
            out.append(("grype", Category.IMAGE_SCAN, f"image: {step.input('image')}"))
        else:
            out.append(("grype", Category.DEPENDENCY_SCAN, f"path: {step.input('path') or step.input('sbom')}"))
    elif a.startswith("anchore/sbom-action"):
        out.append(("syft", Category.SBOM, "anchore/sbom-action"))
    elif a.startswith("cyclonedx/gh-python-generate-sbom"):
        out.append(("cyclonedx-py", Category.SBOM, ""))
    elif a.startswith("docker/scout-action"):
        command = (step.input("command") or "").lower()
        if "sbom" in command:
            out.append(("docker-scout", Category.SBOM, command))
        if any(c in command for c in ("cves", "quickview", "compare", "recommendations")) or not command:
            out.append(("docker-scout", Category.IMAGE_SCAN, command))
    elif a.startswith(("gitleaks/gitleaks-action", "zricethezav/gitleaks-action")):
        out.append(("gitleaks", Category.SECRET_SCAN, ""))
    elif a.startswith("trufflesecurity/trufflehog"):
        out.append(("trufflehog", Category.SECRET_SCAN, ""))
    elif a.startswith("pre-commit/action"):
        out.append(("pre-commit", Category.PRE_COMMIT_RUN, ""))
    elif a.startswith("docker/build-push-action"):
        sbom = (step.input("sbom") or "").strip().lower()
        attests = (step.input("attests") or "").lower()
        if sbom == "true" or "type=sbom" in attests:
            out.append(("buildkit", Category.SBOM, "sbom: true"))
    return out


# ---------------------------------------------------------------------------------------------------------- commands
def _trivy_scans_libraries(types: str) -> bool:
    """Trivy's image scan covers the image's language packages (pip, npm...) unless restricted to ``os``."""
    wanted = {t.strip().lower() for t in types.split(",") if t.strip()}
    return not wanted or "library" in wanted


def _option_value(argv: tuple[str, ...], *names: str) -> str | None:
    for i, w in enumerate(argv):
        for n in names:
            if w == n and i + 1 < len(argv):
                return argv[i + 1]
            if n.startswith("--") and w.startswith(n + "="):
                return w.split("=", 1)[1]
            if not n.startswith("--") and w.startswith(n) and len(w) > len(n):
                return w[len(n):]
    return None


def _positional(argv: tuple[str, ...], skip: int) -> list[str]:
    """Arguments that are not options (approximate: an option's value counts as positional when separate)."""
    return [w for w in argv[skip:] if not w.startswith("-")]


def _from_command(cmd: ShellCommand) -> list[tuple[str, Category, str]]:
    prog = cmd.program
    argv = cmd.argv
    sub = argv[1] if len(argv) > 1 else ""
    out: list[tuple[str, Category, str]] = []
    if prog == "pip-audit":
        out.append(("pip-audit", Category.DEPENDENCY_SCAN, ""))
        fmt = (_option_value(argv, "--format", "-f") or "").lower()
        if fmt.startswith("cyclonedx"):
            out.append(("pip-audit", Category.SBOM, f"--format {fmt}"))
    elif prog == "safety" and sub in ("check", "scan"):
        out.append(("safety", Category.DEPENDENCY_SCAN, ""))
    elif prog == "snyk":
        if sub == "test":
            out.append(("snyk", Category.DEPENDENCY_SCAN, ""))
        elif sub == "container" and len(argv) > 2 and argv[2] in ("test", "monitor"):
            out.append(("snyk", Category.IMAGE_SCAN, "container"))
    elif prog == "osv-scanner":
        if sub == "scan" and len(argv) > 2 and argv[2] == "image":
            out.append(("osv-scanner", Category.IMAGE_SCAN, "scan image"))
        elif sub not in ("--version", "--help", "-h"):
            out.append(("osv-scanner", Category.DEPENDENCY_SCAN, ""))
    elif prog == "trivy":
        if sub in ("fs", "filesystem", "repo", "repository", "rootfs", "sbom"):
            out.append(("trivy", Category.DEPENDENCY_SCAN, sub))
        elif sub in ("image", "i"):
            out.append(("trivy", Category.IMAGE_SCAN, "image"))
            types = _option_value(argv, "--vuln-type", "--pkg-types") or ""
            fmt = (_option_value(argv, "--format", "-f") or "").lower()
            if _trivy_scans_libraries(types) and fmt not in ("cyclonedx", "spdx", "spdx-json") and \
                    "vuln" in (_option_value(argv, "--scanners", "--security-checks") or "vuln"):
                out.append(("trivy", Category.DEPENDENCY_SCAN, f"image scan of language packages "
                                                               f"(--pkg-types {types or 'os,library by default'})"))
        fmt = (_option_value(argv, "--format", "-f") or "").lower()
        if fmt in ("cyclonedx", "spdx", "spdx-json"):
            out.append(("trivy", Category.SBOM, f"--format {fmt}"))
    elif prog == "grype":
        targets = _positional(argv, 1)
        if targets and targets[0] not in ("version", "db", "completion", "config"):
            t = targets[0]
            if t.startswith(("dir:", "sbom:", "file:", ".", "/")) or t.endswith((".json", ".xml")):
                out.append(("grype", Category.DEPENDENCY_SCAN, t))
            else:
                out.append(("grype", Category.IMAGE_SCAN, t))
    elif prog == "docker" and sub == "scout" and len(argv) > 2:
        if argv[2] in ("cves", "quickview", "qv", "compare", "recommendations"):
            out.append(("docker-scout", Category.IMAGE_SCAN, argv[2]))
        elif argv[2] == "sbom":
            out.append(("docker-scout", Category.SBOM, "sbom"))
    elif prog == "docker" and (sub in ("build", "buildx")):
        sbom = _option_value(argv, "--sbom")
        attest = _option_value(argv, "--attest") or ""
        if (sbom or "").lower() == "true" or "type=sbom" in attest:
            out.append(("buildkit", Category.SBOM, "--sbom=true"))
    elif prog == "syft" and sub not in ("version", "login", "--version", "attest", "convert"):
        out.append(("syft", Category.SBOM, ""))
    elif prog in ("cyclonedx-py", "cyclonedx-bom"):
        out.append(("cyclonedx-py", Category.SBOM, ""))
    elif prog in ("gitleaks", "trufflehog", "ggshield") and sub not in ("version", "--version"):
        out.append((prog, Category.SECRET_SCAN, ""))
    elif (prog == "detect-secrets" and sub in ("scan", "audit", "hook")) or prog == "detect-secrets-hook":
        out.append(("detect-secrets", Category.SECRET_SCAN, ""))
    elif prog == "pre-commit" and sub in ("run", "try-repo"):
        out.append(("pre-commit", Category.PRE_COMMIT_RUN, ""))
    return out


def _action_reports_only(step: Step, tool: str, cat: Category) -> str | None:
    """Why a scanning action never fails the job, or ``None`` (defaults as each action documents them)."""
    if cat not in (Category.DEPENDENCY_SCAN, Category.IMAGE_SCAN):
        return None
    a = step.action or ""
    if a.startswith("aquasecurity/trivy-action"):
        code = (step.input("exit-code") or "0").strip()
        return None if code not in ("0", "") else "trivy-action without a non-zero exit-code reports only"
    if a.startswith("anchore/scan-action") and (step.input("fail-build") or "true").strip().lower() == "false":
        return "fail-build: false"
    if a.startswith("docker/scout-action") and (step.input("exit-code") or "false").strip().lower() != "true":
        return "scout-action without exit-code: true reports only"
    return None


def _command_reports_only(cmd: ShellCommand, tool: str, cat: Category) -> str | None:
    """Why a scanning command never fails the job, or ``None``."""
    if cat not in (Category.DEPENDENCY_SCAN, Category.IMAGE_SCAN):
        return None
    if cmd.or_else:
        return "'||' after the command ignores its failure"
    argv = cmd.argv
    if tool == "trivy":
        code = _option_value(argv, "--exit-code")
        return None if code not in (None, "0") else "trivy without a non-zero --exit-code reports only"
    if tool == "grype" and _option_value(argv, "--fail-on", "-f") is None:
        return "grype without --fail-on reports only"
    if tool == "docker-scout" and not any(w in ("--exit-code", "-e") for w in argv):
        return "docker scout without --exit-code reports only"
    return None


# ---------------------------------------------------------------------------------------------------------- GitLab
_TEMPLATES = (
    ("dependency-scanning", "gitlab-dependency-scanning", Category.DEPENDENCY_SCAN),
    ("container-scanning", "gitlab-container-scanning", Category.IMAGE_SCAN),
    ("secret-detection", "gitlab-secret-detection", Category.SECRET_SCAN),
)


def _job_uses(wf: Workflow, job: Job) -> list[ToolUse]:
    if not job.uses:
        return []
    ref = job.uses.lower()
    if ref.startswith("google/osv-scanner-action/"):
        return [ToolUse("osv-scanner", Category.DEPENDENCY_SCAN, wf.path, job.line, f"uses: {job.uses}", wf,
                        job.id)]
    return []


def _inherited(ci: CiModel, wf: Workflow) -> tuple[Trigger, ...]:
    """Triggers of the workflows whose jobs call ``wf`` as a local reusable workflow (one level)."""
    if not any(t.event == "workflow_call" for t in wf.triggers):
        return ()
    out: list[Trigger] = []
    for caller in ci.workflows:
        if caller is wf:
            continue
        for job in caller.jobs:
            ref = (job.uses or "").split("@", 1)[0].strip()
            if ref.startswith("./") and ref[2:] == wf.path:
                out.extend(t for t in caller.triggers if t.event != "workflow_call")
    return tuple(out)


def find_tool_uses(ci: CiModel) -> list[ToolUse]:
    """Every recognised tool use of the CI model, in file order."""
    uses: list[ToolUse] = []
    for wf in ci.workflows:
        inherited = _inherited(ci, wf)
        for inc in wf.includes:
            low = inc.value.lower()
            if inc.kind not in ("template", "component", "remote", "project"):
                continue
            for needle, tool, cat in _TEMPLATES:
                if needle in low:
                    uses.append(ToolUse(tool, cat, wf.path, inc.line, f"include {inc.kind}: {inc.value}", wf))
        for job in wf.jobs:
            if job.hidden:
                continue
            uses.extend(_job_uses(wf, job))
            for step in job.steps:
                if step.uses:
                    for tool, cat, detail in _from_action(step):
                        how = f"uses: {step.uses}" + (f" ({detail})" if detail else "")
                        uses.append(ToolUse(tool, cat, wf.path, step.line, how, wf, job.id, step,
                                            _action_reports_only(step, tool, cat), inherited))
                for cmd in step.commands():
                    for tool, cat, _detail in _from_command(cmd):
                        text = redact(cmd.text if len(cmd.text) <= 120 else cmd.text[:117] + "...")
                        uses.append(ToolUse(tool, cat, wf.path, cmd.line, f"run: {text}", wf, job.id, step,
                                            _command_reports_only(cmd, tool, cat), inherited))
    for hook in ci.precommit:
        repo = hook.repo.lower()
        hid = hook.id.lower()
        if hid == "pip-audit" or "pypa/pip-audit" in repo:
            uses.append(ToolUse("pip-audit", Category.DEPENDENCY_SCAN, hook.path, hook.line,
                                f"pre-commit hook {hook.id}"))
        elif "safety" in hid:
            uses.append(ToolUse("safety", Category.DEPENDENCY_SCAN, hook.path, hook.line,
                                f"pre-commit hook {hook.id}"))
        elif hid in ("gitleaks", "detect-secrets", "trufflehog", "ggshield") or "gitleaks" in repo \
                or "detect-secrets" in repo:
            uses.append(ToolUse(hid, Category.SECRET_SCAN, hook.path, hook.line, f"pre-commit hook {hook.id}"))
    return uses
