"""Command-line interface: the only place that picks concrete classes (writers, probes) by name.

Exit codes (docs/contracts.md): 0 gate passed, 1 gate failed, 2 usage error or unusable input (the message names the
file and line), 3 the scanner itself failed.
"""

from __future__ import annotations

import json
import os
import sys
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from mlposture.scanner import __version__
from mlposture.scanner.atomicfile import write_atomic
from mlposture.scanner.report.registry import format_names, writer_for
from mlposture.scanner.report.textsafe import plain
from mlposture.scanner.settings import FailOn

if TYPE_CHECKING:
    from mlposture.scanner.catalog import Catalog

EXIT_OK, EXIT_GATE, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3
DEFAULT_REPORT = "mlposture-report"


def fail_usage(message: str) -> None:
    """One clear line on stderr, exit 2."""
    click.echo(f"mlposture: error: {plain(message)}", err=True)
    sys.exit(EXIT_USAGE)


COMMANDS_GROUP = "mlposture.commands"


class LazyGroup(click.Group):
    """A group whose plugin-contributed commands are found by entry point and imported only when invoked.

    Packages (the built-in probes among them) add subcommands through the ``mlposture.commands`` entry-point group,
    so the core imports none of them. Start-up time matters for ``mlposture scan-models`` in pre-commit hooks:
    importing every command's dependencies on each run would cost more than scanning a small model.
    """

    def _contributed(self) -> dict[str, metadata.EntryPoint]:
        return {ep.name: ep for ep in metadata.entry_points(group=COMMANDS_GROUP)}

    def list_commands(self, ctx: click.Context) -> list[str]:
        own = super().list_commands(ctx)
        return sorted({*own, *self._contributed()})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        own = super().get_command(ctx, name)
        if own is not None:
            return own
        ep = self._contributed().get(name)
        if ep is None:
            return None
        command = ep.load()
        if not isinstance(command, click.Command):
            raise click.ClickException(f"entry point {ep.value!r} for command {name!r} is not a click command")
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mlposture")
def cli() -> None:
    """mlposture: evidence-gathering security scanner for machine-learning repositories."""


def _catalog(extra: tuple[str, ...] = ()) -> Catalog:
    from mlposture.scanner.catalog import CatalogError, load_catalog

    try:
        return load_catalog(extra)
    except CatalogError as exc:
        fail_usage(str(exc))
        raise  # unreachable


def _effective(root: Path | None, flags: dict[str, Any], repo_config: bool = True) -> Any:
    from mlposture.scanner.config import ConfigError, build_settings

    try:
        return build_settings(root, os.environ, flags, repo_config=repo_config)
    except ConfigError as exc:
        fail_usage(str(exc))


def _check_output_paths(targets: dict[str, str | None]) -> None:
    """Exit 2 before the scan for a report path that cannot be written (a folder, a file as parent, no access)."""
    for dest in targets.values():
        if dest is None:
            continue
        path = Path(dest)
        if path.is_dir():
            fail_usage(f"{dest}: is a folder; give a file name (or use --output-dir)")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            fail_usage(f"{dest}: cannot create the folder {path.parent}: {exc.strerror or type(exc).__name__}")
        if not os.access(path.parent, os.W_OK | os.X_OK):
            fail_usage(f"{dest}: the folder {path.parent} is not writable")
        if path.exists() and not os.access(path, os.W_OK):
            fail_usage(f"{dest}: not writable")


def _output_paths(formats: list[str], output: str | None, output_dir: str | None) -> dict[str, str | None]:
    """Where each format goes: a file path, or None for stdout."""
    files = [f for f in formats if f != "terminal"]
    targets: dict[str, str | None] = {}
    if output is not None and len(files) > 1:
        fail_usage("-o/--output takes one format; use --output-dir for several")
    for fmt in files:
        if output is not None:
            targets[fmt] = None if output == "-" else output
        else:
            ext = writer_for(fmt).extension
            targets[fmt] = str(Path(output_dir or ".") / f"{DEFAULT_REPORT}.{ext}")
    return targets


@cli.command()
@click.argument("target", default=".", required=False)
@click.option("-f", "--format", "formats", multiple=True, type=click.Choice(format_names(), case_sensitive=False),
              help="Report format; repeat for several. Default: terminal summary + Markdown report.")
@click.option("-o", "--output", default=None, help="File for the (single) report format; '-' for stdout.")
@click.option("--output-dir", default=None, help="Folder for report files (default: current folder).")
@click.option("--answers", "answers_path", default=None, type=click.Path(dir_okay=False),
              help="Answers file (default: .mlposture/answers.yaml in the target).")
@click.option("--fail-on", type=click.Choice([f.value for f in FailOn]), default=None,
              help="Lowest severity that fails the gate (default: critical).")
@click.option("--fail-under", type=click.FloatRange(0, 100), default=None, help="Fail when the score is below.")
@click.option("--allow-unverified", is_flag=True, default=None, help="Unverified controls only warn.")
@click.option("--allow-probe-errors", is_flag=True, default=None,
              help="A built-in probe that fails to load or crashes only warns (default: it fails the gate).")
@click.option("--baseline", default=None, type=click.Path(exists=True, dir_okay=False),
              help="A previous JSON report: gate only on what is new since it.")
@click.option("--ref", default=None, help="For a git URL target: the branch, tag or commit to scan.")
@click.option("--exclude", multiple=True, help="Gitignore-style pattern to skip; repeatable.")
@click.option("--no-vulns", is_flag=True, default=None, help="Skip the known-vulnerability audit.")
@click.option("--vuln-db", default=None, type=click.Path(exists=True),
              help="OSV advisories (zip or folder) for an air-gapped audit.")
@click.option("--history", is_flag=True, default=None, help="Also scan model files in git history (full clone).")
@click.option("--disable-probe", "disabled", multiple=True, help="Probe name to skip; repeatable.")
@click.option("--context", "contexts", multiple=True,
              help="Also count findings from these contexts (test, example, docs, fixture, vendored, all); "
                   "comma-separated or repeated. Default: production only.")
@click.option("--jobs", "-j", "jobs", default=None, type=click.IntRange(min=0),
              help="Worker processes for the probes (default: one per core; 1 runs them in this process).")
@click.option("--no-repo-config", is_flag=True,
              help="Ignore the target's own config (pyproject [tool.mlposture], .mlposture.yaml, answers file); "
                   "for pull requests from forks.")
@click.option("-q", "--quiet", is_flag=True, help="No summary on stdout and no progress on stderr.")
@click.option("--attest", "attest_key", default=None, type=click.Path(dir_okay=False),
              help="Also write a signed audit record (mlposture-report.intoto.jsonl) with this private key (PEM).")
def scan(target: str, formats: tuple[str, ...], output: str | None, output_dir: str | None,
         answers_path: str | None, fail_on: str | None, fail_under: float | None, allow_unverified: bool | None,
         allow_probe_errors: bool | None,
         baseline: str | None, ref: str | None, exclude: tuple[str, ...], no_vulns: bool | None,
         vuln_db: str | None, history: bool | None, disabled: tuple[str, ...], contexts: tuple[str, ...],
         jobs: int | None, no_repo_config: bool, quiet: bool, attest_key: str | None) -> None:
    """Scan a repository, one file, or a git URL (at --ref), and gate on the result."""
    from mlposture.scanner.context import parse_contexts
    from mlposture.scanner.remote import RemoteError, cloned, is_remote

    try:
        parse_contexts(contexts)
    except ValueError as exc:
        fail_usage(f"--context: {exc}")

    flags = {"fail_on": fail_on, "fail_under": fail_under, "allow_unverified": allow_unverified,
             "allow_probe_errors": allow_probe_errors,
             "exclude": exclude, "no_vulns": no_vulns, "vuln_db": vuln_db, "history": history,
             "disabled_probes": disabled, "contexts": contexts, "jobs": jobs, "_repo_config": not no_repo_config}
    chosen = [f.lower() for f in formats] or ["terminal", "md"]
    chosen = ["md" if f == "markdown" else f for f in dict.fromkeys(chosen)]
    targets = _output_paths(chosen, output, output_dir)
    _check_output_paths(targets)
    is_new = _baseline_filter(baseline) if baseline else None
    attest = _attestation(attest_key, output, output_dir)
    if is_remote(target):
        try:
            with cloned(target, ref, history=bool(history)) as checkout:
                code = _scan_and_report(checkout.path, checkout.url, checkout.ref, checkout.url, flags, targets,
                                        answers_path, quiet, is_new, attest)
        except RemoteError as exc:
            fail_usage(str(exc))
            return
        sys.exit(code)
    if ref is not None:
        fail_usage("--ref applies to git URL targets; for a local checkout, check out the ref first")
    path = Path(target)
    if not path.exists():
        fail_usage(f"{target}: no such file or folder")
    sys.exit(_scan_and_report(path, target, None, None, flags, targets, answers_path, quiet, is_new, attest))


def _attestation(key: str | None, output: str | None, output_dir: str | None) -> Any:
    """The signed record to write after the scan: asked by --attest, or by ``mlposture attest`` (which runs scan)."""
    from_attest_command = click.get_current_context().meta.get("mlposture.attestation")
    if from_attest_command is not None or key is None:
        return from_attest_command
    from mlposture.scanner.attestation.command import for_scan_option

    return for_scan_option(key, output, output_dir)


def _baseline_filter(baseline: str) -> Any:
    """A predicate telling whether a control result or finding is new relative to the baseline report."""
    from mlposture.scanner.results import ControlResult, RecordedFinding

    try:
        old = json.loads(Path(baseline).read_text("utf-8"))
        old_status = {c["id"]: c["status"] for c in old["controls"]}
        old_prints = {f["fingerprint"] for f in old["findings"]}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        fail_usage(f"{baseline}: not a mlposture JSON report ({type(exc).__name__}: {exc})")
        raise

    def is_new(item: object) -> bool:
        if isinstance(item, ControlResult):
            return old_status.get(item.control.id) != item.status.value
        if isinstance(item, RecordedFinding):
            return item.fingerprint not in old_prints
        return True

    return is_new


def _scan_and_report(path: Path, display: str, ref: str | None, url: str | None, flags: dict[str, Any],
                     targets: dict[str, str | None], answers_path: str | None, quiet: bool, is_new: Any,
                     attest: Any = None) -> int:
    from mlposture.scanner.answers import AnswersError
    from mlposture.scanner.context import parse_contexts
    from mlposture.scanner.progress import progress_reporter
    from mlposture.scanner.report.terminal import print_summary
    from mlposture.scanner.scan import scan as run_scan

    root = path if path.is_dir() else path.parent
    flags = dict(flags)
    repo_config = bool(flags.pop("_repo_config", True))
    effective = _effective(root, flags, repo_config)
    settings = effective.settings
    try:
        parse_contexts(settings.contexts)
    except ValueError as exc:
        fail_usage(f"setting 'contexts': {exc}")
    if settings.disabled_probes:
        from mlposture.scanner.plugins import discover

        known = sorted(cls.name for cls, _ in discover().probes)
        unknown = [p for p in settings.disabled_probes if p not in known]
        if unknown:
            fail_usage(f"{effective.sources['disabled_probes']}: unknown probe '{unknown[0]}' "
                       f"(known: {', '.join(known)})")
    catalog = _catalog(settings.extra_controls)
    if attest is not None:
        attest.check(path)
    try:
        with progress_reporter(enabled=not quiet) as on_probe:
            result = run_scan(path, settings, Path(answers_path) if answers_path else None, catalog=catalog,
                              display_target=display, url=url, ref=ref, is_new=is_new, on_probe=on_probe,
                              repo_config=effective.lowered, config_notes=effective.notes,
                              repo_answers=repo_config)
    except AnswersError as exc:
        fail_usage(str(exc))
        raise
    except FileNotFoundError as exc:
        fail_usage(f"{exc}: no such file or folder")
        raise
    to_stdout = any(dest is None for dest in targets.values())
    for fmt, dest in targets.items():
        text = writer_for(fmt).render(result)
        if dest is None:
            click.echo(text, nl=False)
            continue
        try:
            write_atomic(Path(dest), text)
        except OSError as exc:
            fail_usage(f"{dest}: cannot write the report: {exc.strerror or type(exc).__name__}")
        if not quiet and not to_stdout:
            click.echo(f"wrote {dest}", err=True)
    if not quiet and not to_stdout:
        print_summary(result, sys.stdout)
    for warning in result.warnings:
        click.echo(f"mlposture: warning: {plain(warning)}", err=True)
    if attest is not None:
        attest.write(result, path, settings, catalog, answers_path, is_new is not None, url, quiet)
    return EXIT_OK if result.gate.passed else EXIT_GATE


@cli.command("probes")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.option("--rules", "show_rules", is_flag=True, help="Also list each probe's rules (the JSON always has them).")
def probes_cmd(fmt: str, show_rules: bool) -> None:
    """List installed probes: name, version, description, controls (and rules)."""
    from mlposture.scanner.plugins import discover

    loaded = discover()
    rows = [cls.info(dist) for cls, dist in loaded.probes]
    if fmt == "json":
        data = [{"name": i.name, "version": i.version, "description": i.description, "controls": list(i.controls),
                 "distribution": i.distribution,
                 "rules": [{"id": r.id, "controls": list(r.controls), "summary": r.summary,
                            "severity": r.severity.value if r.severity else None} for r in i.rules]}
                for i in rows]
        data += [{"name": e.name, "error": e.error, "distribution": e.distribution} for e in loaded.errors]
        click.echo(json.dumps(data, indent=2))
        return
    for info in rows:
        click.echo(f"{info.name} {info.version}" + (f"  [{info.distribution}]" if info.distribution else ""))
        click.echo(f"  {info.description}")
        click.echo(f"  controls: {', '.join(info.controls) or '-'}")
        if show_rules:
            for r in info.rules:
                severity = f" [{r.severity.value}]" if r.severity else ""
                click.echo(f"    {r.id}{severity} ({', '.join(r.controls) or 'no control'}): {r.summary}")
    for err in loaded.errors:
        click.echo(f"{err.name}: NOT LOADED: {err.error}")


@cli.command("controls")
@click.option("--category", default=None, help="Category id (data, model, inference, pipeline, monitoring).")
@click.option("--severity", type=click.Choice(["critical", "high", "medium", "low"]), default=None)
@click.option("--format", "fmt", type=click.Choice(["md", "json"]), default="md")
def controls_cmd(category: str | None, severity: str | None, fmt: str) -> None:
    """List the catalog's controls."""
    catalog = _catalog(_effective(Path("."), {}).settings.extra_controls)
    if category and catalog.category(category) is None:
        fail_usage(f"--category: unknown category '{category}' "
                   f"(one of {', '.join(c.id for c in catalog.categories)})")
    chosen = [c for c in catalog if (not category or c.category == category)
              and (not severity or c.severity.value == severity)]
    if fmt == "json":
        click.echo(json.dumps([
            {"id": c.id, "title": c.title, "category": c.category, "severity": c.severity.value,
             "lockml_id": c.lockml_id, "automation": list(c.automation), "applicability": c.applicability,
             "mappings": c.mappings.as_dict()} for c in chosen], indent=2))
        return
    click.echo("| ID | Title | Severity | LockML | Automation |")
    click.echo("|---|---|---|---|---|")
    for c in chosen:
        click.echo(f"| {c.id} | {c.title} | {c.severity.value} | {c.lockml_id or '-'} | {'/'.join(c.automation)} |")


@cli.command()
@click.argument("control_id")
def explain(control_id: str) -> None:
    """Explain one control: what, why, evidence, fix, mappings."""
    catalog = _catalog(_effective(Path("."), {}).settings.extra_controls)
    c = catalog.get(control_id)
    if c is None:
        fail_usage(f"unknown control id '{control_id}' (see `mlposture controls`)")
        return
    cat = catalog.category(c.category)
    click.echo(f"{c.id}: {c.title}")
    click.echo(f"Category: {cat.name if cat else c.category}   Severity: {c.severity.value}   "
               f"LockML: {c.lockml_id or '-'}   Automation: {'/'.join(c.automation)}")
    click.echo(f"Applies when: {c.applies_when}")
    click.echo("")
    click.echo(c.description)
    click.echo("")
    click.echo("Evidence that verifies it:")
    for e in c.evidence:
        click.echo(f"  - {e}")
    click.echo("")
    click.echo(f"How to fix: {c.remediation}")
    click.echo("")
    click.echo("Mappings:")
    for key, values in c.mappings.as_dict().items():
        click.echo(f"  {key}: {', '.join(values) or '-'}")
    from mlposture.scanner.plugins import discover

    speakers = [cls.name for cls, _ in discover().probes if c.id in cls.controls]
    click.echo(f"Probes that speak for it: {', '.join(speakers) or 'none (needs a manual answer)'}")


@cli.command("config")
@click.argument("target", default=".", required=False)
def config_cmd(target: str) -> None:
    """Print the effective settings and where each came from."""
    path = Path(target)
    if not path.exists():
        fail_usage(f"{target}: no such file or folder")
    effective = _effective(path if path.is_dir() else path.parent, {})
    for name in effective.settings.field_names():
        value = getattr(effective.settings, name)
        if isinstance(value, tuple):
            shown = ", ".join(value) or "(none)"
        elif hasattr(value, "value"):
            shown = value.value
        else:
            shown = "(none)" if value is None else str(value)
        click.echo(f"{name} = {shown}    # {effective.sources[name]}")


@cli.command()
@click.argument("target", default=".", required=False)
@click.option("--answers", "answers_path", default=None, type=click.Path(dir_okay=False),
              help="Answers file to update (default: .mlposture/answers.yaml in the target).")
@click.option("--by", default=None, help="Who answers (asked once if not given).")
def answer(target: str, answers_path: str | None, by: str | None) -> None:
    """Answer the unverified controls one by one (Critical first) and save them."""
    from mlposture.scanner.answer_cmd import run_answer
    from mlposture.scanner.answers import AnswersError

    path = Path(target)
    if not path.exists() or not path.is_dir():
        fail_usage(f"{target}: no such folder")
    effective = _effective(path, {"fail_on": "none"})
    catalog = _catalog(effective.settings.extra_controls)
    try:
        run_answer(path, effective.settings, catalog, Path(answers_path) if answers_path else None, by)
    except AnswersError as exc:
        fail_usage(str(exc))


@cli.command("diff")
@click.argument("old", type=click.Path(dir_okay=False))
@click.argument("new", type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["md", "json"]), default="md")
@click.option("-o", "--output", default=None, help="Write to this file instead of stdout.")
@click.option("--fail-on-regression", is_flag=True, help="Exit 1 when a control regressed or a finding is new.")
def diff_cmd(old: str, new: str, fmt: str, output: str | None, fail_on_regression: bool) -> None:
    """Compare two JSON reports: regressions, new and resolved findings, score and coverage deltas."""
    from mlposture.scanner.diff import DiffError, diff_reports, load_report, render_json, render_markdown

    try:
        d = diff_reports(load_report(Path(old)), load_report(Path(new)))
    except DiffError as exc:
        fail_usage(str(exc))
        return
    text = render_markdown(d) if fmt == "md" else render_json(d)
    if output:
        try:
            write_atomic(Path(output), text)
        except OSError as exc:
            fail_usage(f"{output}: cannot write the diff: {exc.strerror or type(exc).__name__}")
    else:
        click.echo(text, nl=False)
    regressed = bool(d.regressions or d.new_findings)
    sys.exit(EXIT_GATE if fail_on_regression and regressed else EXIT_OK)


EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it: never mistaken for a failed gate (1)


def main() -> None:
    """Console-script entry point."""
    try:
        code = cli.main(prog_name="mlposture", standalone_mode=False)
    except SystemExit:
        raise
    except click.exceptions.Abort as exc:  # click turns Ctrl-C (and EOF at a prompt) into Abort
        interrupted = isinstance(exc.__cause__, KeyboardInterrupt)
        click.echo("mlposture: interrupted" if interrupted else "mlposture: aborted", err=True)
        sys.exit(EXIT_INTERRUPTED if interrupted else EXIT_GATE)
    except KeyboardInterrupt:
        click.echo("mlposture: interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except Exception as exc:  # the scanner itself failed: exit 3, never 0
        click.echo(f"mlposture: internal error: {type(exc).__name__}: {plain(exc)}", err=True)
        sys.exit(EXIT_INTERNAL)
    sys.exit(code if isinstance(code, int) else EXIT_OK)
