"""``mlposture fleet``: scan many repositories on Dask and keep every result in SQLite or PostgreSQL.

Registered through the ``mlposture.commands`` entry-point group. This module imports only click: Dask,
SQLAlchemy and Alembic are part of the ``fleet`` extra and are imported inside the commands, so a missing extra is
a clear usage error (exit 2) and never slows down ``mlposture scan``.
"""

from __future__ import annotations

import sys
from typing import Any, NoReturn

import click

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED = 130
EXTRA_MODULES = ("sqlalchemy", "alembic")
DB_HELP = "Database URL (default: $MLPOSTURE_DB or sqlite:///.mlposture/fleet.db)."


def _usage(message: str) -> NoReturn:
    click.echo(f"mlposture: error: {message}", err=True)
    sys.exit(EXIT_USAGE)


def _require(*extra: str) -> None:
    """Exit 2 naming the extra when one of its modules is missing."""
    import importlib

    missing = []
    for module in (*EXTRA_MODULES, *extra):
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append(module)
    if missing:
        _usage(f"`mlposture fleet` needs the fleet extra: install mlposture[fleet] (missing: {', '.join(missing)})")


def _open(db: str | None, readonly: bool = False) -> Any:
    _require()
    from mlposture.fleet.store import StoreError, open_store

    try:
        return open_store(db, readonly=readonly)
    except StoreError as exc:
        _usage(f"database: {exc}")


@click.group("fleet")
def fleet() -> None:
    """Scan many repositories on Dask; keep every result in SQLite or PostgreSQL (needs mlposture[fleet])."""


@fleet.command("scan")
@click.argument("sources", nargs=-1)
@click.option("--repos-file", default=None, help="File with one SOURCE per line (# comments, blank lines ignored).")
@click.option("--db", default=None, help=DB_HELP)
@click.option("--workers", type=click.IntRange(1), default=None,
              help="Worker processes of the local Dask cluster (default: one per core).")
@click.option("--scheduler", default=None, help="Address of an existing Dask scheduler (tcp://host:8786).")
@click.option("--ref", default=None, help="Branch, tag or commit for every SOURCE without its own @REF.")
@click.option("--repo-timeout", type=click.FloatRange(0, min_open=True), default=1800.0, show_default=True,
              help="Seconds one repository may take (clone and scan).")
@click.option("--retries", type=click.IntRange(0), default=1, show_default=True,
              help="How many times a failed repository is tried again.")
@click.option("--force", is_flag=True, help="Store a new scan even when the commit was already scanned alike.")
@click.option("--no-vulns", is_flag=True, help="Skip the known-vulnerability audit.")
@click.option("--vuln-db", default=None, help="OSV advisories (zip or folder, readable by the workers).")
@click.option("--attest", "attest_key", default=None, type=click.Path(dir_okay=False),
              help="Private key (PEM, readable by the workers): sign an audit record of every scan, stored with it.")
@click.option("-q", "--quiet", is_flag=True, help="No progress lines on stderr.")
def scan(sources: tuple[str, ...], repos_file: str | None, db: str | None, workers: int | None,
         scheduler: str | None, ref: str | None, repo_timeout: float, retries: int, force: bool, no_vulns: bool,
         vuln_db: str | None, attest_key: str | None, quiet: bool) -> None:
    """Scan every SOURCE (a local path or a git URL, optionally URL@REF), one Dask task each, and store the results.

    Exit 0 when every repository was scanned (their gate results are data), 1 when at least one could not be
    (named on stderr), 2 on usage errors.
    """
    if workers is not None and scheduler is not None:
        _usage("--workers and --scheduler exclude each other (the scheduler's cluster has its own workers)")
    _require("distributed")
    from mlposture.fleet.runner import RunOptions, dask_client, run_fleet
    from mlposture.fleet.sources import SourceError, collect_sources
    from mlposture.fleet.task import ScanOptions

    try:
        chosen = collect_sources(sources, repos_file, ref)
    except SourceError as exc:
        _usage(str(exc))
    if not chosen:
        _usage("nothing to scan: give SOURCE arguments or --repos-file")
    key = _attest_key(attest_key) if attest_key else None
    options = RunOptions(workers, scheduler, retries, force, ScanOptions(repo_timeout, no_vulns, vuln_db, key))

    def echo(line: str) -> None:
        if not quiet:
            click.echo(f"fleet: {line}", err=True)

    store = _open(db)
    try:
        echo(f"{len(chosen)} repositories, database {store.url}")
        try:
            with dask_client(options) as client:
                summary = run_fleet(chosen, store, options, client, echo)
        except OSError as exc:
            _usage(f"cannot reach the Dask scheduler {scheduler}: {exc}" if scheduler else f"Dask: {exc}")
    except KeyboardInterrupt:
        click.echo("mlposture: interrupted; every scan stored so far is complete", err=True)
        sys.exit(EXIT_INTERRUPTED)
    finally:
        store.close()
    for source, error in summary.failed:
        click.echo(f"mlposture: error: could not scan {source}: {error}", err=True)
    click.echo(f"fleet: {summary.stored} stored, {summary.unchanged} unchanged, {len(summary.failed)} failed "
               f"of {summary.total}", err=True)
    if summary.interrupted:
        click.echo(f"mlposture: interrupted; {summary.total - summary.finished} repositories not scanned, "
                   "every scan stored so far is complete", err=True)
        sys.exit(EXIT_INTERRUPTED)
    sys.exit(EXIT_FAILED if summary.failed else EXIT_OK)


def _attest_key(path: str) -> str:
    """The key's absolute path (scans run in a temporary folder), loaded once here so a bad key stops the run."""
    from pathlib import Path

    from mlposture.scanner.attestation.keys import load_signing_key
    from mlposture.scanner.errors import InputError

    try:
        load_signing_key(Path(path))
    except InputError as exc:
        _usage(f"--attest: {exc}")
    return str(Path(path).resolve())


@fleet.command("status")
@click.option("--db", default=None, help=DB_HELP)
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True)
def status(db: str | None, fmt: str) -> None:
    """One row per repository with its latest scan."""
    _require()
    from mlposture.fleet import render

    with _open(db) as store:
        rows = store.latest_per_repo()
    text = {"table": render.status_table, "json": render.status_json, "csv": render.status_csv}[fmt](rows)
    click.echo(text, nl=False)


@fleet.command("report")
@click.option("--db", default=None, help=DB_HELP)
@click.option("-f", "--format", "fmt", type=click.Choice(["md", "json", "csv"]), default="md", show_default=True)
@click.option("-o", "--output", default=None, help="Write to this file instead of stdout.")
def report(db: str | None, fmt: str, output: str | None) -> None:
    """The organisation summary: risk, weakest controls, dangerous artifacts, weekly scores, score drops."""
    from pathlib import Path

    _require()
    from mlposture.fleet import render
    from mlposture.fleet.summary import build_summary

    with _open(db) as store:
        summary = build_summary(store)
    text = {"md": render.report_markdown, "json": render.report_json, "csv": render.report_csv}[fmt](summary)
    if output:
        Path(output).write_text(text, encoding="utf-8")
    else:
        click.echo(text, nl=False)


@fleet.command("import")
@click.argument("reports", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--db", default=None, help=DB_HELP)
@click.option("--source", default=None,
              help="The repository these reports belong to (default: the report's URL or absolute path).")
@click.option("--force", is_flag=True, help="Store a report even when that commit was already stored alike.")
def import_cmd(reports: tuple[str, ...], db: str | None, source: str | None, force: bool) -> None:
    """Add JSON reports produced elsewhere (a CI job of each repository) to the database."""
    _require()
    from mlposture.fleet.store import ReportError

    bad = 0
    with _open(db) as store:
        for path in reports:
            try:
                recorded = store.import_report(path, source=source, force=force)
            except ReportError as exc:
                click.echo(f"mlposture: error: {exc}", err=True)
                bad += 1
                continue
            click.echo(f"{path}: {recorded.repo}: {recorded.outcome}")
    sys.exit(EXIT_USAGE if bad else EXIT_OK)


@fleet.command("migrate")
@click.option("--db", default=None, help=DB_HELP)
def migrate_cmd(db: str | None) -> None:
    """Create the database or bring it to this version's schema (every other command does it too)."""
    with _open(db) as store:
        from mlposture.fleet.store.migrate import current_revision

        with store.engine.connect() as connection:
            click.echo(f"{store.url}: schema revision {current_revision(connection)}")
