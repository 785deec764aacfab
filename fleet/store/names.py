"""How a repository is identified (its source) and shown (its name).

A source is the masked URL of a remote (credentials never reach the database) or the absolute path of a local
folder. The name shown everywhere is the last path component of the source without ``.git``; the store makes it
unique by appending ``-2``, ``-3``... when another source already has it.
"""

from __future__ import annotations

import re
from pathlib import Path

from mlposture.scanner.remote import is_remote, mask

_SCP_PATH = re.compile(r"^[^/]*@[^/:]+:")


def canonical_source(source: str) -> str:
    """The stored form of a source: masked URL without a trailing slash, or an absolute path."""
    if is_remote(source):
        return mask(source).rstrip("/") or source
    return str(Path(source).expanduser().resolve())


def base_name(source: str) -> str:
    """Last path component of the source, without ``.git`` (``repository`` when there is none)."""
    text = _SCP_PATH.sub("", source.rstrip("/"))
    last = re.split(r"[/\\]", text)[-1] if text else ""
    if last.endswith(".git"):
        last = last[: -len(".git")]
    return last or "repository"


def unique_name(base: str, taken: set[str]) -> str:
    """``base``, or ``base-2``, ``base-3``... whichever is not taken."""
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"
