"""One scan, end to end: view -> probes -> engine (+ answers) -> scores -> gate."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Sequence
from pathlib import Path

from mlposture.scanner import __version__
from mlposture.scanner.answers import DEFAULT_ANSWERS, AnswersFile, load_answers
from mlposture.scanner.catalog import Catalog, load_catalog
from mlposture.scanner.context import build_rule, parse_contexts
from mlposture.scanner.engine import decide, default_jobs, run_probes
from mlposture.scanner.gate import BUILTIN_DISTRIBUTION, ProbeFailure, evaluate_gate
from mlposture.scanner.plugins import discover
from mlposture.scanner.probe import Probe, ProbeLoadError
from mlposture.scanner.repo import RepoView
from mlposture.scanner.results import RepoSetting, ScanResult, Target
from mlposture.scanner.scoring import compute_scores
from mlposture.scanner.settings import Settings
from mlposture.scanner.sources import Sources
from mlposture.scanner.sources.risk_tier import read_eu_risk_tier


def resolve_answers(root: Path, catalog: Catalog, answers_path: Path | None,
                    today: dt.date | None = None) -> AnswersFile:
    """The explicit answers file, else ``.mlposture/answers.yaml`` in the scanned root when it exists."""
    if answers_path is not None:
        return load_answers(answers_path, [c.id for c in catalog], str(answers_path), today)
    default = root / DEFAULT_ANSWERS
    if default.is_file():
        return load_answers(default, [c.id for c in catalog], DEFAULT_ANSWERS, today, within=root)
    return AnswersFile.empty()


def _with_recorded_risk_tier(repo: RepoView, settings: Settings) -> Settings:
    """Fill ``eu_risk_tier`` from the repository's own record (``.mlposture.yaml`` or model-card front matter).

    The tier switches thresholds and applicability in several probes (183-day log retention, MON-12, INF-14), so it
    is read once here and handed to all of them instead of each probe looking for it.
    """
    if settings.eu_risk_tier is not None:
        return settings
    try:
        record = read_eu_risk_tier(repo)
    except Exception as exc:  # a broken record must not stop the scan
        repo.note(f"EU AI Act risk tier not read: {type(exc).__name__}: {exc}")
        return settings
    return dataclasses.replace(settings, eu_risk_tier=record[0]) if record else settings


def scan(target: str | Path, settings: Settings, answers_path: Path | None = None, *,
         catalog: Catalog | None = None,
         probes: Sequence[tuple[type[Probe], str]] | None = None,
         on_probe: Callable[[str], None] | None = None,
         display_target: str | None = None,
         url: str | None = None,
         ref: str | None = None,
         is_new: object = None,
         today: dt.date | None = None,
         repo_config: Sequence[RepoSetting] = (),
         config_notes: Sequence[tuple[str, str, int | None]] = (),
         repo_answers: bool = True) -> ScanResult:
    """Scan ``target`` (a folder or one file). Raises ``FileNotFoundError``, ``AnswersError``, ``CatalogError``,
    ``ValueError`` for an unknown context name in ``settings.contexts``."""
    counted = parse_contexts(settings.contexts)
    catalog = catalog or load_catalog(settings.extra_controls)
    repo = RepoView(target, settings)
    settings = _with_recorded_risk_tier(repo, settings)
    if on_probe is not None:
        on_probe(f"{len(repo.files)} files walked ({repo.bytes_walked / 1e6:.1f} MB)")
    if answers_path is None and not repo_answers:
        answers = AnswersFile.empty()  # --no-repo-config: the target's own answers file is its config too
    else:
        answers = resolve_answers(repo.root, catalog, answers_path, today)
    for message, path, line in config_notes:
        repo.note(message, path, line)
    load_errors: tuple[ProbeLoadError, ...] = ()
    if probes is None:
        loaded = discover(settings.disabled_probes)
        probes, load_errors = loaded.probes, loaded.errors
    runs = run_probes(probes, repo, settings, on_probe, settings.jobs or default_jobs())
    rule = build_rule(repo)
    decision = decide(catalog, runs, answers, rule, counted)
    scores = compute_scores(catalog, decision.controls)
    failures = [ProbeFailure(e.name, f"could not be loaded: {e.error}") for e in load_errors
                if e.distribution == BUILTIN_DISTRIBUTION]
    failures += [ProbeFailure(r.info.name, f"failed: {r.error}") for r in runs
                 if r.error is not None and r.info.distribution == BUILTIN_DISTRIBUTION]
    gate = evaluate_gate(decision.controls, decision.findings, scores, settings, is_new, failures)
    notes = list(repo.notes) + list(decision.notes)
    warnings = list(answers.warnings) + list(decision.warnings)
    for err in load_errors:
        warnings.append(f"probe plugin '{err.name}' could not be loaded: {err.error}")
    generated = (dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z"))
    return ScanResult(
        tool_version=__version__,
        target=Target(display_target or str(target), repo.git, url, ref),
        generated_at=generated,
        catalog=catalog,
        controls=decision.controls,
        findings=decision.findings,
        probes=tuple(runs),
        load_errors=load_errors,
        notes=tuple(notes),
        warnings=tuple(warnings),
        scores=scores,
        gate=gate,
        counted_contexts=tuple(dict.fromkeys(["production", *(c.value for c in counted)])),
        context_sources=rule.sources,
        sources=tuple(sorted(Sources.of(repo).timings.items())),
        repo_config=tuple(repo_config),
    )
