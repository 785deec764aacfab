"""What ``fleet scan`` is asked to scan: local paths and git URLs (``URL@REF``), from arguments and a file.

Parsing stays on the machine that runs the command; only the resulting (target, ref) pairs travel to workers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from mlposture.fleet.store.names import canonical_source
from mlposture.scanner.remote import SCP_LIKE, is_remote

MAX_LIST_BYTES = 16 * 1024 * 1024
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


class SourceError(ValueError):
    """A repository list that cannot be read (a usage error)."""


@dataclass(frozen=True)
class Source:
    """One repository to scan: the target handed to the scanner, the ref to check out, its database key."""

    target: str  # a git URL as given (credentials included: never stored) or an absolute local path
    ref: str | None
    key: str  # canonical_source(target): masked URL or absolute path

    @property
    def remote(self) -> bool:
        """True for a git URL."""
        return is_remote(self.target)


def _split_ref(text: str) -> tuple[str, str | None]:
    """``URL@REF`` -> (URL, REF); the ``@`` of ``user@host:`` and of credentials is not a ref separator."""
    at = text.rfind("@")
    if at <= 0:
        return text, None
    url, ref = text[:at], text[at + 1:]
    if not ref or ":" in ref:
        return text, None
    rest = _SCHEME.sub("", url)
    if _SCHEME.match(url) and "/" in rest.strip("/"):
        return url, ref
    if SCP_LIKE.match(url):
        return url, ref
    return text, None


def parse_source(text: str, default_ref: str | None = None) -> Source:
    """One SOURCE: a git URL (optionally ``URL@REF``) or a local path (``PATH@REF`` when PATH is a folder)."""
    text = text.strip()
    if is_remote(text):
        url, ref = _split_ref(text)
        return Source(url, ref or default_ref, canonical_source(url))
    path, ref = text, None
    if "@" in text and not Path(text).exists():
        head, _, tail = text.rpartition("@")
        if head and tail and Path(head).is_dir():
            path, ref = head, tail
    absolute = str(Path(path).expanduser().resolve())
    return Source(absolute, ref or default_ref, absolute)


def read_repos_file(path: str) -> list[str]:
    """The SOURCE lines of a repository list (``#`` comments and blank lines ignored)."""
    file = Path(path)
    try:
        if file.stat().st_size > MAX_LIST_BYTES:
            raise SourceError(f"{path}: larger than {MAX_LIST_BYTES // (1024 * 1024)} MB")
        text = file.read_text("utf-8")
    except OSError as exc:
        raise SourceError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise SourceError(f"{path}: not UTF-8 text") from None
    lines = (line.strip() for line in text.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def collect_sources(arguments: tuple[str, ...], repos_file: str | None, default_ref: str | None) -> list[Source]:
    """Every distinct source from the arguments and the file, in order; raises :class:`SourceError`."""
    texts = list(arguments) + (read_repos_file(repos_file) if repos_file else [])
    seen: set[tuple[str, str | None]] = set()
    sources = []
    for text in texts:
        source = parse_source(text, default_ref)
        if (source.key, source.ref) not in seen:
            seen.add((source.key, source.ref))
            sources.append(source)
    return sources
