"""Charts drawn on the server as SVG: no chart library, no script, nothing fetched, so the page works air-gapped.

Every label that came from the database is escaped here; the templates insert the result as markup.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Protocol

from markupsafe import Markup

from mlposture.dashboard.values import RISKS, risk_slug

# Same palette as the scanner's HTML report, so a risk has one colour everywhere.
RISK_COLOR = {
    "Secure": "#1a7f37",
    "Low Risk": "#4c9a2a",
    "Medium Risk": "#b58400",
    "High Risk": "#d4620b",
    "Critical Risk": "#c62828",
}
BANDS = ((90.0, 100.0, "Secure"), (70.0, 90.0, "Low Risk"), (50.0, 70.0, "Medium Risk"), (30.0, 50.0, "High Risk"),
         (0.0, 30.0, "Critical Risk"))
FONT = 'font-family="Helvetica,Arial,sans-serif"'


class ScanPoint(Protocol):
    """What the history chart needs of a stored scan (the fleet store's scan summary has it)."""

    @property
    def id(self) -> int: ...
    @property
    def commit(self) -> str | None: ...
    @property
    def finished_at(self) -> str | None: ...
    @property
    def score(self) -> float | None: ...
    @property
    def risk(self) -> str | None: ...
    @property
    def error(self) -> str | None: ...


def e(value: object) -> str:
    """Escaped text, quotes included (safe inside attributes)."""
    return escape(str(value), quote=True)


def score_history(scans: Sequence[ScanPoint]) -> Markup:
    """A line of the score of every stored scan, oldest first, over the five risk bands.

    Scans are spaced evenly (a fleet rescans at irregular intervals; even spacing keeps every point readable).
    A scan that failed has no score: it is drawn as a cross on the axis.
    """
    width, height, left, right, top, bottom = 760, 240, 44, 16, 14, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    n = len(scans)

    def x(i: int) -> float:
        return left + (plot_w / 2 if n == 1 else plot_w * i / (n - 1))

    def y(score: float) -> float:
        return top + plot_h * (1 - max(0.0, min(100.0, score)) / 100)

    out = [f'<svg id="score-history" class="chart" role="img" aria-label="Score of each of the {n} stored scans" '
           f'viewBox="0 0 {width} {height}" width="100%" xmlns="http://www.w3.org/2000/svg" {FONT}>']
    for low, high, risk in BANDS:
        out.append(f'<rect x="{left}" y="{y(high):.1f}" width="{plot_w}" height="{y(low) - y(high):.1f}" '
                   f'fill="{RISK_COLOR[risk]}" fill-opacity="0.07"/>')
    for tick in (0, 30, 50, 70, 90):
        out.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" stroke="#d1d9e0" '
                   f'stroke-width="1"/><text x="{left - 8}" y="{y(tick) + 4:.1f}" font-size="11" fill="#59636e" '
                   f'text-anchor="end">{tick}</text>')
    scored = [(i, s) for i, s in enumerate(scans) if s.score is not None]
    if len(scored) > 1:
        path = " ".join(f"{'M' if k == 0 else 'L'}{x(i):.1f},{y(s.score or 0):.1f}" for k, (i, s) in enumerate(scored))
        out.append(f'<path d="{path}" fill="none" stroke="#0b5cad" stroke-width="2.5" stroke-linejoin="round"/>')
    label_every = max(1, n // 8)
    for i, s in enumerate(scans):
        when = s.finished_at or ""
        if i % label_every == 0 or i == n - 1:
            anchor = "start" if i == 0 and n > 1 else ("end" if i == n - 1 and n > 1 else "middle")
            out.append(f'<text x="{x(i):.1f}" y="{height - 12}" font-size="11" fill="#59636e" text-anchor="{anchor}">'
                       f"{e(when[:10])}</text>")
        commit = (s.commit or "")[:12]
        if s.score is None:
            cx, cy = x(i), y(0)
            out.append(f'<g class="failed-scan" data-scan="{s.id}"><title>{e(when)} {e(commit)}: scan failed: '
                       f'{e((s.error or "")[:200])}</title><path d="M{cx - 5:.1f},{cy - 5:.1f} l10,10 m0,-10 l-10,10" '
                       f'stroke="#a40e26" stroke-width="2.5"/></g>')
            continue
        color = RISK_COLOR.get(s.risk or "", "#57606a")
        out.append(f'<circle class="point" data-scan="{s.id}" data-score="{e(s.score)}" cx="{x(i):.1f}" '
                   f'cy="{y(s.score):.1f}" r="5" fill="{color}" stroke="#fff" stroke-width="2">'
                   f"<title>{e(when)} {e(commit)}: {e(s.score)} ({e(s.risk or '')})</title></circle>")
    out.append("</svg>")
    return Markup("".join(out))


def risk_distribution(by_risk: Sequence[tuple[str, int]]) -> Markup:
    """One horizontal bar split by risk, widest first in the checklist's order (Critical to Secure)."""
    total = sum(n for _, n in by_risk)
    width, height = 600, 22
    out = [f'<svg id="risk-bar" class="bar" role="img" aria-label="Repositories by risk" viewBox="0 0 {width} '
           f'{height}" width="100%" height="{height}" preserveAspectRatio="none" xmlns="http://www.w3.org/2000/svg">']
    if total == 0:
        out.append(f'<rect x="0" y="0" width="{width}" height="{height}" rx="4" fill="#eaeef2"/>')
    pos = 0.0
    for risk, n in by_risk:
        if n == 0:
            continue
        w = width * n / total
        out.append(f'<rect class="seg r-{risk_slug(risk)}" x="{pos:.2f}" y="0" width="{w:.2f}" height="{height}" '
                   f'fill="{RISK_COLOR.get(risk, "#57606a")}"><title>{e(risk)}: {n}</title></rect>')
        pos += w
    out.append("</svg>")
    return Markup("".join(out))


def category_bars(cells: Sequence[tuple[str, float | None, str | None]]) -> Markup:
    """Bars of the category scores of one scan (name, score, risk)."""
    label_w, bar_w, row_h = 170, 250, 34
    height = row_h * len(cells) + 6
    out = [f'<svg id="category-bars" class="chart" role="img" aria-label="Score per category" '
           f'viewBox="0 0 {label_w + bar_w + 130} {height}" width="100%" xmlns="http://www.w3.org/2000/svg" {FONT}>']
    for i, (name, score, risk) in enumerate(cells):
        y = i * row_h + 4
        length = max(0.0, min(100.0, score or 0.0)) / 100 * bar_w
        color = RISK_COLOR.get(risk or "", "#57606a")
        label = f"{score} · {risk}" if score is not None else "no score"
        out.append(f'<text x="0" y="{y + 16}" font-size="14" fill="#1f2328">{e(name)}</text>'
                   f'<rect x="{label_w}" y="{y + 3}" width="{bar_w}" height="18" rx="4" fill="#eaeef2"/>'
                   f'<rect x="{label_w}" y="{y + 3}" width="{length:.1f}" height="18" rx="4" fill="{color}"/>'
                   f'<text x="{label_w + bar_w + 10}" y="{y + 16}" font-size="14" font-weight="600" '
                   f'fill="{color}">{e(label)}</text>')
    out.append("</svg>")
    return Markup("".join(out))


def legend() -> Markup:
    """The risk colours, for the heatmap."""
    items = "".join(f'<span class="legend-item"><span class="swatch r-{risk_slug(r)}"></span>{e(r)}</span>'
                    for r in RISKS)
    return Markup(f'<span class="legend">{items}</span>')
