"""libyaml reads the events, Python composes the nodes: the same documents, lines and errors as PyYAML's own
parser on every YAML file of the fixtures, and the caps still hold."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mlposture.scanner import yamlsafe
from mlposture.scanner.yamlsafe import YamlError, YList, YMap

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = sorted(p for p in (ROOT / "fixtures").rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file()
                 and p.stat().st_size < 256 * 1024) + sorted((ROOT / "controls").glob("*.yaml"))

pytestmark = pytest.mark.skipif(yamlsafe.CParser is None, reason="PyYAML built without libyaml")


def lines(value: Any) -> Any:
    """The value with the line of every mapping key and sequence item, for comparison."""
    if isinstance(value, YMap):
        return ("map", value.line, {str(k): (value.line_of(k), lines(v)) for k, v in value.items()})
    if isinstance(value, YList):
        return ("seq", value.line, [(value.line_of(i), lines(v)) for i, v in enumerate(value)])
    return value


def outcome(kind: type, text: str) -> Any:
    try:
        return [lines(d) for d in yamlsafe._load_all_with(kind, text, False)]
    except YamlError as exc:
        return ("error", exc.line)


def test_there_are_samples() -> None:
    assert len(SAMPLES) > 40


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: str(p.relative_to(ROOT)))
def test_both_parsers_read_the_same_documents_and_lines(path: Path) -> None:
    text = path.read_text(encoding="utf-8", errors="replace")
    assert outcome(yamlsafe._FastBoundedLoader, text) == outcome(yamlsafe._BoundedLoader, text)


@pytest.mark.parametrize(("text", "line", "words"), [
    ("a: 1\nb: \x01\n", 2, "not allowed in YAML"),
    ("é: ü\nb: ok\nc: \x07\n", 3, "not allowed in YAML"),
    ("a: 1\na: 2\n", 2, "duplicate key 'a'"),
    ("license: [unclosed", 1, "expected ','"),
    ("license: [unclosed\n", 2, "expected ','"),
    ("a: &a [" + ",".join(["x"] * 9) + "]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [" + ",".join([f"*{chr(97 + i)}"] * 9) + "]\n" for i in range(8)),
     1, "alias bomb"),
    ("x: " + "[" * 150 + "]" * 150 + "\n", 1, "nest"),
    ("".join(f"k{i}: &a{i} v\n" for i in range(250)) + "".join(f"r{i}: *a{i}\n" for i in range(250)), 451,
     "aliases"),
])
def test_the_caps_and_errors_hold_with_libyaml(text: str, line: int, words: str) -> None:
    with pytest.raises(YamlError) as err:
        yamlsafe.load(text, strict=True)
    assert err.value.line == line and words in err.value.message
