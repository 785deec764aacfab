"""What a record is about: the git commit at HEAD, and the SHA-256 of model artifacts and of the answers file.

HEAD is resolved with ``git rev-parse`` through :mod:`mlposture.scanner.safegit` (plumbing only, no system or
global configuration, every key that can name a program overridden), so nothing a hostile repository configures can
run. The origin URL is read by GitPython's config parser (only when a record is made). Files are hashed by
streaming and only when they resolve inside the scanned folder, so a symbolic link cannot make the record (or its
verification) read files elsewhere.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from mlposture.scanner.errors import InputError

CHUNK = 1024 * 1024
COMMIT = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")
NOT_MODELS = frozenset({"serialization.digest-manifest"})  # serialization evidence about files that are not models


class SubjectError(InputError):
    """The target is not a git checkout with a commit, or a file to attest cannot be read."""


@dataclass(frozen=True)
class Head:
    """The repository that holds the scanned folder, and its HEAD commit."""

    name: str  # the origin URL without credentials, else the folder name
    commit: str
    workdir: Path
    prefix: str  # the scanned folder relative to ``workdir``, "" for the top


@dataclass(frozen=True)
class FileDigest:
    """One attested file: its path relative to the scanned folder, size and SHA-256."""

    path: str
    size: int
    sha256: str


def _public_url(url: str) -> str:
    """``url`` without a user name or password (a token in a clone URL must not end up in a signed record)."""
    parts = urlsplit(url)
    if parts.scheme and parts.netloc and "@" in parts.netloc:
        parts = parts._replace(netloc=parts.netloc.rsplit("@", 1)[1])
        return urlunsplit(parts)
    return url.split("@", 1)[1] if re.match(r"^[^/:@]+@[^/:]+:", url) else url


def read_head(root: Path, url: str | None = None, *, named: bool = True) -> Head:
    """HEAD of the repository containing ``root``; ``url`` (a scanned remote) names it instead of origin.

    ``named=False`` skips the name (verification needs only the commit and the folder).
    """
    from mlposture.scanner.safegit import GitError, open_repository

    opened = open_repository(root)
    if opened is None:
        raise SubjectError(str(root), "not inside a git repository: a record names the commit it audits")
    git, top = opened
    try:
        commit = git.text("rev-parse", "--verify", "-q", "HEAD^{commit}")
    except GitError:
        commit = ""
    if not commit:
        raise SubjectError(str(root), "HEAD names no commit (an empty repository?)")
    if not COMMIT.match(commit):
        raise SubjectError(str(root), f"HEAD is not a commit id ({commit[:80]!r})")
    workdir = top.resolve()
    try:
        prefix = root.resolve().relative_to(workdir).as_posix()
    except ValueError:
        prefix = ""
    name = (url or _origin_url(workdir) or workdir.name) if named else workdir.name
    return Head(_public_url(name), commit, workdir, "" if prefix == "." else prefix)


def _origin_url(workdir: Path) -> str | None:
    """The ``origin`` remote's URL, read from the config files by GitPython's parser (nothing is run)."""
    try:
        import git

        repo = git.Repo(workdir)
        try:
            return str(repo.config_reader("repository").get_value('remote "origin"', "url"))
        finally:
            repo.close()
    except Exception:  # no origin, an unreadable config: the folder name names the repository
        return None


def _inside(root: Path, rel: str) -> Path | None:
    """The real file ``rel`` names under ``root``, or None when it leaves ``root`` or is not a regular file."""
    if not rel or rel.startswith("/") or "\0" in rel:
        return None
    real_root = os.path.realpath(root)
    real = os.path.realpath(os.path.join(real_root, rel))
    if os.path.commonpath([real_root, real]) != real_root or not os.path.isfile(real):
        return None
    return Path(real)


def sha256_file(path: Path) -> tuple[int, str]:
    """(size, hex SHA-256) of a file, read in 1 MB chunks."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def digest_of(root: Path, rel: str) -> FileDigest | None:
    """The digest of ``rel`` under ``root``, or None when it is missing, outside ``root`` or unreadable."""
    real = _inside(root, rel)
    if real is None:
        return None
    try:
        size, hexdigest = sha256_file(real)
    except OSError:
        return None
    return FileDigest(rel, size, hexdigest)


def reported_artifacts(report: Mapping[str, Any]) -> set[str]:
    """Paths the report's ``serialization`` probe judged as model files by their content (any name)."""
    paths: set[str] = set()
    items: list[Any] = list(report.get("findings") or [])
    for control in report.get("controls") or []:
        if isinstance(control, dict):
            items.extend(control.get("evidence") or [])
    for item in items:
        if (isinstance(item, dict) and item.get("probe") == "serialization" and item.get("line") is None
                and isinstance(item.get("path"), str) and item.get("rule") not in NOT_MODELS):
            paths.add(item["path"])
    return paths


def model_digests(root: Path, walked: Iterable[str], report: Mapping[str, Any]) -> list[FileDigest]:
    """Digests of the model artifacts: files with a model extension in the walk, and those the report judged."""
    out: dict[str, FileDigest] = {}
    for rel in sorted({*walked, *reported_artifacts(report)}):
        found = digest_of(root, rel)
        if found is not None:
            out[rel] = found
    return list(out.values())


def walked_model_files(root: Path, settings: Any) -> list[str]:
    """Paths with a model file extension, walked as the scan walks (same excludes, links kept inside).

    The extension table is the AI-BOM's (one list of what counts as a model file, in the core).
    """
    from mlposture.scanner.repo import RepoView
    from mlposture.scanner.sources.model_files import MODEL_SUFFIXES

    view = RepoView(root, settings)
    return [f.path for f in view.files if f.suffix in MODEL_SUFFIXES]


def answers_digest(root: Path, answers: Path | None) -> FileDigest | None:
    """The answers file used by the scan: ``answers`` when given, else ``.mlposture/answers.yaml`` when present.

    Its subject name is relative to the scanned folder when it lies inside it, else the absolute path.
    """
    from mlposture.scanner.answers import DEFAULT_ANSWERS

    if answers is None:
        return digest_of(root, DEFAULT_ANSWERS)
    real = Path(os.path.realpath(answers))
    real_root = Path(os.path.realpath(root))
    try:
        name = real.relative_to(real_root).as_posix()
    except ValueError:
        name = str(real)
    try:
        size, hexdigest = sha256_file(real)
    except OSError as exc:
        raise SubjectError(str(answers), f"cannot read: {exc.strerror or exc}") from None
    return FileDigest(name, size, hexdigest)
