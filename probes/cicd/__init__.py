"""CI/CD security: dependency scanning in CI, committed secrets and CI hardening, container image scanning.

Reads GitHub Actions workflows, GitLab CI, pre-commit, Dependabot and Renovate configuration (parsed once into the
shared model of :mod:`mlposture.scanner.sources.ci`), Terraform ECR repositories, Dockerfiles and manifests,
and the text of every file for committed credentials (formats in :mod:`mlposture.scanner.sources.secrets`).
Speaks for PIPE-02 (vulnerability scanning on every commit), PIPE-05
(secrets in code and logs, workflow permissions) and PIPE-09 (images scanned before deployment).

Judgement modules, one per control: ``scanning`` (PIPE-02), ``hardening`` (PIPE-05),
``images`` (PIPE-09).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, ClassVar

from mlposture.probes.cicd import hardening, images, scanning
from mlposture.scanner.probe import Finding, Probe, ProbeItem, Rule, Searched, Severity
from mlposture.scanner.sources.ci import load_ci
from mlposture.scanner.sources.ci.tools import find_tool_uses

if TYPE_CHECKING:
    from mlposture.scanner.repo import RepoView
    from mlposture.scanner.sources import ScanContext

__all__ = ["CicdProbe"]


class CicdProbe(Probe):
    """CI/CD security: dependency scanning in CI (PIPE-02), committed secrets and CI hardening (PIPE-05),
    container image scanning before deployment (PIPE-09).

    Reads ``.github/workflows/*``, ``.gitlab-ci.yml``, ``.pre-commit-config.yaml``, ``dependabot.yml``, Renovate
    configs, Dockerfiles, image references, Terraform ECR repositories, and every text file for credentials
    (AWS, Hugging Face, OpenAI, Anthropic, GitHub, Slack, private keys, ``.env`` files), masked in the report.
    """

    name: ClassVar[str] = "cicd"
    version: ClassVar[str] = "0.1.0"
    reads_every_file: ClassVar[bool] = True  # the secret scan
    rules: ClassVar[tuple[Rule, ...]] = (
        Rule("cicd.dependency-scan", ("PIPE-02",), "a dependency vulnerability scanner runs in CI on every commit"),
        Rule("cicd.update-bot", ("PIPE-02",), "Dependabot or Renovate proposes dependency updates"),
        Rule("cicd.secret", ("PIPE-05",), "credential committed to the repository (masked)", Severity.HIGH),
        Rule("cicd.permissions", ("PIPE-05",), "workflow token permissions are read-only or scoped"),
        Rule("cicd.oidc", ("PIPE-05",), "cloud access through OIDC (id-token) instead of stored keys"),
        Rule("cicd.pull-request-target-checkout", ("PIPE-05",),
             "pull_request_target workflow checks out the pull request's code", Severity.HIGH),
        Rule("cicd.secret-echo", ("PIPE-05",), "a secret is printed to the job log", Severity.HIGH),
        Rule("cicd.set-x-secrets", ("PIPE-05",), "shell tracing (set -x) in a step that sees secrets",
             Severity.MEDIUM),
        Rule("cicd.step-debug", ("PIPE-05",), "step debug logging writes values to the logs", Severity.MEDIUM),
        Rule("cicd.secret-scanner", ("PIPE-05",), "a secret scanner runs in CI or pre-commit"),
        Rule("cicd.image-scan", ("PIPE-09",), "container images are scanned before deployment"),
        Rule("cicd.ecr-scan-on-push", ("PIPE-09",), "ECR repositories scan images on push"),
    )

    def scan(self, ctx: ScanContext) -> Iterable[ProbeItem]:
        """Yield evidence and findings for PIPE-02, PIPE-05 and PIPE-09."""
        repo, _settings = ctx.repo, ctx.settings
        return self._run(repo)

    def _run(self, repo: RepoView) -> Iterator[ProbeItem]:
        ci = load_ci(repo)
        uses = find_tool_uses(ci)
        yield from scanning.judge(ci, uses)
        tree = list(hardening.scan_tree(repo))
        reported = {(i.path, i.line) for i in tree if isinstance(i, Finding) and i.path and i.line}
        pipe05 = list(hardening.judge_ci(repo, ci, uses, reported)) + tree
        yield from pipe05
        if not any(getattr(i, "control", None) == "PIPE-05" or "PIPE-05" in getattr(i, "controls", ())
                   for i in pipe05):
            yield Searched("PIPE-05", "committed credentials in every text file (AWS, Hugging Face, OpenAI, "
                                      "Anthropic, GitHub, Slack, private keys, .env); workflow permissions, "
                                      "pull_request_target checkouts, secrets echoed or traced in CI: "
                                      f"{len(ci.workflows)} CI file(s)")
        yield from images.judge(repo, ci, uses)
