"""When a file was last changed: the last commit touching it, read through GitPython.

Freshness of red-team, audit and compliance documents is the date of the last commit that touched them: a date
typed inside a document can be anything, the history is harder to fake by accident. Only history is read
(``rev-list``), never the working tree; when the repository's git config defines commands (filters, fsmonitor),
git is not used at all, as in :mod:`mlposture.scanner.gitinfo`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path

from mlposture.scanner.gitinfo import has_executing_config
from mlposture.scanner.repo import RepoView


@dataclass(frozen=True)
class LastChange:
    """Date of the last commit touching a path, and the commit."""

    day: date
    commit: str


class GitDates:
    """Looks up last-commit dates of repository files; one ``git.Repo`` per scan, closed by :meth:`close`."""

    def __init__(self, repo: RepoView) -> None:
        self._prefix = ""
        self._repo: object | None = None
        self.reason = "not a git repository"
        info = repo.git
        if info is None or not info.workdir:
            return
        try:
            import git
        except ImportError:  # pragma: no cover - declared dependency
            return
        try:
            handle = git.Repo(info.workdir)
        except Exception as exc:
            self.reason = f"git repository not opened ({type(exc).__name__})"
            return
        if has_executing_config(Path(handle.git_dir)):
            handle.close()
            self.reason = "git config defines commands; history not read so that nothing from the repository runs"
            return
        self._repo = handle
        self._prefix = info.prefix
        self.reason = ""

    @property
    def available(self) -> bool:
        """True when history can be read."""
        return self._repo is not None

    def last_change(self, path: str) -> LastChange | None:
        """The last commit touching ``path`` (repo-relative), or ``None`` (untracked, or no history)."""
        if self._repo is None:
            return None
        full = f"{self._prefix}/{path}" if self._prefix else path
        try:
            for commit in self._repo.iter_commits(paths=full, max_count=1):  # type: ignore[attr-defined]
                when = datetime.fromtimestamp(int(commit.committed_date), tz=timezone.utc)
                return LastChange(when.date(), str(commit.hexsha))
        except Exception:
            return None
        return None

    def close(self) -> None:
        """Release the repository handle."""
        if self._repo is not None:
            self._repo.close()  # type: ignore[attr-defined]
            self._repo = None


