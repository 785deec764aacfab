"""When a file was last changed: the last commit touching it, read with git plumbing.

Freshness of red-team, audit and compliance documents is the date of the last commit that touched them: a date
typed inside a document can be anything, the history is harder to fake by accident. Only history is read
(``rev-list``), never the working tree, through :mod:`mlposture.scanner.safegit` so that nothing the repository's
git config names is ever run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone

from mlposture.scanner.repo import RepoView
from mlposture.scanner.safegit import GitError, SafeGit


@dataclass(frozen=True)
class LastChange:
    """Date of the last commit touching a path, and the commit."""

    day: date
    commit: str


class GitDates:
    """Looks up last-commit dates of repository files; :meth:`close` is kept for callers (nothing stays open)."""

    def __init__(self, repo: RepoView) -> None:
        self._prefix = ""
        self._git: SafeGit | None = None
        self.reason = "not a git repository"
        info = repo.git
        if info is None or not info.workdir:
            return
        self._git = info.safe_git()
        if self._git is None:
            return
        self._prefix = info.prefix
        self.reason = ""

    @property
    def available(self) -> bool:
        """True when history can be read."""
        return self._git is not None

    def last_change(self, path: str) -> LastChange | None:
        """The last commit touching ``path`` (repo-relative), or ``None`` (untracked, or no history)."""
        if self._git is None:
            return None
        full = f"{self._prefix}/{path}" if self._prefix else path
        try:
            out = self._git.text("rev-list", "-n", "1", "--format=%H %ct", "HEAD", "--", f":(literal){full}")
        except GitError:
            return None
        lines = [line for line in out.splitlines() if not line.startswith("commit ")]
        if not lines:
            return None
        sha, _, stamp = lines[0].partition(" ")
        try:
            when = datetime.fromtimestamp(int(stamp), tz=timezone.utc)
        except (ValueError, OverflowError, OSError):
            return None
        return LastChange(when.date(), sha)

    def close(self) -> None:
        """Nothing to release: every lookup is one short git process."""
        self._git = None
