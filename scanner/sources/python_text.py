"""Python source text as the interpreter reads it: the declared encoding honoured, names NFKC-normalised.

Every reader that decides from a ``.py`` file's text whether code is there (the Python pass's needles and screens,
applicability's searches) must read it as CPython does, or a file can run what no reader sees: ``# coding: utf-7``
and fullwidth letters both turn text without ``load`` into a call of ``torch.load``.
"""

from __future__ import annotations

import codecs
import io
import re
import tokenize
import unicodedata
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlposture.scanner.repo import RepoFile, RepoView


def read_python(repo: RepoView, f: RepoFile, limit: int | None = None, cache: bool = True) -> str | None:
    """The text of a ``.py`` file as the interpreter decodes it: UTF-8, unless its first two lines declare another
    encoding (PEP 263), which Python honours.

    Why: ``# coding: utf-7`` makes ``torch.+AGwAbwBhAGQ-(p)`` run ``torch.load(p)`` (``unicode_escape``
    does the same with ``\\u`` escapes); read as UTF-8, the file shows no load at all. A declared encoding Python
    refuses, or bytes that do not decode strictly, mean the interpreter cannot run the file: it is read as UTF-8.
    A file whose decoded text has other lines than the file shows gets a note.
    """
    text = repo.read_text(f, limit, cache=cache)
    if text is None:
        return None
    first = text.find("\n")
    second = text.find("\n", first + 1) if first >= 0 else -1
    head = text[:second] if second >= 0 else text  # the first two lines, however long the first one is
    if "coding" not in head or not any(_CODING.match(line) for line in head.split("\n")):
        return text
    data = repo.read_bytes(f, (limit if limit is not None else repo.settings.max_text_bytes) + 1)
    if data is None:
        return text
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        if codecs.lookup(encoding).name in ("utf-8", "utf-8-sig"):
            return text
        decoded = data.decode(encoding)
    except (SyntaxError, UnicodeError, LookupError, ValueError, TypeError):
        return text
    if decoded.count("\n") != text.count("\n"):  # escapes or shifted bytes made lines the file does not show
        repo.note(f"Python source declares the {encoding} encoding; read as the interpreter decodes it, so its "
                  "lines are those of the decoded text", f.path)
    return decoded


#: PEP 263's encoding declaration, as the tokenizer looks for it on each of the first two lines.
_CODING = re.compile(r"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)")


def as_python_reads(text: str) -> str:
    """``text`` with every character NFKC-normalised, as Python's parser normalises identifiers (PEP 3131).

    Why: ``torch.\uff4c\uff4f\uff41\uff44(p)`` (fullwidth letters) *is* ``torch.load(p)`` to Python, and its tree
    says so, but a substring search of the raw text for ``load`` misses it; a needle or a prefilter that did not
    normalise would let such a file skip every reader. Newlines are kept, so lines found here are the file's.
    ASCII text (nearly every file) is returned as it is.
    """
    return text if text.isascii() else unicodedata.normalize("NFKC", text)


#: The first line of a script the kernel runs with Python (``#!/usr/bin/env python3``, ``#!/opt/py/bin/python3.11``).
_PYTHON_SHEBANG = re.compile(rb"#![^\n]*\bi?python")


def is_python_script(repo: RepoView, f: RepoFile) -> bool:
    """True for a file without an extension whose first line runs Python: CI jobs and Makefiles run such scripts
    (``bin/train``) as they run ``.py`` files, so the readers must read them too."""
    if f.suffix or f.size < 4:
        return False
    head = repo.read_bytes(f, 256)
    return head is not None and _PYTHON_SHEBANG.match(head.split(b"\n", 1)[0]) is not None

