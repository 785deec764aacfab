"""Document controls: MON-05 incident response, MON-09 compliance file, MON-10 communication plan,
MON-12 conformity records, MON-13 technical documentation and declared metrics.

Each document is scored on its required sections (a heading, or a ``**Label:**``/list/table label line, matching
the section); evidence names which were found (with lines) and which were missing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from datetime import date

from mlposture.probes.monitoring.finder import DocCache, by_name, documents, norm
from mlposture.probes.monitoring.freshness import date_of
from mlposture.probes.monitoring.gitdates import GitDates
from mlposture.scanner.probe import Effect, Evidence, ProbeItem, Searched
from mlposture.scanner.repo import RepoView
from mlposture.scanner.sources.markdown import Document, Section, SectionMatch, describe


def _s(name: str, rx: str) -> Section:
    return Section(name, re.compile(rx, re.IGNORECASE))


PHASES = (
    _s("detection", r"\b(detect|identif|triage|alerting)"),
    _s("containment", r"\b(contain|isolat|immediate (response|action))"),
    _s("analysis", r"\b(analy[sz]|investigat|forensic|root[- ]cause)"),
    _s("remediation", r"\b(remediat|recover|eradicat|restor)"),
    _s("communication", r"\b(communicat|notif|stakeholder|escalat)"),
)
SCENARIOS = (
    _s("data poisoning", r"\b(poison|backdoor)"),
    _s("model theft/extraction", r"\b(model (theft|extraction|stealing)|extraction attack|stolen model|"
                                 r"model exfiltration)"),
    _s("adversarial attack", r"\b(adversarial|evasion attack)"),
    _s("model rollback", r"\broll[- ]?back"),
    _s("drift", r"\bdrift"),
    _s("prompt injection", r"\b(prompt[- ]injection|jailbreak)"),
)
IR_NAME = re.compile(r"(incident|(^|/)runbooks?/|(^|/)playbooks?/)")
IR_TITLE = re.compile(r"(?i)incident")


def _lines_matching(doc: Document, sections: Sequence[Section]) -> tuple[SectionMatch, ...]:
    return tuple(SectionMatch(s.name, doc.first_line(s.pattern), "text") for s in sections)


def _found(matches: Sequence[SectionMatch]) -> int:
    return sum(1 for m in matches if m.line is not None)


def incident_response(repo: RepoView, cache: DocCache) -> Iterator[ProbeItem]:
    """MON-05: five phases + >= 2 ML scenarios = pass, else partial listing what is missing."""
    docs = documents(repo)
    candidates = [d for d in (cache.get(f) for f in by_name(docs, IR_NAME)) if d is not None]
    security = [d for d in (cache.get(f) for f in docs if f.name.lower() in ("security.md", "security.rst"))
                if d is not None]
    emitted = False
    for doc in candidates + security:
        phases = doc.coverage(PHASES)
        if doc in security and not any(IR_TITLE.search(h.text) for h in doc.headings) and _found(phases) < 2:
            continue
        scen = _lines_matching(doc, SCENARIOS)
        n_ph, n_sc = _found(phases), _found(scen)
        effect = Effect.PASS if n_ph == 5 and n_sc >= 2 else Effect.PARTIAL
        line = next((m.line for m in phases if m.line is not None), 1)
        msg = (f"incident-response document: {n_ph}/5 phases ({describe(phases)}); {n_sc} ML scenarios "
               f"({describe(scen)})")
        if effect is Effect.PARTIAL:
            msg += "; pass needs all five phases and at least two ML scenarios"
        emitted = True
        yield Evidence("MON-05", effect, msg, doc.path, line, "monitoring.incident-playbook")
    if not emitted:
        yield Searched("MON-05", "incident-response documents (INCIDENT_RESPONSE*, docs/**/incident*, runbooks/, "
                                 "playbooks/, SECURITY.md with an incident section), scored on detection, "
                                 "containment, analysis, remediation, communication and ML scenarios")


COMMS = (
    _s("escalation path", r"\b(escalat|on[- ]call|contact (list|matrix)|point of contact)"),
    _s("notification template", r"\btemplate"),
    _s("regulator reporting", r"(market[- ]surveillance|competent authorit|national authorit|"
                              r"art(icle|\.)?\s*73)"),
    _s("15-day deadline", r"\b(15|fifteen)\s*(calendar\s*)?days?\b"),
    _s("2-day deadline", r"\b((2|two)\s*(calendar\s*)?days?|48\s*hours)\b"),
    _s("10-day deadline", r"\b(10|ten)\s*(calendar\s*)?days?\b"),
)
TEMPLATE_PATH = re.compile(r"(^|/)templates?/.*notif")
COMMS_NAME = re.compile(r"(communicat|escalat|notification|serious-incident|incident-report|stakeholder)")


def communication(repo: RepoView, cache: DocCache) -> Iterator[ProbeItem]:
    """MON-10: escalation, templates, regulator reporting and the Art. 73 clocks (15/2/10 days)."""
    docs = documents(repo)
    named = by_name(docs, COMMS_NAME)
    files = named + [f for f in by_name(docs, IR_NAME) if f not in named]
    templates = [f for f in repo.files if "notif" in (low := f.path.lower()) and TEMPLATE_PATH.search(low)]
    emitted = False
    for f in files:
        doc = cache.get(f)
        if doc is None:
            continue
        items = list(_lines_matching(doc, COMMS))
        if items[1].line is None and templates:
            items[1] = SectionMatch("notification template", 1, "file")
        n = _found(items)
        if n == 0 or (f not in named and n < 2):
            continue
        effect = Effect.PASS if n == len(COMMS) else Effect.PARTIAL
        msg = f"communication plan: {n}/{len(COMMS)} items ({describe(items)})"
        if items[1].via == "file":
            msg += f"; template file {templates[0].path}"
        emitted = True
        line = next((m.line for m in items if m.line is not None and m.via != "file"), 1)
        yield Evidence("MON-10", effect, msg, doc.path, line, "monitoring.communication-plan")
    if not emitted:
        yield Searched("MON-10", "communication/escalation/notification/serious-incident documents and "
                                 "incident-response documents naming escalation paths, notification templates, "
                                 "the market-surveillance authority (Art. 73) and the 15/2/10-day deadlines")


RISK_SECTIONS = (
    _s("risk identification", r"\b(identif|hazard|risk (register|inventory|list)|known risks)"),
    _s("risk estimation and evaluation", r"\b(estimat|evaluat|likelihood|severity|risk (level|score|matrix))"),
    _s("risk control measures", r"\b(mitigat|control measure|risk control|treatment)"),
    _s("testing", r"\btest"),
    _s("residual risk", r"\bresidual"),
    _s("review and post-market monitoring", r"\b(review|post[- ]market|monitor)"),
)
RISK_DOC = re.compile(r"(risk|threat-model)")
COMPLIANCE_NAME = re.compile(r"((^|/)(docs/)?compliance/|eu-ai-act|ai-act|risk-register|risk-assessment|"
                             r"risk-management|threat-model)")


def compliance_file(repo: RepoView, cache: DocCache, git: GitDates, max_age: int,
                    today: date) -> Iterator[ProbeItem]:
    """MON-09: risk-management documentation with Art. 9 sections, kept current.

    Risk documents (risk register, assessment, management, threat model) are scored on their sections and age;
    other files of a compliance folder only count (partial) when no risk document exists.
    """
    found = by_name(documents(repo), COMPLIANCE_NAME)
    risk = [f for f in found if RISK_DOC.search(norm(f.path))]
    emitted = False
    for f in risk:
        doc = cache.get(f)
        if doc is None:
            continue
        secs = doc.coverage(RISK_SECTIONS)
        dated = date_of(f, git, cache, today)
        age = (today - dated.day).days if dated.day is not None else None
        n = _found(secs)
        line = doc.headings[0].line if doc.headings else 1
        fresh = ("age unknown" if age is None else
                 f"last updated {age} days ago ({dated.day}, {dated.source})")
        if age is not None and age > max_age:
            effect = Effect.FAIL
            line = dated.line or line
            msg = f"risk-management document {fresh}, older than {max_age}; sections {n}/{len(RISK_SECTIONS)}"
        else:
            effect = Effect.PASS if n == len(RISK_SECTIONS) and age is not None else Effect.PARTIAL
            msg = f"risk-management document, {fresh}; sections {n}/{len(RISK_SECTIONS)}"
        msg += f" ({describe(secs)})"
        emitted = True
        yield Evidence("MON-09", effect, msg, doc.path, line, "monitoring.compliance-file")
    if not risk and found:
        emitted = True
        yield Evidence("MON-09", Effect.PARTIAL, f"compliance folder with {len(found)} document(s) but no "
                       "risk-management document (risk register, risk assessment, Art. 9 risk management)",
                       found[0].path, 1, "monitoring.compliance-file")
    if not emitted:
        yield Searched("MON-09", "EU AI Act compliance files (docs/compliance/, docs/eu-ai-act/, RISK_REGISTER*, "
                                 "risk_assessment*, risk-management*, THREAT_MODEL*) with Art. 9 risk-management "
                                 "sections, last commit within the compliance age limit")


DOC_ITEMS = (
    _s("system identification", r"\b(name of the (ai )?system|system name|trade name|identification|"
                                r"model (name|version)|version)"),
    _s("provider name and address", r"\b(provider|manufacturer)\b"),
    _s("sole responsibility statement", r"sole responsibility"),
    _s("conformity statement", r"(in conformity with|conforms to|complies with|regulation \(eu\) 2024/1689)"),
    _s("standards or specifications", r"(harmoni[sz]ed standard|common specification|standards applied)"),
    _s("place, date and signature", r"(signed|signature|place and date|date of issue)"),
)
PROCEDURE = re.compile(r"(?i)(annex\s+vi\b|annex\s+vii\b|internal control|notified body)")
DOC_NAME = re.compile(r"(declaration-of-conformity|declaration-conformity|eu-doc|conformity-assessment|"
                      r"conformity)")


def conformity(repo: RepoView, cache: DocCache) -> Iterator[ProbeItem]:
    """MON-12: EU declaration of conformity (Annex V items) and a conformity assessment naming its procedure."""
    emitted = False
    for f in by_name(documents(repo), DOC_NAME):
        doc = cache.get(f)
        if doc is None:
            continue
        items = _lines_matching(doc, DOC_ITEMS)
        proc = doc.first_line(PROCEDURE)
        is_declaration = bool(re.search(r"(declaration|eu-doc)", norm(f.path)))
        n = _found(items)
        proc_txt = (f"assessment procedure named at line {proc}" if proc else
                    "no assessment procedure named (Annex VI internal control or Annex VII notified body)")
        if is_declaration:
            effect = Effect.PASS if n == len(DOC_ITEMS) and proc else Effect.PARTIAL
            msg = f"EU declaration of conformity: {n}/{len(DOC_ITEMS)} Annex V items ({describe(items)}); {proc_txt}"
        else:
            effect = Effect.PARTIAL
            msg = f"conformity assessment record; {proc_txt}; no EU declaration of conformity in this file"
        emitted = True
        line = doc.headings[0].line if doc.headings else 1
        yield Evidence("MON-12", effect, msg, doc.path, line, "monitoring.conformity")
    if not emitted:
        yield Searched("MON-12", "EU declaration of conformity and conformity assessment records "
                                 "(*declaration*of*conformity*, conformity-assessment*) with Annex V items")


ANNEX_IV = (
    _s("general description", r"general description|intended purpose"),
    _s("development process and elements", r"(development|design specification|elements of the|architecture)"),
    _s("monitoring, functioning and control", r"(monitoring, functioning|functioning and control|human oversight)"),
    _s("performance metrics", r"(performance metric|accuracy|metrics)"),
    _s("risk management system", r"risk management"),
    _s("lifecycle changes", r"(changes|change log|changelog|lifecycle)"),
    _s("harmonised standards", r"(harmoni[sz]ed standard|standards applied|common specification)"),
    _s("EU declaration of conformity", r"declaration of conformity"),
    _s("post-market monitoring plan", r"post[- ]market"),
)
TECHDOC_NAME = re.compile(r"(technical-documentation|annex-iv|annex-4|instructions-for-use)")
METRIC_LINE = re.compile(r"(?i)\b(accuracy|f1|auc|precision|recall|rmse|mae)\b[^\n]{0,40}?\d+(\.\d+)?\s*%?")
CARD_NAMES = ("readme.md", "model_card.md", "model-card.md", "modelcard.md")


def model_index_metrics(doc: Document) -> tuple[str, int] | None:
    """First declared metric in the model card front matter ``model-index[].results[].metrics[]``."""
    fm = doc.front_matter
    if fm is None or not isinstance(fm.get("model-index"), list):
        return None
    for entry in fm["model-index"]:
        results = entry.get("results") if isinstance(entry, dict) else None
        for res in results if isinstance(results, list) else []:
            metrics = res.get("metrics") if isinstance(res, dict) else None
            for m in metrics if isinstance(metrics, list) else []:
                if isinstance(m, dict) and "value" in m:
                    line = m.line_of("value") if hasattr(m, "line_of") else fm.line_of("model-index")
                    return f"{m.get('type', m.get('name', 'metric'))} = {m['value']}", line
    return None


def technical_documentation(repo: RepoView, cache: DocCache) -> Iterator[ProbeItem]:
    """MON-13: Annex IV sections and declared accuracy metrics."""
    docs = documents(repo)
    declared: list[tuple[str, str, int]] = []
    for f in docs:
        if f.name.lower() in CARD_NAMES and f.path.count("/") <= 2:
            doc = cache.get(f)
            if doc is not None:
                m = model_index_metrics(doc)
                if m is not None:
                    declared.append((f.path, m[0], m[1]))
    emitted = False
    for f in by_name(docs, TECHDOC_NAME):
        doc = cache.get(f)
        if doc is None:
            continue
        secs = doc.coverage(ANNEX_IV)
        metric_line = doc.first_line(METRIC_LINE)
        n = _found(secs)
        metrics_txt = (f"metrics declared at line {metric_line}" if metric_line else
                       f"metrics declared in {declared[0][0]}:{declared[0][2]} ({declared[0][1]})" if declared else
                       "no declared accuracy metrics")
        effect = Effect.PASS if n == len(ANNEX_IV) and (metric_line or declared) else Effect.PARTIAL
        emitted = True
        line = doc.headings[0].line if doc.headings else 1
        yield Evidence("MON-13", effect, f"technical documentation: {n}/{len(ANNEX_IV)} Annex IV sections "
                       f"({describe(secs)}); {metrics_txt}", doc.path, line, "monitoring.technical-documentation")
    if not emitted:
        for path, metric, line in declared:
            emitted = True
            yield Evidence("MON-13", Effect.PARTIAL, f"declared metric in model card model-index ({metric}); no "
                           "Annex IV technical documentation found", path, line, "monitoring.technical-documentation")
    if not emitted:
        yield Searched("MON-13", "technical documentation (technical-documentation*, ANNEX_IV*, "
                                 "instructions-for-use*) with Annex IV sections, and model-card model-index metrics")
