"""``mlposture sbom [PATH] -o FILE``: write a CycloneDX 1.6 AI-BOM of a repository."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from mlposture.probes.sbom.aibom import build_aibom
from mlposture.scanner.repo import RepoView
from mlposture.scanner.settings import Settings


@click.command("sbom")
@click.argument("path", default=".", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("-o", "--output", "output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the CycloneDX JSON here (default: standard output).")
@click.option("--no-verdicts", is_flag=True, help="Do not run the serialization probe on the model files.")
def sbom(path: Path, output: Path | None, no_verdicts: bool) -> None:
    """Write a CycloneDX 1.6 AI-BOM: Python dependencies (versions, purls, lock hashes) and model files."""
    settings = Settings()
    repo = RepoView(path, settings)
    result = build_aibom(repo, settings, with_verdicts=not no_verdicts)
    text = result.to_json()
    if output is None:
        click.echo(text)
    else:
        output.write_text(text + "\n", encoding="utf-8")
    for note in result.notes:
        click.echo(f"mlposture sbom: {note}", err=True)
    click.echo(f"mlposture sbom: {len(result.dependencies)} dependencies, {len(result.models)} model file(s)"
               + (f" -> {output}" if output else ""), err=True)
    sys.stdout.flush()
