"""``mlposture answer``: ask for the unverified controls (Critical first) and add the answers to the file.

The file is the user's: existing entries, comments and order are kept byte for byte; new answers are inserted as
text at the end of the ``answers:`` block. Only a file that has no block-style ``answers:`` mapping is rewritten,
and then the original is kept beside it as ``answers.yaml.bak``.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import click

from mlposture.scanner import yamlsafe
from mlposture.scanner.answers import ANSWER_STATUSES, DEFAULT_ANSWERS, NEEDS_EVIDENCE, parse_answers
from mlposture.scanner.catalog import Catalog
from mlposture.scanner.results import Status
from mlposture.scanner.settings import Settings

TOP_LEVEL_KEY = re.compile(r"^[A-Za-z_][\w-]*\s*:")


@dataclass(frozen=True)
class NewAnswer:
    """An answer collected at the prompt."""

    control: str
    status: str
    by: str
    date: dt.date
    evidence: str | None
    note: str | None
    expires: dt.date | None


def _quote(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a valid YAML double-quoted scalar


def render_answer(a: NewAnswer, title: str) -> str:
    """YAML text of one answer, indented for the ``answers:`` block."""
    lines = [f"  {a.control}:  # {title}", f"    status: {a.status}", f"    by: {_quote(a.by)}",
             f"    date: {a.date.isoformat()}"]
    if a.expires:
        lines.append(f"    expires: {a.expires.isoformat()}")
    if a.evidence:
        lines.append(f"    evidence: {_quote(a.evidence)}")
    if a.note:
        lines.append(f"    note: {_quote(a.note)}")
    return "\n".join(lines) + "\n"


def add_answers(path: Path, snippets: list[str]) -> Path | None:
    """Insert answer snippets into the file; returns the backup path when the file had to be rewritten."""
    if not snippets:
        return None
    block = "".join(snippets)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("version: 1\nanswers:\n" + block, encoding="utf-8")
        return None
    text = path.read_text("utf-8")
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if re.match(r"^answers\s*:\s*(#.*)?$", line.rstrip("\n"))),
                 None)
    if start is not None:
        end = len(lines)
        for i in range(start + 1, len(lines)):
            if TOP_LEVEL_KEY.match(lines[i]):
                end = i
                break
        while end > start + 1 and not lines[end - 1].strip():
            end -= 1
        if end > 0 and not lines[end - 1].endswith("\n"):
            lines[end - 1] += "\n"
        lines.insert(end, block)
        path.write_text("".join(lines), encoding="utf-8")
        return None
    if not re.search(r"^answers\s*:", text, re.MULTILINE):
        sep = "" if text.endswith("\n") or not text else "\n"
        path.write_text(text + sep + "answers:\n" + block, encoding="utf-8")
        return None
    backup = path.with_name(path.name + ".bak")
    shutil.copyfile(path, backup)
    doc = yamlsafe.load(text) or {}
    existing = {k: dict(v) for k, v in (doc.get("answers") or {}).items()}
    body = "".join(f"  {k}: {json.dumps(v, default=str)}\n" for k, v in existing.items())
    rest = "".join(f"{k}: {json.dumps(v, default=str)}\n" for k, v in doc.items() if k not in ("version", "answers"))
    path.write_text(f"version: 1\n{rest}answers:\n{body}{block}", encoding="utf-8")
    return backup


def _ask_date(prompt: str, default: str | None) -> dt.date | None:
    while True:
        raw = click.prompt(prompt, default=default or "", show_default=bool(default))
        if not raw.strip():
            return None
        try:
            return dt.date.fromisoformat(raw.strip())
        except ValueError:
            click.echo("  a date like 2026-11-02, please")


def run_answer(root: Path, settings: Settings, catalog: Catalog, answers_path: Path | None,
               by: str | None) -> None:
    """Scan, then prompt for every unverified control; write after each answer so nothing is lost."""
    from mlposture.scanner.scan import scan

    path = answers_path or root / DEFAULT_ANSWERS
    result = scan(root, settings, answers_path, catalog=catalog)
    pending = [r for r in result.controls if r.status is Status.UNVERIFIED]
    pending.sort(key=lambda r: -r.control.severity.rank)
    if not pending:
        click.echo("Every control is decided; nothing to answer.")
        return
    click.echo(f"{len(pending)} controls need an answer (Critical first). Answers go to {path}.")
    click.echo("At each prompt: implemented / partial / not_implemented / not_applicable, 's' to skip, "
               "'q' to stop.")
    who = by or click.prompt("Your name or e-mail (recorded as 'by')")
    today = dt.date.today()
    written = 0
    for r in pending:
        c = r.control
        click.echo("")
        click.echo(f"{c.id} [{c.severity.value}] {c.title}")
        click.echo(f"  {c.description}")
        click.echo("  Evidence that would have verified it: " + "; ".join(c.evidence[:4]))
        if r.reason:
            click.echo(f"  Scanner: {r.reason}")
        choice = click.prompt("  status", type=click.Choice([*ANSWER_STATUSES, "s", "q"]), default="s",
                              show_choices=False)
        if choice == "q":
            break
        if choice == "s":
            continue
        evidence = None
        while choice in NEEDS_EVIDENCE and not evidence:
            evidence = click.prompt("  evidence (link or document path, required)", default="",
                                    show_default=False).strip() or None
        if choice not in NEEDS_EVIDENCE:
            evidence = click.prompt("  evidence (optional)", default="", show_default=False).strip() or None
        note = click.prompt("  note (optional)", default="", show_default=False).strip() or None
        expires = _ask_date("  expires (YYYY-MM-DD, optional)", None)
        new = NewAnswer(c.id, choice, who, today, evidence, note, expires)
        backup = add_answers(path, [render_answer(new, c.title)])
        parse_answers(path.read_text("utf-8"), str(path), [x.id for x in catalog])  # never leave it invalid
        if backup:
            click.echo(f"  (the original file was kept as {backup})")
        written += 1
    click.echo("")
    click.echo(f"{written} answer(s) written to {path}. Run `mlposture scan` to see the new score.")
