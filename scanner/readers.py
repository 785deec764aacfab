"""One safe reader per structured format of repository text (JSON, TOML, INI, gitignore patterns).

The parsing libraries raise more than their documented error: deep nesting ends in ``RecursionError``, a huge
integer in ``ValueError``, a lone backslash in a gitignore pattern in pathspec's own error, a decoder in
``UnicodeError``. A probe that forgets one of them crashes on one file and its controls become unverified. Each
reader here turns every such exception into :class:`ReadError` (message and line when known), so the caller only
has to turn that into a note naming the file. YAML has its own reader, :mod:`mlposture.scanner.yamlsafe`.
"""

from __future__ import annotations

import configparser
import json
import sys
from collections.abc import Iterable
from typing import Any

import pathspec

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

MAX_NESTING = 200  # deeper JSON/TOML is refused before the parser recurses


class ReadError(ValueError):
    """Content that could not be read; ``line`` is 1-based when known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message


def _too_deep(text: str, openers: str) -> bool:
    """True when brackets nest deeper than :data:`MAX_NESTING` (strings are not skipped: a cheap upper bound)."""
    depth = 0
    closers = {"[": "]", "{": "}"}
    close = "".join(closers[o] for o in openers)
    for ch in text:
        if ch in openers:
            depth += 1
            if depth > MAX_NESTING:
                return True
        elif ch in close:
            depth = max(0, depth - 1)
    return False


def json_loads(text: str | bytes) -> Any:
    """Parsed JSON; :class:`ReadError` for anything the parser refuses (nesting, numbers, encoding)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReadError(f"invalid JSON: {exc.msg}", exc.lineno) from None
    except RecursionError:
        raise ReadError("JSON nested too deeply") from None
    except (ValueError, TypeError, UnicodeError, MemoryError) as exc:
        raise ReadError(f"JSON not read: {type(exc).__name__}") from None


def toml_loads(text: str) -> dict[str, Any]:
    """Parsed TOML; :class:`ReadError` with the parser's line for invalid documents."""
    if _too_deep(text, "[{"):
        raise ReadError(f"TOML nested deeper than {MAX_NESTING} levels")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = getattr(exc, "lineno", None)
        if line is None:
            import re

            m = re.search(r"\(at line (\d+), column \d+\)", str(exc))
            line = int(m.group(1)) if m else None
        raise ReadError(f"invalid TOML: {str(exc).split(' (at line')[0]}", line) from None
    except RecursionError:
        raise ReadError("TOML nested too deeply") from None
    except (ValueError, TypeError, UnicodeError, MemoryError) as exc:
        raise ReadError(f"TOML not read: {type(exc).__name__}") from None


def ini_parser(text: str, source: str) -> configparser.ConfigParser:
    """A parsed INI file (no interpolation, duplicate keys allowed); :class:`ReadError` otherwise."""
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(text, source=source)
    except configparser.Error as exc:
        raise ReadError(str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
                        getattr(exc, "lineno", None)) from None
    except (ValueError, TypeError, UnicodeError, RecursionError) as exc:
        raise ReadError(f"INI not read: {type(exc).__name__}") from None
    return parser


def ignore_spec(lines: Iterable[str]) -> tuple[pathspec.GitIgnoreSpec | None, list[tuple[int, str]]]:
    """A gitignore spec of the valid lines, and ``(line, pattern)`` of each line pathspec refused.

    A pattern pathspec cannot compile (a lone ``\\``) is left out rather than failing the whole file, as git
    itself ignores an invalid line.
    """
    listed = list(lines)
    try:
        return (pathspec.GitIgnoreSpec.from_lines(listed) if any(x.strip() for x in listed) else None), []
    except Exception:  # pathspec raises its own error types, ValueError and re.error for odd patterns
        pass
    good: list[str] = []
    bad: list[tuple[int, str]] = []
    for number, line in enumerate(listed, 1):
        if not line.strip():
            continue
        try:
            pathspec.GitIgnoreSpec.from_lines([line])
        except Exception:  # pathspec raises its own error types, ValueError and re.error for odd patterns
            bad.append((number, line))
            continue
        good.append(line)
    if not good:
        return None, bad
    try:
        return pathspec.GitIgnoreSpec.from_lines(good), bad
    except Exception:  # pragma: no cover - every line compiled alone
        return None, bad
