"""Decisions for MON-01..MON-04: a detector wired with a schedule and an alert route.

Pass = a detector (drift, output, performance, fairness computation) that runs on a schedule linked to it (a CI
``on: schedule`` job, a CronJob, an Airflow/Prefect/Dagster schedule or a SageMaker/Vertex monitoring schedule that
runs its file or module) AND reaches an alert route (an alert rule on the topic's metrics, a CloudWatch alarm with
actions, a notification call in the same file, a notification step in the same scheduled job). One of the two =
partial; neither = partial (detector only); a detector only in a notebook = partial (weaker evidence).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from mlposture.probes.monitoring.ci import CiFacts
from mlposture.probes.monitoring.infra import AlertRoute, InfraFacts, Schedule
from mlposture.probes.monitoring.pysource import Detector, PyFacts, module_name
from mlposture.scanner.probe import Effect, Evidence, ProbeItem, Searched

CONTROLS = ("MON-01", "MON-02", "MON-03", "MON-04")
WHAT = {
    "MON-01": "input drift detector",
    "MON-02": "output/confidence monitor",
    "MON-03": "performance monitor",
    "MON-04": "fairness monitor",
}
RULE = {
    "MON-01": "monitoring.drift-detector",
    "MON-02": "monitoring.output-monitor",
    "MON-03": "monitoring.performance-monitor",
    "MON-04": "monitoring.bias-monitor",
}
SEARCHED = {
    "MON-01": "drift detectors in Python and notebooks (Evidently DataDriftPreset/DataDriftTable, NannyML, "
              "alibi-detect KSDrift/MMDDrift/ChiSquareDrift, whylogs, SageMaker DefaultModelMonitor/ModelMonitor, "
              "Vertex model monitoring, Arize/Fiddler/WhyLabs SDKs, scipy ks_2samp, PSI/KL functions, drift "
              "metrics in prometheus_client), alert rules on drift/PSI/KS/KL metrics",
    "MON-02": "output and confidence monitors (prometheus_client metrics on predictions/confidence, alibi-detect "
              "uncertainty drift, Evidently TargetDriftPreset, Arize/Fiddler SDKs), alert rules on "
              "prediction/confidence metrics",
    "MON-03": "performance monitors (SageMaker ModelQualityMonitor, Evidently ClassificationPreset/"
              "RegressionPreset, NannyML CBPE/DLE/PerformanceCalculator, SageMaker ModelQuality schedules, "
              "mlflow.evaluate validation_thresholds, Argo Rollouts analysis, min_accuracy/f1_threshold keys in "
              "configs), alert rules on accuracy/F1/AUC metrics",
    "MON-04": "fairness monitors (Fairlearn MetricFrame/demographic_parity_difference/equalized_odds_difference, "
              "AIF360 metrics, SageMaker ModelBiasMonitor), alert rules on fairness/bias metrics",
}
SCHEDULES_SEARCHED = ("schedules: CI on: schedule, Kubernetes CronJob, Airflow DAG schedule, Prefect/Dagster "
                      "schedules, SageMaker/Vertex monitoring schedules; alert routes: Prometheus/Grafana alert "
                      "rules, Alertmanager receivers, CloudWatch alarms with actions, Slack/PagerDuty/Opsgenie "
                      "calls or CI notification steps")


@dataclass(frozen=True)
class Wiring:
    """What links a detector to a timer and to an alert."""

    schedules: tuple[Schedule, ...]
    alerts: tuple[AlertRoute, ...]
    continuous: str = ""  # why no timer is needed ("exported by the serving process, rule evaluated ...")


def mentions(text: str, path: str) -> bool:
    """Does command or config ``text`` run or name the file ``path`` (its path, module or file name)?"""
    if not text:
        return False
    if path in text:
        return True
    mod = module_name(path)
    if path.endswith(".py") and re.search(rf"(?<![\w.]){re.escape(mod)}(?![\w])", text):
        return True
    base = path.rsplit("/", 1)[-1]
    return bool(re.search(rf"(^|[\s/\"'=]){re.escape(base)}(?![\w.])", text))


class Linker:
    """Links detector files to schedules and alert routes."""

    def __init__(self, py: Sequence[PyFacts], infra: InfraFacts, ci: CiFacts) -> None:
        self.py = {p.path: p for p in py}
        self.schedules: list[Schedule] = [*infra.schedules, *ci.schedules]
        for p in py:
            for cs in p.schedules:
                text = "\n".join((*p.imports, *p.strings))
                self.schedules.append(Schedule(cs.kind, cs.path, cs.line, cs.detail, text))
        self.alerts = infra.alerts
        self.ci_notifies = ci.notifies

    def schedules_for(self, path: str) -> tuple[Schedule, ...]:
        """Schedules in the same file or running/importing ``path``."""
        return tuple(s for s in self.schedules if s.path == path or mentions(s.text, path))

    def wiring(self, d: Detector) -> Wiring:
        """The schedules and alerts reaching detector ``d``."""
        scheds = self.schedules_for(d.path)
        alerts: list[AlertRoute] = [a for a in self.alerts if d.control in a.topics]
        files = {d.path} | {s.path for s in scheds if not s.path.startswith(".") and s.path.endswith(".py")}
        for f in sorted(files):
            facts = self.py.get(f)
            if facts is not None:
                alerts.extend(AlertRoute(n.kind, n.path, n.line, n.kind) for n in facts.notifies)
        for s in scheds:
            if s.kind == "CI schedule":
                alerts.extend(n for n in self.ci_notifies if n.path == s.path and f"job '{s.job}'" in n.name)
        continuous = ""
        evaluated = [a for a in alerts if a.evaluated]
        if not scheds and evaluated and (d.continuous or d.library.startswith("SageMaker")):
            continuous = f"metric evaluated continuously by {evaluated[0].kind} {evaluated[0].path}:{evaluated[0].line}"
        return Wiring(scheds, tuple(dict.fromkeys(alerts)), continuous)


def _managed_detectors(linker: Linker) -> list[Detector]:
    """SageMaker monitoring schedules declared in IaC are detectors and schedules at once."""
    out = []
    for s in linker.schedules:
        if s.kind.startswith("SageMaker monitoring schedule ("):
            control = "MON-03" if re.search(r"(?i)model.?quality", s.text) else (
                "MON-04" if re.search(r"(?i)model.?bias", s.text) else "MON-01")
            out.append(Detector(control, s.detail, "SageMaker Model Monitor", s.path, s.line))
    return out


def _ref(items: Sequence[Schedule] | Sequence[AlertRoute]) -> str:
    parts = []
    for it in items[:2]:
        detail = it.detail if isinstance(it, Schedule) else it.name
        label = it.kind if detail == it.kind else f"{it.kind} {detail}"
        parts.append(f"{label} ({it.path}:{it.line})")
    more = f" and {len(items) - 2} more" if len(items) > 2 else ""
    return "; ".join(parts) + more


def decide(py: Sequence[PyFacts], infra: InfraFacts, ci: CiFacts,
           thresholds: Sequence[tuple[str, int, str]] = ()) -> Iterator[ProbeItem]:
    """Evidence (or Searched) for MON-01..MON-04; ``thresholds`` are (path, line, "key = value") from configs."""
    analyses = infra.analyses
    linker = Linker(py, infra, ci)
    detectors = [d for p in py for d in p.detectors] + _managed_detectors(linker)
    for control in CONTROLS:
        mine = [d for d in detectors if d.control == control]
        aspects = {d.aspect for d in mine if d.aspect}
        emitted = False
        seen_files: set[str] = set()
        for d in mine:
            if d.path in seen_files and control != "MON-02":
                continue
            seen_files.add(d.path)
            w = linker.wiring(d)
            where = f"{WHAT[control]} {d.name} ({d.library})" + (f" [{d.aspect} distribution]" if d.aspect else "")
            timed = bool(w.schedules) or bool(w.continuous)
            sched_txt = (f"scheduled by {_ref(w.schedules)}" if w.schedules else
                         w.continuous or "no schedule runs it")
            alert_txt = f"alert route: {_ref(w.alerts)}" if w.alerts else "no alert route"
            if d.notebook:
                effect = Effect.PARTIAL
                msg = f"{where} only in a notebook (weaker evidence); {sched_txt}; {alert_txt}"
            elif timed and w.alerts:
                effect = Effect.PASS
                msg = f"{where}; {sched_txt}; {alert_txt}"
            else:
                effect = Effect.PARTIAL
                msg = f"{where}; {sched_txt}; {alert_txt}"
            if control == "MON-02" and effect is Effect.PASS and len(aspects) < 2:
                missing = "confidence" if "confidence" not in aspects else "output/class"
                effect = Effect.PARTIAL
                msg += f"; {missing} distribution not monitored"
            emitted = True
            yield Evidence(control, effect, msg, d.path, d.line, RULE[control])
        if control == "MON-03":
            for an in analyses:
                emitted = True
                yield Evidence(control, Effect.PARTIAL, f"{an.kind} '{an.name}': canary analysis validates new "
                               "versions before promotion; no alert on the live model's performance", an.path,
                               an.line, RULE[control])
            for th in thresholds:
                emitted = True
                yield Evidence(control, Effect.PARTIAL, f"performance threshold declared ({th[2]}); no scheduled "
                               "evaluation linked to it", th[0], th[1], RULE[control])
        if not mine:
            for a in linker.alerts:
                if control in a.topics:
                    emitted = True
                    yield Evidence(control, Effect.PARTIAL,
                                   f"{a.kind} '{a.name}' alerts on {WHAT[control].split()[0]} metrics, but the "
                                   "detector computing them was not found", a.path, a.line, RULE[control])
        if not emitted:
            yield Searched(control, f"{SEARCHED[control]}; {SCHEDULES_SEARCHED}")
