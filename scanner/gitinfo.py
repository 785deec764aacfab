"""Git metadata of the scanned target (commit, ref, dirty state, tracked files) through GitPython.

A repository's own ``.git/config`` may define commands that git runs on ordinary operations (``core.fsmonitor``,
clean/smudge filters, external diff drivers, ``core.sshCommand``). A hostile repository copied with its ``.git``
folder could use them to run code on the scanner's machine, so those commands are never triggered: when such
keys are present, only what GitPython reads itself (HEAD, refs) is used and the dirty state is left unknown.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

EXECUTING_CONFIG = re.compile(
    r"^\s*(fsmonitor|sshcommand|pager|editor|askpass|hookspath|textconv|command|clean|smudge|process|"
    r"gitproxy|program)\s*=",
    re.IGNORECASE | re.MULTILINE,
)
SAFE_GIT_OPTIONS = ("-c", "core.fsmonitor=false", "-c", "core.untrackedCache=false")


@dataclass(frozen=True)
class GitInfo:
    """What the report says about the target's git state."""

    commit: str | None
    ref: str | None
    dirty: bool | None
    tracked: frozenset[str] | None  # paths relative to the scanned root; None when not read
    workdir: str = ""  # the repository's top folder
    prefix: str = ""  # the scanned root relative to ``workdir`` ("" when they are the same)


def has_executing_config(git_dir: Path) -> bool:
    """True when the repository's own config defines commands git could run (or includes other config)."""
    try:
        text = (git_dir / "config").read_text("utf-8", "replace")
    except OSError:
        return False
    return bool(EXECUTING_CONFIG.search(text)) or "[include" in text.lower()


def read_git_info(root: Path, note: Callable[..., None]) -> GitInfo | None:
    """Git state of ``root`` (or of the repository containing it), or ``None`` outside a repository."""
    try:
        import git
    except ImportError:  # pragma: no cover - GitPython is a declared dependency
        return None
    try:
        repo = git.Repo(root, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return None
    except Exception as exc:  # a corrupt .git must not stop the scan
        note(f"git metadata not read: {type(exc).__name__}")
        return None
    try:
        workdir = Path(repo.working_tree_dir or root).resolve()
        try:
            prefix = root.resolve().relative_to(workdir).as_posix()
        except ValueError:
            prefix = ""
        prefix = "" if prefix == "." else prefix
        commit: str | None
        try:
            commit = repo.head.commit.hexsha
        except (ValueError, TypeError):
            commit = None  # no commits yet
        ref: str | None
        try:
            ref = None if repo.head.is_detached else repo.active_branch.name
        except TypeError:
            ref = None
        if ref is None and commit is not None:
            ref = _tag_at(repo, commit)
        if has_executing_config(Path(repo.git_dir)):
            note("git config defines commands (filters, fsmonitor, diff drivers): dirty state and "
                 "tracked files not read, so that nothing from the repository runs", ".git/config")
            return GitInfo(commit, ref, None, None, str(workdir), prefix)
        g = repo.git
        dirty: bool | None
        try:
            out = g.execute(["git", *SAFE_GIT_OPTIONS, "status", "--porcelain", "--untracked-files=no",
                             "--ignore-submodules"], with_extended_output=False)
            dirty = bool(str(out).strip())
        except Exception:
            dirty = None
        tracked: frozenset[str] | None
        try:
            raw = g.execute(["git", *SAFE_GIT_OPTIONS, "ls-files", "-z", "--", prefix or "."],
                            with_extended_output=False, strip_newline_in_stdout=False)
            names = [n for n in str(raw).split("\0") if n]
            cut = len(prefix) + 1 if prefix else 0
            tracked = frozenset(n[cut:] for n in names)
        except Exception:
            tracked = None
        return GitInfo(commit, ref, dirty, tracked, str(workdir), prefix)
    finally:
        repo.close()


def _tag_at(repo: object, commit: str) -> str | None:
    try:
        for tag in repo.tags:  # type: ignore[attr-defined]
            if tag.commit.hexsha == commit:
                return str(tag.name)
    except Exception:
        return None
    return None
