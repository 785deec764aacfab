"""PIPE-09: container images scanned before deployment (facts about images, then the judgement).

Applicable when the repository builds or references images: Dockerfiles/Containerfiles, ``image:`` in compose
files or Kubernetes manifests, CI steps that build or push images, or ECR repositories in Terraform. (A CI job's
own runner image, GitHub ``container:`` or GitLab ``image:``, is not an image the project deploys.)

Evidence: CI image scans (Trivy image, Grype/``anchore/scan-action`` with ``image``, Snyk container, Docker
Scout, GitLab Container-Scanning) on push/pull request/tag = pass, unless tolerated (``continue-on-error``) or
placed after the push/deploy it should gate (a different job not in its ``needs``, or a later step) = partial;
schedule only = partial. Terraform ``aws_ecr_repository`` with ``image_scanning_configuration { scan_on_push =
true }`` or an ``aws_ecr_registry_scanning_configuration`` = pass; ``scan_on_push = false`` = partial.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from mlposture.probes.cicd.scanning import EVERY_COMMIT, describe_triggers
from mlposture.scanner.probe import Effect, Evidence, NotApplicable, ProbeItem, Searched
from mlposture.scanner.repo import RepoView
from mlposture.scanner.sources.ci import CiModel, Step, Workflow
from mlposture.scanner.sources.ci.tools import Category, ToolUse

CONTROL = "PIPE-09"
_TOLERATED = "continue-on-error/allow_failure is true on the scan"
RULE_SCAN = "cicd.image-scan"
RULE_ECR = "cicd.ecr-scan-on-push"
MAX_MANIFEST_BYTES = 512 * 1024

_IMAGE_LINE = re.compile(r"^\s*(?:-\s*)?image:\s*[\"']?([A-Za-z0-9][^\s\"'#]*)")
_ECR_RESOURCE = re.compile(r'^\s*resource\s+"(aws_ecr_repository|aws_ecr_registry_scanning_configuration)"\s+'
                           r'"([^"]+)"')
_SCAN_ON_PUSH = re.compile(r"^\s*scan_on_push\s*=\s*(\S+)")


@dataclass(frozen=True)
class ImageRef:
    """Something that says the project builds or deploys a container image."""

    kind: str  # dockerfile | manifest | ci-build | ci-push | terraform-ecr
    path: str
    line: int
    detail: str


@dataclass(frozen=True)
class EcrScanning:
    """An ECR repository (or registry scanning configuration) and its scan-on-push setting."""

    resource: str
    name: str
    path: str
    line: int
    scan_on_push: bool | None
    setting_line: int | None


def _is_dockerfile(name: str) -> bool:
    low = name.lower()
    return low in ("dockerfile", "containerfile") or low.startswith(("dockerfile.", "containerfile.")) or \
        low.endswith((".dockerfile", ".containerfile"))


def _deploy_step(step: Step) -> str | None:
    """What a step pushes or deploys, if anything (``docker push``, build-push-action with push: true...)."""
    if step.uses_action("docker/build-push-action") and (step.input("push") or "").strip().lower() == "true":
        return "docker/build-push-action push: true"
    for cmd in step.commands():
        a = cmd.argv
        if cmd.program in ("docker", "podman") and len(a) > 1 and (
                a[1] == "push" or (a[1] == "buildx" and "--push" in a)):
            return cmd.text
        if cmd.program == "kubectl" and len(a) > 1 and a[1] in ("apply", "set", "rollout", "create"):
            return cmd.text
        if cmd.program == "helm" and len(a) > 1 and a[1] in ("upgrade", "install"):
            return cmd.text
        if cmd.program in ("/kaniko/executor", "executor") and "--no-push" not in a:
            return cmd.text
    return None


def _build_step(step: Step) -> str | None:
    if step.uses_action("docker/build-push-action"):
        return f"uses: {step.uses}"
    for cmd in step.commands():
        a = cmd.argv
        if cmd.program in ("docker", "podman", "buildah") and len(a) > 1 and a[1] in ("build", "buildx", "bud"):
            return cmd.text
        if cmd.program in ("/kaniko/executor", "executor") or (cmd.program == "gcloud" and "builds" in a):
            return cmd.text
    return None


def find_image_refs(repo: RepoView, ci: CiModel) -> list[ImageRef]:
    """Dockerfiles, manifest ``image:`` lines, CI build/push steps, ECR repositories."""
    refs: list[ImageRef] = []
    for f in repo.files:
        if _is_dockerfile(f.name):
            refs.append(ImageRef("dockerfile", f.path, 1, f.name))
    ci_files = set(ci.files_read)
    for f in repo.find("*.yml", "*.yaml"):
        if f.path in ci_files or f.path.startswith(".github/") or f.size > MAX_MANIFEST_BYTES:
            continue
        for n, text in enumerate(repo.lines(f, MAX_MANIFEST_BYTES), 1):
            m = _IMAGE_LINE.match(text)
            if m and ("/" in m.group(1) or ":" in m.group(1) or "@" in m.group(1)):
                refs.append(ImageRef("manifest", f.path, n, m.group(1)))
                break
    for wf in ci.workflows:
        for step in wf.steps():
            built = _build_step(step)
            if built:
                refs.append(ImageRef("ci-build", step.path, step.line, built))
    refs.extend(ImageRef("terraform-ecr", e.path, e.line, f"{e.resource}.{e.name}") for e in find_ecr(repo))
    return refs


def find_ecr(repo: RepoView) -> list[EcrScanning]:
    """ECR repositories and registry scanning configurations in Terraform files (a bounded text reader)."""
    out: list[EcrScanning] = []
    for f in repo.find("*.tf"):
        lines = repo.lines(f)
        n = 0
        while n < len(lines):
            m = _ECR_RESOURCE.match(lines[n])
            if m is None:
                n += 1
                continue
            start = n
            depth = lines[n].count("{") - lines[n].count("}")
            value: bool | None = None
            vline: int | None = None
            n += 1
            while n < len(lines) and depth > 0 and n - start < 500:
                sm = _SCAN_ON_PUSH.match(lines[n])
                if sm:
                    value = sm.group(1).strip().lower() == "true"
                    vline = n + 1
                depth += lines[n].count("{") - lines[n].count("}")
                n += 1
            out.append(EcrScanning(m.group(1), m.group(2), f.path, start + 1, value, vline))
    return out


def _gates_deploy(wf: Workflow, use: ToolUse) -> str | None:
    """Why the scan does not gate a push/deploy of the same workflow, or ``None`` when it does (or none)."""
    if use.job is None:
        return None
    scan_job = wf.job(use.job)
    for job in wf.jobs:
        for step in job.steps:
            deploy = _deploy_step(step)
            if deploy is None:
                continue
            if job.id == use.job:
                if use.step is not None and step.index < use.step.index:
                    return f"the scan runs after the push/deploy step at line {step.line} ({deploy[:60]})"
                continue
            if scan_job is not None and use.job not in wf.jobs_needed_by(job.id):
                return f"job {job.id} pushes/deploys (line {step.line}) without needing the scan job {use.job}"
    return None


def judge(repo: RepoView, ci: CiModel, uses: list[ToolUse]) -> Iterator[ProbeItem]:
    """PIPE-09 evidence, or NotApplicable when no image is built or referenced."""
    refs = find_image_refs(repo, ci)
    if not refs:
        yield NotApplicable(CONTROL, "no Dockerfile or container image reference found")
        return
    found = False
    for use in uses:
        if use.category is not Category.IMAGE_SCAN:
            continue
        found = True
        events = frozenset(t.event for t in use.triggers) & (EVERY_COMMIT | {"release", "tag"})
        wf = use.workflow
        gap = _gates_deploy(wf, use) if wf is not None else None
        if use.tolerated:
            yield Evidence(CONTROL, Effect.PARTIAL, f"{use.tool} image scan ({use.how}) never fails the pipeline: "
                           f"{use.reports_only or _TOLERATED}", use.path, use.line, RULE_SCAN)
        elif not events:
            yield Evidence(CONTROL, Effect.PARTIAL, f"{use.tool} image scan ({use.how}) runs only on "
                           f"{describe_triggers(use)}", use.path, use.line, RULE_SCAN)
        elif gap:
            yield Evidence(CONTROL, Effect.PARTIAL, f"{use.tool} image scan ({use.how}) does not gate deployment: "
                           f"{gap}", use.path, use.line, RULE_SCAN)
        else:
            yield Evidence(CONTROL, Effect.PASS, f"{use.tool} image scan ({use.how}) on "
                           f"{', '.join(sorted(events))}", use.path, use.line, RULE_SCAN)
    for ecr in find_ecr(repo):
        if ecr.resource == "aws_ecr_registry_scanning_configuration":
            found = True
            yield Evidence(CONTROL, Effect.PASS, f"registry scanning configuration {ecr.name}", ecr.path, ecr.line,
                           RULE_ECR)
        elif ecr.scan_on_push is True:
            found = True
            yield Evidence(CONTROL, Effect.PASS, f"aws_ecr_repository.{ecr.name}: scan_on_push = true", ecr.path,
                           ecr.setting_line or ecr.line, RULE_ECR)
        elif ecr.scan_on_push is False:
            found = True
            yield Evidence(CONTROL, Effect.PARTIAL, f"aws_ecr_repository.{ecr.name}: scan_on_push = false",
                           ecr.path, ecr.setting_line or ecr.line, RULE_ECR)
    if not found:
        first = refs[0]
        yield Searched(CONTROL, f"image scans (trivy image, grype, snyk container, docker scout, GitLab "
                                f"Container-Scanning) in CI and ECR scan_on_push in Terraform, for the images "
                                f"of {first.path}:{first.line} and {len(refs) - 1} other reference(s)")
