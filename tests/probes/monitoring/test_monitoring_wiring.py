"""Linking detectors to schedules and alert routes across formats (Airflow, SageMaker, Terraform, CloudFormation,
GitLab, Argo Rollouts, Grafana), each written the way the tool's documentation shows it."""

from __future__ import annotations

from pathlib import Path

from tests.probes.monitoring.monhelpers import run_probe


def _write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return root


AIRFLOW_DAG = """\
import pendulum
from airflow import DAG
from airflow.operators.python import PythonOperator

from monitoring.drift import run_drift

with DAG(dag_id="drift", schedule="@daily", start_date=pendulum.datetime(2026, 1, 1), catchup=False) as dag:
    PythonOperator(task_id="drift", python_callable=run_drift)
"""
DRIFT = """\
from alibi_detect.cd import KSDrift
from pdpyras import EventsAPISession


def run_drift(x_ref, x):
    cd = KSDrift(x_ref, p_val=0.05)
    if cd.predict(x)["data"]["is_drift"]:
        EventsAPISession("routing-key").trigger("input drift", "churn-model")
"""


def test_airflow_dag_importing_the_detector_and_pagerduty_call(tmp_path: Path) -> None:
    root = _write(tmp_path, {"dags/drift_dag.py": AIRFLOW_DAG, "monitoring/drift.py": DRIFT})
    s = run_probe(root)
    ev = s.one("MON-01", "pass")
    assert (ev.path, ev.line) == ("monitoring/drift.py", 6)
    assert "Airflow DAG '@daily' (dags/drift_dag.py:7)" in ev.message
    assert "PagerDuty (pdpyras) (monitoring/drift.py:2)" in ev.message


def test_detector_without_the_dag_is_partial(tmp_path: Path) -> None:
    root = _write(tmp_path, {"monitoring/drift.py": DRIFT})
    s = run_probe(root)
    ev = s.one("MON-01", "partial")
    assert "no schedule runs it" in ev.message and "alert route: PagerDuty" in ev.message


SAGEMAKER = """\
from sagemaker.model_monitor import CronExpressionGenerator, DefaultModelMonitor

monitor = DefaultModelMonitor(role="arn:aws:iam::123456789012:role/mm", instance_count=1,
                              instance_type="ml.m5.xlarge")
monitor.create_monitoring_schedule(
    monitor_schedule_name="churn-data-quality",
    endpoint_input="churn-endpoint",
    schedule_cron_expression=CronExpressionGenerator.hourly(),
)
"""
TF_ALARM = """\
resource "aws_sns_topic" "ml_alerts" {
  name = "ml-alerts"
}

resource "aws_cloudwatch_metric_alarm" "churn_drift" {
  alarm_name          = "churn-feature-drift"
  namespace           = "aws/sagemaker/Endpoints/data-metrics"
  metric_name         = "feature_baseline_drift_tenure"
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0.2
  evaluation_periods  = 1
  period              = 3600
  statistic           = "Maximum"
  alarm_actions       = [aws_sns_topic.ml_alerts.arn]
}

resource "aws_cloudwatch_metric_alarm" "silent" {
  alarm_name    = "no-action-drift"
  metric_name   = "feature_baseline_drift_age"
  alarm_actions = []
}
"""


def test_sagemaker_monitor_schedule_and_cloudwatch_alarm(tmp_path: Path) -> None:
    root = _write(tmp_path, {"monitoring/monitor.py": SAGEMAKER, "infra/alarms.tf": TF_ALARM})
    s = run_probe(root)
    ev = s.one("MON-01", "pass")
    assert (ev.path, ev.line) == ("monitoring/monitor.py", 3)
    assert "SageMaker monitoring schedule CronExpressionGenerator.hourly() (monitoring/monitor.py:5)" in ev.message
    assert "CloudWatch alarm with actions churn_drift (infra/alarms.tf:5)" in ev.message
    assert "silent" not in ev.message


CFN = """\
AWSTemplateFormatVersion: "2010-09-09"
Resources:
  QualitySchedule:
    Type: AWS::SageMaker::MonitoringSchedule
    Properties:
      MonitoringScheduleName: churn-model-quality
      MonitoringScheduleConfig:
        MonitoringType: ModelQuality
        ScheduleConfig:
          ScheduleExpression: cron(0 * ? * * *)
  AccuracyAlarm:
    Type: AWS::CloudWatch::Alarm
    Properties:
      MetricName: accuracy
      Namespace: aws/sagemaker/Endpoints/model-metrics
      ComparisonOperator: LessThanThreshold
      Threshold: 0.8
      EvaluationPeriods: 1
      Period: 3600
      Statistic: Average
      AlarmActions:
        - !Ref AlertTopic
"""


def test_cloudformation_model_quality_schedule_with_alarm(tmp_path: Path) -> None:
    root = _write(tmp_path, {"cfn/monitoring.yaml": CFN})
    s = run_probe(root)
    ev = s.one("MON-03", "pass")
    assert (ev.path, ev.line) == ("cfn/monitoring.yaml", 3)
    assert "CloudWatch alarm with actions AccuracyAlarm (cfn/monitoring.yaml:11)" in ev.message


GITLAB = """\
stages: [monitor]
fairness:
  stage: monitor
  image: python:3.12
  rules:
    - if: $CI_PIPELINE_SOURCE == "schedule"
  script:
    - python -m monitoring.fairness
"""
FAIR = """\
from fairlearn.metrics import equalized_odds_difference
import requests


def main(y, p, g):
    gap = equalized_odds_difference(y, p, sensitive_features=g)
    requests.post("https://hooks.slack.com/services/T0/B0/X", json={"text": f"gap {gap}"})
"""


def test_gitlab_schedule_pipeline_runs_the_module(tmp_path: Path) -> None:
    root = _write(tmp_path, {".gitlab-ci.yml": GITLAB, "src/monitoring/fairness.py": FAIR})
    s = run_probe(root)
    ev = s.one("MON-04", "pass")
    assert ev.path == "src/monitoring/fairness.py" and ev.line == 6
    assert "CI schedule job 'fairness'" in ev.message and "Slack webhook (src/monitoring/fairness.py:7)" in ev.message


GRAFANA = """\
apiVersion: 1
groups:
  - orgId: 1
    name: model
    folder: ML
    interval: 1m
    rules:
      - uid: psi
        title: Feature PSI above 0.2
        condition: C
        data:
          - refId: A
            model:
              expr: max(feature_psi)
contactPoints:
  - orgId: 1
    name: ml-oncall
    receivers:
      - uid: slack
        type: slack
"""


def test_alert_rule_without_detector_is_partial(tmp_path: Path) -> None:
    root = _write(tmp_path, {"grafana/alerting.yaml": GRAFANA})
    s = run_probe(root)
    ev = s.one("MON-01", "partial")
    assert (ev.path, ev.line) == ("grafana/alerting.yaml", 9)
    assert "detector computing them was not found" in ev.message


ROLLOUT = """\
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: churn-api
spec:
  strategy:
    canary:
      steps:
        - setWeight: 20
        - analysis:
            templates:
              - templateName: success-rate
"""


def test_argo_rollout_with_analysis_is_tested_rollback(tmp_path: Path) -> None:
    makefile = "build:\n\techo\n\nrollback:\n\thelm rollback x\n"
    root = _write(tmp_path, {"deploy/rollout.yaml": ROLLOUT, "Makefile": makefile})
    s = run_probe(root)
    assert ("deploy/rollout.yaml", 11) in s.where("MON-07")
    assert s.one("MON-07", "pass").path == "deploy/rollout.yaml"
    mk = s.one("MON-07", "partial")
    assert (mk.path, mk.line) == ("Makefile", 4)


def test_model_card_front_matter_tier_and_metrics(tmp_path: Path) -> None:
    card = ("---\nlicense: mit\neu_ai_act:\n  risk_tier: Minimal-Risk\nmodel-index:\n  - name: m\n    results:\n"
            "      - metrics:\n          - type: accuracy\n            value: 0.9\n---\n# Card\n")
    root = _write(tmp_path, {"MODEL_CARD.md": card})
    s = run_probe(root)
    tier = s.one("MON-11", "pass")
    assert (tier.path, tier.line) == ("MODEL_CARD.md", 4) and tier.message.endswith("minimal")
    assert s.not_applicable["INF-14"] == "EU AI Act risk tier recorded as minimal in MODEL_CARD.md:4"
    metric = s.one("MON-13", "partial")
    assert (metric.path, metric.line) == ("MODEL_CARD.md", 10)
    assert "accuracy = 0.9" in metric.message


def test_prose_classification_is_partial(tmp_path: Path) -> None:
    root = _write(tmp_path, {"docs/eu-ai-act/risk-classification.md":
                             "# Classification\n\nThis is a high-risk AI system under Annex III point 4.\n"})
    s = run_probe(root)
    ev = s.one("MON-11", "partial")
    assert (ev.path, ev.line) == ("docs/eu-ai-act/risk-classification.md", 3)
    assert not s.not_applicable


ATTACK = """\
from art.attacks.evasion import FastGradientMethod
from art.estimators.classification import SklearnClassifier


def run(model, x):
    return FastGradientMethod(SklearnClassifier(model), eps=0.1).generate(x)
"""
CRONJOB = """\
apiVersion: batch/v1
kind: CronJob
metadata:
  name: robustness
spec:
  schedule: "0 4 1 {months} *"
  jobTemplate:
    spec:
      template:
        spec:
          containers:
            - name: attack
              image: registry.example.com/robustness:1.4.2
              args: ["python", "-m", "robustness.attack"]
"""


def test_scheduled_art_attack_script_counts_for_redteam(tmp_path: Path) -> None:
    root = _write(tmp_path, {"robustness/attack.py": ATTACK,
                             "k8s/robustness.yaml": CRONJOB.format(months="*/3")})
    s = run_probe(root)
    ev = s.one("MON-06", "pass")
    assert (ev.path, ev.line) == ("robustness/attack.py", 1)
    assert "ART attack suite script run by Kubernetes CronJob robustness '0 4 1 */3 *' (k8s/robustness.yaml:6)" \
        in ev.message


def test_half_yearly_attack_schedule_is_partial_and_unscheduled_script_is_occasional(tmp_path: Path) -> None:
    root = _write(tmp_path, {"robustness/attack.py": ATTACK,
                             "k8s/robustness.yaml": CRONJOB.format(months="*/6")})
    s = run_probe(root)
    assert s.effects("MON-06") == {"partial"}
    assert "every 186 days, longer than 92" in s.one("MON-06", "partial").message
    bare = _write(tmp_path / "other", {"robustness/attack.py": ATTACK})
    s2 = run_probe(bare)
    assert s2.effects("MON-06") == {"partial"}  # a robustness evaluation no schedule runs: occasional testing
    assert s2.where("MON-06") == {("robustness/attack.py", 1)}
    assert "no schedule runs it" in s2.one("MON-06", "partial").message


def test_rollback_script_names(tmp_path: Path) -> None:
    root = _write(tmp_path, {"scripts/rollback.sh": "#!/bin/sh\nhelm rollback api 0\n",
                             "src/pkg/rollback.py": "def rollback() -> None: ...\n"})
    s = run_probe(root)
    assert s.where("MON-07") == {("scripts/rollback.sh", 1)}
    assert s.effects("MON-07") == {"partial"}


PREFECT_YAML = """\
name: churn-monitoring
prefect-version: 3.1.0
deployments:
  - name: performance
    entrypoint: flows/performance.py:estimate
    work_pool:
      name: default
    schedules:
      - cron: "0 6 * * *"
        timezone: Europe/Berlin
"""
CBPE = """\
import nannyml as nml
import opsgenie_sdk
from prefect import flow


@flow
def estimate(reference, analysis):
    estimator = nml.CBPE(problem_type="classification_binary", y_pred_proba="proba", y_pred="pred",
                         y_true="label", metrics=["roc_auc"], chunk_size=5000)
    return estimator.fit(reference).estimate(analysis)
"""
MLFLOW = """\
import mlflow
from mlflow.models import MetricThreshold

result = mlflow.evaluate("runs:/abc/model", data, targets="label", model_type="classifier",
                         validation_thresholds={"accuracy_score": MetricThreshold(threshold=0.8)})
"""


def test_prefect_yaml_deployment_runs_nannyml_estimator(tmp_path: Path) -> None:
    root = _write(tmp_path, {"prefect.yaml": PREFECT_YAML, "flows/performance.py": CBPE})
    s = run_probe(root)
    ev = s.one("MON-03", "pass")
    assert (ev.path, ev.line) == ("flows/performance.py", 8)
    assert "Prefect deployment performance (prefect.yaml:8)" in ev.message
    assert "Opsgenie (flows/performance.py:2)" in ev.message


def test_performance_thresholds_and_canary_analysis_are_partial(tmp_path: Path) -> None:
    template = ("apiVersion: argoproj.io/v1alpha1\nkind: AnalysisTemplate\nmetadata:\n  name: success-rate\n"
                "spec:\n  metrics:\n    - name: success-rate\n      successCondition: result[0] >= 0.95\n")
    root = _write(tmp_path, {"eval/mlflow_gate.py": MLFLOW, "configs/eval.yaml": "model: churn\nmin_accuracy: 0.82\n",
                             "deploy/analysis.yaml": template})
    s = run_probe(root)
    assert s.effects("MON-03") == {"partial"}
    assert s.where("MON-03") == {("eval/mlflow_gate.py", 4), ("configs/eval.yaml", 2), ("deploy/analysis.yaml", 2)}
    msgs = " | ".join(e.message for e in s.evidence["MON-03"])
    assert "min_accuracy = 0.82" in msgs and "AnalysisTemplate 'success-rate'" in msgs
    assert ("deploy/analysis.yaml", 2) in s.where("MON-07")


def test_conflicting_tiers_use_config_and_note_the_card(tmp_path: Path) -> None:
    root = _write(tmp_path, {".mlposture.yaml": "eu_ai_act:\n  risk_tier: high\n",
                             "README.md": "---\neu_ai_act:\n  risk_tier: minimal\n---\n# Model\n"})
    s = run_probe(root)
    assert (s.one("MON-11", "pass").path, s.one("MON-11", "pass").line) == (".mlposture.yaml", 2)
    assert not s.not_applicable
    conflict = [n for n in s.notes if n.path == "README.md"]
    assert conflict and conflict[0].line == 3 and "disagrees with 'high' in .mlposture.yaml:2" in conflict[0].message
