"""The shared readers of loaded YAML containers: lines of keys and items, safe paths, statement lines."""

from __future__ import annotations

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
