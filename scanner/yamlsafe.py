"""Safe, bounded YAML loading that keeps line numbers.

Evidence must name a line, and a hostile repository may hold alias bombs or documents nested ten thousand
deep. This loader builds on PyYAML's ``SafeLoader`` (never ``yaml.load``): it caps aliases, nesting and
document count, accepts custom tags such as CloudFormation's ``!Ref`` as plain values, and returns mappings
and sequences that remember the line of each key and item. :func:`line_of`, :func:`dig` and :func:`item_lines`
read those containers the way every reader needs (a hostile document puts anything anywhere, so none of them
raises on an unexpected shape).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.resolver import Resolver

CParser: Any
try:  # libyaml's event parser, when PyYAML was built with it
    from yaml import _yaml

    CParser = _yaml.CParser
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    CParser = None

MAX_ALIASES = 200
MAX_DEPTH = 100
MAX_DOCUMENTS = 1000
MAX_EXPANDED_NODES = 1_000_000


class YamlError(ValueError):
    """A document that could not be loaded; ``line`` is 1-based when known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message


_NO_LINES: Mapping[Any, int] = MappingProxyType({})


def _text_start(node: Node) -> int:
    """1-based line where a node's text starts (a block scalar's text starts after its ``|``/``>`` line)."""
    line = int(node.start_mark.line) + 1
    return line + 1 if isinstance(node, ScalarNode) and node.style in ("|", ">") else line


class YMap(dict):  # type: ignore[type-arg]
    """A mapping that knows its own line and the line of each key."""

    line: int = 0
    key_lines: dict[Any, int]
    value_lines: Mapping[Any, int] = _NO_LINES  # only the values that do not start on their key's line

    def line_of(self, key: Any) -> int:
        """Line of ``key`` in the source, or the mapping's own line."""
        return self.key_lines.get(key, self.line)

    def value_line(self, key: Any) -> int:
        """Line where the value of ``key`` starts: for a block scalar (``run: |``) the line after its indicator,
        for a value written below its key that line; else the key's line."""
        return self.value_lines.get(key) or self.line_of(key)


class YList(list):  # type: ignore[type-arg]
    """A sequence that knows its own line and the line of each item."""

    line: int = 0
    item_lines: list[int]
    value_lines: Mapping[int, int] = _NO_LINES  # only the block scalars among the items

    def line_of(self, index: int) -> int:
        """Line of item ``index``, or the sequence's own line."""
        return self.item_lines[index] if 0 <= index < len(self.item_lines) else self.line

    def value_line(self, index: int) -> int:
        """Line where item ``index``'s text starts: the line after ``- |`` for a block scalar, else the item's."""
        return self.value_lines.get(index) or self.line_of(index)


class _Bounds(Composer, SafeConstructor):
    """Caps on aliases, nesting and expansion, and line-aware containers, over PyYAML's safe loading.

    Mixed into a loader whose events come from PyYAML's Python parser or from libyaml's: the nodes are always
    composed here, in Python, so the caps hold whichever parser read the text.
    """

    strict: bool = False
    _aliases: int = 0
    _depth: int = 0

    if TYPE_CHECKING:  # provided by the parser the loader mixes in (PyYAML's or libyaml's)
        def check_event(self, *choices: Any) -> bool: ...
        def peek_event(self) -> Any: ...
        def dispose(self) -> None: ...

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                mark = self.peek_event().start_mark
                raise YamlError(f"more than {MAX_ALIASES} aliases (possible alias bomb)", mark.line + 1)
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise YamlError(f"nested deeper than {MAX_DEPTH} levels", mark.line + 1)
            node: Node = super().compose_node(parent, index)  # type: ignore[assignment]
            return node
        finally:
            self._depth -= 1

    def compose_document(self) -> Node | None:
        node: Node | None = super().compose_document()
        if node is not None and _expanded_size(node, {}) > MAX_EXPANDED_NODES:
            raise YamlError(f"expands to more than {MAX_EXPANDED_NODES} nodes through aliases (alias bomb)",
                            node.start_mark.line + 1)
        return node

    def construct_yaml_map(self, node: MappingNode) -> Any:
        data = YMap()
        data.line = node.start_mark.line + 1
        data.key_lines = {}
        yield data
        for key_node, _value in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:
                key = str(key)
            if self.strict and key in data.key_lines:
                raise YamlError(f"duplicate key '{key}' (first at line {data.key_lines[key]})",
                                key_node.start_mark.line + 1)
            data.key_lines[key] = key_node.start_mark.line + 1
            start = _text_start(_value)
            if start != data.key_lines[key]:
                own: dict[Any, int] = data.value_lines if isinstance(data.value_lines, dict) else {}
                own[key] = start
                data.value_lines = own
        self.flatten_mapping(node)
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:
                key = str(key)
            data[key] = self.construct_object(value_node, deep=True)
            data.key_lines.setdefault(key, key_node.start_mark.line + 1)

    def construct_yaml_seq(self, node: SequenceNode) -> Any:
        data = YList()
        data.line = node.start_mark.line + 1
        data.item_lines = [child.start_mark.line + 1 for child in node.value]
        blocks = {i: _text_start(child) for i, child in enumerate(node.value)
                  if isinstance(child, ScalarNode) and child.style in ("|", ">")}
        if blocks:
            data.value_lines = blocks
        yield data
        data.extend(self.construct_sequence(node, deep=True))

    def construct_yaml_timestamp(self, node: ScalarNode) -> Any:
        """An impossible date such as 2026-13-45 stays a string, so the caller can say which line is wrong."""
        try:
            return super().construct_yaml_timestamp(node)
        except (ValueError, OverflowError):
            return self.construct_scalar(node)

    def construct_undefined(self, node: Node) -> Any:
        """Custom tags (``!Ref``, ``!Sub``, ``!GetAtt``): keep the value, drop the tag."""
        if isinstance(node, ScalarNode):
            return self.construct_scalar(node)
        if isinstance(node, SequenceNode):
            return self.construct_sequence(node, deep=True)
        if isinstance(node, MappingNode):
            return self.construct_mapping(node, deep=True)
        return None


def _expanded_size(node: Node, memo: dict[int, int]) -> int:
    """Node count with every alias expanded, computed without expanding (memoized on shared nodes)."""
    key = id(node)
    if key in memo:
        return memo[key]
    memo[key] = 1  # cycles count once
    total = 1
    if isinstance(node, SequenceNode):
        for child in node.value:
            total += _expanded_size(child, memo)
    elif isinstance(node, MappingNode):
        for k, v in node.value:
            total += _expanded_size(k, memo) + _expanded_size(v, memo)
    total = min(total, MAX_EXPANDED_NODES + 1)
    memo[key] = total
    return total


class _BoundedLoader(_Bounds, yaml.SafeLoader):
    """Events from PyYAML's pure-Python parser (used when PyYAML was built without libyaml)."""

    def __init__(self, stream: str, strict: bool = False) -> None:
        yaml.SafeLoader.__init__(self, stream)
        self.strict = strict


class _FastBoundedLoader(_Bounds, CParser or object, Resolver):  # type: ignore[misc]
    """Events from libyaml (about twenty times faster on large files); nodes composed by :class:`_Bounds`."""

    def __init__(self, stream: str, strict: bool = False) -> None:
        CParser.__init__(self, stream)
        SafeConstructor.__init__(self)
        Resolver.__init__(self)
        Composer.__init__(self)
        self.strict = strict


for _loader in (_BoundedLoader, _FastBoundedLoader):
    _loader.add_constructor("tag:yaml.org,2002:map", _Bounds.construct_yaml_map)  # type: ignore[type-var]
    _loader.add_constructor("tag:yaml.org,2002:seq", _Bounds.construct_yaml_seq)  # type: ignore[type-var]
    _loader.add_constructor("tag:yaml.org,2002:timestamp",
                            _Bounds.construct_yaml_timestamp)  # type: ignore[type-var]
    _loader.add_constructor(None, _Bounds.construct_undefined)  # type: ignore[type-var]


def load_all(text: str, strict: bool = False) -> list[Any]:
    """Every document of a YAML stream, safely loaded with line-aware containers.

    ``strict`` makes a key repeated in one mapping an error: wanted for files a user writes for us (answers,
    configuration, catalog), where a second ``status:`` silently winning would hide a mistake.
    Raises :class:`YamlError` with the line of the problem.
    """
    return _load_all_with(_FastBoundedLoader if CParser is not None else _BoundedLoader, text, strict)


def _load_all_with(kind: type[_Bounds], text: str, strict: bool) -> list[Any]:
    docs: list[Any] = []
    loader: _Bounds | None = None
    try:
        # the constructor already reads the stream: a control character raises ReaderError from here
        loader = kind(text, strict)  # type: ignore[call-arg]
        while loader.check_data():  # type: ignore[no-untyped-call]
            docs.append(loader.get_data())
            if len(docs) > MAX_DOCUMENTS:
                raise YamlError(f"more than {MAX_DOCUMENTS} documents")
    except YamlError:
        raise
    except yaml.reader.ReaderError as exc:
        # libyaml reports a byte offset into the UTF-8 text and the character as a number
        where = text.encode("utf-8", "surrogatepass")[:exc.position].count(b"\n") + 1 \
            if isinstance(exc.position, int) else None
        char = chr(exc.character) if isinstance(exc.character, int) else exc.character
        raise YamlError(f"character {char!r} not allowed in YAML ({exc.reason})", where) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        if "maximum nesting depth" in str(exc.problem):  # libyaml's own cap, deeper than ours: say it our way
            exc.problem = f"nested deeper than {MAX_DEPTH} levels"
        # libyaml puts the end of a text without a final newline on the line after it: clamp to the last line
        raise YamlError(str(exc.problem or exc.context or "invalid YAML"),
                        min(mark.line + 1, text.count("\n") + 1) if mark else None) from None
    except yaml.YAMLError as exc:
        raise YamlError(str(exc)) from None
    except RecursionError:
        raise YamlError("nested too deeply") from None
    except (ValueError, TypeError, OverflowError, MemoryError) as exc:  # a constructor refused a value
        raise YamlError(f"invalid value: {exc}") from None
    finally:
        if loader is not None:
            loader.dispose()
    return docs


def load(text: str, strict: bool = False) -> Any:
    """The first document of a YAML stream (``None`` for an empty one). Raises :class:`YamlError`."""
    docs = load_all(text, strict)
    return docs[0] if docs else None


def line_of(node: Any, key: Any = None, default: int = 1) -> int:
    """Line of ``key`` in a loaded mapping (of item ``key`` in a sequence), or of the container itself when ``key``
    is None or unknown; ``default`` for a plain value or a container that does not come from this loader."""
    if isinstance(node, YMap):
        return node.line_of(key) if key is not None else node.line
    if isinstance(node, YList):
        return node.line_of(key) if isinstance(key, int) else node.line
    return default


def dig(node: Any, *keys: Any) -> Any:
    """``node[k1][k2]...`` through mappings (and sequences, for integer keys); None when a step is missing or the
    value there is of another shape."""
    for k in keys:
        if isinstance(node, dict):
            node = node.get(k)
        elif isinstance(node, list) and isinstance(k, int) and 0 <= k < len(node):
            node = node[k]
        else:
            return None
    return node


def item_lines(container: Any, default: int) -> list[int]:
    """Line of each mapping item of a loaded sequence (a policy's ``Statement`` entries); a lone mapping counts as one
    item; ``default`` where the loader kept no line; nothing for any other value."""
    if isinstance(container, YList):
        return [container.line_of(i) for i, item in enumerate(container) if isinstance(item, dict)]
    if isinstance(container, dict):
        return [line_of(container, None, default)]
    return []
