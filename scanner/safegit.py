"""The only way the scanner runs git on a scanned tree: plumbing commands in an environment that runs nothing.

A scanned repository brings its own git configuration (``.git/config``, ``config.worktree``, the common config of a
linked worktree, included files, a ``.git`` file pointing anywhere). Git obeys several keys of that configuration by
running programs: clean/smudge filters, ``core.fsmonitor``, hooks, ``core.sshCommand``, ``diff.external``,
``core.pager``, ``gpg.program`` for ``log.showSignature``, lazy fetches of a partial clone. Filter names cannot be
enumerated and config syntax has many spellings, so inspecting the config text cannot be made reliable. Instead:

* only commands that never filter or diff file contents are allowed (:data:`ALLOWED`): ``rev-parse``,
  ``symbolic-ref``, ``for-each-ref``, ``cat-file`` (without ``--filters``/``--textconv``), ``ls-tree``,
  ``ls-files``, ``rev-list``, and ``log`` for commit metadata only (no patch, no external diff, no textconv, no
  signature check). Porcelain such as ``status`` (runs clean filters on racy entries), ``diff``,
  ``log -p`` or ``checkout`` is never used on a scanned tree;
* system and global configuration are not read (``GIT_CONFIG_NOSYSTEM``, ``GIT_CONFIG_GLOBAL=/dev/null``), and the
  keys that can name a program are overridden on the command line, which wins over every file;
* every network transport is refused (``GIT_ALLOW_PROTOCOL`` outranks any config), so a partial clone cannot start
  a lazy fetch through the repository's ``core.sshCommand`` or a remote helper;
* no pager, no terminal prompt, no optional locks (nothing is written to the scanned ``.git``), and a timeout.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

ALLOWED = frozenset({"rev-parse", "symbolic-ref", "for-each-ref", "cat-file", "ls-tree", "ls-files", "rev-list", "log"})
# ``log`` is porcelain: it is only run with these, so it never shows a patch, runs a diff program or checks a signature
LOG_GUARDS = ("--no-show-signature", "--no-ext-diff", "--no-textconv", "--no-patch", "--no-color")
FORBIDDEN_ARGS = ("--filters", "--textconv", "--exec", "--upload-pack", "--receive-pack")
OVERRIDES = (
    "core.fsmonitor=false",
    "core.hooksPath=/dev/null",
    "core.sshCommand=false",
    "core.pager=cat",
    "core.askPass=",
    "core.editor=false",
    "core.gitProxy=",
    "core.untrackedCache=false",
    "core.alternateRefsCommand=",
    "diff.external=",
    "log.showSignature=false",
    "gpg.program=false",
    "credential.helper=",
    "protocol.allow=never",
    "uploadpack.packObjectsHook=",
    "safe.directory=*",
)
ENV = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_PAGER": "cat",
    "PAGER": "cat",
    "GIT_OPTIONAL_LOCKS": "0",
    "GIT_ALLOW_PROTOCOL": "none-allowed",
    "GIT_NO_LAZY_FETCH": "1",
    "GIT_NO_REPLACE_OBJECTS": "1",
    "GIT_ASKPASS": "",
    "SSH_ASKPASS": "",
    "GIT_SSH_COMMAND": "false",
    "GIT_EDITOR": "false",
    "LC_ALL": "C",
}
TIMEOUT = 120.0


class GitError(RuntimeError):
    """A git command that failed, timed out or was refused (message without repository text beyond the path)."""


def _command(args: Sequence[str]) -> list[str]:
    if not args or args[0] not in ALLOWED:
        raise GitError(f"git {args[0] if args else ''}: not an allowed read-only command")
    if any(a.startswith(FORBIDDEN_ARGS) for a in args):
        raise GitError(f"git {args[0]}: option refused")
    if args[0] == "log" and any(a in ("-p", "--patch", "--stat") or a.startswith("-G") for a in args):
        raise GitError("git log: only metadata is read")
    opts = [part for o in OVERRIDES for part in ("-c", o)]
    guards = LOG_GUARDS if args[0] == "log" else ()
    return ["git", "--no-pager", "--no-replace-objects", *opts, args[0], *guards, *args[1:]]


def _env(git_dir: Path | None, work_tree: Path | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_") and k not in ("PAGER", "EDITOR")}
    env.update(ENV)
    if git_dir is not None:
        env["GIT_DIR"] = str(git_dir)
        env["GIT_WORK_TREE"] = str(work_tree) if work_tree is not None else ""
        if work_tree is None:
            env.pop("GIT_WORK_TREE")
    return env


@dataclass(frozen=True)
class SafeGit:
    """One repository, addressed explicitly (``GIT_DIR``/``GIT_WORK_TREE``) so that git discovers nothing else."""

    git_dir: Path
    work_tree: Path | None

    def run(self, *args: str, timeout: float = TIMEOUT, stdin: bytes | None = None) -> bytes:
        """Output of an allowed plumbing command; :class:`GitError` when git fails."""
        return run(args, git_dir=self.git_dir, work_tree=self.work_tree, timeout=timeout, stdin=stdin)

    def text(self, *args: str, stdin: bytes | None = None) -> str:
        """Output decoded as UTF-8 (undecodable bytes replaced), without the trailing newline."""
        return self.run(*args, stdin=stdin).decode("utf-8", "replace").rstrip("\n")

    @contextmanager
    def blob(self, sha: str) -> Iterator[IO[bytes]]:
        """A stream of one object's raw bytes (``cat-file blob``: never filtered)."""
        cmd = _command(["cat-file", "blob", sha])
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                env=_env(self.git_dir, self.work_tree), cwd=str(self.work_tree or self.git_dir))
        try:
            assert proc.stdout is not None
            yield proc.stdout
        finally:
            proc.kill()
            proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()


def run(args: Sequence[str], *, cwd: Path | None = None, git_dir: Path | None = None,
        work_tree: Path | None = None, timeout: float = TIMEOUT, stdin: bytes | None = None) -> bytes:
    """Run an allowed git plumbing command in the safe environment (see the module docstring)."""
    cmd = _command(args)
    where = cwd or work_tree or git_dir
    try:
        proc = subprocess.run(cmd, input=stdin if stdin is not None else b"", capture_output=True, timeout=timeout,
                              env=_env(git_dir, work_tree), cwd=str(where) if where else None, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise GitError(f"git {args[0]}: {type(exc).__name__}") from None
    if proc.returncode != 0:
        last = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise GitError(f"git {args[0]}: {last[-1][:200] if last else f'exit {proc.returncode}'}")
    return proc.stdout


def open_repository(root: Path) -> tuple[SafeGit, Path] | None:
    """The repository containing ``root`` and its top folder, or ``None`` outside one (or when git is unusable)."""
    where = root if root.is_dir() else root.parent
    try:
        out = run(["rev-parse", "--absolute-git-dir", "--show-toplevel"], cwd=where)
    except GitError:
        return None
    lines = out.decode("utf-8", "surrogateescape").splitlines()
    if len(lines) < 2 or not lines[1]:
        return None  # a bare repository or the inside of .git: nothing to scan against
    git_dir, top = Path(lines[0]), Path(lines[1])
    return SafeGit(git_dir, top), top
