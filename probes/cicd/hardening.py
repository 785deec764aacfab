"""PIPE-05: secrets committed to the tree, and CI hardening signals (judgements over the CI model and the tree).

Secrets (:mod:`mlposture.scanner.sources.secrets`) become ``cicd.secret`` findings, masked, fingerprinted by a hash
of the secret.
CI signals on GitHub workflows: the top-level ``permissions:`` block (read-only = pass evidence; write scopes or
none at all = partial), ``pull_request_target`` with a checkout of the pull request's head (fail: untrusted code
runs with secrets), secrets echoed by ``echo``/``printf`` in ``run:`` (fail), ``set -x`` in a step that has
secrets in its environment (partial), ``ACTIONS_STEP_DEBUG``/``ACTIONS_RUNNER_DEBUG``/GitLab ``CI_DEBUG_TRACE``
turned on (partial), ``workflow_run`` checking out the triggering pull request's head (fail), and
secret scanners (gitleaks, trufflehog, detect-secrets, GitLab Secret-Detection) as pass evidence.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from mlposture.probes.cicd.scanning import commit_events
from mlposture.scanner.probe import Effect, Evidence, Finding, Note, ProbeItem, Severity
from mlposture.scanner.repo import BINARY_SNIFF_BYTES, RepoFile, RepoView
from mlposture.scanner.sources.ci import GITHUB, GITLAB, CiModel, ShellCommand, Step, Workflow
from mlposture.scanner.sources.ci.tools import Category, ToolUse
from mlposture.scanner.sources.secrets import (
    SecretMatch,
    find_env_credentials,
    find_tokens,
    is_env_file,
    is_placeholder,
    mask,
    redact,
    secret_digest,
    shannon_entropy,
)

CONTROL = "PIPE-05"
RULE_SECRET = "cicd.secret"
RULE_PERMISSIONS = "cicd.permissions"
RULE_PRT = "cicd.pull-request-target-checkout"
RULE_ECHO = "cicd.secret-echo"
RULE_SET_X = "cicd.set-x-secrets"
RULE_DEBUG = "cicd.step-debug"
RULE_SCANNER = "cicd.secret-scanner"
RULE_OIDC = "cicd.oidc"

MAX_SECRET_FILE_BYTES = 1024 * 1024
MAX_NOTEBOOK_BYTES = 4 * 1024 * 1024
MAX_SECRET_TOTAL_BYTES = 256 * 1024 * 1024
#: Extensions that are never text worth scanning (models, archives, media); others are sniffed for NUL bytes.
BINARY_SUFFIXES = frozenset({
    ".pt", ".pth", ".bin", ".safetensors", ".onnx", ".pkl", ".pickle", ".joblib", ".h5", ".hdf5", ".keras",
    ".gguf", ".ggml", ".pb", ".tflite", ".ckpt", ".npy", ".npz", ".parquet", ".arrow", ".feather", ".msgpack",
    ".zip", ".gz", ".tgz", ".bz2", ".xz", ".zst", ".7z", ".tar", ".whl", ".jar", ".png", ".jpg", ".jpeg",
    ".gif", ".bmp", ".ico", ".webp", ".pdf", ".mp3", ".mp4", ".wav", ".flac", ".avi", ".mov", ".so", ".dll",
    ".dylib", ".exe", ".o", ".a", ".pyc", ".woff", ".woff2", ".ttf", ".otf", ".db", ".sqlite", ".tfrecord",
    ".lmdb", ".mdb", ".pdparams", ".mar", ".nemo", ".engine", ".plan", ".mlmodel", ".mlpackage", ".caffemodel",
})

_SECRET_EXPR = re.compile(r"\$\{\{\s*secrets\.([A-Za-z0-9_]+)\s*\}\}")
_SECRET_NAME = re.compile(r"(TOKEN|SECRET|PASSWORD|PASSWD|API_?KEY|PRIVATE_?KEY|CREDENTIALS?)", re.IGNORECASE)
_HEAD_REF = re.compile(
    r"github\.event\.pull_request\.head\.(sha|ref)|github\.head_ref|refs/pull/|"
    r"github\.event\.pull_request\.merge_commit_sha|github\.event\.number|"
    r"github\.event\.workflow_run\.head_(sha|branch)")


# ---------------------------------------------------------------------------------------------------------- tree
def _read_candidate(repo: RepoView, f: RepoFile) -> str | None:
    """Text of a file worth scanning, or ``None`` (binary by extension or content, too big): no note needed."""
    if f.suffix in BINARY_SUFFIXES:
        return None
    cap = MAX_NOTEBOOK_BYTES if f.suffix == ".ipynb" else MAX_SECRET_FILE_BYTES
    if f.size > cap or f.size == 0:
        return None
    cached = repo.cached_text(f)  # read already, decoded the same way (binary and oversized files never are)
    if cached is not None:
        return cached
    data = repo.read_bytes(f, cap)
    if data is None or b"\x00" in data[:BINARY_SNIFF_BYTES]:
        return None
    return data.decode("utf-8", "replace")


def scan_tree(repo: RepoView) -> Iterator[ProbeItem]:
    """``cicd.secret`` findings for every committed credential (bounded: per-file and total byte caps)."""
    total = 0
    skipped_big = 0
    for f in repo.files:
        if f.size > MAX_SECRET_FILE_BYTES and f.suffix != ".ipynb" and f.suffix not in BINARY_SUFFIXES:
            skipped_big += 1
        if total > MAX_SECRET_TOTAL_BYTES:
            yield Note(f"secret scan stopped after {MAX_SECRET_TOTAL_BYTES // (1024 * 1024)} MiB of text; "
                       "later files were not scanned", f.path)
            break
        text = _read_candidate(repo, f)
        if text is None:
            continue
        total += len(text)
        matches: list[SecretMatch] = list(find_tokens(text))
        if is_env_file(f.name):
            matches.extend(find_env_credentials(text))
        seen_lines: set[int] = set()
        seen: set[tuple[int, str]] = set()
        for m in matches:
            digest = secret_digest(m.kind, m.secret)
            if (m.line, m.secret) in seen or (m.kind == "env-credential" and m.line in seen_lines):
                continue  # a .env line already reported for its token format
            seen.add((m.line, m.secret))
            seen_lines.add(m.line)
            shown = mask(m.secret, m.visible_prefix)
            yield Finding(RULE_SECRET, m.severity, f"{m.label} committed to the repository: {shown}",
                          f.path, m.line, (CONTROL,), digest)
    if skipped_big:
        yield Note(f"secret scan skipped {skipped_big} file(s) larger than "
                   f"{MAX_SECRET_FILE_BYTES // 1024} KiB")


# ---------------------------------------------------------------------------------------------------------- CI
def _secret_env_names(wf: Workflow, step: Step) -> set[str]:
    """Environment variables of the step that carry a secret (``${{ secrets.X }}``; GitLab: by name)."""
    names: set[str] = set()
    job = wf.job(step.job)
    pairs = list(wf.env) + (list(job.env) if job else []) + list(step.env)
    for k, v in pairs:
        if "secrets." in v or (wf.system == GITLAB and _SECRET_NAME.search(k)):
            names.add(k)
    if wf.system == GITLAB:
        names.update({"CI_JOB_TOKEN", "CI_REGISTRY_PASSWORD", "CI_DEPLOY_PASSWORD"})
    return names


def _echoed_secret(cmd: ShellCommand, secret_names: set[str], system: str) -> str | None:
    if cmd.program not in ("echo", "printf") or cmd.piped or cmd.redirected:
        return None
    if any(w.startswith("::add-mask::") for w in cmd.argv[1:]):
        return None
    text = " ".join(cmd.argv[1:])
    m = _SECRET_EXPR.search(cmd.text)
    if m:
        return f"secrets.{m.group(1)}"
    for var in re.findall(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)", text):
        if var in secret_names or (system == GITLAB and _SECRET_NAME.search(var)):
            return f"${var}"
    return None


def _has_xtrace(step: Step) -> int | None:
    if step.shell and re.search(r"\bbash\b.*\s-\w*x", step.shell):
        return step.line
    for cmd in step.commands():
        if cmd.program == "set" and any(
                (w.startswith("-") and not w.startswith("--") and "x" in w) for w in cmd.argv[1:]):
            return cmd.line
        if cmd.program == "set" and "xtrace" in cmd.argv[1:] and "-o" in cmd.argv[1:]:
            return cmd.line
    return None


def _first_line_with(repo: RepoView, path: str, needle: str) -> int | None:
    for n, text in enumerate(repo.lines(path), 1):
        if needle in text:
            return n
    return None


def _permissions(wf: Workflow) -> Iterator[ProbeItem]:
    if wf.system != GITHUB:
        return
    if wf.permissions is not None:
        p = wf.permissions
        shown = p.shorthand or ", ".join(f"{k}: {v}" for k, v in p.scopes)
        if p.read_only:
            yield Evidence(CONTROL, Effect.PASS, f"top-level permissions are read-only ({shown})", wf.path, p.line,
                           RULE_PERMISSIONS)
        else:
            yield Evidence(CONTROL, Effect.PARTIAL,
                           f"top-level permissions grant write to every job: {', '.join(p.write_scopes)}",
                           wf.path, p.line, RULE_PERMISSIONS)
        if dict(p.scopes).get("id-token") == "write":
            yield Evidence(CONTROL, Effect.PASS, "OIDC: id-token: write (short-lived cloud credentials)", wf.path,
                           p.line, RULE_OIDC)
    else:
        jobs = [j for j in wf.jobs if j.uses is None]
        if jobs and all(j.permissions is not None for j in jobs):
            ro = all(j.permissions is not None and j.permissions.read_only for j in jobs)
            first = jobs[0].permissions
            line = first.line if first is not None else wf.line
            yield Evidence(CONTROL, Effect.PASS if ro else Effect.PARTIAL,
                           "permissions set on every job" + ("" if ro else ", some with write scopes"),
                           wf.path, line, RULE_PERMISSIONS)
        else:
            yield Evidence(CONTROL, Effect.PARTIAL,
                           "no permissions: block: GITHUB_TOKEN gets the repository's default permissions",
                           wf.path, wf.line, RULE_PERMISSIONS)
    for job in wf.jobs:
        if job.permissions is not None and dict(job.permissions.scopes).get("id-token") == "write" and not (
                wf.permissions is not None and dict(wf.permissions.scopes).get("id-token") == "write"):
            yield Evidence(CONTROL, Effect.PASS, f"OIDC in job {job.id}: id-token: write", wf.path,
                           job.permissions.line, RULE_OIDC)
            break


def _pull_request_target(wf: Workflow) -> Iterator[ProbeItem]:
    prt = [t for t in wf.triggers if t.event in ("pull_request_target", "workflow_run")]
    if wf.system != GITHUB or not prt:
        return
    for step in wf.steps():
        ref = None
        line = step.line
        if step.uses_action("actions/checkout"):
            value = step.input("ref") or ""
            if _HEAD_REF.search(value):
                ref, line = value, step.input_line("ref")
        for cmd in step.commands():
            if (cmd.program == "git" and len(cmd.argv) > 1 and cmd.argv[1] in ("checkout", "fetch", "switch")
                    and _HEAD_REF.search(cmd.text)) or (cmd.program == "gh" and cmd.argv[1:3] == ("pr", "checkout")):
                ref, line = cmd.text, cmd.line
        if ref is not None:
            yield Finding(RULE_PRT, Severity.HIGH,
                          f"{prt[0].event} (line {prt[0].line}) checks out the pull request head ({ref}) "
                          "in a job that has the repository's secrets and write token",
                          wf.path, line, (CONTROL,), f"{step.job}:{ref}")


def _steps(repo: RepoView, wf: Workflow) -> Iterator[ProbeItem]:
    for step in wf.steps():
        names = _secret_env_names(wf, step)
        for cmd in step.commands():
            echoed = _echoed_secret(cmd, names, wf.system)
            if echoed:
                shown = redact(cmd.text)
                yield Finding(RULE_ECHO, Severity.HIGH, f"secret {echoed} printed to the job log: {shown[:100]}",
                              wf.path, cmd.line, (CONTROL,), f"{step.job}:{shown}")
        xline = _has_xtrace(step)
        uses_secret = bool(names - {"CI_JOB_TOKEN", "CI_REGISTRY_PASSWORD", "CI_DEPLOY_PASSWORD"}) or \
            bool(step.run and _SECRET_EXPR.search(step.run))
        if xline is not None and uses_secret:
            yield Finding(RULE_SET_X, Severity.MEDIUM,
                          "shell tracing (set -x) in a step with secrets in its environment: expanded commands "
                          "reach the log", wf.path, xline, (CONTROL,), f"{step.job}:{step.index}:set-x",
                          Effect.PARTIAL)
    flagged: set[str] = set()
    for key in ("ACTIONS_STEP_DEBUG", "ACTIONS_RUNNER_DEBUG", "CI_DEBUG_TRACE", "CI_DEBUG_SERVICES"):
        envs = list(wf.env) + [p for j in wf.jobs for p in j.env] + [p for s in wf.steps() for p in s.env]
        if any(k == key and v.strip().lower() == "true" for k, v in envs) and key not in flagged:
            flagged.add(key)
            line = _first_line_with(repo, wf.path, key) or wf.line
            yield Finding(RULE_DEBUG, Severity.MEDIUM, f"{key}: true writes debug output (with values) to the logs",
                          wf.path, line, (CONTROL,), key, Effect.PARTIAL)


def _plaintext_env(repo: RepoView, wf: Workflow, reported: set[tuple[str, int]]) -> Iterator[ProbeItem]:
    """Credential-named ``env:``/``variables:`` entries holding a literal value instead of a secret reference."""
    pairs = list(wf.env) + [p for j in wf.jobs for p in j.env] + [p for st in wf.steps() for p in st.env]
    seen: set[tuple[str, str]] = set()
    lines = repo.lines(wf.path)
    for key, value in pairs:
        if (key, value) in seen or not _SECRET_NAME.search(key):
            continue
        seen.add((key, value))
        v = value.strip()
        if (len(v) < 8 or "$" in v or is_placeholder(v) or v.lower() in ("true", "false", "null")
                or shannon_entropy(v) < 3.0):
            continue
        pattern = re.compile(rf"^\s*-?\s*['\"]?{re.escape(key)}['\"]?\s*[:=]")
        line = next((n for n, text in enumerate(lines, 1) if pattern.match(text) and v in text), wf.line)
        if (wf.path, line) in reported:
            continue
        yield Finding(RULE_SECRET, Severity.HIGH,
                      f"plaintext credential {key} in CI configuration: {mask(v)}; use a secret/masked variable",
                      wf.path, line, (CONTROL,), secret_digest("ci-env-credential", v))


def judge_ci(repo: RepoView, ci: CiModel, uses: list[ToolUse],
             reported: set[tuple[str, int]] | None = None) -> Iterator[ProbeItem]:
    """PIPE-05 evidence and findings from the CI configuration (``reported``: secret lines already found)."""
    for wf in ci.workflows:
        yield from _permissions(wf)
        yield from _pull_request_target(wf)
        yield from _steps(repo, wf)
        yield from _plaintext_env(repo, wf, reported or set())
    for use in uses:
        if use.category is not Category.SECRET_SCAN:
            continue
        if use.workflow is None:
            yield Evidence(CONTROL, Effect.PARTIAL, f"secret scanner {use.tool} as a pre-commit hook ({use.how})",
                           use.path, use.line, RULE_SCANNER)
        elif commit_events(use)[0] and not use.tolerated:
            yield Evidence(CONTROL, Effect.PASS, f"secret scanner {use.tool} in CI ({use.how})", use.path,
                           use.line, RULE_SCANNER)
        else:
            yield Evidence(CONTROL, Effect.PARTIAL,
                           f"secret scanner {use.tool} in CI ({use.how}), not blocking every commit",
                           use.path, use.line, RULE_SCANNER)
