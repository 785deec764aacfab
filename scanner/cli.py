"""Command-line interface: the only place that picks concrete classes (writers, probes) by name."""

from __future__ import annotations

import sys

import click

from scanner import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mlposture")
def cli() -> None:
    """mlposture: evidence-gathering security scanner for machine-learning repositories."""


# --- commands contributed by probe packages (one add_command line each) ---


def main() -> None:
    """Console-script entry point."""
    try:
        cli.main(prog_name="mlposture", standalone_mode=True)
    except SystemExit:
        raise
    except Exception as exc:  # the scanner itself failed: exit 3, never 0
        click.echo(f"mlposture: internal error: {type(exc).__name__}: {exc}", err=True)
        sys.exit(3)
