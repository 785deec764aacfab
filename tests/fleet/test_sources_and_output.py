"""What ``fleet scan`` reads as sources, and how ``fleet status``/``fleet report`` print hostile names."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from mlposture.scanner.cli import cli


@pytest.mark.parametrize(("text", "target", "ref", "key"), [
    ("https://git.example.com/org/repo.git", "https://git.example.com/org/repo.git", None,
     "https://git.example.com/org/repo.git"),
    ("https://git.example.com/org/repo@v1.2", "https://git.example.com/org/repo", "v1.2",
     "https://git.example.com/org/repo"),
    ("https://git.example.com/org/repo@feature/x", "https://git.example.com/org/repo", "feature/x",
     "https://git.example.com/org/repo"),
    ("https://tok3n@git.example.com/org/repo", "https://tok3n@git.example.com/org/repo", None,
     "https://***@git.example.com/org/repo"),
    ("https://u:pw@git.example.com/org/repo@main", "https://u:pw@git.example.com/org/repo", "main",
     "https://***@git.example.com/org/repo"),
    ("git@github.com:org/repo.git", "git@github.com:org/repo.git", None, "git@github.com:org/repo.git"),
    ("git@github.com:org/repo.git@0123abc", "git@github.com:org/repo.git", "0123abc", "git@github.com:org/repo.git"),
])
def test_url_sources_split_their_ref_and_never_keep_credentials(text: str, target: str, ref: str | None,
                                                                 key: str) -> None:
    from mlposture.fleet.sources import parse_source

    source = parse_source(text)
    assert (source.target, source.ref, source.key) == (target, ref, key)


def test_repos_file_comments_blank_lines_duplicates_and_default_ref(tmp_path: Path) -> None:
    from mlposture.fleet.sources import SourceError, collect_sources

    (tmp_path / "a").mkdir()
    listing = tmp_path / "repos.txt"
    listing.write_text(f"# team A\n\n{tmp_path / 'a'}\n  https://h.example/o/b@v2  \n{tmp_path / 'a'}\n")
    sources = collect_sources(("https://h.example/o/c",), str(listing), "main")
    assert [(s.key, s.ref) for s in sources] == [
        ("https://h.example/o/c", "main"), (str(tmp_path / "a"), "main"), ("https://h.example/o/b", "v2")]
    with pytest.raises(SourceError, match="cannot read"):
        collect_sources((), str(tmp_path / "nope.txt"), None)


def test_hostile_names_stay_text_in_every_output(tmp_path: Path, fleet_repos: Any) -> None:
    out = tmp_path / "r.json"
    CliRunner().invoke(cli, ["scan", str(fleet_repos.bad[2]), "-f", "json", "-o", str(out), "-q", "--no-vulns"])
    url = f"sqlite:///{tmp_path / 'fleet.db'}"
    runner = CliRunner()
    hostile = "/srv/=cmd|<img src=x onerror=alert(1)>\x1b[31m"
    assert runner.invoke(cli, ["fleet", "import", str(out), "--db", url, "--source", hostile]).exit_code == 0
    name = "=cmd|<img src=x onerror=alert(1)>\x1b[31m"  # the last path component of the source
    table = runner.invoke(cli, ["fleet", "status", "--db", url]).output
    assert "\x1b" not in table and "=cmd|<img src=x onerror=alert(1)>\\x1b[31m" in table
    rows = list(csv.DictReader(io.StringIO(runner.invoke(cli, ["fleet", "status", "--db", url, "--format",
                                                                "csv"]).output)))
    assert rows[0]["repo"] == "'=cmd|<img src=x onerror=alert(1)>\\x1b[31m" and rows[0]["dangerous_artifacts"] == "1"
    [obj] = json.loads(runner.invoke(cli, ["fleet", "status", "--db", url, "--format", "json"]).output)
    assert obj["repo"] == name and obj["source"] == hostile
    report = runner.invoke(cli, ["fleet", "report", "--db", url]).output
    assert re.search(r"(?<!\\)<(?!br>)", report) is None  # every "<" from the repository is escaped
    assert r"=cmd\|\<img src=x onerror=alert\(1\)\>\\x1b\[31m" in report
    assert "## Dangerous model artifacts" in report and "models/classifier-2.pkl" in report.replace("\\", "")
    data = json.loads(runner.invoke(cli, ["fleet", "report", "--db", url, "-f", "json"]).output)
    assert data["repositories"] == 1 and data["artifacts"] == [{"repo": name, "paths": ["models/classifier-2.pkl"]}]
