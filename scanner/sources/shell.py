"""Shell lines of CI scripts, Dockerfiles and READMEs: logical lines and the simple commands in them.

One tokenizer for every reader of shell text: ``\\`` continuations joined, comments stripped, the line split on
``;``, ``&&``, ``||``, ``|`` and ``&``, wrappers (``sudo``, ``uv run``, ``python -m``...) skipped so ``argv[0]``
is the real program. Nothing is executed.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass

#: Programs that only wrap the command that follows (``uv run pip-audit``, ``poetry run safety check``).
_WRAPPERS = {
    "sudo": 0, "env": 0, "time": 0, "exec": 0, "nohup": 0, "command": 0,
    "uv": 1, "poetry": 1, "pipenv": 1, "pdm": 1, "hatch": 1, "rye": 1, "conda": 1, "micromamba": 1, "pixi": 1,
    "uvx": 0, "pipx": 1, "npx": 0, "tox": 0,
}
_WRAPPER_SUBCOMMANDS = {"run", "exec", "tool"}
_ENV_ASSIGN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


@dataclass(frozen=True)
class ShellCommand:
    """One simple command of a ``run:``/``script`` block.

    ``argv`` starts at the real program (env assignments, ``sudo``, ``uv run``, ``poetry run``, ``python -m`` are
    skipped: ``python -m pip_audit`` gives ``("pip-audit", ...)``); ``piped`` is true when its output goes into a
    ``|``; ``redirected`` when its stdout goes to a file (``>``, ``>>``), so nothing reaches the log;
    ``or_else`` when ``||`` follows it (``pip-audit || true``: its failure is ignored).
    """

    argv: tuple[str, ...]
    line: int
    text: str
    piped: bool = False
    redirected: bool = False
    or_else: bool = False

    @property
    def program(self) -> str:
        """The program name without its folder (``/usr/bin/trivy`` -> ``trivy``)."""
        return self.argv[0].rsplit("/", 1)[-1] if self.argv else ""



def _strip_comment(line: str) -> str:
    out: list[str] = []
    quote = ""
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1].isspace()):
            break
        out.append(ch)
    return "".join(out)



def logical_lines(script: str, first_line: int) -> Iterator[tuple[str, int]]:
    """Lines of a script with ``\\`` continuations joined, each with the line where it starts."""
    buf = ""
    start = first_line
    for offset, raw in enumerate(script.splitlines()):
        if not buf:
            start = first_line + offset
        stripped = raw.rstrip()
        if stripped.endswith("\\"):
            buf += stripped[:-1] + " "
            continue
        buf += raw
        yield buf, start
        buf = ""
    if buf:
        yield buf, start


_SEPARATORS = re.compile(r"(\|\||&&|;|\||&(?!>))")


def _split_simple(text: str) -> list[tuple[str, str]]:
    """Split one logical line on ``&&``, ``||``, ``;``, ``|`` and ``&`` outside quotes; (command, separator after)."""
    parts: list[tuple[str, str]] = []
    quote = ""
    current: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if quote:
            current.append(ch)
            if ch == quote:
                quote = ""
            i += 1
            continue
        if ch in "'\"`":
            quote = ch
            current.append(ch)
            i += 1
            continue
        two = text[i:i + 2]
        if two in ("&&", "||"):
            parts.append(("".join(current), two))
            current = []
            i += 2
            continue
        if ch in ";|":
            parts.append(("".join(current), ch))
            current = []
            i += 1
            continue
        if ch == "&" and text[i + 1:i + 2] != ">" and (i == 0 or text[i - 1] not in "<>"):
            parts.append(("".join(current), "&"))
            current = []
            i += 1
            continue
        current.append(ch)
        i += 1
    parts.append(("".join(current), ""))
    return parts


def _words(text: str) -> list[str]:
    try:
        return shlex.split(text, posix=True)
    except ValueError:
        return text.split()


def _unwrap(argv: list[str]) -> list[str]:
    """Drop env assignments and wrappers (``sudo``, ``uv run``, ``python -m``) in front of the real program."""
    for _ in range(8):
        while argv and _ENV_ASSIGN.match(argv[0]):
            argv = argv[1:]
        if not argv:
            return argv
        prog = argv[0].rsplit("/", 1)[-1]
        if prog in ("python", "python3", "py") or re.fullmatch(r"python3\.\d+", prog):
            if len(argv) >= 3 and argv[1] == "-m":
                argv = [argv[2].replace("_", "-"), *argv[3:]]
                continue
            return argv
        if prog in _WRAPPERS:
            rest = argv[1:]
            if _WRAPPERS[prog] == 1:
                if rest and rest[0] in _WRAPPER_SUBCOMMANDS:
                    rest = rest[1:]
                    if prog == "uv" and rest and rest[0] == "run":
                        rest = rest[1:]
                else:
                    return argv
            while rest and rest[0].startswith("-"):
                rest = rest[1:]
            argv = rest
            continue
        return argv
    return argv


def split_commands(script: str, first_line: int) -> tuple[ShellCommand, ...]:
    """A shell script as simple commands with their lines (comments dropped, continuations joined).

    This is a reader of common CI shell, not a shell: quoting, ``&&``/``||``/``;``/``|`` and ``\\``
    continuations are understood; subshells and heredoc bodies are read as plain words.
    """
    out: list[ShellCommand] = []
    for text, line in logical_lines(script, first_line):
        code = _strip_comment(text)
        if not code.strip():
            continue
        for part, sep in _split_simple(code):
            stripped = part.strip().lstrip("({").strip()
            if not stripped:
                continue
            words = _words(stripped)
            redirected = any(w.startswith((">", "1>")) or w in (">", ">>", "1>", "1>>") for w in words)
            argv = [w for w in words if not re.match(r"^\d?>>?|^&>", w)]
            argv = _unwrap(argv)
            if not argv:
                continue
            out.append(ShellCommand(tuple(argv), line, stripped, piped=sep == "|", redirected=redirected,
                                    or_else=sep == "||"))
    return tuple(out)

