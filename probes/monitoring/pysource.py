"""Python facts for monitoring: detector calls, in-code schedules and notification calls (raw facts, no judgement).

Read by :data:`VISITOR` in the one Python pass (``ast``, never imported): a notebook is one module of its code
cells, and every fact from a notebook is marked ``notebook`` (weaker evidence) and carries no line.
A module is only looked at when it mentions a monitoring library, a notification endpoint or a PSI/KL name
(:data:`NEEDLES`, then :data:`TRIGGER`); a module without any of them is not even parsed for this probe.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

import ahocorasick

from mlposture.scanner.sources.python import PyModule, PythonVisitor


@dataclass(frozen=True)
class Detector:
    """A monitoring computation: ``control`` it speaks for, the ``name`` called, the library, where."""

    control: str
    name: str
    library: str
    path: str
    line: int | None
    notebook: bool = False
    aspect: str = ""  # MON-02: "class", "confidence"; "" otherwise
    continuous: bool = False  # exported by a long-running process (Prometheus metrics)


@dataclass(frozen=True)
class CodeSchedule:
    """A schedule declared in Python (Airflow DAG, Prefect, Dagster, SageMaker monitoring schedule, Vertex)."""

    kind: str
    path: str
    line: int
    detail: str


@dataclass(frozen=True)
class CodeNotify:
    """A call or URL that sends a notification (Slack, PagerDuty, Opsgenie, SNS, Teams)."""

    kind: str
    path: str
    line: int


@dataclass(frozen=True)
class PyFacts:
    """Facts of one Python file or notebook. ``imports`` and ``strings`` (what the module imports and its string
    constants) are kept only when it declares a schedule: they tell which files that schedule runs."""

    path: str
    notebook: bool
    imports: frozenset[str]
    detectors: tuple[Detector, ...] = ()
    schedules: tuple[CodeSchedule, ...] = ()
    notifies: tuple[CodeNotify, ...] = ()
    strings: tuple[str, ...] = ()
    attack_tool: tuple[str, int] | None = None  # (label, import line) of an adversarial-testing library


_ATTACK_MODULES = (("art.attacks", "ART attack suite"), ("art.estimators", "ART attack suite"),
                   ("textattack", "TextAttack"), ("pyrit", "PyRIT"), ("garak", "garak"),
                   ("torchattacks", "torchattacks"), ("foolbox", "Foolbox"), ("cleverhans", "CleverHans"),
                   ("robustbench", "RobustBench"), ("autoattack", "AutoAttack"), ("advertorch", "AdverTorch"))


# name -> (control, library root(s) that must be imported, label, aspect)
_DETECTORS: dict[str, tuple[str, tuple[str, ...], str, str]] = {}


def _add(control: str, roots: tuple[str, ...], label: str, names: str, aspect: str = "") -> None:
    for n in names.split():
        _DETECTORS[n] = (control, roots, label, aspect)


_add("MON-01", ("evidently",), "Evidently", "DataDriftPreset DataDriftTable DataDriftTestPreset DatasetDriftMetric "
     "ColumnDriftMetric DriftedColumnsCount ValueDrift")
_add("MON-01", ("nannyml",), "NannyML", "UnivariateDriftCalculator DataReconstructionDriftCalculator "
     "DomainClassifierCalculator")
_add("MON-01", ("alibi_detect",), "alibi-detect", "KSDrift MMDDrift ChiSquareDrift TabularDrift CVMDrift LSDDDrift "
     "ClassifierDrift LearnedKernelDrift SpotTheDiffDrift FETDrift MMDDriftOnline LSDDDriftOnline CVMDriftOnline "
     "FETDriftOnline")
_add("MON-01", ("sagemaker",), "SageMaker Model Monitor", "DefaultModelMonitor ModelMonitor")
_add("MON-01", ("google",), "Vertex AI model monitoring", "DriftDetectionConfig SkewDetectionConfig "
     "ModelDeploymentMonitoringJob")
_add("MON-01", ("scipy",), "scipy (hand-rolled KS test)", "ks_2samp")
_add("MON-01", ("whylogs",), "whylogs", "calculate_drift_scores")
_add("MON-02", ("alibi_detect",), "alibi-detect model uncertainty", "ClassifierUncertaintyDrift "
     "RegressorUncertaintyDrift", "confidence")
_add("MON-02", ("evidently",), "Evidently", "TargetDriftPreset ColumnDriftMetric_prediction", "class")
_add("MON-03", ("sagemaker",), "SageMaker Model Monitor", "ModelQualityMonitor")
_add("MON-03", ("evidently",), "Evidently", "ClassificationPreset RegressionPreset ClassificationQualityMetric "
     "RegressionQualityMetric ClassificationQuality")
_add("MON-03", ("nannyml",), "NannyML", "CBPE DLE PerformanceCalculator")
_add("MON-04", ("fairlearn",), "Fairlearn", "MetricFrame demographic_parity_difference demographic_parity_ratio "
     "equalized_odds_difference equalized_odds_ratio")
_add("MON-04", ("aif360",), "AIF360", "ClassificationMetric BinaryLabelDatasetMetric")
_add("MON-04", ("sagemaker",), "SageMaker Clarify", "ModelBiasMonitor")

_PSI = re.compile(r"(?i)^(calc(ulate)?_|compute_|get_)?(psi|population_stability_index|kl_divergence)$")
_SDK_IMPORTS = {"arize": "Arize", "fiddler": "Fiddler", "whylogs": "whylogs", "whylabs_client": "WhyLabs"}
_PROM_METRICS = {"Histogram", "Counter", "Gauge", "Summary"}
_CONFIDENCE = re.compile(r"(?i)(confidence|probab|score|uncertaint|entropy|margin)")
_CLASS = re.compile(r"(?i)(predict|class|label|outcome|decision)")
_DRIFT_METRIC = re.compile(r"(?i)(drift|psi|_ks_|kl_div)")
_NOTIFY_URLS = (
    ("hooks.slack.com", "Slack webhook"), ("events.pagerduty.com", "PagerDuty Events API"),
    ("api.opsgenie.com", "Opsgenie API"), ("webhook.office.com", "Microsoft Teams webhook"),
    ("discord.com/api/webhooks", "Discord webhook"),
)
_NOTIFY_IMPORTS = {"pdpyras": "PagerDuty (pdpyras)", "pagerduty": "PagerDuty", "opsgenie_sdk": "Opsgenie",
                   "slack_sdk": "Slack SDK", "pymsteams": "Microsoft Teams"}


def _name(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def _str_arg(call: ast.Call) -> str:
    if call.args and isinstance(call.args[0], ast.Constant) and isinstance(call.args[0].value, str):
        return call.args[0].value
    for kw in call.keywords:
        if kw.arg == "name" and isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, str):
            return kw.value.value
    return ""


def _kw(call: ast.Call, *names: str) -> ast.keyword | None:
    return next((k for k in call.keywords if k.arg in names), None)


def _labelnames(call: ast.Call) -> str:
    kw = _kw(call, "labelnames")
    if kw is not None and isinstance(kw.value, (ast.List, ast.Tuple)):
        return " ".join(str(e.value) for e in kw.value.elts if isinstance(e, ast.Constant))
    if len(call.args) >= 3 and isinstance(call.args[2], (ast.List, ast.Tuple)):
        return " ".join(str(e.value) for e in call.args[2].elts if isinstance(e, ast.Constant))
    return ""


def _source_order(node: ast.AST) -> tuple[int, int]:
    return getattr(node, "lineno", 0), getattr(node, "col_offset", 0)


def analyse(mod: PyModule) -> PyFacts:
    """Facts of one module (plain or notebook); calls and strings are read in source order, so the first call of
    a detector gives its line."""
    path, notebook = mod.path, mod.notebook
    imports = mod.imported
    roots = {m.split(".", 1)[0] for m in imports}

    def where(n: ast.AST) -> int | None:
        return None if notebook else getattr(n, "lineno", None)

    detectors: list[Detector] = []
    schedules: list[CodeSchedule] = []
    notifies: list[CodeNotify] = []
    strings: list[str] = []
    seen: set[tuple[str, str]] = set()
    trains = False
    for node in sorted(mod.nodes(ast.Call, ast.Constant), key=_source_order):
        if isinstance(node, ast.Constant):
            if isinstance(node.value, str):
                strings.append(node.value)
                for url, label in _NOTIFY_URLS:
                    if url in node.value:
                        notifies.append(CodeNotify(label, path, node.lineno))
            continue
        if isinstance(node.func, ast.Attribute) and node.func.attr == "backward":
            trains = True  # a training loop: attacks here harden the model (MODEL-12), they do not test it
        name = _name(node.func)
        spec = _DETECTORS.get(name)
        if spec is not None and any(r in roots for r in spec[1]) and (spec[0], name) not in seen:
            seen.add((spec[0], name))
            detectors.append(Detector(spec[0], name, spec[2], path, where(node), notebook, spec[3]))
        elif _PSI.match(name) and ("MON-01", name) not in seen:
            seen.add(("MON-01", name))
            detectors.append(Detector("MON-01", name, "hand-rolled PSI/KL", path, where(node), notebook))
        elif name in _PROM_METRICS and "prometheus_client" in roots:
            metric = _str_arg(node)
            labels = _labelnames(node)
            aspect = ""
            if _CONFIDENCE.search(metric):
                aspect = "confidence"
            elif _CLASS.search(metric) or _CLASS.search(labels):
                aspect = "class"
            if aspect and ("MON-02", aspect) not in seen:
                seen.add(("MON-02", aspect))
                detectors.append(Detector("MON-02", f"{name}('{metric}')", "prometheus_client", path, where(node),
                                          notebook, aspect, continuous=True))
            if _DRIFT_METRIC.search(metric) and ("MON-01", metric) not in seen:
                seen.add(("MON-01", metric))
                detectors.append(Detector("MON-01", f"{name}('{metric}')", "prometheus_client", path,
                                          where(node), notebook, continuous=True))
        if name == "evaluate" and "mlflow" in roots and _kw(node, "validation_thresholds") is not None \
                and ("MON-03", name) not in seen:
            seen.add(("MON-03", name))
            detectors.append(Detector("MON-03", "mlflow.evaluate(validation_thresholds=...)", "MLflow", path,
                                      where(node), notebook))
        # schedules declared in code
        if name in ("DAG", "dag") and "airflow" in roots:
            kw = _kw(node, "schedule", "schedule_interval", "timetable")
            if kw is not None and not (isinstance(kw.value, ast.Constant) and kw.value.value is None):
                schedules.append(CodeSchedule("Airflow DAG", path, node.lineno, _expr(kw.value)))
        elif name in ("serve", "deploy", "to_deployment") and "prefect" in roots:
            kw = _kw(node, "cron", "interval", "rrule", "schedule", "schedules")
            if kw is not None:
                schedules.append(CodeSchedule("Prefect deployment", path, node.lineno, _expr(kw.value)))
        elif name in ("CronSchedule", "IntervalSchedule", "Cron", "Interval") and "prefect" in roots:
            schedules.append(CodeSchedule("Prefect schedule", path, node.lineno, _expr_args(node)))
        elif name in ("ScheduleDefinition", "schedule") and "dagster" in roots:
            kw = _kw(node, "cron_schedule")
            if kw is not None:
                schedules.append(CodeSchedule("Dagster schedule", path, node.lineno, _expr(kw.value)))
        elif name == "create_monitoring_schedule" and "sagemaker" in roots:
            kw = _kw(node, "schedule_cron_expression")
            detail = _expr(kw.value) if kw is not None else "schedule"
            schedules.append(CodeSchedule("SageMaker monitoring schedule", path, node.lineno, detail))
        elif name == "ScheduleConfig" and "google" in roots:
            schedules.append(CodeSchedule("Vertex AI monitoring schedule", path, node.lineno, _expr_args(node)))
        elif name == "EmailAlertConfig" and "google" in roots:
            notifies.append(CodeNotify("Vertex AI e-mail alert", path, node.lineno))
        elif name == "publish" and _kw(node, "TopicArn", "TargetArn") is not None:
            notifies.append(CodeNotify("SNS publish", path, node.lineno))
    # decorators (@dag(schedule=...), @schedule(cron_schedule=...)) are Calls too, handled above
    for root, label in _NOTIFY_IMPORTS.items():
        if root in roots:
            notifies.append(CodeNotify(label, path, _import_line(mod, root) or 1))
    for root, label in _SDK_IMPORTS.items():
        if root in roots and not any(d.library == label for d in detectors):
            line = None if notebook else _import_line(mod, root)
            detectors.append(Detector("MON-01", f"{root} SDK", label, path, line, notebook))
            if root in ("arize", "fiddler", "whylabs_client"):
                detectors.append(Detector("MON-02", f"{root} SDK", label, path, line, notebook, "class"))
    attack: tuple[str, int] | None = None
    if not trains:
        for module, label in _ATTACK_MODULES:
            if mod.imports_any(module):
                attack = (label, _import_line(mod, module.split(".")[0]) or 1)
                break
    linked = bool(schedules)  # imports and strings only serve to link a schedule to the files it runs
    return PyFacts(path, notebook, imports if linked else frozenset(), tuple(detectors), tuple(schedules),
                   tuple(notifies), tuple(strings) if linked else (), attack)


def _import_line(mod: PyModule, root: str) -> int | None:
    """Line of the first import (in source order) of ``root`` or one of its submodules."""
    for node in mod.imports:
        if isinstance(node, ast.Import):
            if any(a.name.split(".")[0] == root for a in node.names):
                return node.lineno
        elif node.level == 0 and (node.module or "").split(".")[0] == root:
            return node.lineno
    return None


def _expr(node: ast.expr) -> str:
    try:
        return ast.unparse(node)[:80]
    except Exception:  # a pathologically deep expression (RecursionError)
        return "?"


def _expr_args(call: ast.Call) -> str:
    return ", ".join(_expr(a) for a in [*call.args, *(k.value for k in call.keywords)])[:80]


def _trigger_words() -> set[str]:
    """Every word some fact of :func:`analyse` needs in the text: a detector's own name (its library must be imported
    too, but the name is what the code calls: a library named in prose is no fact), the calls a schedule or alert
    rule reads, and the libraries whose import alone is a fact."""
    return {*_DETECTORS, *_SDK_IMPORTS, *_NOTIFY_IMPORTS, *(m.split(".")[0] for m, _ in _ATTACK_MODULES),
            "prometheus_client", "airflow", "prefect", "dagster", "mlflow", "create_monitoring_schedule",
            "ScheduleConfig", "EmailAlertConfig", "TopicArn", "TargetArn"}


def _trigger() -> re.Pattern[str]:
    urls = [re.escape(u) for u, _ in _NOTIFY_URLS]
    words = "|".join(sorted(map(re.escape, _trigger_words())))
    psi = _PSI.pattern.removeprefix("(?i)^").removesuffix("$")  # calculate_psi is a word of its own
    return re.compile(r"\b(?:" + words + "|" + psi + ")|" + "|".join(urls), re.IGNORECASE)


#: A Python file matching none of these words yields no fact (its tree is not walked).
TRIGGER = _trigger()


def _trigger_automaton() -> ahocorasick.Automaton:
    """:data:`TRIGGER`'s alternatives as lower-case literals, each with whether it must start a word."""
    automaton = ahocorasick.Automaton()
    psi = [p + n for p in ("", "calc_", "calculate_", "compute_", "get_")
           for n in ("psi", "population_stability_index", "kl_divergence")]
    for word in (*_trigger_words(), *psi):
        automaton.add_word(word.lower(), (len(word), True))
    for url, _ in _NOTIFY_URLS:
        automaton.add_word(url.lower(), (len(url), False))
    automaton.make_automaton()
    return automaton


_TRIGGER_WORDS = _trigger_automaton()
#: Non-ASCII letters that ``re.IGNORECASE`` matches with ASCII ones and ``str.lower`` does not turn into them.
_FOLDS_TO_ASCII = re.compile("[\u0130\u0131\u017f\u212a]")


def triggered(code: str) -> bool:
    """``TRIGGER.search(code) is not None``, in one Aho-Corasick scan of the lower-cased text instead of trying
    every alternative at every word start (the expression took seconds on a large library's modules)."""
    if _FOLDS_TO_ASCII.search(code):
        return TRIGGER.search(code) is not None
    low = code.lower()
    for end, (size, at_word_start) in _TRIGGER_WORDS.iter(low):
        start = end - size + 1
        if not at_word_start or start == 0 or not (low[start - 1].isalnum() or low[start - 1] == "_"):
            return True
    return False


def _needles() -> tuple[str, ...]:
    """Lower-case words without which no fact can arise: every rule above needs one of them in the text.

    Detector class names are not needles (each also needs its library imported, and the library's name is one),
    and attack tools are matched by their full module (``art.attacks``, not ``art``, a part of many words).
    """
    words = {*(r for spec in _DETECTORS.values() for r in spec[1]), *_SDK_IMPORTS, *_NOTIFY_IMPORTS,
             *(m for m, _ in _ATTACK_MODULES), *(u for u, _ in _NOTIFY_URLS), "prometheus_client", "airflow",
             "prefect", "dagster", "mlflow", "psi", "kl_divergence", "population_stability_index", "topicarn",
             "targetarn"}
    return tuple(sorted(w.lower() for w in words))


#: What a module's text (lower-cased) must contain for the visitor to be called.
NEEDLES = _needles()


def _facts(mod: PyModule) -> PyFacts | None:
    facts = analyse(mod)
    if not (facts.detectors or facts.schedules or facts.notifies or facts.attack_tool):
        return None
    return facts


def scan_module(mod: PyModule) -> PyFacts | None:
    """Facts of one module, ``None`` when it has none.

    A plain module must also match :data:`TRIGGER` (the words at a word start); a notebook is read whenever a
    needle occurs in its code. In the pass, the visitor's screen has made that check before the parse.
    """
    if not mod.notebook and not triggered(mod.code):
        return None
    return _facts(mod)


VISITOR: PythonVisitor[PyFacts] = PythonVisitor("monitoring", _facts, needles=NEEDLES, ignore_case=True,
                                                 screen=lambda code, _matched: triggered(code))


def module_name(path: str) -> str:
    """Dotted module of a Python path (``src/`` prefix dropped): ``src/mon/drift.py`` -> ``mon.drift``."""
    stem = path[:-3] if path.endswith(".py") else path
    mod = stem.replace("/", ".")
    return mod[4:] if mod.startswith("src.") else mod
