"""Finding documents by name and by title, bounded: one pass over the view's file list."""

from __future__ import annotations

import re
from collections.abc import Iterable

from mlposture.scanner.repo import RepoFile, RepoView
from mlposture.scanner.sources.markdown import DOC_SUFFIXES, Document, parse_document

_NORM = re.compile(r"[\s_.-]+")
MAX_TITLE_PROBES = 2000


def norm(path: str) -> str:
    """Lower-cased path with ``_``, ``-``, ``.`` and spaces made ``-`` (``RED_TEAM.md`` -> ``red-team-md``)."""
    return _NORM.sub("-", path.lower())


def documents(repo: RepoView) -> list[RepoFile]:
    """Text documents (Markdown, reStructuredText, text, AsciiDoc)."""
    return [f for f in repo.files if f.suffix in DOC_SUFFIXES]


def by_name(files: Iterable[RepoFile], pattern: re.Pattern[str]) -> list[RepoFile]:
    """Files whose normalised path matches ``pattern``."""
    return [f for f in files if pattern.search(norm(f.path))]


class DocCache:
    """Parsed documents, shared by the document controls."""

    def __init__(self, repo: RepoView) -> None:
        self.repo = repo
        self._docs: dict[str, Document | None] = {}
        self._probed = 0

    def get(self, f: RepoFile) -> Document | None:
        """The parsed document (cached); ``None`` when unreadable."""
        if f.path not in self._docs:
            self._docs[f.path] = parse_document(self.repo, f)
        return self._docs[f.path]

    def by_title(self, files: Iterable[RepoFile], pattern: re.Pattern[str]) -> list[Document]:
        """Markdown documents whose first heading matches ``pattern`` (bounded number of files opened)."""
        out = []
        for f in files:
            if f.suffix not in (".md", ".markdown", ".rst") or f.size > 512 * 1024:
                continue
            if f.path not in self._docs:
                self._probed += 1
                if self._probed > MAX_TITLE_PROBES:
                    break
            doc = self.get(f)
            if doc is not None and pattern.search(doc.title()):
                out.append(doc)
        return out
