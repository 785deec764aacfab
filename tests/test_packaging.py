"""The wheel installs every package under the project's own name, and the tests run against that installation."""

from __future__ import annotations

import importlib
import sys
from importlib import metadata
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
TOPS = {"scanner": "mlposture.scanner", "probes": "mlposture.probes", "controls": "mlposture.controls",
        "fleet": "mlposture.fleet", "dashboard": "mlposture.dashboard"}


def _source_packages() -> set[str]:
    found = set()
    for folder, name in TOPS.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder).parts
            found.add(".".join((name, *rel)))
    return found


def test_every_source_package_is_listed_for_the_wheel() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert set(config["packages"]) == _source_packages()
    assert config["package-dir"] == {name: folder for folder, name in TOPS.items()}


def test_every_probe_folder_is_installed_and_importable() -> None:
    for name in sorted(_source_packages()):
        module = importlib.import_module(name)
        assert module.__name__ == name


def test_built_in_probes_register_under_the_project_name() -> None:
    eps = {ep.name: ep.value for ep in metadata.entry_points(group="mlposture.probes")}
    probe_dirs = {p.parent.name for p in (ROOT / "probes").glob("*/__init__.py")}
    # every probe folder provides at least one registered probe (lifecycle provides two: data_ and model_lifecycle)
    registered = {value.split(":")[0].split(".")[2] for value in eps.values() if value.startswith("mlposture.probes.")}
    assert probe_dirs <= registered
    assert {name for name in probe_dirs if name != "lifecycle"} <= set(eps)


def test_no_top_level_scanner_or_probes_package_is_installed() -> None:
    dist = metadata.distribution("mlposture")
    tops = (dist.read_text("top_level.txt") or "").split()
    assert tops in ([], ["mlposture"])
    console = {ep.name: ep.value for ep in metadata.entry_points(group="console_scripts")}
    assert console["mlposture"] == "mlposture.scanner.cli:main"


def test_plugin_api_exports_what_a_probe_needs() -> None:
    from mlposture.scanner import api

    for name in ("Probe", "Evidence", "Finding", "Note", "NotApplicable", "Searched", "Effect", "Severity",
                 "RepoView", "Settings"):
        assert hasattr(api, name), name
