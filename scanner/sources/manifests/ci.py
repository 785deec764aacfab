"""CI files: GitHub Actions workflows (``uses:`` references, ``run:`` steps, ``env:``) and GitLab CI
(``script``/``before_script``/``after_script``, ``variables``), plus ``pip.conf`` / ``pip.ini``.

Installs in CI are not runtime dependencies of the project (they build and test it), so they are recorded with
``is_runtime=False``; their index settings still count for PIPE-03.
"""

from __future__ import annotations

import configparser
import re
from dataclasses import dataclass, field
from typing import Any

from mlposture.scanner import yamlsafe
from mlposture.scanner.sources.manifests.model import ActionRef, IndexRole, IndexSetting, ManifestNote, SourceKind
from mlposture.scanner.sources.manifests.pep508 import mask_url
from mlposture.scanner.sources.manifests.shell import INDEX_VARS, LineLocator, ShellResult, scan_shell
from mlposture.scanner.sources.manifests.textpos import LineIndex

SHA_RE = re.compile(r"^[0-9a-f]{40}$")
GITLAB_SCRIPT_KEYS = ("before_script", "script", "after_script")


@dataclass
class CiResult:
    """What the CI readers found."""

    shell: ShellResult = field(default_factory=ShellResult)
    actions: list[ActionRef] = field(default_factory=list)
    files: list[str] = field(default_factory=list)


def is_github_workflow(path: str) -> bool:
    """``.github/workflows/*.yml|yaml``."""
    low = path.lower()
    return low.startswith(".github/workflows/") and low.endswith((".yml", ".yaml")) and low.count("/") == 2


def is_gitlab_ci(path: str) -> bool:
    """``.gitlab-ci.yml`` and files under ``.gitlab/ci/``."""
    low = path.lower()
    return low.rsplit("/", 1)[-1] in (".gitlab-ci.yml", ".gitlab-ci.yaml") or (
        low.startswith(".gitlab/") and low.endswith((".yml", ".yaml")))


def _load(path: str, text: str, result: CiResult) -> Any:
    try:
        return yamlsafe.load(text)
    except yamlsafe.YamlError as exc:
        result.shell.notes.append(ManifestNote(f"malformed YAML: {exc.message}", path, exc.line))
    return None


def _merge(into: ShellResult, found: ShellResult) -> None:
    into.requirements += found.requirements
    into.indexes += found.indexes
    into.notes += found.notes
    into.unknown += found.unknown


def _env_block(env: Any, path: str, result: CiResult) -> None:
    if not isinstance(env, yamlsafe.YMap):
        return
    for key, value in env.items():
        if key in INDEX_VARS and isinstance(value, str) and value.strip():
            result.shell.indexes.append(IndexSetting(mask_url(value.strip()), INDEX_VARS[key], path,
                                                     env.line_of(key), "env", path, str(key)))


def _action(uses: str, path: str, line: int) -> ActionRef | None:
    uses = uses.strip()
    if uses.startswith("./"):
        return None
    if uses.startswith("docker://"):
        image = uses[len("docker://"):]
        digest = image.split("@", 1)[1] if "@" in image else ""
        return ActionRef("docker://" + image.split("@", 1)[0], digest, path, line, digest.startswith("sha256:"))
    action, _, ref = uses.partition("@")
    return ActionRef(action, ref, path, line, bool(SHA_RE.match(ref)))


def read_github_workflow(path: str, text: str, result: CiResult) -> None:
    """Actions references, run steps and env of one workflow file."""
    data = _load(path, text, result)
    if data is None:
        return
    result.files.append(path)
    if not isinstance(data, yamlsafe.YMap):
        result.shell.notes.append(ManifestNote("workflow is not a mapping", path, 1))
        return
    lines = text.splitlines()
    _env_block(data.get("env"), path, result)
    jobs = data.get("jobs")
    if not isinstance(jobs, yamlsafe.YMap):
        return
    for job in jobs.values():
        if not isinstance(job, yamlsafe.YMap):
            continue
        _env_block(job.get("env"), path, result)
        if isinstance(job.get("uses"), str):  # reusable workflow
            ref = _action(job["uses"], path, job.line_of("uses"))
            if ref:
                result.actions.append(ref)
        steps = job.get("steps")
        if not isinstance(steps, yamlsafe.YList):
            continue
        for step in steps:
            if not isinstance(step, yamlsafe.YMap):
                continue
            _env_block(step.get("env"), path, result)
            if isinstance(step.get("uses"), str):
                ref = _action(step["uses"], path, step.line_of("uses"))
                if ref:
                    result.actions.append(ref)
            run = step.get("run")
            if isinstance(run, str):
                first = step.line_of("run")
                last = first + run.count("\n") + 2
                _merge(result.shell, scan_shell(run, path, LineLocator(lines, first, last), SourceKind.CI, False))


def _scripts(value: Any, container: Any, key: Any) -> list[tuple[str, int]]:
    if isinstance(value, str):
        line = container.line_of(key) if isinstance(container, (yamlsafe.YMap, yamlsafe.YList)) else 1
        return [(value, line)]
    if isinstance(value, yamlsafe.YList):
        out: list[tuple[str, int]] = []
        for i, item in enumerate(value):
            out.extend(_scripts(item, value, i))
        return out
    return []


def read_gitlab_ci(path: str, text: str, result: CiResult) -> None:
    """Script lines and variables of one GitLab CI file."""
    data = _load(path, text, result)
    if data is None:
        return
    result.files.append(path)
    if not isinstance(data, yamlsafe.YMap):
        return
    lines = text.splitlines()
    _env_block(data.get("variables"), path, result)
    for key, job in data.items():
        if not isinstance(job, yamlsafe.YMap):
            continue
        if key == "default" or not str(key).startswith("."):
            _env_block(job.get("variables"), path, result)
        for script_key in GITLAB_SCRIPT_KEYS:
            if script_key not in job:
                continue
            for script, line in _scripts(job[script_key], job, script_key):
                last = line + script.count("\n") + 1
                _merge(result.shell, scan_shell(script, path, LineLocator(lines, line, last), SourceKind.CI, False))


def read_pip_conf(path: str, text: str) -> tuple[list[IndexSetting], list[ManifestNote]]:
    """``index-url`` / ``extra-index-url`` / ``find-links`` of a pip.conf or pip.ini (``[global]``, ``[install]``)."""
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(text, source=path)
    except configparser.Error as exc:
        return [], [ManifestNote(f"malformed pip configuration: {str(exc).splitlines()[0]}", path,
                                 getattr(exc, "lineno", None))]
    idx = LineIndex(text)
    out: list[IndexSetting] = []
    for section in ("global", "install"):
        if not parser.has_section(section):
            continue
        start = idx.section(rf"\[\s*{section}\s*\]") or 1
        for key, role in (("index-url", IndexRole.PRIMARY), ("extra-index-url", IndexRole.EXTRA),
                          ("find-links", IndexRole.FIND_LINKS)):
            value = parser.get(section, key, fallback=None)
            if not value:
                continue
            key_line = idx.find_key(key, start, start) or start
            for url in value.split():
                line = idx.find(url, key_line, key_line) or key_line
                out.append(IndexSetting(mask_url(url), role, path, line, "pip.conf", path))
    return out, []
