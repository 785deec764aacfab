"""Remote targets: clone a git URL at a ref into a temporary folder, scan it, always clean up.

Why so careful: the URL comes from a user or a CI variable, and git understands transports that run commands
(``ext::``) or read arbitrary local paths. Only https, ssh (``ssh://`` and ``user@host:path``), git and ``file://``
URLs are accepted, every other transport is disabled for the clone itself, and credentials in the URL are masked in
every message.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ALLOWED_SCHEMES = ("https://", "http://", "ssh://", "git://", "file://")
SCP_LIKE = re.compile(r"^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:(?!//)[^\s]+$")
SHA = re.compile(r"^[0-9a-fA-F]{7,40}$")


class RemoteError(ValueError):
    """A URL that is refused, or a clone/checkout that failed (credentials masked)."""


@dataclass(frozen=True)
class Checkout:
    """A cloned working tree and what it was cloned from."""

    path: Path
    url: str  # masked
    ref: str | None


def is_remote(target: str) -> bool:
    """True when the target names a git URL rather than a local path."""
    lowered = target.lower()
    return lowered.startswith(ALLOWED_SCHEMES) or "::" in target or bool(SCP_LIKE.match(target))


def mask(url: str) -> str:
    """The URL with any user:password (or token) replaced by ``***``."""
    return re.sub(r"(?<=://)[^/@\s]+@", "***@", url)


def _check(url: str) -> None:
    lowered = url.lower()
    if "::" in url and not lowered.startswith(ALLOWED_SCHEMES):
        raise RemoteError(f"{mask(url)}: transport '{url.split('::', 1)[0]}::' is refused (it can run commands)")
    if url.startswith("-"):
        raise RemoteError(f"{mask(url)}: a URL cannot start with '-'")
    if not (lowered.startswith(ALLOWED_SCHEMES) or SCP_LIKE.match(url)):
        raise RemoteError(f"{mask(url)}: not a git URL (https, ssh, git or file://)")


def _git_options(url: str) -> list[str]:
    allowed = ["https", "http", "ssh", "git"] + (["file"] if url.lower().startswith("file://") else [])
    opts = ["protocol.allow=never", *(f"protocol.{p}.allow=always" for p in allowed),
            "core.hooksPath=/dev/null", "core.fsmonitor=false", "submodule.recurse=false",
            "credential.interactive=never"]
    return [f"--config={o}" for o in opts]


@contextmanager
def cloned(url: str, ref: str | None = None, history: bool = False) -> Iterator[Checkout]:
    """Clone ``url`` (shallow unless ``history`` or ``ref`` is a commit id), check out ``ref``, yield, clean up."""
    import git

    _check(url)
    if ref is not None and (ref.startswith("-") or not ref.strip() or any(ord(c) < 32 for c in ref)):
        raise RemoteError(f"--ref {ref!r}: a ref cannot start with '-' or contain control characters")
    workdir = Path(tempfile.mkdtemp(prefix="mlposture-clone-"))
    dest = workdir / "repo"
    env = {"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true", "SSH_ASKPASS": "true",
           "GIT_SSH_COMMAND": os.environ.get("GIT_SSH_COMMAND", "ssh -oBatchMode=yes")}
    try:
        multi = _git_options(url)
        # allow_unsafe_options: the --config options are ours (they disable transports and hooks); the URL is
        # still checked by GitPython's unsafe-protocol guard and by _check above
        kwargs: dict[str, object] = {"env": env, "multi_options": multi, "no_checkout": True,
                                     "allow_unsafe_options": True}
        by_commit = ref is not None and bool(SHA.match(ref))
        if not history and not by_commit:
            kwargs["depth"] = 1
            if ref:
                kwargs["branch"] = ref
        try:
            repo = git.Repo.clone_from(url, dest, **kwargs)  # type: ignore[arg-type]
        except git.GitCommandError as exc:
            raise RemoteError(f"clone of {mask(url)} failed: {mask(_stderr(exc))}") from None
        try:
            target = ref or "HEAD"
            repo.git.execute(["git", "-c", "core.hooksPath=/dev/null", "checkout", "--quiet", "--detach", target],
                             env=env)
        except git.GitCommandError as exc:
            raise RemoteError(f"{mask(url)}: ref {ref!r} not found: {mask(_stderr(exc))}") from None
        finally:
            repo.close()
        yield Checkout(dest, mask(url), ref)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _stderr(exc: Exception) -> str:
    text = str(getattr(exc, "stderr", "") or exc).strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1].strip("'") if lines else type(exc).__name__
