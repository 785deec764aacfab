"""What each page shows, gathered from the fleet database into template values (no HTML here)."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from mlposture.dashboard import charts, overview
from mlposture.dashboard.data import FleetData
from mlposture.dashboard.reportview import result_from_report
from mlposture.scanner.catalog import Catalog, load_catalog
from mlposture.scanner.diff import ReportDiff, diff_reports
from mlposture.scanner.report.registry import writer_for
from mlposture.scanner.results import ScanResult, Status

STATUSES = ("fail", "unverified", "partial", "pass", "not_applicable")
PROBLEM_ORDER = {Status.FAIL: 0, Status.UNVERIFIED: 1, Status.PARTIAL: 2}
MAX_FINDINGS_SHOWN = 500
TOP_CONTROLS = 8
TOP_DROPS = 5


@functools.lru_cache(maxsize=1)
def catalog() -> Catalog:
    """The built-in control catalog (control text, mappings and categories)."""
    return load_catalog()


def overview_context(data: FleetData, params: Mapping[str, str]) -> dict[str, Any]:
    """The overview: every repository x category heatmap, filtered and sorted as the URL says."""
    snapshot = data.snapshot()
    rows = snapshot.rows
    cats = catalog().categories
    filters = overview.Filters.from_query(params, [c.id for c in cats])
    shown = overview.apply(rows, filters)
    summary = overview.summarise(rows)
    counts = snapshot.control_counts
    failing = sorted(((cid, c.get("fail", 0), c.get("unverified", 0)) for cid, c in counts.items()
                      if c.get("fail", 0)), key=lambda t: (-t[1], t[0]))[:TOP_CONTROLS]
    top = [(cid, catalog().get(cid), fails, unverified) for cid, fails, unverified in failing]
    drops = sorted((r for r in rows if (r.delta or 0) < 0), key=lambda r: (r.delta or 0, r.repo))[:TOP_DROPS]
    return {"rows": shown, "total": len(rows), "filters": filters, "categories": cats, "summary": summary,
            "risk_bar": charts.risk_distribution(summary.by_risk), "top_failing": top, "drops": drops}


def _latest_result(data: FleetData, scan_id: int | None) -> tuple[dict[str, Any] | None, ScanResult | None]:
    if scan_id is None:
        return None, None
    report = data.report(scan_id)
    return report, (result_from_report(report, catalog()) if report is not None else None)


def _changes(data: FleetData, scans: list[Any], latest_id: int | None,
             latest: dict[str, Any] | None) -> tuple[ReportDiff | None, Any]:
    """The diff between the latest scan with a report and the one before it (None when there is no earlier one)."""
    ok = [s for s in scans if s.error is None]
    if latest is None or len(ok) < 2 or ok[-1].id != latest_id:
        return None, None
    before = data.report(ok[-2].id)
    if before is None:
        return None, None
    try:
        return diff_reports(before, latest), ok[-2]
    except (KeyError, TypeError, AttributeError):  # an imported report without the fields a diff needs
        return None, ok[-2]


def repo_context(data: FleetData, name: str) -> dict[str, Any] | None:
    """One repository: history chart, categories, problems with evidence, findings, changes, the full report."""
    row = data.repo(name)
    if row is None:
        return None
    scans = data.scans(name)
    report, result = _latest_result(data, row.scan_id)
    diff, previous = _changes(data, scans, row.scan_id, report)
    problems = []
    if result is not None:
        problems = sorted((r for r in result.controls if r.status in PROBLEM_ORDER),
                          key=lambda r: (PROBLEM_ORDER[r.status], -r.control.severity.rank, r.control.id))
    cells = [(c.name, c.score, c.risk) for c in row.categories]
    return {
        "row": row, "scans": scans, "result": result,
        "failing": [r for r in problems if r.status is not Status.UNVERIFIED],
        "unverified": [r for r in problems if r.status is Status.UNVERIFIED],
        "findings": result.findings[:MAX_FINDINGS_SHOWN] if result is not None else (),
        "history": charts.score_history(scans), "category_bars": charts.category_bars(cells) if cells else None,
        "diff": diff, "previous": previous, "latest_scan": next((s for s in scans if s.id == row.scan_id), None),
    }


def report_html(data: FleetData, name: str, scan: str | None) -> str | None:
    """The scanner's own HTML report of the latest (or the given) scan of a repository."""
    scans = data.scans(name)
    if scan is not None:
        chosen = next((s for s in scans if str(s.id) == scan and s.error is None), None)
    else:
        chosen = next((s for s in reversed(scans) if s.error is None), None)
    if chosen is None:
        return None
    _report, result = _latest_result(data, chosen.id)
    return writer_for("html").render(result) if result is not None else None


def controls_context(data: FleetData) -> dict[str, Any]:
    """Every control of the catalog with how many repositories fail, partially meet or cannot verify it."""
    counts = data.control_counts()
    cats = {c.id: c.name for c in catalog().categories}
    rows = [(c, cats.get(c.category, c.category), counts.get(c.id, {})) for c in catalog()]
    rows.sort(key=lambda t: (-t[2].get("fail", 0), -t[2].get("unverified", 0), -t[0].severity.rank, t[0].id))
    return {"rows": rows, "statuses": STATUSES}


def control_context(data: FleetData, control_id: str, params: Mapping[str, str]) -> dict[str, Any] | None:
    """One control: its text and mappings, and every repository's status for it with evidence."""
    cid = control_id.upper()
    control = catalog().get(cid)
    statuses = data.control_statuses(cid)
    if control is None and not statuses:
        return None
    counts = {s: sum(1 for r in statuses if r.status == s) for s in STATUSES}
    wanted = params.get("status", "")
    shown = [r for r in statuses if not wanted or r.status == wanted] if wanted in STATUSES else statuses
    order = {s: i for i, s in enumerate(STATUSES)}
    shown = sorted(shown, key=lambda r: (order.get(r.status, 9), r.repo.lower()))
    category = catalog().category(control.category) if control is not None else None
    return {"control_id": cid, "control": control, "category": category, "statuses": shown, "counts": counts,
            "status_filter": wanted if wanted in STATUSES else "", "all_statuses": STATUSES}
