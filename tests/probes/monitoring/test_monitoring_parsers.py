"""Parsers alone: Markdown headings and sections, document dates, cron periods, the EU risk-tier API."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from mlposture.probes.monitoring.ci import cron_period_days
from mlposture.scanner.repo import RepoView
from mlposture.scanner.sources.markdown import Section, describe, document_date, parse_document
from mlposture.scanner.sources.risk_tier import normalise, read_eu_risk_tier

DOC = """\
---
date: 2026-03-04
---
# Playbook

```
# not a heading
```

Containment
-----------

- **Analysis:** compare with the baseline
"""


def _view(tmp_path: Path, files: dict[str, str]) -> RepoView:
    for rel, text in files.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return RepoView(tmp_path)


def test_headings_skip_fences_and_read_setext(tmp_path: Path) -> None:
    view = _view(tmp_path, {"p.md": DOC})
    f = view.get("p.md")
    assert f is not None
    doc = parse_document(view, f)
    assert doc is not None
    assert [(h.text, h.line) for h in doc.headings] == [("Playbook", 4), ("Containment", 10)]
    secs = (Section("containment", re.compile("contain", re.I)), Section("analysis", re.compile("analy", re.I)),
            Section("remediation", re.compile("remediat", re.I)))
    matches = doc.coverage(secs)
    assert [(m.name, m.line, m.via) for m in matches] == [
        ("containment", 10, "heading"), ("analysis", 13, "label"), ("remediation", None, "label")]
    assert describe(matches) == "found: containment (line 10), analysis (line 13); missing: remediation"
    assert document_date(doc, date(2026, 11, 28)) == (date(2026, 3, 4), 2)


def test_document_date_ignores_future_and_uses_file_name(tmp_path: Path) -> None:
    view = _view(tmp_path, {"reports/redteam-2026-05.md": "# R\n\nNext review date: 2027-01-01\n"})
    f = view.get("reports/redteam-2026-05.md")
    assert f is not None
    doc = parse_document(view, f)
    assert doc is not None
    assert document_date(doc, date(2026, 11, 28)) == (date(2026, 5, 1), 0)


@pytest.mark.parametrize(("cron", "days"), [
    ("0 * * * *", 1.0), ("0 6 * * 1", 7.0), ("0 3 1 * *", 31.0), ("0 0 1 */3 *", 93.0),
    ("0 0 1 1,4,7,10 *", 93.0), ("0 0 1 1 *", 372.0), ("0 0 1 1-6 *", 217.0), ("@daily", None), ("0 0 1 x *", None),
])
def test_cron_period(cron: str, days: float | None) -> None:
    assert cron_period_days(cron) == days


def test_tier_normalisation() -> None:
    assert normalise(" High-Risk ") == "high"
    assert normalise("prohibited") == "unacceptable"
    assert normalise("medium") is None


def test_read_eu_risk_tier_prefers_config_then_card(tmp_path: Path) -> None:
    card = "---\neu_ai_act:\n  risk_tier: limited\n---\n# Card\n"
    view = _view(tmp_path, {"README.md": card})
    assert read_eu_risk_tier(view) == ("limited", "README.md", 3)
    (tmp_path / ".mlposture.yaml").write_text("fail_on: high\neu_ai_act: {risk_tier: high}\n")
    assert read_eu_risk_tier(RepoView(tmp_path)) == ("high", ".mlposture.yaml", 2)


def test_read_eu_risk_tier_none_when_invalid_or_absent(tmp_path: Path) -> None:
    view = _view(tmp_path, {".mlposture.yaml": "eu_ai_act:\n  risk_tier: [high\n", "README.md": "# x\n"})
    assert read_eu_risk_tier(view) is None
    assert any(n.path == ".mlposture.yaml" and n.line == 3 and "not parsed (YAML)" in n.message for n in view.notes)


def test_rst_underlined_headings(tmp_path: Path) -> None:
    view = _view(tmp_path, {"docs/incident.rst": "Incident response\n=================\n\nContainment\n~~~~~~~~~~~\n"})
    f = view.get("docs/incident.rst")
    assert f is not None
    doc = parse_document(view, f)
    assert doc is not None
    assert [(h.text, h.line) for h in doc.headings] == [("Incident response", 1), ("Containment", 4)]
