"""A scanned repository's git configuration never makes the scanner run a program (canary files prove it).

Each case writes git configuration that would run ``touch CANARY`` through a different route, checks (where git
offers a porcelain command that obeys it) that the route is live, then reads the repository the way a scan does:
git metadata and dirty state, last-change dates, and history blobs; and once through the whole CLI with --history.
"""

from __future__ import annotations

import os
import pickle
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from mlposture.probes.monitoring.gitdates import GitDates
from mlposture.probes.serialization.history import history_items
from mlposture.scanner.cli import cli
from mlposture.scanner.probe import Finding
from mlposture.scanner.repo import RepoView
from mlposture.scanner.safegit import GitError, SafeGit
from mlposture.scanner.settings import Settings

ENV = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
       "GIT_COMMITTER_EMAIL": "t@example.com", "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull}


def git(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=cwd, env=ENV, check=check, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=60)


def make_repo(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "train.py").write_text("print('train')\n")
    (path / "docs").mkdir()
    (path / "docs" / "red-team.md").write_text("# Red team\n")
    (path / "old.pkl").write_bytes(pickle.dumps({"a": 1}, protocol=2))
    (path / ".gitattributes").write_text("* filter=evil diff=evil\n")
    git(path, "init", "-q", "-b", "main")
    git(path, "add", ".")
    git(path, "commit", "-qm", "init")
    git(path, "rm", "-q", "old.pkl")
    git(path, "commit", "-qm", "drop the pickle")
    return path


def touch(canary: Path) -> str:
    return f"touch {canary}"


def append(path: Path, text: str) -> None:
    with open(path, "a") as fh:
        fh.write(text)


def modify(repo: Path, text: str = "print('TRAIN')\n", when: int = 1) -> None:
    """A content change of the same size: stat differs, so git would hash the file through its clean filter."""
    (repo / "train.py").write_text(text)
    os.utime(repo / "train.py", (when, when))


def read_like_a_scan(target: Path) -> RepoView:
    view = RepoView(target, Settings(history=True))
    dates = GitDates(view)
    assert dates.available
    assert dates.last_change("docs/red-team.md") is not None
    items = list(history_items(view, view.settings))
    assert any(isinstance(i, Finding) and i.path == "old.pkl" for i in items), items
    return view


def case_filter_on_section_header(repo: Path, canary: Path) -> Path:
    append(repo / ".git" / "config", f'[filter "evil"] clean = {touch(canary)}\n')
    return repo


def case_config_worktree(repo: Path, canary: Path) -> Path:
    git(repo, "config", "core.repositoryformatversion", "1")
    git(repo, "config", "extensions.worktreeConfig", "true")
    append(repo / ".git" / "config.worktree", f'[filter "evil"]\n\tclean = {touch(canary)}\n'
                                              f"[core]\n\tfsmonitor = {touch(canary)}\n")
    return repo


def case_linked_worktree(repo: Path, canary: Path) -> Path:
    linked = repo.parent / "linked"
    git(repo, "worktree", "add", "-q", str(linked))
    append(repo / ".git" / "config", f'[filter "evil"]\n\tclean = {touch(canary)}\n')
    return linked


def case_fsmonitor(repo: Path, canary: Path) -> Path:
    append(repo / ".git" / "config", f"[core]\n\tfsmonitor = {touch(canary)}\n")
    return repo


def case_hooks_path(repo: Path, canary: Path) -> Path:
    hooks = repo / "hooks"
    hooks.mkdir()
    for name in ("pre-commit", "post-checkout", "post-index-change", "reference-transaction", "fsmonitor-watchman",
                 "pre-auto-gc", "post-rewrite"):
        (hooks / name).write_text(f"#!/bin/sh\n{touch(canary)}\n")
        (hooks / name).chmod(0o755)
    append(repo / ".git" / "config", f"[core]\n\thooksPath = {hooks}\n")
    return repo


def case_ssh_command(repo: Path, canary: Path) -> Path:
    append(repo / ".git" / "config", f'[core]\n\tsshCommand = {touch(canary)}\n[remote "origin"]\n'
                                     "\turl = ssh://example.invalid/repo.git\n\tpromisor = true\n"
                                     "\tpartialclonefilter = blob:none\n")
    return repo


def case_diff_external(repo: Path, canary: Path) -> Path:
    append(repo / ".git" / "config", f'[diff]\n\texternal = {touch(canary)}\n[diff "evil"]\n'
                                     f"\ttextconv = {touch(canary)}\n\tcommand = {touch(canary)}\n")
    return repo


def case_pager_and_signatures(repo: Path, canary: Path) -> Path:
    append(repo / ".git" / "config", f"[core]\n\tpager = {touch(canary)}\n[pager]\n\tlog = {touch(canary)}\n"
                                     f"[log]\n\tshowSignature = true\n[gpg]\n\tprogram = {touch(canary)}\n")
    return repo


def case_include_path(repo: Path, canary: Path) -> Path:
    (repo / "evil.cfg").write_text(f'[filter "evil"]\n\tclean = {touch(canary)}\n')
    append(repo / ".git" / "config", f"[include]\n\tpath = {repo / 'evil.cfg'}\n")
    return repo


def case_include_if(repo: Path, canary: Path) -> Path:
    (repo / "evil.cfg").write_text(f"[core]\n\tfsmonitor = {touch(canary)}\n")
    append(repo / ".git" / "config", f'[includeIf "gitdir:{repo}/"]\n\tpath = {repo / "evil.cfg"}\n')
    return repo


def case_dot_git_file_elsewhere(repo: Path, canary: Path) -> Path:
    elsewhere = repo.parent / "elsewhere.git"
    (repo / ".git").rename(elsewhere)
    (repo / ".git").write_text(f"gitdir: {elsewhere}\n")
    append(elsewhere / "config", f'[filter "evil"]\n\tclean = {touch(canary)}\n')
    return repo


# the porcelain command that shows the route is live, where one obeys it without a terminal or a network
CASES: list[tuple[Callable[[Path, Path], Path], list[str] | None]] = [
    (case_filter_on_section_header, ["status"]),
    (case_config_worktree, ["status"]),
    (case_linked_worktree, ["status"]),
    (case_fsmonitor, ["status"]),
    (case_hooks_path, ["commit", "-qam", "x"]),
    (case_ssh_command, ["fetch", "origin"]),
    (case_diff_external, ["diff"]),
    (case_pager_and_signatures, ["log", "-1"]),
    (case_include_path, ["status"]),
    (case_include_if, ["status"]),
    (case_dot_git_file_elsewhere, ["status"]),
]


@pytest.mark.parametrize(("case", "live"), CASES, ids=[c.__name__[5:] for c, _ in CASES])
def test_repository_git_config_never_runs(tmp_path, case, live):
    canary = tmp_path / "CANARY"
    target = case(make_repo(tmp_path / "repo"), canary)
    modify(target)
    if live is not None and case is not case_pager_and_signatures:
        git(target, *live, check=False)
        assert canary.exists(), "the hostile route is not live: the test would prove nothing"
        canary.unlink()
        modify(target, "print('TRAIX')\n", 2)
    view = read_like_a_scan(target)
    assert not canary.exists()
    assert view.git is not None and view.git.commit is not None
    assert view.git.dirty in (True, None)  # train.py changed; with a filter attribute the state is unknown


def test_whole_scan_with_every_route_runs_nothing(tmp_path):
    canary = tmp_path / "CANARY"
    repo = make_repo(tmp_path / "repo")
    for case, _ in CASES:
        if case not in (case_linked_worktree, case_dot_git_file_elsewhere, case_config_worktree, case_include_path,
                        case_include_if):
            case(repo, canary)
    modify(repo)
    out = tmp_path / "r.json"
    res = CliRunner().invoke(cli, ["scan", str(repo), "--history", "--no-vulns", "-f", "json", "-o", str(out), "-q"])
    assert res.exit_code in (0, 1), res.output
    assert not canary.exists()
    assert '"old.pkl"' in out.read_text()


def test_dirty_state_is_computed_without_git_status(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "a.py").write_text("a = 1\n")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "init")
    assert RepoView(repo).git.dirty is False  # type: ignore[union-attr]
    (repo / "a.py").write_text("a = 2\n")  # same size, new content
    os.utime(repo / "a.py", (1, 1))
    assert RepoView(repo).git.dirty is True  # type: ignore[union-attr]
    git(repo, "checkout", "--", "a.py")
    (repo / ".gitattributes").write_text("*.py text eol=crlf\n")
    git(repo, "add", ".gitattributes")
    git(repo, "commit", "-qm", "attrs")
    (repo / "a.py").write_text("a = 3\n")
    os.utime(repo / "a.py", (1, 1))
    view = RepoView(repo)
    assert view.git is not None and view.git.dirty is None


def test_only_plumbing_is_allowed(tmp_path):
    g = SafeGit(tmp_path, tmp_path)
    for args in (("status",), ("diff",), ("checkout", "x"), ("cat-file", "--filters", "HEAD:a"),
                 ("log", "-p"), ("cat-file", "--textconv", "HEAD:a")):
        with pytest.raises(GitError):
            g.run(*args)
