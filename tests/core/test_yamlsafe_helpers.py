"""The shared readers of loaded YAML containers: lines of keys and items, safe paths, statement lines."""

from __future__ import annotations

import pytest

from mlposture.scanner import yamlsafe
from mlposture.scanner.yamlsafe import dig, item_lines, line_of, load

DOC = "a:\n  b:\n    - x: 1\n    - plain\n    - y: 2\n  c: 3\n"


def test_line_of_keys_items_and_containers() -> None:
    doc = load(DOC)
    assert line_of(doc, "a") == 1
    assert line_of(doc["a"], "c") == 6
    assert line_of(doc["a"]["b"], 2) == 5  # third item
    assert line_of(doc["a"]["b"]) == 3  # the sequence itself
    assert line_of(doc["a"], "missing") == 2  # an unknown key: the mapping's own line
    assert line_of({"a": 1}, "a", default=7) == 7  # not from the loader: the default
    assert line_of("scalar") == 1


def test_dig_never_raises_on_another_shape() -> None:
    doc = load(DOC)
    assert dig(doc, "a", "b", 2, "y") == 2
    assert dig(doc, "a", "b", 9) is None
    assert dig(doc, "a", "c", "d") is None  # 3 is not a mapping
    assert dig(doc, "a", "b", "x") is None  # a string key on a list
    assert dig(None, "a") is None


def test_item_lines_of_statement_lists() -> None:
    doc = load(DOC)
    assert item_lines(doc["a"]["b"], 0) == [3, 5]  # mapping items only
    assert item_lines(doc["a"], 0) == [2]  # a lone mapping is one statement
    assert item_lines({"Effect": "Allow"}, 4) == [4]
    assert item_lines("text", 4) == []


VALUES = """steps:
  - run: |
      python train.py
  - run: >-
      echo one
      two
  - run: echo inline
  - run:
      echo below
  - uses: actions/checkout@v4
script:
  - |
    python x.py
  - plain
"""


@pytest.mark.parametrize("fast", [True, False])
def test_value_lines_of_block_scalars_and_values_below_their_key(fast: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    if not fast:  # the same lines from PyYAML's pure-Python parser as from libyaml's
        monkeypatch.setattr(yamlsafe, "CParser", None)
    doc = load(VALUES)
    steps = doc["steps"]
    first = [next(iter(s)) for s in steps]
    assert [s.line_of(k) for s, k in zip(steps, first, strict=True)] == [2, 4, 7, 8, 10]
    assert [s.value_line(k) for s, k in zip(steps, first, strict=True)] == [3, 5, 7, 9, 10]
    assert doc["script"].value_line(0) == 13 and doc["script"].value_line(1) == 14
    assert doc.value_line("steps") == 2 and doc.value_line("missing") == doc.line


def test_front_matter_value_lines_are_file_lines() -> None:
    from mlposture.scanner.sources import markdown

    doc = markdown.parse("---\nlicense: mit\nnotes: |\n  kept\n---\n# Card\n", "CARD.md")
    assert doc.front is not None
    assert doc.front.line_of("notes") == 3 and doc.front.value_line("notes") == 4
