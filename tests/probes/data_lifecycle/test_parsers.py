"""The format parsers of the data lifecycle probe, each tested alone (facts, not judgements)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlposture.probes.lifecycle import commands, pii
from mlposture.probes.lifecycle.dvc import DvcParseError, parse_config, parse_pointer, parse_stages, read_project
from mlposture.scanner.repo import RepoView
from mlposture.scanner.sources import markdown


def _repo(tmp_path: Path, files: dict[str, str]) -> RepoView:
    for name, text in files.items():
        target = tmp_path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    return RepoView(tmp_path)


def test_luhn_iban_and_masks() -> None:
    assert pii.luhn_ok("4111111111111111") and not pii.luhn_ok("4111111111111112")
    assert pii.iban_ok("DE89 3704 0044 0532 0130 00") and not pii.iban_ok("DE00370400440532013000")
    assert pii.mask("e-mail address", "jane.doe@example.org") == "j***@e***.org"
    assert pii.mask("payment card number (Luhn-valid)", "4111-1111-1111-1111") == "****1111"
    assert pii.mask("IBAN", "DE89370400440532013000") == "DE******3000"


def test_dvc_config_remotes_and_default() -> None:
    cfg = parse_config("[core]\n    remote = s3store\n['remote \"s3store\"']\n    url = s3://b/p\n"
                       "    sse = AES256\n[remote \"backup\"]\n    url = gs://x\n", ".dvc/config")
    assert cfg.default_remote == ("s3store", 2)
    assert [(r.name, r.line) for r in cfg.remotes] == [("s3store", 3), ("backup", 6)]
    assert cfg.remotes[0].get("sse") == ("AES256", 5)


def test_dvc_pointer_and_stage_parsing(tmp_path: Path) -> None:
    repo = _repo(tmp_path, {
        "data.dvc": "outs:\n- md5: abc.dir\n  size: 3\n  path: data\n",
        "imp.dvc": "deps:\n- path: x\n  repo:\n    url: https://g/r\n    rev: main\n"
                   "outs:\n- md5: d\n  path: x\n",
        "dvc.yaml": "stages:\n  prep:\n    foreach: [a, b]\n    do:\n      cmd: python prep.py ${item}\n"
                    "      deps: [prep.py]\n      outs: [out]\n  train:\n    cmd:\n      - python a.py\n"
                    "      - python b.py\n    params:\n      params.yaml: [lr]\n",
    })
    ptr = parse_pointer(repo, repo.get("data.dvc"))  # type: ignore[arg-type]
    assert ptr.outs[0].digest == "abc.dir" and ptr.outs[0].line == 2 and ptr.import_url is None
    imp = parse_pointer(repo, repo.get("imp.dvc"))  # type: ignore[arg-type]
    assert (imp.import_url, imp.rev, imp.rev_lock, imp.import_line) == ("https://g/r", "main", None, 2)
    stages = parse_stages(repo, repo.get("dvc.yaml"))  # type: ignore[arg-type]
    assert [(s.name, s.line) for s in stages] == [("prep", 2), ("train", 8)]
    assert stages[0].cmds == (("python prep.py ${item}", 5),)
    assert stages[1].cmds == (("python a.py", 10), ("python b.py", 11))
    assert [p.path for p in stages[1].params] == ["params.yaml"]


def test_dvc_bad_files_raise_with_line(tmp_path: Path) -> None:
    repo = _repo(tmp_path, {"a.dvc": "outs: []\n", "dvc.yaml": "stages: [1, 2]\n"})
    with pytest.raises(DvcParseError):
        parse_pointer(repo, repo.get("a.dvc"))  # type: ignore[arg-type]
    with pytest.raises(DvcParseError) as err:
        parse_stages(repo, repo.get("dvc.yaml"))  # type: ignore[arg-type]
    assert err.value.line == 1
    project = read_project(repo)
    assert not project.pointers and {n.path for n in repo.notes} == {"a.dvc", "dvc.yaml"}


def test_markdown_headings_fences_setext_and_front_lines() -> None:
    doc = markdown.parse("---\nlicense: mit\nmeta:\n  owner: a\n---\n# Title\n```\n# not a heading\n```\n"
                         "Bias\n----\n", "x.md")
    assert doc.front is not None and doc.front.line_of("license") == 2
    assert doc.front["meta"].line_of("owner") == 4
    assert [(h.text, h.line) for h in doc.headings] == [("Title", 6), ("Bias", 10)]  # setext: the text line
    broken = markdown.parse("---\nlicense: [x\n", "y.md")
    assert broken.front is None and broken.front_error is not None and broken.front_error_line == 1


def test_ci_run_lines_github_block_and_gitlab(tmp_path: Path) -> None:
    repo = _repo(tmp_path, {
        ".github/workflows/ci.yml": "on: push\njobs:\n  t:\n    runs-on: x\n    steps:\n      - run: |\n"
                                    "          echo a\n\n          dvc pull\n      - run: dvc repro\n",
        ".gitlab-ci.yml": "stages: [a]\njob:\n  script:\n    - sha256sum -c SHA256SUMS\n",
        "run.sh": "#!/bin/sh\n# comment\npython train.py\n",
    })
    cmds = commands.collect(repo, read_project(repo))
    got = [(c.path, c.line, c.text, c.kind) for c in cmds]
    assert (".github/workflows/ci.yml", 7, "echo a", commands.CI) in got
    assert (".github/workflows/ci.yml", 9, "dvc pull", commands.CI) in got
    assert (".github/workflows/ci.yml", 10, "dvc repro", commands.CI) in got
    assert (".gitlab-ci.yml", 4, "sha256sum -c SHA256SUMS", commands.CI) in got
    assert ("run.sh", 3, "python train.py", commands.SCRIPT) in got


def test_pii_regexes_skip_noise() -> None:
    found = pii._find("order 2024-01-15, id 1234567890123, ip 10.0.0.1, x@example.com, 4111111111111111\n")
    assert [k for k, _, _ in found] == ["payment card number (Luhn-valid)"]


def test_ci_commands_come_from_the_ci_model_once_per_line(tmp_path: Path) -> None:
    repo = _repo(tmp_path, {
        ".github/workflows/ci.yml": "on: push\njobs:\n  t:\n    runs-on: x\n    steps:\n"
                                    "      - uses: actions/checkout@v4\n"
                                    "      - name: fetch\n        run: |\n          dvc pull\n"
                                    "      - name: setup\n        uses: actions/setup-python@v5\n",
        ".gitlab-ci.yml": ".train:\n  script:\n    - python train.py\n"
                          "nightly:\n  extends: .train\nweekly:\n  extends: .train\n",
        ".github/workflows/drafts/old.yml": "on: push\njobs:\n  t:\n    steps:\n      - run: dvc push\n",
    })
    got = [(c.path, c.line, c.text, c.context) for c in commands.collect(repo, read_project(repo))]
    assert got == [
        (".github/workflows/ci.yml", 6, "uses: actions/checkout@v4", "t"),
        (".github/workflows/ci.yml", 9, "dvc pull", "t"),  # the command's own line, not the ``run: |`` line
        (".github/workflows/ci.yml", 11, "uses: actions/setup-python@v5", "t"),  # the ``uses:`` line
        # GitHub runs no workflow from a subfolder of .github/workflows: drafts/old.yml gives nothing
        (".gitlab-ci.yml", 3, "python train.py", ".train"),  # once, though two jobs extend the template
    ]


def test_dvc_block_commands_are_numbered_from_their_text(tmp_path: Path) -> None:
    repo = _repo(tmp_path, {"dvc.yaml": (
        "stages:\n"
        "  one:\n    cmd: |\n      python prep.py\n"                       # 2-4
        "  two:\n    cmd: |\n      python a.py\n\n      python b.py\n"    # 5-9
        "  three:\n    cmd:\n      - |\n        python c.py\n"            # 10-13
        "  four:\n    cmd: python d.py\n")})                              # 14-15
    stages = {s.name: s.cmds for s in parse_stages(repo, repo.get("dvc.yaml"))}  # type: ignore[arg-type]
    assert stages == {"one": (("python prep.py", 4),), "two": (("python a.py", 7), ("python b.py", 9)),
                      "three": (("python c.py\n", 13),), "four": (("python d.py", 15),)}
