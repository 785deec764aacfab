"""The answers file: human answers for what a repository cannot show, and accepted-risk exceptions.

Format (docs/contracts.md, "Answers file")::

    version: 1
    answers:
      DATA-01:
        status: implemented        # implemented | partial | not_implemented | not_applicable
        by: platform-security@example.com
        date: 2026-11-02
        expires: 2027-11-02        # optional
        evidence: https://wiki.example.com/ml/kms-policy
        note: ...
    exceptions:
      - fingerprint: 3f2a...       # or: rule + path (glob)
        rule: dependencies.unpinned-requirement
        path: "requirements/dev*.txt"
        by: alice@example.com
        date: 2026-11-02
        expires: 2027-02-01
        reason: dev-only tooling, not shipped

Every validation error names the file and line: this file is hand-written, and a CI gate that fails on it must
say exactly where.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import os
import stat
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlposture.scanner import yamlsafe
from mlposture.scanner.errors import InputError

ANSWER_STATUSES = ("implemented", "partial", "not_implemented", "not_applicable")
NEEDS_EVIDENCE = {"implemented", "partial", "not_applicable"}
ANSWER_KEYS = {"status", "by", "date", "expires", "evidence", "note"}
EXCEPTION_KEYS = {"fingerprint", "rule", "path", "by", "date", "expires", "reason"}
DEFAULT_ANSWERS = ".mlposture/answers.yaml"


class AnswersError(InputError):
    """An answers file that cannot be used; the message names file and line."""


@dataclass(frozen=True)
class Answer:
    """A human answer for one control."""

    control: str
    status: str
    by: str
    date: dt.date
    evidence: str | None = None
    expires: dt.date | None = None
    note: str | None = None
    path: str = ""
    line: int = 0


@dataclass(frozen=True)
class RiskException:
    """An accepted risk on specific findings, by fingerprint or by rule and path glob."""

    by: str
    date: dt.date
    reason: str
    fingerprint: str | None = None
    rule: str | None = None
    path_glob: str | None = None
    expires: dt.date | None = None
    file: str = ""
    line: int = 0

    def matches(self, fingerprint: str, rule: str, path: str | None) -> bool:
        """True when this exception covers a finding."""
        if self.fingerprint is not None:
            return fingerprint.startswith(self.fingerprint)
        if self.rule is not None and self.rule != rule:
            return False
        if self.path_glob is not None:
            return path is not None and fnmatch.fnmatchcase(path, self.path_glob)
        return True


@dataclass(frozen=True)
class AnswersFile:
    """Valid, unexpired answers and exceptions, plus warnings about expired ones."""

    path: str | None
    answers: dict[str, Answer]
    exceptions: tuple[RiskException, ...]
    warnings: tuple[str, ...]

    @classmethod
    def empty(cls) -> AnswersFile:
        """No answers file."""
        return cls(None, {}, (), ())


def _date(value: Any, key: str, path: str, line: int) -> dt.date:
    """A date, or :class:`AnswersError`: ``0``, ``false``, ``""`` or an empty value is refused, never "no expiry"."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise AnswersError(path, f"'{key}' must be a date like 2026-11-02, got {value!r}", line)


def _text(raw: yamlsafe.YMap, key: str, path: str, where: str, required: bool) -> str | None:
    value = raw.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise AnswersError(path, f"{where}: '{key}' is required", raw.line)
        return None
    if not isinstance(value, (str, int, float)):
        raise AnswersError(path, f"{where}: '{key}' must be text", raw.line_of(key))
    return str(value).strip()


def parse_answers(text: str, path: str, known_controls: Collection[str],
                  today: dt.date | None = None) -> AnswersFile:
    """Validate an answers document. Raises :class:`AnswersError` naming file and line."""
    today = today or dt.date.today()
    try:
        doc = yamlsafe.load(text, strict=True)
    except yamlsafe.YamlError as exc:
        raise AnswersError(path, f"invalid YAML: {exc.message}", exc.line) from None
    if doc is None:
        return AnswersFile(path, {}, (), ())
    if not isinstance(doc, yamlsafe.YMap):
        raise AnswersError(path, "the answers file must be a mapping with 'version' and 'answers'", 1)
    for key in doc:
        if key not in ("version", "answers", "exceptions"):
            raise AnswersError(path, f"unknown top-level key '{key}'", doc.line_of(key))
    version = doc.get("version", 1)
    if version != 1:
        raise AnswersError(path, f"unsupported version {version!r} (expected 1)", doc.line_of("version"))
    warnings: list[str] = []
    answers: dict[str, Answer] = {}
    raw_answers = doc.get("answers")
    if raw_answers is None:
        raw_answers = yamlsafe.YMap()
        raw_answers.key_lines = {}
    if not isinstance(raw_answers, yamlsafe.YMap):
        raise AnswersError(path, "'answers' must be a mapping of control ids", doc.line_of("answers"))
    known = set(known_controls)
    by_upper = {c.upper(): c for c in known_controls}
    for cid, raw in raw_answers.items():
        line = raw_answers.line_of(cid)
        control = str(cid)
        if control not in known:
            hint = f" (control ids are exact: {by_upper[control.upper()]})" if control.upper() in by_upper else ""
            raise AnswersError(path, f"unknown control id '{control[:60]}'{hint}", line)
        if not isinstance(raw, yamlsafe.YMap):
            raise AnswersError(path, f"{control}: the answer must be a mapping", line)
        for key in raw:
            if key not in ANSWER_KEYS:
                raise AnswersError(path, f"{control}: unknown key '{key}'", raw.line_of(key))
        status = raw.get("status")
        if status not in ANSWER_STATUSES:
            raise AnswersError(path, f"{control}: 'status' must be one of {', '.join(ANSWER_STATUSES)}",
                               raw.line_of("status") if "status" in raw else line)
        by = _text(raw, "by", path, control, required=True)
        if "date" not in raw:
            raise AnswersError(path, f"{control}: 'date' is required", line)
        date = _date(raw["date"], "date", path, raw.line_of("date"))
        if date > today:
            raise AnswersError(path, f"{control}: 'date' {date} is in the future", raw.line_of("date"))
        expires = _date(raw["expires"], "expires", path, raw.line_of("expires")) if "expires" in raw else None
        evidence = _text(raw, "evidence", path, control, required=status in NEEDS_EVIDENCE)
        answer = Answer(control, str(status), str(by), date, evidence, expires,
                        _text(raw, "note", path, control, required=False), path, line)
        if expires is not None and expires < today:
            warnings.append(f"{path}:{line}: answer for {control} expired on {expires}; ignored")
            continue
        answers[control] = answer
    exceptions = _parse_exceptions(doc, path, today, warnings)
    return AnswersFile(path, answers, tuple(exceptions), tuple(warnings))


def _parse_exceptions(doc: yamlsafe.YMap, path: str, today: dt.date, warnings: list[str]) -> list[RiskException]:
    raw_list = doc.get("exceptions")
    if raw_list is None:
        return []
    if not isinstance(raw_list, yamlsafe.YList):
        raise AnswersError(path, "'exceptions' must be a list", doc.line_of("exceptions"))
    out: list[RiskException] = []
    for index, raw in enumerate(raw_list):
        line = raw_list.line_of(index)
        if not isinstance(raw, yamlsafe.YMap):
            raise AnswersError(path, "each exception must be a mapping", line)
        for key in raw:
            if key not in EXCEPTION_KEYS:
                raise AnswersError(path, f"exception: unknown key '{key}'", raw.line_of(key))
        where = "exception"
        fingerprint = _text(raw, "fingerprint", path, where, required=False)
        rule = _text(raw, "rule", path, where, required=False)
        glob = _text(raw, "path", path, where, required=False)
        if fingerprint is None and rule is None:
            raise AnswersError(path, "exception: give 'fingerprint', or 'rule' (with an optional 'path' glob)",
                               line)
        if fingerprint is not None and len(fingerprint) < 8:
            raise AnswersError(path, "exception: 'fingerprint' needs at least 8 characters",
                               raw.line_of("fingerprint"))
        by = _text(raw, "by", path, where, required=True)
        reason = _text(raw, "reason", path, where, required=True)
        if "date" not in raw:
            raise AnswersError(path, "exception: 'date' is required", line)
        date = _date(raw["date"], "date", path, raw.line_of("date"))
        if date > today:
            raise AnswersError(path, f"exception: 'date' {date} is in the future", raw.line_of("date"))
        expires = _date(raw["expires"], "expires", path, raw.line_of("expires")) if "expires" in raw else None
        if expires is not None and expires < today:
            warnings.append(f"{path}:{line}: exception ({fingerprint or rule}) expired on {expires}; ignored")
            continue
        out.append(RiskException(str(by), date, str(reason), fingerprint, rule, glob, expires, path, line))
    return out


def load_answers(path: Path, known_controls: Collection[str], display: str | None = None,
                 today: dt.date | None = None, within: Path | None = None) -> AnswersFile:
    """Read and validate an answers file. Raises :class:`AnswersError` (unreadable, malformed).

    ``within``: the scanned root when the file is the repository's own; a symbolic link leaving it is refused
    (without quoting what it points to), as is anything but a regular file.
    """
    shown = display or str(path)
    try:
        if within is not None:
            real, root = os.path.realpath(path), os.path.realpath(within)
            if os.path.commonpath([real, root]) != root:
                raise AnswersError(shown, "symbolic link out of the scanned folder, not read")
            if not stat.S_ISREG(os.stat(real).st_mode):
                raise AnswersError(shown, "not a regular file, not read")
        with open(path, "rb") as fh:
            data = fh.read(4 * 1024 * 1024 + 1)
    except OSError as exc:
        raise AnswersError(shown, f"cannot read: {exc.strerror or exc}") from None
    if len(data) > 4 * 1024 * 1024:
        raise AnswersError(shown, "larger than 4 MiB")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise AnswersError(shown, f"not UTF-8 text (byte {exc.start})") from None
    return parse_answers(text, shown, known_controls, today)
