"""Facts from YAML and Terraform: scheduled jobs, alert rules, alert receivers, progressive-delivery analysis.

Read (raw facts only): Kubernetes ``CronJob``; Prometheus rule files and ``PrometheusRule`` objects; Grafana
file-provisioned alert rules and contact points; Alertmanager receivers (``slack_configs``, ``pagerduty_configs``...)
and ``AlertmanagerConfig``; CloudFormation ``AWS::CloudWatch::Alarm`` (with ``AlarmActions``) and
``AWS::SageMaker::MonitoringSchedule``; Terraform ``aws_cloudwatch_metric_alarm`` (with ``alarm_actions``) and
``aws_sagemaker_monitoring_schedule``; Argo Rollouts ``Rollout`` with an analysis and ``AnalysisTemplate``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from mlposture.scanner import yamlsafe
from mlposture.scanner.repo import RepoView
from mlposture.scanner.yamlsafe import YamlError, dig, load_all

MAX_YAML_BYTES = 1024 * 1024
MAX_TF_BYTES = 2 * 1024 * 1024

TOPICS: dict[str, re.Pattern[str]] = {
    "MON-01": re.compile(r"(?i)(drift|\bpsi\b|_psi|psi_|\bks\b|_ks_|kolmogorov|kl_?div|population.stability|"
                         r"feature_baseline|data.quality|skew)"),
    "MON-02": re.compile(r"(?i)(confidence|prediction|predicted|class_?rate|positive_?rate|output_?dist|"
                         r"uncertaint|low_?conf)"),
    "MON-03": re.compile(r"(?i)(accuracy|\bf1\b|f1_|\bauc\b|_auc|precision|recall|rmse|\bmae\b|model_?quality|"
                         r"performance|degradation)"),
    "MON-04": re.compile(r"(?i)(fairness|bias|parity|disparate|equali[sz]ed_?odds|by_group)"),
}


@dataclass(frozen=True)
class Schedule:
    """Something that runs on a timer: ``text`` is what it runs (commands, images, entry points)."""

    kind: str
    path: str
    line: int
    detail: str
    text: str = ""
    crons: tuple[str, ...] = ()
    job: str = ""


@dataclass(frozen=True)
class AlertRoute:
    """An alert rule or a notification route; ``topics`` are the controls its text is about (empty: generic)."""

    kind: str
    path: str
    line: int
    name: str
    topics: frozenset[str] = field(default_factory=frozenset)
    evaluated: bool = False  # a rule evaluated continuously (Prometheus, Grafana, CloudWatch)


@dataclass(frozen=True)
class Analysis:
    """Progressive delivery with an automated analysis (Argo Rollouts)."""

    kind: str
    path: str
    line: int
    name: str


@dataclass(frozen=True)
class InfraFacts:
    """Everything this module found."""

    schedules: tuple[Schedule, ...] = ()
    alerts: tuple[AlertRoute, ...] = ()
    analyses: tuple[Analysis, ...] = ()


def topics_of(text: str) -> frozenset[str]:
    """Controls whose keywords appear in ``text``."""
    return frozenset(c for c, rx in TOPICS.items() if rx.search(text))


def _flat(node: Any, depth: int = 0) -> str:
    if depth > 20:
        return ""
    if isinstance(node, dict):
        return " ".join(f"{k} {_flat(v, depth + 1)}" for k, v in node.items())
    if isinstance(node, list):
        return " ".join(_flat(v, depth + 1) for v in node)
    return "" if node is None else str(node)


def _line(node: Any, key: str | None = None) -> int:
    return yamlsafe.line_of(node, key, 1) or 1


def _rules(groups: Any, path: str, kind: str) -> Iterator[AlertRoute]:
    if not isinstance(groups, list):
        return
    for g in groups:
        rules = dig(g, "rules")
        if not isinstance(rules, list):
            continue
        for r in rules:
            if not isinstance(r, dict):
                continue
            if "alert" in r:
                text = _flat({k: r.get(k) for k in ("alert", "expr", "labels", "annotations")})
                yield AlertRoute(kind, path, _line(r, "alert"), str(r["alert"]), topics_of(text), True)
            elif "title" in r and ("condition" in r or "data" in r):
                text = _flat({k: r.get(k) for k in ("title", "data", "labels", "annotations")})
                yield AlertRoute("Grafana alert rule", path, _line(r, "title"), str(r["title"]), topics_of(text),
                                 True)


_RECEIVER_KEYS = ("slack_configs", "pagerduty_configs", "opsgenie_configs", "webhook_configs", "email_configs",
                  "msteams_configs", "sns_configs", "telegram_configs", "victorops_configs",
                  "slackConfigs", "pagerdutyConfigs", "opsgenieConfigs", "webhookConfigs", "emailConfigs")


def _receivers(recs: Any, path: str, kind: str) -> Iterator[AlertRoute]:
    if not isinstance(recs, list):
        return
    for r in recs:
        if not isinstance(r, dict):
            continue
        channels = [k for k in _RECEIVER_KEYS if r.get(k)]
        if channels:
            yield AlertRoute(kind, path, _line(r, channels[0]), f"{r.get('name', '?')} ({', '.join(channels)})")


def _doc_facts(doc: Any, path: str) -> Iterator[Schedule | AlertRoute | Analysis]:
    if not isinstance(doc, dict):
        return
    kind = str(doc.get("kind", ""))
    name = str(dig(doc, "metadata", "name") or "")
    if kind == "CronJob":
        spec = doc.get("spec")
        sched = dig(spec, "schedule")
        if sched:
            containers = dig(spec, "jobTemplate", "spec", "template", "spec", "containers")
            yield Schedule("Kubernetes CronJob", path, _line(spec, "schedule"), f"{name} '{sched}'",
                           _flat(containers), (str(sched),), name)
    elif kind == "PrometheusRule":
        yield from _rules(dig(doc, "spec", "groups"), path, "PrometheusRule")
    elif kind == "AlertmanagerConfig":
        yield from _receivers(dig(doc, "spec", "receivers"), path, "AlertmanagerConfig receiver")
    elif kind == "Rollout":
        canary = dig(doc, "spec", "strategy", "canary")
        bg = dig(doc, "spec", "strategy", "blueGreen")
        analysis = None
        if isinstance(canary, dict):
            analysis = canary.get("analysis") or next(
                (s.get("analysis") for s in canary.get("steps") or [] if isinstance(s, dict) and "analysis" in s),
                None)
        if analysis is None and isinstance(bg, dict):
            analysis = bg.get("prePromotionAnalysis") or bg.get("postPromotionAnalysis")
        if analysis is not None:
            yield Analysis("Argo Rollouts Rollout with analysis", path, _line(analysis), name)
    elif kind == "AnalysisTemplate" or kind == "ClusterAnalysisTemplate":
        yield Analysis(f"Argo Rollouts {kind}", path, _line(doc, "kind"), name)
    if "groups" in doc and isinstance(doc.get("groups"), list) and not kind:
        yield from _rules(doc["groups"], path, "Prometheus rule")
    if "receivers" in doc and "route" in doc:
        yield from _receivers(doc["receivers"], path, "Alertmanager receiver")
    if "contactPoints" in doc and isinstance(doc["contactPoints"], list):
        for cp in doc["contactPoints"]:
            if isinstance(cp, dict) and cp.get("receivers"):
                yield AlertRoute("Grafana contact point", path, _line(cp), str(cp.get("name", "?")))
    deployments = doc.get("deployments")
    if isinstance(deployments, list):
        for dep in deployments:
            if not isinstance(dep, dict):
                continue
            sched = dep.get("schedules") or dep.get("schedule")
            if sched:
                key = "schedules" if "schedules" in dep else "schedule"
                crons = tuple(str(c.get("cron")) for c in (sched if isinstance(sched, list) else [sched])
                              if isinstance(c, dict) and c.get("cron"))
                yield Schedule("Prefect deployment", path, _line(dep, key), f"{dep.get('name', '?')}",
                               str(dep.get("entrypoint", "")), crons, str(dep.get("name", "")))
    resources = doc.get("Resources")
    if isinstance(resources, dict):
        for rname, res in resources.items():
            rtype = dig(res, "Type")
            props = dig(res, "Properties")
            if rtype == "AWS::CloudWatch::Alarm" and dig(props, "AlarmActions"):
                yield AlertRoute("CloudWatch alarm with actions", path, _line(resources, rname), str(rname),
                                 topics_of(_flat(props) + " " + str(rname)), True)
            elif rtype == "AWS::SageMaker::MonitoringSchedule":
                expr = dig(props, "MonitoringScheduleConfig", "ScheduleConfig", "ScheduleExpression")
                yield Schedule("SageMaker monitoring schedule (CloudFormation)", path, _line(resources, rname),
                               f"{rname} {expr or ''}".strip(), _flat(props), job=str(rname))


_TF_BLOCK = re.compile(r'^[ \t]*resource\s+"(aws_cloudwatch_metric_alarm|aws_sagemaker_monitoring_schedule)"\s+'
                       r'"([^"]+)"\s*\{', re.MULTILINE)
_TF_ACTIONS = re.compile(r"^[ \t]*alarm_actions\s*=\s*\[\s*[^\]\s]", re.MULTILINE)


def _tf_facts(text: str, path: str) -> Iterator[Schedule | AlertRoute]:
    for m in _TF_BLOCK.finditer(text):
        depth = 0
        end = len(text)
        for i in range(m.end() - 1, min(len(text), m.end() + 20000)):
            if text[i] == "{":
                depth += 1
            elif text[i] == "}":
                depth -= 1
                if depth == 0:
                    end = i
                    break
        body = text[m.end():end]
        line = text.count("\n", 0, m.start()) + 1
        if m.group(1) == "aws_cloudwatch_metric_alarm":
            if _TF_ACTIONS.search(body):
                yield AlertRoute("CloudWatch alarm with actions", path, line, m.group(2),
                                 topics_of(body + " " + m.group(2)), True)
        else:
            yield Schedule("SageMaker monitoring schedule (Terraform)", path, line, m.group(2), body, job=m.group(2))


def infra_facts(repo: RepoView) -> InfraFacts:
    """Scan YAML (outside CI workflow folders) and Terraform files."""
    schedules: list[Schedule] = []
    alerts: list[AlertRoute] = []
    analyses: list[Analysis] = []
    for f in repo.text_files((".yml", ".yaml")):
        if f.path.startswith(".github/workflows/") or f.name.endswith("gitlab-ci.yml"):
            continue
        text = repo.read_text(f, MAX_YAML_BYTES)
        if text is None or not re.search(r"(?m)^\s*(kind:|groups:|receivers:|contactPoints:|Resources:|deployments:)",
                                         text):
            continue
        try:
            docs = load_all(text)
        except YamlError as exc:
            if re.search(r"(?m)^kind:\s*(CronJob|PrometheusRule|Rollout)\b|alert:", text):
                repo.note(f"YAML not parsed: {exc.message}", f.path, exc.line)
            continue
        for doc in docs:
            for fact in _doc_facts(doc, f.path):
                if isinstance(fact, Schedule):
                    schedules.append(fact)
                elif isinstance(fact, AlertRoute):
                    alerts.append(fact)
                else:
                    analyses.append(fact)
    for f in repo.text_files((".tf",)):
        text = repo.read_text(f, MAX_TF_BYTES)
        if not text or "resource" not in text:
            continue
        for item in _tf_facts(text, f.path):
            (schedules if isinstance(item, Schedule) else alerts).append(item)  # type: ignore[arg-type]
    return InfraFacts(tuple(schedules), tuple(alerts), tuple(analyses))


# [ \t] instead of \s: a pattern anchored at every line start must not run across the following lines
THRESHOLD_KEY = re.compile(r"(?im)^[ \t]*[\"']?((min|minimum)_(accuracy|f1|auc|precision|recall)|"
                           r"(accuracy|f1|auc|precision|recall)_(threshold|min|floor))[\"']?[ \t]*[:=][ \t]*([0-9.]+)")


def performance_thresholds(repo: RepoView) -> list[tuple[str, int, str]]:
    """``min_accuracy: 0.8``-style keys in YAML, JSON, TOML and INI configs: (path, line, "key = value")."""
    out: list[tuple[str, int, str]] = []
    for f in repo.text_files((".yml", ".yaml", ".json", ".toml", ".cfg", ".ini")):
        if f.size > MAX_YAML_BYTES:
            continue
        text = repo.read_text(f, MAX_YAML_BYTES)
        if not text:
            continue
        m = THRESHOLD_KEY.search(text)
        if m:
            out.append((f.path, text.count("\n", 0, m.start(1)) + 1, f"{m.group(1)} = {m.group(6)}"))
    return out
