"""Answers file validation: every error names the file and line; expiry; exceptions."""

from __future__ import annotations

import datetime as dt

import pytest

from mlposture.scanner.answers import AnswersError, parse_answers

TODAY = dt.date(2026, 11, 28)
KNOWN = ["DATA-01", "MODEL-03"]

GOOD = """version: 1
answers:
  DATA-01:
    status: implemented
    by: platform-security@example.com
    date: 2026-11-02
    expires: 2027-11-02
    evidence: https://wiki.example.com/ml/kms-policy
    note: Training buckets use SSE-KMS.
"""


def parse(text: str):
    return parse_answers(text, "answers.yaml", KNOWN, TODAY)


def test_valid_answer():
    a = parse(GOOD).answers["DATA-01"]
    assert (a.status, a.by, a.date, a.expires, a.line) == (
        "implemented", "platform-security@example.com", dt.date(2026, 11, 2), dt.date(2027, 11, 2), 3)


@pytest.mark.parametrize(("text", "where", "what"), [
    (GOOD.replace("DATA-01", "DATA-99"), "answers.yaml:3", "unknown control id 'DATA-99'"),
    (GOOD.replace("status: implemented", "status: done"), "answers.yaml:4", "'status' must be one of"),
    (GOOD.replace("date: 2026-11-02", "date: 2026-13-45"), "answers.yaml:6", "must be a date"),
    (GOOD.replace("date: 2026-11-02", "date: 2027-01-01"), "answers.yaml:6", "in the future"),
    (GOOD.replace("    by: platform-security@example.com\n", ""), "answers.yaml:4", "'by' is required"),
    (GOOD.replace("    evidence: https://wiki.example.com/ml/kms-policy\n", ""), "answers.yaml:4",
     "'evidence' is required"),
    (GOOD.replace("    note:", "    notes:"), "answers.yaml:9", "unknown key 'notes'"),
    ("version: 1\nanswers:\n  DATA-01: [x\n", "answers.yaml:", "invalid YAML"),
    ("version: 2\n", "answers.yaml:1", "unsupported version"),
])
def test_errors_name_file_and_line(text, where, what):
    with pytest.raises(AnswersError) as err:
        parse(text)
    assert str(err.value).startswith(where)
    assert what in str(err.value)


def test_not_implemented_needs_no_evidence():
    text = GOOD.replace("implemented", "not_implemented").replace(
        "    evidence: https://wiki.example.com/ml/kms-policy\n", "")
    assert parse(text).answers["DATA-01"].status == "not_implemented"


def test_expired_answer_is_ignored_with_warning():
    result = parse(GOOD.replace("expires: 2027-11-02", "expires: 2026-11-20"))
    assert result.answers == {}
    assert result.warnings == ("answers.yaml:3: answer for DATA-01 expired on 2026-11-20; ignored",)


def test_exceptions_validation():
    base = """version: 1
exceptions:
  - rule: dependencies.unpinned-requirement
    path: "requirements/dev*.txt"
    by: alice@example.com
    date: 2026-11-02
    reason: dev-only tooling
"""
    exc = parse(base).exceptions[0]
    assert exc.matches("ffff", "dependencies.unpinned-requirement", "requirements/dev-extra.txt")
    assert not exc.matches("ffff", "dependencies.unpinned-requirement", "requirements.txt")
    with pytest.raises(AnswersError, match=r"answers.yaml:3: exception: 'reason' is required"):
        parse(base.replace("    reason: dev-only tooling\n", ""))
    with pytest.raises(AnswersError, match=r"answers.yaml:3: exception: give 'fingerprint'"):
        parse(base.replace("  - rule: dependencies.unpinned-requirement\n    path", "  - path"))
    expired = parse(base + "    expires: 2026-01-01\n")
    assert expired.exceptions == () and "expired on 2026-01-01" in expired.warnings[0]


def test_duplicate_keys_are_errors():
    with pytest.raises(AnswersError, match=r"answers.yaml:5: .*duplicate key 'status' \(first at line 4\)"):
        parse(GOOD.replace("    by: platform", "    status: partial\n    by: platform"))
