"""Terraform HCL2 read with python-hcl2 (v8), keeping the line of every block and attribute.

python-hcl2 8.x declares a ``with_meta`` serialization option but does not implement it, so ``hcl2.loads`` gives
no lines. Its parse tree does: the Lark parser runs with ``propagate_positions`` and every ``BlockRule`` and
``AttributeRule`` keeps the Lark ``Meta``. This module walks that tree and builds :class:`Block` values with the
line of each attribute; attribute values are serialized by the library itself (strings unquoted, references as
``${...}``). When a node carries no position (a future library change), the line falls back to a bounded text
search for the attribute name below the block's line, and finally to the block's own line.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from mlposture.scanner.values import as_number

number = as_number  # HCL numbers: the shared hostile-value coercion

MAX_HCL_BYTES = 1024 * 1024  # lark is pure Python: a 1 MiB .tf file already takes seconds
MAX_BLOCK_DEPTH = 60


class HclError(ValueError):
    """A Terraform file python-hcl2 could not parse; ``line`` is 1-based when the parser said where."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


@dataclass(frozen=True)
class Block:
    """One HCL block: ``resource "aws_s3_bucket" "data" { ... }`` has type ``resource`` and two labels."""

    type: str
    labels: tuple[str, ...]
    line: int
    attrs: dict[str, Any] = field(default_factory=dict)
    attr_lines: dict[str, int] = field(default_factory=dict)
    blocks: tuple[Block, ...] = ()

    def line_of(self, name: str) -> int:
        """Line of attribute or nested block ``name``, or the block's own line."""
        if name in self.attr_lines:
            return self.attr_lines[name]
        for child in self.blocks:
            if child.type == name:
                return child.line
        return self.line

    def get(self, name: str, default: Any = None) -> Any:
        """Value of attribute ``name``."""
        return self.attrs.get(name, default)

    def children(self, name: str) -> list[Block]:
        """Nested blocks of type ``name`` (``rule``, ``ingress``...)."""
        return [b for b in self.blocks if b.type == name]

    def child(self, *path: str) -> Block | None:
        """The first nested block along ``path``, or None."""
        node: Block | None = self
        for name in path:
            if node is None:
                return None
            found = node.children(name)
            node = found[0] if found else None
        return node

    def descendants(self) -> Iterator[Block]:
        """Every nested block, depth first."""
        for b in self.blocks:
            yield b
            yield from b.descendants()

    @property
    def address(self) -> str:
        """Terraform address: ``aws_s3_bucket.data`` for a resource, ``data.x.y`` for a data source."""
        if self.type == "resource" and len(self.labels) >= 2:
            return f"{self.labels[0]}.{self.labels[1]}"
        return ".".join((self.type, *self.labels))


@dataclass(frozen=True)
class Resource:
    """A top-level ``resource`` (or ``data``) block with its file."""

    kind: str  # resource | data
    rtype: str
    name: str
    block: Block
    path: str

    @property
    def address(self) -> str:
        """``aws_s3_bucket.data`` (``data.aws_iam_policy_document.x`` for data sources)."""
        base = f"{self.rtype}.{self.name}"
        return base if self.kind == "resource" else f"data.{base}"


@dataclass(frozen=True)
class HclFile:
    """A parsed file: its top-level blocks and top-level attributes (``.tfvars`` files only have the latter)."""

    blocks: list[Block]
    attrs: dict[str, Any]


def parse(text: str) -> HclFile:
    """Parse a Terraform file. Raises :class:`HclError` with the parser's message and line."""
    if len(text) > MAX_HCL_BYTES:
        raise HclError(f"larger than {MAX_HCL_BYTES // 1024} KiB, not parsed")
    try:
        import hcl2
        from hcl2.utils import SerializationOptions
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise HclError(f"python-hcl2 unavailable: {exc}") from None
    options = SerializationOptions(with_comments=False, strip_string_quotes=True, explicit_blocks=False)
    try:
        tree = hcl2.parses(text, discard_comments=True)
        lines = text.splitlines()
        root = _block_of(tree.body, "", (), 1, options, lines, 0)
        return HclFile(list(root.blocks), dict(root.attrs))
    except RecursionError:
        raise HclError("nested too deeply") from None
    except HclError:
        raise
    except Exception as exc:  # lark raises many types (UnexpectedToken, UnexpectedCharacters, VisitError...)
        line = getattr(exc, "line", None)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise HclError(first[:300], line if isinstance(line, int) and line > 0 else None) from None


def _line(node: Any) -> int | None:
    meta = getattr(node, "_meta", None)
    line = getattr(meta, "line", None)
    return line if isinstance(line, int) and line > 0 else None


def _search(lines: list[str], name: str, start: int) -> int:
    """Bounded fallback: the first line at or after ``start`` that assigns ``name``."""
    pattern = re.compile(rf"^\s*\"?{re.escape(name)}\"?\s*[={{]")
    for i in range(max(start - 1, 0), min(len(lines), start + 400)):
        if pattern.match(lines[i]):
            return i + 1
    return start


def _block_of(body: Any, btype: str, labels: tuple[str, ...], line: int, options: Any, lines: list[str],
              depth: int) -> Block:
    from hcl2.rules.base import AttributeRule, BlockRule

    if depth > MAX_BLOCK_DEPTH:
        raise HclError(f"blocks nested deeper than {MAX_BLOCK_DEPTH} levels")
    attrs: dict[str, Any] = {}
    attr_lines: dict[str, int] = {}
    blocks: list[Block] = []
    for child in body.children:
        if isinstance(child, AttributeRule):
            name = str(child.identifier.serialize(options)).strip('"')
            attrs[name] = child.expression.serialize(options)
            attr_lines[name] = _line(child) or _search(lines, name, line)
        elif isinstance(child, BlockRule):
            names = [str(label.serialize(options)).strip('"') for label in child.labels]
            blocks.append(_block_of(child.body, names[0], tuple(names[1:]), _line(child) or line, options, lines,
                                    depth + 1))
    return Block(btype, labels, line, attrs, attr_lines, tuple(blocks))


def from_json(doc: Any) -> HclFile:
    """A Terraform JSON configuration (``*.tf.json``) in the same shape as :func:`parse` gives.

    In the JSON syntax a nested block is an object (or a list of objects) under its type name, which cannot be
    told apart from an object-valued attribute without the provider schema; so every object value is kept both
    as an attribute and as a nested block. Lines come from the line-aware loader (:mod:`mlposture.scanner.yamlsafe`).
    """
    from mlposture.scanner.yamlsafe import YMap
    from mlposture.scanner.yamlsafe import line_of as line

    def block(btype: str, labels: tuple[str, ...], body: Any, at: int, depth: int) -> Block:
        if depth > MAX_BLOCK_DEPTH:
            raise HclError(f"blocks nested deeper than {MAX_BLOCK_DEPTH} levels")
        attrs: dict[str, Any] = {}
        attr_lines: dict[str, int] = {}
        nested: list[Block] = []
        if isinstance(body, dict):
            for key, value in body.items():
                name = str(key)
                attrs[name] = value
                attr_lines[name] = line(body, key, at)
                items = value if isinstance(value, list) else [value]
                for item in items:
                    if isinstance(item, dict):
                        at_item = item.line if isinstance(item, YMap) else attr_lines[name]
                        nested.append(block(name, (), item, at_item, depth + 1))
        return Block(btype, labels, at, attrs, attr_lines, tuple(nested))

    blocks: list[Block] = []
    if not isinstance(doc, dict):
        return HclFile([], {})
    for kind in ("resource", "data"):
        by_type = doc.get(kind)
        if not isinstance(by_type, dict):
            continue
        for rtype, by_name in by_type.items():
            if not isinstance(by_name, dict):
                continue
            for name, body in by_name.items():
                for item in body if isinstance(body, list) else [body]:
                    at = item.line if isinstance(item, YMap) else line(by_name, name, 1)
                    blocks.append(block(kind, (str(rtype), str(name)), item, at, 0))
    variables = doc.get("variable")
    if isinstance(variables, dict):
        for name, body in variables.items():
            blocks.append(block("variable", (str(name),), body, line(variables, name, 1), 0))
    return HclFile(blocks, {})


def resources(blocks: list[Block], path: str) -> list[Resource]:
    """The ``resource`` and ``data`` blocks of a parsed file."""
    out = []
    for b in blocks:
        if b.type in ("resource", "data") and len(b.labels) >= 2:
            out.append(Resource(b.type, b.labels[0], b.labels[1], b, path))
    return out


def truthy(value: Any) -> bool | None:
    """HCL boolean: True/False, ``"true"``/``"false"`` strings; None for expressions and absent values."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def strings(value: Any) -> list[str]:
    """A string or list of strings as a list (other values ignored)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []
