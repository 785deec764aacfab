"""Helpers over Python syntax trees shared by the probes (trees come from ``RepoView.python_ast``)."""

from __future__ import annotations

import ast
from collections.abc import Iterator


def statements(tree: ast.Module) -> Iterator[ast.stmt]:
    """Every statement of the module, nested ones included, without visiting expressions.

    Imports and assignments are statements, so this finds them all at a fraction of ``ast.walk``'s cost (most
    nodes of a module are expressions).
    """
    stack: list[ast.stmt] = list(reversed(tree.body))
    while stack:
        node = stack.pop()
        yield node
        for name in ("body", "orelse", "finalbody"):
            children = getattr(node, name, None)
            if isinstance(children, list):
                stack.extend(reversed([c for c in children if isinstance(c, ast.stmt)]))
        for handler in getattr(node, "handlers", None) or ():
            stack.extend(reversed(handler.body))
        for case in getattr(node, "cases", None) or ():
            stack.extend(reversed(case.body))
