"""``pip install`` (and ``uv pip install``) commands inside shell text: Dockerfile ``RUN`` instructions and CI
steps. Tokenised with ``shlex``, never run.

What counts: each positional argument of the install command is a requirement (``-r``/``-c`` name files that are
parsed on their own; ``-c`` marks the command as constrained); ``-U``/``--upgrade`` is recorded; index options and
index variables (``PIP_INDEX_URL=...``, ``UV_DEFAULT_INDEX=...``, ``pip config set global.index-url``) become
:class:`IndexSetting` values. An argument holding an unresolved ``$VARIABLE`` cannot be known statically: it is
reported as unknown, not as unpinned.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field, replace

from mlposture.scanner.sources.manifests.model import (
    DeclaredRequirement,
    IndexRole,
    IndexSetting,
    ManifestNote,
    SourceKind,
)
from mlposture.scanner.sources.manifests.pep508 import RequirementError, mask_url, parse_requirement

INDEX_VARS = {"PIP_INDEX_URL": IndexRole.PRIMARY, "PIP_EXTRA_INDEX_URL": IndexRole.EXTRA,
              "UV_DEFAULT_INDEX": IndexRole.PRIMARY, "UV_INDEX_URL": IndexRole.PRIMARY,
              "UV_INDEX": IndexRole.EXTRA, "UV_EXTRA_INDEX_URL": IndexRole.EXTRA,
              "PIP_FIND_LINKS": IndexRole.FIND_LINKS}
SEPARATORS = {"&&", "||", ";", "|", "&", "(", ")", ";;", "|&"}
PIP_VALUE_OPTIONS = {
    "-r", "--requirement", "-c", "--constraint", "-e", "--editable", "-i", "--index-url", "--extra-index-url",
    "-f", "--find-links", "-t", "--target", "--prefix", "--root", "--src", "--platform", "--python-version",
    "--implementation", "--abi", "--only-binary", "--no-binary", "--progress-bar", "--timeout", "--retries",
    "--proxy", "--cache-dir", "--log", "--trusted-host", "--config-settings", "-C", "--upgrade-strategy",
    "--root-user-action", "--report", "--global-option", "--install-option", "--python", "-p", "--index",
    "--default-index", "--index-strategy", "--constraints", "--overrides", "--exists-action", "--cert",
    "--client-cert", "--log-file", "--keyring-provider", "--extra", "--group",
}
PIP_RE = re.compile(r"^(?:.*/)?pip(?:\d(?:\.\d+)?)?$")
PY_RE = re.compile(r"^(?:.*/)?python(?:\d(?:\.\d+)?)?$")


@dataclass
class ShellResult:
    """Requirements, indexes and notes found in shell text."""

    requirements: list[DeclaredRequirement] = field(default_factory=list)
    indexes: list[IndexSetting] = field(default_factory=list)
    notes: list[ManifestNote] = field(default_factory=list)
    unknown: list[ManifestNote] = field(default_factory=list)


def _strip_comments(text: str) -> str:
    lines = []
    for line in text.splitlines():
        if line.lstrip().startswith("#"):
            lines.append("")
            continue
        lines.append(re.sub(r"\s#.*$", "", line))
    return "\n".join(lines)


def tokenize(text: str) -> list[str] | None:
    """Shell words and separators (newlines act as ``;``), or ``None`` if the quoting is unbalanced."""
    body = _strip_comments(text).replace("\\\r\n", " ").replace("\\\n", " ").replace("\n", " ; ")
    lexer = shlex.shlex(body, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = ""
    try:
        return list(lexer)
    except ValueError:
        return None


def _segments(tokens: list[str]) -> list[list[str]]:
    out: list[list[str]] = [[]]
    for tok in tokens:
        if tok in SEPARATORS or set(tok) <= set("&|;()"):
            out.append([])
        else:
            out[-1].append(tok)
    return [s for s in out if s]


def _install_args(words: list[str]) -> list[str] | None:
    """Arguments after ``pip install`` / ``python -m pip install`` / ``uv pip install``, else None."""
    i = 0
    while i < len(words) and (re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[i]) or words[i] in ("sudo", "exec",
                                                                                                "time", "env")):
        i += 1
    w = words[i:]
    if len(w) >= 2 and PIP_RE.match(w[0]) and w[1] == "install":
        return w[2:]
    if len(w) >= 4 and PY_RE.match(w[0]) and w[1] == "-m" and w[2] == "pip" and w[3] == "install":
        return w[4:]
    if len(w) >= 3 and w[0].endswith("uv") and w[1] == "pip" and w[2] == "install":
        return w[3:]
    return None


class LineLocator:
    """Finds the physical line of a word inside a block of lines, moving forward."""

    def __init__(self, lines: list[str], first: int, last: int) -> None:
        self.lines = lines
        self.cursor = first
        self.first = first
        self.last = last

    def locate(self, word: str) -> int:
        for number in range(self.cursor, min(self.last, len(self.lines)) + 1):
            if word in self.lines[number - 1]:
                self.cursor = number
                return number
        return self.cursor


def scan_shell(text: str, path: str, locator: LineLocator, kind: SourceKind, runtime: bool,
               variables: dict[str, str] | None = None) -> ShellResult:
    """Find pip installs and index settings in one block of shell text."""
    out = ShellResult()
    tokens = tokenize(text)
    if tokens is None:
        out.notes.append(ManifestNote("shell command with unbalanced quotes, not read", path, locator.first))
        return out
    variables = variables or {}
    for words in _segments(tokens):
        _index_assignments(words, path, locator, out)
        if len(words) >= 4 and PIP_RE.match(words[0]) and words[1] == "config" and words[2] == "set":
            key, _, value = (words[3].partition("=") if "=" in words[3] else
                             (words[3], "", words[4] if len(words) > 4 else ""))
            role = {"global.index-url": IndexRole.PRIMARY, "global.extra-index-url": IndexRole.EXTRA,
                    "install.index-url": IndexRole.PRIMARY, "install.extra-index-url": IndexRole.EXTRA}.get(key)
            if role and value:
                out.indexes.append(IndexSetting(mask_url(value), role, path, locator.locate(key), "pip-option", path))
            continue
        args = _install_args(words)
        if args is None:
            continue
        _install(args, path, locator, kind, runtime, variables, out)
    return out


def _index_assignments(words: list[str], path: str, locator: LineLocator, out: ShellResult) -> None:
    for word in words[1:] if words and words[0] == "export" else words:
        name, eq, value = word.partition("=")
        if eq and name in INDEX_VARS:
            for url in value.split():
                out.indexes.append(IndexSetting(mask_url(url), INDEX_VARS[name], path, locator.locate(name), "env",
                                                path, name))
        elif not eq:
            break


def _substitute(word: str, variables: dict[str, str]) -> str:
    def repl(m: re.Match[str]) -> str:
        return variables.get(m.group(1) or m.group(2), m.group(0))
    return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)", repl, word)


REDIRECT = re.compile(r"^\d*(?:>>?|<<?|&>|>&|<&)")
VERSION_AFTER_REDIRECT = re.compile(r"^=?=?\d[\w.*+!-]*$")


def _rejoin_specifiers(args: list[str], path: str, locator: LineLocator, out: ShellResult) -> list[str]:
    """``vllm>=0.4.0`` written without quotes reaches the tokenizer as ``vllm``, ``>``, ``=0.4.0``: give the
    requirement its version back (that is what the author wrote) and note that the shell reads ``>`` as a
    redirection, so pip itself gets no version."""
    joined: list[str] = []
    i = 0
    while i < len(args):
        tok = args[i]
        if (i + 2 < len(args) and args[i + 1] in (">", "<") and not tok.startswith("-")
                and VERSION_AFTER_REDIRECT.match(args[i + 2])):
            spec = tok + args[i + 1] + args[i + 2]
            out.notes.append(ManifestNote(f"unquoted {spec!r} in a shell command: the shell reads "
                                          f"{args[i + 1]!r} as a redirection, so pip installs {tok} without this "
                                          "version; quote the requirement", path, locator.locate(tok)))
            joined.append(spec)
            i += 3
            continue
        joined.append(tok)
        i += 1
    return joined


def _install(args: list[str], path: str, locator: LineLocator, kind: SourceKind, runtime: bool,
             variables: dict[str, str], out: ShellResult) -> None:
    upgrade = constrained = False
    hashes: list[str] = []
    positional: list[tuple[str, bool]] = []
    args = _rejoin_specifiers(args, path, locator, out)
    i = 0
    while i < len(args):
        tok = args[i]
        if tok.isdigit() and i + 1 < len(args) and REDIRECT.match(args[i + 1]):
            i += 1  # the file descriptor of "2>&1"
            continue
        if REDIRECT.match(tok):  # "> log.txt", ">&1", ">/dev/null": not an argument of pip
            i += 2 if REDIRECT.fullmatch(tok) else 1
            continue
        opt, eq, val = tok.partition("=") if tok.startswith("--") else (tok, "", "")
        if tok.startswith("-") and not tok.startswith("--") and len(tok) > 2 and tok[:2] in PIP_VALUE_OPTIONS:
            opt, eq, val = tok[:2], "=", tok[2:]
        if opt in PIP_VALUE_OPTIONS:
            if not eq:
                val = args[i + 1] if i + 1 < len(args) else ""
                i += 1
            i += 1
            if opt in ("-c", "--constraint", "--constraints"):
                constrained = True
            elif opt in ("-e", "--editable"):
                positional.append((val, True))
            elif opt in ("-i", "--index-url", "--default-index"):
                out.indexes.append(IndexSetting(mask_url(val), IndexRole.PRIMARY, path, locator.locate(val),
                                                "pip-option", path))
            elif opt in ("--extra-index-url", "--index"):
                out.indexes.append(IndexSetting(mask_url(val), IndexRole.EXTRA, path, locator.locate(val),
                                                "pip-option", path))
            continue
        if opt in ("-U", "--upgrade"):
            upgrade = True
        elif opt.startswith("--hash"):
            hashes.append(val)
        elif not tok.startswith("-"):
            positional.append((tok, False))
        i += 1
    for word, editable in positional:
        line = locator.locate(word)
        text = _substitute(word, variables)
        if "$" in text or "`" in text:
            out.unknown.append(ManifestNote(f"pip install argument {word!r} comes from a variable: unknown",
                                            path, line))
            continue
        try:
            req = parse_requirement(text, path, line, kind, is_runtime=runtime, editable=editable,
                                    hashes=tuple(hashes), raw=f"pip install {word}")
        except RequirementError as exc:
            out.notes.append(ManifestNote(f"pip install argument {word!r} is not a requirement ({exc})", path, line))
            continue
        out.requirements.append(replace(req, constrained=constrained, upgrade=upgrade))


DOCKERFILE_RE = re.compile(r"^(?:dockerfile|containerfile)(?:[._-].*)?$|^.*[._-]dockerfile$", re.IGNORECASE)


def is_dockerfile(path: str) -> bool:
    """Dockerfile, Dockerfile.gpu, train.Dockerfile, Containerfile."""
    return bool(DOCKERFILE_RE.match(path.rsplit("/", 1)[-1]))


def read_dockerfile(path: str, text: str) -> ShellResult:
    """pip installs in RUN instructions and index variables in ENV/ARG of one Dockerfile."""
    out = ShellResult()
    lines = text.splitlines()
    variables: dict[str, str] = {}
    number = 0
    while number < len(lines):
        start = number + 1
        body = lines[number]
        while body.rstrip().endswith("\\") and number + 1 < len(lines):
            number += 1
            nxt = lines[number]
            if nxt.lstrip().startswith("#") or not nxt.strip():
                continue  # Docker drops comment (and empty) lines inside a continuation; the instruction goes on
            body = body.rstrip()[:-1] + " " + nxt
        number += 1
        stripped = body.strip()
        if not stripped or stripped.startswith("#"):
            continue
        keyword, _, rest = stripped.partition(" ")
        keyword = keyword.upper()
        locator = LineLocator(lines, start, number)
        if keyword in ("ENV", "ARG"):
            _env(rest.strip(), path, locator, variables, out)
        elif keyword == "RUN":
            rest = re.sub(r"^(--[a-z]+=\S+\s+)+", "", rest.strip())
            if rest.startswith("["):
                try:
                    import json
                    parts = json.loads(rest)
                    rest = " ".join(shlex.quote(str(p)) for p in parts) if isinstance(parts, list) else rest
                except (ValueError, RecursionError):
                    pass
            found = scan_shell(rest, path, locator, SourceKind.DOCKERFILE, True, variables)
            out.requirements += found.requirements
            out.indexes += found.indexes
            out.notes += found.notes
            out.unknown += found.unknown
    return out


def _env(rest: str, path: str, locator: LineLocator, variables: dict[str, str], out: ShellResult) -> None:
    try:
        words = shlex.split(rest.replace("\\\n", " "))
    except ValueError:
        return
    pairs: list[tuple[str, str]] = []
    if words and "=" not in words[0] and len(words) >= 2:
        pairs.append((words[0], " ".join(words[1:])))  # legacy "ENV KEY value"
    else:
        for w in words:
            key, _, value = w.partition("=")
            pairs.append((key, value))
    for key, value in pairs:
        if value:
            variables[key] = value
        if key in INDEX_VARS and value:
            for url in value.split():
                out.indexes.append(IndexSetting(mask_url(url), INDEX_VARS[key], path, locator.locate(key), "env",
                                                path, key))
