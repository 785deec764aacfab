"""Small readers of parsed YAML nodes shared by the CI parsers (scalars as text, lines of keys and items)."""

from __future__ import annotations

from typing import Any

from mlposture.scanner.sources.ci.model import Permissions
from mlposture.scanner.yamlsafe import YList, YMap


def text_of(value: Any) -> str:
    """A scalar as text (YAML ``true`` -> ``"true"``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    return str(value)


def truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def str_list(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        return tuple(text_of(v) for v in value if not isinstance(v, (dict, list)))
    return ()


def pairs(value: Any) -> tuple[tuple[str, str], ...]:
    if isinstance(value, dict):
        return tuple((str(k), text_of(v)) for k, v in value.items() if not isinstance(v, (dict, list)))
    return ()


def key_line(container: Any, key: Any, default: int) -> int:
    if isinstance(container, YMap):
        return container.line_of(key)
    return default


def item_line(container: Any, index: int, default: int) -> int:
    if isinstance(container, YList):
        return container.line_of(index)
    return default


def value_line(container: Any, key: Any, default: int) -> int:
    """Line where a value's text starts: the line after ``run: |`` (one line of script or many), the key's line
    for a value written on it."""
    if isinstance(container, (YMap, YList)):
        return container.value_line(key)
    return default


def permissions(node: Any, line: int) -> Permissions | None:
    if isinstance(node, str):
        return Permissions(line, shorthand=node.strip())
    if isinstance(node, dict):
        if not node:
            return Permissions(line, shorthand="{}")
        return Permissions(line, scopes=tuple((str(k), text_of(v)) for k, v in node.items()))
    return None

