"""Report age from git history: backdated commits in a repository built by the test."""

from __future__ import annotations

import os
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

from tests.probes.monitoring.monhelpers import run_probe

STAMP = "%Y-%m-%dT%H:%M:%S+00:00"


def _git(root: Path, *args: str, when: datetime | None = None) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com",
           "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    if when is not None:
        env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = when.strftime(STAMP)
    subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True)


def _commit(root: Path, rel: str, text: str, days_ago: int) -> datetime:
    when = datetime.now(timezone.utc) - timedelta(days=days_ago)
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    _git(root, "add", rel)
    _git(root, "commit", "-q", "-m", f"add {rel}", when=when)
    return when


def _repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    _git(root, "init", "-q", "-b", "main")
    return root


def test_stale_redteam_and_audit_reports_fail_with_git_dates(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    # the document claims a recent date; the last commit touching it is what counts
    rt = _commit(root, "reports/red-team-2026-q1.md", "# Red team report\n\nDate: 2026-11-20\n", 200)
    au = _commit(root, "docs/audits/ml-platform.md", "# Security audit\n", 400)
    s = run_probe(root, today=None)
    red = s.one("MON-06", "fail")
    assert red.path == "reports/red-team-2026-q1.md"
    assert f"last updated 200 days ago ({rt.date().isoformat()}, git commit" in red.message
    assert red.message.endswith("older than 92")
    audit = s.one("MON-08", "fail")
    assert f"last updated 400 days ago ({au.date().isoformat()}" in audit.message and "older than 365" in audit.message


def test_newest_fresh_report_passes_and_older_ones_are_counted(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    _commit(root, "reports/redteam/2025-q4.md", "# Red team\n", 300)
    _commit(root, "reports/redteam/2026-q3.md", "# Red team\n", 10)
    s = run_probe(root, today=None)
    assert s.effects("MON-06") == {"pass"}
    ev = s.one("MON-06", "pass")
    assert ev.path == "reports/redteam/2026-q3.md"
    assert "10 days ago" in ev.message and "within 92; 1 other report(s)" in ev.message


def test_modified_after_commit_still_uses_last_commit(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    _commit(root, "pentest-report.md", "# Penetration test\n", 120)
    (root / "pentest-report.md").write_text("# Penetration test\n\nedited, not committed\n")
    s = run_probe(root, today=None)
    assert s.effects("MON-06") == {"fail"}


def test_git_config_with_commands_is_never_run_and_history_still_counts(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    _commit(root, "redteam.md", "---\ndate: 2026-11-01\n---\n# Red team\n", 300)
    with open(root / ".git" / "config", "a") as fh:
        fh.write(f"[core]\n\tfsmonitor = touch {root / 'PWNED'}\n[log]\n\tshowSignature = true\n"
                 f"[gpg]\n\tprogram = touch {root / 'PWNED'}\n")
    s = run_probe(root, today=None)  # the commit date wins over the date typed in the document
    ev = s.one("MON-06", "fail")
    assert "last updated 300 days ago" in ev.message and "git commit" in ev.message
    assert not (root / "PWNED").exists()


def test_untracked_report_without_date_is_partial(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    _commit(root, "README.md", "# x\n", 1)
    (root / "security-audit.md").write_text("# Security audit\n\nNo date here.\n")
    s = run_probe(root, today=None)
    ev = s.one("MON-08", "partial")
    assert ev.path == "security-audit.md" and "age is unknown" in ev.message
