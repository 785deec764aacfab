"""The overview's filters and sort order, read from the query string so that a link reproduces a view.

Filtering and sorting happen on the server: the page works without script, and the URL is the filter state
(``/?risk=Critical+Risk&gate=failed&dangerous=1&q=vision&sort=score&dir=asc``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from mlposture.dashboard.values import RISK_RANK, RISKS, RepoRow

MAX_QUERY = 200
FIXED_SORTS = ("repo", "score", "risk", "coverage", "lockml", "gate", "dangerous", "scanned", "delta")
DEFAULT_SORT = "score"


@dataclass(frozen=True)
class Filters:
    """The overview's view state."""

    risk: str = ""  # one of RISKS, "error", or "" for all
    gate_failed: bool = False
    dangerous: bool = False
    q: str = ""
    sort: str = DEFAULT_SORT  # a FIXED_SORTS key or "cat:<category id>"
    descending: bool = False

    @classmethod
    def from_query(cls, params: Mapping[str, str], category_ids: Sequence[str]) -> Filters:
        """Read the query string; unknown values fall back to the defaults instead of failing."""
        risk = params.get("risk", "")
        sort = params.get("sort", DEFAULT_SORT)
        if sort not in FIXED_SORTS and not (sort.startswith("cat:") and sort[4:] in category_ids):
            sort = DEFAULT_SORT
        return cls(risk=risk if risk in RISK_RANK or risk == "error" else "",
                   gate_failed=params.get("gate") == "failed", dangerous=params.get("dangerous") == "1",
                   q=params.get("q", "")[:MAX_QUERY].strip(), sort=sort, descending=params.get("dir") == "desc")

    @property
    def active(self) -> bool:
        """True when any filter narrows the list."""
        return bool(self.risk or self.gate_failed or self.dangerous or self.q)

    def query(self, **changes: Any) -> str:
        """The query string of this view with some values changed (for sort links and filter chips)."""
        state = {"risk": self.risk, "gate": "failed" if self.gate_failed else "",
                 "dangerous": "1" if self.dangerous else "", "q": self.q, "sort": self.sort,
                 "dir": "desc" if self.descending else ""}
        state.update({k: v for k, v in changes.items()})
        if state["sort"] == DEFAULT_SORT and not state["dir"]:
            state["sort"] = ""
        pairs = [(k, str(v)) for k, v in state.items() if v]
        return "?" + urlencode(pairs) if pairs else "?"

    def sort_link(self, key: str) -> str:
        """The link of a column header: sort by it, or flip the direction when it is already the sort."""
        if self.sort == key:
            return self.query(dir="" if self.descending else "desc")
        return self.query(sort=key, dir="")

    def matches(self, row: RepoRow) -> bool:
        """Does the row pass every filter?"""
        if self.risk == "error" and not row.error:
            return False
        if self.risk and self.risk != "error" and row.risk != self.risk:
            return False
        if self.gate_failed and row.gate_passed is not False:
            return False
        if self.dangerous and row.dangerous_artifacts <= 0:
            return False
        if self.q:
            needle = self.q.lower()
            hay = " ".join((row.repo, row.source, row.commit or "", row.risk or "", row.error or "")).lower()
            if needle not in hay:
                return False
        return True


def _key(row: RepoRow, sort: str) -> Any:
    if sort.startswith("cat:"):
        cell = row.category(sort[4:])
        return cell.score if cell is not None else None
    return {
        "repo": row.repo.lower(),
        "score": row.score,
        "risk": RISK_RANK.get(row.risk or "", None),
        "coverage": row.coverage,
        "lockml": row.lockml_score,
        "gate": None if row.gate_passed is None else int(row.gate_passed),
        "dangerous": row.dangerous_artifacts,
        "scanned": row.scanned_at,
        "delta": row.delta,
    }[sort]


def apply(rows: Sequence[RepoRow], filters: Filters) -> list[RepoRow]:
    """The rows that pass the filters, in the requested order; rows without a value sort last either way."""
    kept = [r for r in rows if filters.matches(r)]
    kept.sort(key=lambda r: r.repo.lower())
    valued = [r for r in kept if _key(r, filters.sort) is not None]
    missing = [r for r in kept if _key(r, filters.sort) is None]
    valued.sort(key=lambda r: _key(r, filters.sort), reverse=filters.descending)
    return valued + missing


@dataclass(frozen=True)
class Summary:
    """The figures above the table, over every repository (not only the filtered ones)."""

    repositories: int
    by_risk: tuple[tuple[str, int], ...]
    errors: int
    gate_failed: int
    with_dangerous: int
    dangerous_total: int
    mean_score: float | None
    dropped: int


def summarise(rows: Sequence[RepoRow]) -> Summary:
    """Counts by risk, gate failures, dangerous artifacts, the mean score and how many scores dropped."""
    scores = [r.score for r in rows if r.score is not None]
    return Summary(
        repositories=len(rows),
        by_risk=tuple((risk, sum(1 for r in rows if r.risk == risk)) for risk in RISKS),
        errors=sum(1 for r in rows if r.error),
        gate_failed=sum(1 for r in rows if r.gate_passed is False),
        with_dangerous=sum(1 for r in rows if r.dangerous_artifacts > 0),
        dangerous_total=sum(r.dangerous_artifacts for r in rows),
        mean_score=round(sum(scores) / len(scores), 1) if scores else None,
        dropped=sum(1 for r in rows if (r.delta or 0) < 0),
    )
