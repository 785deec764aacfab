"""The dependency arrows match the folders: no probe imports another probe, and the core imports no probe.

Checked with ``ast`` over the source (imports inside functions and ``TYPE_CHECKING`` blocks count too), so a
shortcut through another probe's internals fails here instead of surfacing as a plugin that cannot be disabled.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _imports(path: Path) -> Iterator[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module
            for alias in node.names:  # "from mlposture.probes import monitoring"
                yield node.lineno, f"{node.module}.{alias.name}"


def _probe_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[2] if len(parts) > 2 and parts[:2] == ["mlposture", "probes"] else None


def test_no_probe_imports_another_probe() -> None:
    bad = []
    for path in sorted((ROOT / "probes").rglob("*.py")):
        own = path.relative_to(ROOT / "probes").parts[0]
        for line, module in _imports(path):
            other = _probe_of(module)
            if other is not None and other != own:
                bad.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    assert not bad, "\n".join(bad)


def test_the_core_imports_no_probe() -> None:
    bad = []
    for path in sorted((ROOT / "scanner").rglob("*.py")):
        for line, module in _imports(path):
            if module == "mlposture.probes" or module.startswith("mlposture.probes."):
                bad.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    assert not bad, "\n".join(bad)


def test_the_check_sees_a_cross_probe_import(tmp_path: Path) -> None:
    sample = tmp_path / "x.py"
    sample.write_text("def f():\n    from mlposture.probes.cicd.tools import find\n")
    assert [(line, _probe_of(m)) for line, m in _imports(sample)] == [(2, "cicd"), (2, "cicd")]


def test_no_module_over_600_lines_without_a_reason_at_its_top() -> None:
    bad = []
    for folder in ("scanner", "probes"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            text = path.read_text(encoding="utf-8")
            if text.count("\n") > 600:
                doc = ast.get_docstring(ast.parse(text)) or ""
                if "Over 600 lines:" not in doc:
                    bad.append(f"{path.relative_to(ROOT)} ({text.count(chr(10))} lines)")
    assert not bad, "say why at the top ('Over 600 lines: ...') or split: " + ", ".join(bad)
