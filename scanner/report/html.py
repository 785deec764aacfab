"""HTML report: one self-contained file for reviewers and auditors.

Everything is inline (CSS, a small script, SVG pictures of the score and of the risk per category), so the file
opens offline and makes no request; a Content-Security-Policy in the page forbids any other source and allows only
the page's own script by hash. Every value that comes from the repository (paths, messages, answers) is escaped:
a scanned repository is hostile input and a report is opened in a browser.

The controls table filters by status, severity, category and free text; the filter state lives in the URL hash
(``#status=fail&severity=critical&category=data&q=kms``) so a link can open a filtered view.
"""

from __future__ import annotations

import base64
import hashlib
import math
from collections.abc import Iterable
from html import escape

from mlposture.scanner.probe import Severity
from mlposture.scanner.report.interface import NOT_COUNTED_TITLE, Writer, finding_location, location
from mlposture.scanner.report.markdown import answer_snippet
from mlposture.scanner.results import ControlResult, RecordedFinding, ScanResult, Status

RISK_COLOR = {
    "Secure": "#1a7f37",
    "Low Risk": "#4c9a2a",
    "Medium Risk": "#b58400",
    "High Risk": "#d4620b",
    "Critical Risk": "#c62828",
}
STATUS_LABEL = {
    Status.PASS: "pass",
    Status.PARTIAL: "partial",
    Status.FAIL: "fail",
    Status.UNVERIFIED: "unverified",
    Status.NOT_APPLICABLE: "not applicable",
}
SEVERITIES = [Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW, Severity.INFO]

CSS = """
:root{--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;--bg:#f6f8fa;--card:#fff;--accent:#0b5cad}
*{box-sizing:border-box}
body{margin:0;font:14px/1.5 -apple-system,"Segoe UI",Helvetica,Arial,sans-serif;color:var(--fg);background:var(--bg)}
header{background:#0d1b2a;color:#fff;padding:20px 32px}
header h1{margin:0 0 6px;font-size:22px;font-weight:600}
header dl{display:flex;flex-wrap:wrap;gap:4px 24px;margin:0;font-size:13px;color:#c9d3dd}
header dt{display:inline;font-weight:600;color:#fff}header dd{display:inline;margin:0 0 0 6px}
main{padding:24px 32px;max-width:1400px;margin:0 auto}
section{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:18px 22px;margin-bottom:20px}
h2{font-size:17px;margin:0 0 12px}
.overview{display:grid;grid-template-columns:260px 1fr;gap:28px;align-items:center}
.gauge-text{font-size:13px;color:var(--muted);text-align:center;margin-top:4px}
.kpis{display:flex;flex-wrap:wrap;gap:10px;margin-top:14px}
.kpi{border:1px solid var(--line);border-radius:6px;padding:6px 12px;min-width:92px}
.kpi b{display:block;font-size:18px}.kpi span{font-size:12px;color:var(--muted)}
.gate{padding:10px 14px;border-radius:6px;margin-bottom:10px;font-weight:600}
.gate.ok{background:#dafbe1;color:#116329}.gate.ko{background:#ffebe9;color:#a40e26}
.blockers li{margin:4px 0}.muted{color:var(--muted)}
.filters{display:flex;flex-wrap:wrap;gap:10px;margin-bottom:12px;align-items:center}
.filters select,.filters input{font:inherit;padding:5px 8px;border:1px solid var(--line);border-radius:6px;
background:#fff}
.filters input{min-width:260px}
table{width:100%;border-collapse:collapse}
th,td{text-align:left;vertical-align:top;padding:7px 8px;border-bottom:1px solid var(--line)}
th{background:var(--bg);font-size:12px;text-transform:uppercase;letter-spacing:.03em;color:var(--muted)}
td.id{white-space:nowrap;font-weight:600}
code{font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:var(--bg);padding:1px 4px;
border-radius:4px;word-break:break-all}
pre{background:#0d1b2a;color:#e6edf3;padding:12px;border-radius:6px;overflow:auto;font-size:12px}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600;white-space:nowrap}
.s-pass{background:#dafbe1;color:#116329}.s-partial{background:#fff8c5;color:#7d4e00}
.s-fail{background:#ffebe9;color:#a40e26}.s-unverified{background:#eaeef2;color:#424a53}
.s-not_applicable{background:#f6f8fa;color:#6e7781;border:1px solid var(--line)}
.v-critical{background:#a40e26;color:#fff}.v-high{background:#d4620b;color:#fff}
.v-medium{background:#b58400;color:#fff}.v-low{background:#57606a;color:#fff}.v-info{background:#8c959f;color:#fff}
details summary{cursor:pointer;color:var(--accent)}
ul.ev{margin:6px 0 0;padding-left:18px}ul.ev li{margin:2px 0}
.e-fail{color:#a40e26}.e-partial{color:#7d4e00}.e-pass{color:#116329}
.accepted{color:#6e7781;font-style:italic}
tr.hidden{display:none}
td.fp code{word-break:normal;white-space:nowrap}
td.loc{min-width:190px}
#count{color:var(--muted);font-size:13px}
footer{color:var(--muted);font-size:12px;text-align:center;padding:8px 0 24px}
"""

SCRIPT = """
(function(){
  var ids=["status","severity","category","q"];
  function el(id){return document.getElementById("f-"+id);}
  function apply(){
    var st=el("status").value,sv=el("severity").value,ct=el("category").value,q=el("q").value.toLowerCase().trim();
    var rows=document.querySelectorAll("#controls tbody tr"),shown=0;
    for(var i=0;i<rows.length;i++){
      var r=rows[i],d=r.dataset;
      var ok=(!st||d.status===st)&&(!sv||d.severity===sv)&&(!ct||d.category===ct)&&
             (!q||d.text.indexOf(q)!==-1);
      r.classList.toggle("hidden",!ok);
      if(ok){shown++;}
    }
    document.getElementById("count").textContent=shown+" of "+rows.length+" controls shown";
    document.getElementById("no-match").hidden=shown!==0;
    var parts=[];
    ids.forEach(function(k){var v=el(k).value;if(v){parts.push(k+"="+encodeURIComponent(v));}});
    var h=parts.length?"#"+parts.join("&"):"";
    if(location.hash!==h&&history.replaceState){history.replaceState(null,"",h||location.pathname);}
  }
  function fromHash(){
    var h=location.hash.replace(/^#/,"");
    ids.forEach(function(k){el(k).value="";});
    h.split("&").forEach(function(p){
      var kv=p.split("=");
      if(kv.length===2&&ids.indexOf(kv[0])!==-1){
        var v=decodeURIComponent(kv[1].replace(/\\+/g," "));var e=el(kv[0]);
        if(e.tagName==="SELECT"){
          for(var i=0;i<e.options.length;i++){if(e.options[i].value===v){e.value=v;}}
        }else{e.value=v;}
      }
    });
    apply();
  }
  ids.forEach(function(k){el(k).addEventListener(k==="q"?"input":"change",apply);});
  window.addEventListener("hashchange",fromHash);
  document.body.setAttribute("data-ready","1");
  fromHash();
})();
"""


def e(value: object) -> str:
    """HTML-escaped text (quotes too, so it is safe in attributes)."""
    return escape(str(value), quote=True)


def _color(risk: str) -> str:
    return RISK_COLOR.get(risk, "#57606a")


def score_gauge(score: float, risk: str) -> str:
    """An SVG ring showing the overall score out of 100."""
    radius, width = 88.0, 18.0
    circumference = 2 * math.pi * radius
    filled = max(0.0, min(100.0, score)) / 100 * circumference
    color = _color(risk)
    return (
        f'<svg id="score-gauge" role="img" aria-label="Score {e(score)} out of 100, {e(risk)}" width="220" '
        f'height="220" viewBox="0 0 220 220" xmlns="http://www.w3.org/2000/svg">'
        f'<circle cx="110" cy="110" r="{radius}" fill="none" stroke="#eaeef2" stroke-width="{width}"/>'
        f'<circle cx="110" cy="110" r="{radius}" fill="none" stroke="{color}" stroke-width="{width}" '
        f'stroke-linecap="round" stroke-dasharray="{filled:.2f} {circumference:.2f}" '
        f'transform="rotate(-90 110 110)"/>'
        f'<text x="110" y="112" text-anchor="middle" font-size="46" font-weight="700" fill="#1f2328" '
        f'font-family="Helvetica,Arial,sans-serif">{e(score)}</text>'
        f'<text x="110" y="140" text-anchor="middle" font-size="14" fill="#59636e" '
        f'font-family="Helvetica,Arial,sans-serif">out of 100</text>'
        f'<text x="110" y="166" text-anchor="middle" font-size="15" font-weight="600" fill="{color}" '
        f'font-family="Helvetica,Arial,sans-serif">{e(risk)}</text></svg>'
    )


def category_chart(result: ScanResult) -> str:
    """An SVG bar chart: one bar per category, its length the category score, its colour the risk."""
    cats = result.scores.categories
    label_w, bar_w, row_h, top = 230, 420, 34, 8
    height = top + row_h * len(cats) + 8
    out = [f'<svg id="category-risk" role="img" aria-label="Risk per category" width="100%" '
           f'viewBox="0 0 {label_w + bar_w + 170} {height}" xmlns="http://www.w3.org/2000/svg" '
           f'font-family="Helvetica,Arial,sans-serif">']
    for i, c in enumerate(cats):
        y = top + i * row_h
        length = max(0.0, min(100.0, c.score)) / 100 * bar_w
        color = _color(c.risk)
        out.append(
            f'<g class="cat" data-category="{e(c.id)}" data-risk="{e(c.risk)}">'
            f'<text x="0" y="{y + 19}" font-size="14" fill="#1f2328">{e(c.name)}</text>'
            f'<rect x="{label_w}" y="{y + 4}" width="{bar_w}" height="20" rx="4" fill="#eaeef2"/>'
            f'<rect x="{label_w}" y="{y + 4}" width="{length:.1f}" height="20" rx="4" fill="{color}"/>'
            f'<text x="{label_w + bar_w + 10}" y="{y + 19}" font-size="14" font-weight="600" fill="{color}">'
            f'{e(c.score)} · {e(c.risk)}</text></g>'
        )
    out.append("</svg>")
    return "".join(out)


def _badge(status: Status) -> str:
    return f'<span class="badge s-{status.value}">{e(STATUS_LABEL[status])}</span>'


def _sev(severity: Severity) -> str:
    return f'<span class="badge v-{severity.value}">{e(severity.value)}</span>'


def _evidence_list(r: ControlResult) -> str:
    items = []
    for rec in r.evidence[:200]:
        ev = rec.evidence
        rule = f", {ev.rule}" if ev.rule else ""
        items.append(f'<li class="e-{ev.effect.value}"><b>{e(ev.effect.value)}</b> '
                     f'<code>{e(location(ev.path, ev.line))}</code> {e(ev.message)} '
                     f'<span class="muted">({e(rec.probe)}{e(rule)})</span></li>')
    if len(r.evidence) > 200:
        items.append(f"<li>... and {len(r.evidence) - 200} more (see the JSON report)</li>")
    return f'<ul class="ev">{"".join(items)}</ul>' if items else ""


def _control_row(r: ControlResult, category: str) -> str:
    c = r.control
    details: list[str] = []
    if r.evidence:
        details.append(_evidence_list(r))
    if r.answer is not None:
        a = r.answer
        details.append(f"<p>Answer: <b>{e(a.status)}</b> by {e(a.by)} on {e(a.date)}"
                       + (f", evidence: <code>{e(a.evidence)}</code>" if a.evidence else "")
                       + (f". {e(a.note)}" if a.note else "") + "</p>")
    if r.contradiction:
        details.append(f"<p><b>Contradiction:</b> {e(r.contradiction)}</p>")
    elif r.reason:
        details.append(f'<p class="muted">{e(r.reason)}</p>')
    if r.status in (Status.FAIL, Status.PARTIAL, Status.UNVERIFIED):
        details.append(f"<p><b>How to fix:</b> {e(c.remediation)}</p>")
    if r.status is Status.UNVERIFIED and c.evidence:
        details.append(f"<p><b>Evidence that would verify it:</b> {e('; '.join(c.evidence))}</p>")
    maps = [f"{k}: {', '.join(v)}" for k, v in c.mappings.as_dict().items() if v]
    if maps:
        details.append(f'<p class="muted">Mappings: {e(" · ".join(maps))}</p>')
    summary = (r.evidence[0].evidence.message if r.evidence else r.reason or "") or STATUS_LABEL[r.status]
    text = " ".join([c.id, c.title, category, r.status.value, c.severity.value, summary]
                    + [f"{x.evidence.path or ''} {x.evidence.message}" for x in r.evidence[:50]]).lower()
    return (
        f'<tr data-status="{e(r.status.value)}" data-severity="{e(c.severity.value)}" '
        f'data-category="{e(c.category)}" data-text="{e(text)}" id="control-{e(c.id)}">'
        f'<td class="id">{e(c.id)}</td><td>{e(c.title)}</td><td>{e(category)}</td><td>{_sev(c.severity)}</td>'
        f"<td>{_badge(r.status)}</td>"
        f"<td><details><summary>{e(summary[:160])}</summary>{''.join(details)}</details></td></tr>"
    )


def _options(values: Iterable[tuple[str, str]], label: str) -> str:
    opts = [f'<option value="">{e(label)}</option>'] + [f'<option value="{e(v)}">{e(t)}</option>' for v, t in values]
    return "".join(opts)


def _finding_row(f: RecordedFinding, apart: bool = False) -> str:
    x = f.finding
    msg = e(x.message)
    if f.accepted is not None:
        a = f.accepted
        msg += f'<br><span class="accepted">accepted by {e(a.by)} on {e(a.date)}: {e(a.reason)}</span>'
    lead = f"<td>{e(f.context)}</td>" if apart else ""
    return (f'<tr data-severity="{e(x.severity.value)}">{lead}<td>{_sev(x.severity)}</td>'
            f'<td class="fp"><code>{e(x.rule)}</code></td>'
            f'<td class="loc"><code>{e(finding_location(x.path, x.lines))}</code></td><td>{msg}</td>'
            f"<td>{e(', '.join(x.controls))}</td>"
            f'<td class="fp"><code>{e(f.fingerprint[:16])}</code></td></tr>')


class HtmlWriter(Writer):
    """``--format html``."""

    name = "html"
    extension = "html"

    def render(self, result: ScanResult) -> str:
        """The whole page."""
        script = SCRIPT.strip()
        digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
        csp = (f"default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src 'sha256-{digest}'; "
               "base-uri 'none'; form-action 'none'")
        body = [self._header(result), "<main>", self._overview(result), self._gate(result),
                self._controls(result), self._findings(result), self._manual(result), self._diagnostics(result),
                "</main>",
                f"<footer>mlposture {e(result.tool_version)} · generated {e(result.generated_at)} · "
                "self-contained report, no external resources</footer>"]
        return (
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f'<meta http-equiv="Content-Security-Policy" content="{e(csp)}">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            '<meta name="referrer" content="no-referrer">'
            f"<title>mlposture report: {e(result.target.url or result.target.path)}</title>"
            f"<style>{CSS}</style></head><body>\n" + "\n".join(body)
            + f"\n<script>{script}</script>\n</body></html>\n"
        )

    def _header(self, result: ScanResult) -> str:
        t = result.target
        git = t.git
        commit = "not a git repository"
        if git is not None:
            commit = (git.commit or "none")[:12] + (f" on {git.ref}" if git.ref else "")
            if git.dirty:
                commit += " (uncommitted changes)"
        target = (t.url or t.path) + (f" at {t.ref}" if t.ref else "")
        return (f"<header><h1>mlposture security report</h1><dl><div><dt>Target</dt><dd>{e(target)}</dd></div>"
                f"<div><dt>Commit</dt><dd>{e(commit)}</dd></div>"
                f"<div><dt>Generated</dt><dd>{e(result.generated_at)}</dd></div>"
                f"<div><dt>Tool</dt><dd>mlposture {e(result.tool_version)}</dd></div></dl></header>")

    def _overview(self, result: ScanResult) -> str:
        s = result.scores
        counts = {st: sum(1 for r in result.controls if r.status is st) for st in Status}
        kpis = "".join(f'<div class="kpi" data-kpi="{st.value}"><b>{counts[st]}</b><span>{e(STATUS_LABEL[st])}'
                       f"</span></div>" for st in Status)
        kpis += (f'<div class="kpi"><b>{round(s.coverage * 100)}%</b><span>coverage</span></div>'
                 f'<div class="kpi"><b>{e(s.lockml_score)}</b><span>LockML view ({e(s.lockml_risk)})</span></div>'
                 f'<div class="kpi"><b>{sum(1 for f in result.findings if f.counted)}</b><span>findings</span></div>')
        return (f'<section id="overview"><h2>Score and risk per category</h2><div class="overview">'
                f'<div><div id="score" data-score="{e(s.score)}" data-risk="{e(s.risk)}">'
                f"{score_gauge(s.score, s.risk)}</div>"
                f'<div class="gauge-text">Overall score: {e(s.score)}/100, {e(s.risk)}</div></div>'
                f"<div>{category_chart(result)}<div class=\"kpis\">{kpis}</div></div></div></section>")

    def _gate(self, result: ScanResult) -> str:
        g = result.gate
        verdict = (f'<div class="gate ok">Gate passed (--fail-on {e(g.fail_on)})</div>' if g.passed
                   else f'<div class="gate ko">Gate FAILED (--fail-on {e(g.fail_on)})</div>')
        items = [f"<li><b>{e(b.id)}</b> [{e(b.severity or 'score')}] {e(b.message)}<br>"
                 f'<span class="muted">To unblock: {e(b.unblock)}</span></li>' for b in g.blockers]
        items += [f'<li class="muted">warning: {e(w)}</li>' for w in g.warnings]
        items += [f"<li><b>{e(r.describe())}</b></li>" for r in result.repo_config]
        lst = f'<ul class="blockers">{"".join(items)}</ul>' if items else (
            '<p class="muted">Nothing at or above the threshold blocks.</p>')
        return f'<section id="gate"><h2>CI gate</h2>{verdict}{lst}</section>'

    def _controls(self, result: ScanResult) -> str:
        names = {c.id: c.name for c in result.catalog.categories}
        rows = "".join(_control_row(r, names.get(r.control.category, r.control.category)) for r in result.controls)
        present = {r.control.severity for r in result.controls}
        filters = (
            '<div class="filters" role="search">'
            f'<select id="f-status" aria-label="Status">{_options(((s.value, STATUS_LABEL[s]) for s in Status), "All statuses")}</select>'  # noqa: E501
            f'<select id="f-severity" aria-label="Severity">'
            f'{_options(((s.value, s.value) for s in SEVERITIES if s in present), "All severities")}</select>'
            f'<select id="f-category" aria-label="Category">'
            f'{_options(((c.id, c.name) for c in result.catalog.categories), "All categories")}</select>'
            '<input id="f-q" type="search" placeholder="Search id, title, path, message" aria-label="Search">'
            '<span id="count"></span></div>'
        )
        return (f'<section id="controls-section"><h2>Controls ({len(result.controls)})</h2>{filters}'
                '<table id="controls"><thead><tr><th>Id</th><th>Control</th><th>Category</th><th>Severity</th>'
                f"<th>Status</th><th>Evidence and reason</th></tr></thead><tbody>{rows}</tbody></table>"
                '<p id="no-match" class="muted" hidden>No control matches these filters.</p></section>')

    def _findings(self, result: ScanResult) -> str:
        counted = [f for f in result.findings if f.counted]
        apart = [f for f in result.findings if not f.counted]
        head = ("<th>Severity</th><th>Rule</th><th>Location</th><th>Message</th><th>Controls</th>"
                "<th>Fingerprint</th>")
        if counted:
            rows = "".join(_finding_row(f) for f in counted[:2000])
            more = (f'<p class="muted">... and {len(counted) - 2000} more in the JSON report.</p>'
                    if len(counted) > 2000 else "")
            main = (f'<section id="findings"><h2>Findings ({len(counted)})</h2><table><thead><tr>{head}</tr></thead>'
                    f"<tbody>{rows}</tbody></table>{more}</section>")
        else:
            main = '<section id="findings"><h2>Findings (0)</h2><p class="muted">No findings.</p></section>'
        if not apart:
            return main
        rows = "".join(_finding_row(f, True) for f in apart[:2000])
        return (f'{main}<section id="not-counted"><h2>{e(NOT_COUNTED_TITLE)} ({len(apart)})</h2>'
                f'<p class="muted">Outside the counted contexts ({e(", ".join(result.counted_contexts))}): they fail '
                "no control and do not block the gate; <code>--context</code> counts them.</p>"
                f"<table><thead><tr><th>Context</th>{head}</tr></thead><tbody>{rows}</tbody></table></section>")

    def _manual(self, result: ScanResult) -> str:
        pending = sorted((r for r in result.controls if r.status is Status.UNVERIFIED),
                         key=lambda r: -r.control.severity.rank)
        if not pending:
            return '<section id="manual"><h2>Needs a manual answer (0)</h2><p>Every control was decided.</p></section>'
        items = "".join(f"<li><b>{e(r.control.id)}</b> {_sev(r.control.severity)} {e(r.control.title)}</li>"
                        for r in pending)
        yaml = "version: 1\nanswers:\n" + answer_snippet(pending)
        return (f'<section id="manual"><h2>Needs a manual answer ({len(pending)})</h2><ul>{items}</ul>'
                "<p>Answer them with <code>mlposture answer</code>, or paste this into "
                f"<code>.mlposture/answers.yaml</code> and edit:</p><pre>{e(yaml)}</pre></section>")

    def _diagnostics(self, result: ScanResult) -> str:
        rows = "".join(
            f"<tr><td>{e(p.info.name)}</td><td>{e(p.info.version)}</td>"
            f"<td>{'ok' if p.ok else '<b>error</b>: ' + e(p.error)}</td><td>{p.seconds:.2f}</td></tr>"
            for p in result.probes)
        rows += "".join(f"<tr><td>{e(x.name)}</td><td></td><td><b>not loaded</b>: {e(x.error)}</td><td></td></tr>"
                        for x in result.load_errors)
        out = [f'<section id="probes"><h2>Probes</h2><table><thead><tr><th>Probe</th><th>Version</th>'
               f"<th>Status</th><th>Seconds</th></tr></thead><tbody>{rows}</tbody></table>"]
        if result.warnings:
            out.append("<h2>Warnings</h2><ul>" + "".join(f"<li>{e(w)}</li>" for w in result.warnings) + "</ul>")
        if result.notes:
            notes = "".join(f"<li><code>{e(location(n.path, n.line))}</code> {e(n.message)}</li>"
                            for n in result.notes[:500])
            more = f"<li>... and {len(result.notes) - 500} more</li>" if len(result.notes) > 500 else ""
            out.append(f"<h2>Notes ({len(result.notes)})</h2><details><summary>Files that contributed nothing "
                       f"because they could not be read or parsed</summary><ul>{notes}{more}</ul></details>")
        out.append("</section>")
        return "".join(out)
