"""Git metadata of the scanned target (commit, ref, dirty state, tracked files), read without running anything.

Every git command goes through :mod:`mlposture.scanner.safegit` (plumbing only, programs named by the
repository's config overridden). The dirty state is not asked from ``git status`` or ``git diff-files``: both may
hash racily-clean files through the repository's clean filter, which runs a program the repository chose. It is
computed here instead, from the index entries (parsed by GitPython, in Python) and the working tree:

* an entry whose size and modification time match the file is clean (git's own stat shortcut);
* otherwise the file is hashed as git would store it without conversion; a different hash means dirty;
* when the repository could legitimately convert contents on checkout (``.gitattributes`` naming ``filter``,
  ``text``, ``eol``, ``ident`` or ``working-tree-encoding``, or ``core.autocrlf``) a difference cannot be told from
  a conversion, so the state is reported unknown; it is also unknown past a hashing budget or for an index format
  GitPython cannot read.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mlposture.scanner.safegit import OVERRIDES, GitError, SafeGit, open_repository

# the ``-c`` overrides of :mod:`mlposture.scanner.safegit`, for callers that run ``git rev-parse`` themselves
SAFE_GIT_OPTIONS = tuple(part for option in OVERRIDES for part in ("-c", option))
HASH_BUDGET = 256 << 20  # bytes of changed-looking files hashed before the dirty state is left unknown
MAX_INDEX = 256 << 20
CONVERTING_ATTRIBUTES = ("filter", "text", "eol", "ident", "working-tree-encoding", "crlf")


@dataclass(frozen=True)
class GitInfo:
    """What the report says about the target's git state."""

    commit: str | None
    ref: str | None
    dirty: bool | None
    tracked: frozenset[str] | None  # paths relative to the scanned root; None when not read
    workdir: str = ""  # the repository's top folder
    prefix: str = ""  # the scanned root relative to ``workdir`` ("" when they are the same)
    git_dir: str = ""  # the repository's git folder (for :class:`~mlposture.scanner.safegit.SafeGit`)

    def safe_git(self) -> SafeGit | None:
        """A plumbing-only handle on the repository, or ``None`` when it was not found."""
        if not self.git_dir:
            return None
        return SafeGit(Path(self.git_dir), Path(self.workdir) if self.workdir else None)


def read_git_info(root: Path, note: Callable[..., None]) -> GitInfo | None:
    """Git state of ``root`` (or of the repository containing it), or ``None`` outside a repository."""
    found = open_repository(root)
    if found is None:
        return None
    g, top = found
    workdir = top.resolve()
    try:
        prefix = root.resolve().relative_to(workdir).as_posix()
    except ValueError:
        prefix = ""
    prefix = "" if prefix == "." else prefix
    commit: str | None
    try:
        commit = g.text("rev-parse", "--verify", "-q", "HEAD^{commit}") or None
    except GitError:
        commit = None  # no commits yet
    ref: str | None
    try:
        ref = g.text("symbolic-ref", "-q", "--short", "HEAD") or None
    except GitError:
        ref = None
    if ref is None and commit is not None:
        try:
            tags = g.text("for-each-ref", f"--points-at={commit}", "--format=%(refname:short)", "refs/tags")
            ref = tags.splitlines()[0] if tags else None
        except GitError:
            ref = None
    tracked: frozenset[str] | None
    try:
        raw = g.run("ls-files", "-z", "--", prefix or ".")
        names = [n for n in raw.decode("utf-8", "surrogateescape").split("\0") if n]
        cut = len(prefix) + 1 if prefix else 0
        tracked = frozenset(n[cut:] for n in names)
    except GitError as exc:
        note(f"tracked files not read: {exc}")
        tracked = None
    dirty = _dirty(g, workdir)
    return GitInfo(commit, ref, dirty, tracked, str(workdir), prefix, str(g.git_dir))


def _dirty(g: SafeGit, workdir: Path) -> bool | None:
    """Whether tracked files differ from the index (see the module docstring), or ``None`` when unknowable."""
    try:
        index_path = Path(g.text("rev-parse", "--git-path", "index"))
        if not index_path.is_absolute():
            index_path = workdir / index_path
        fmt = g.text("rev-parse", "--show-object-format") or "sha1"
    except GitError:
        return None
    entries = _index_entries(index_path)
    if entries is None:
        return None
    try:
        index_mtime = int(index_path.stat().st_mtime)
    except OSError:
        index_mtime = 0
    converting: bool | None = None
    budget = HASH_BUDGET
    for path, (mode, size, mtime, sha) in entries.items():
        full = workdir / path
        try:
            st = full.lstat()
        except OSError:
            return True  # a tracked file was deleted
        if stat.S_ISLNK(mode):
            if not stat.S_ISLNK(st.st_mode):
                return True
            data = os.readlink(full).encode("utf-8", "surrogateescape")
            if _object_id(fmt, data) != sha:
                return True
            continue
        if not stat.S_ISREG(st.st_mode):
            if stat.S_ISDIR(st.st_mode) and mode == 0o160000:
                continue  # submodule: its own repository
            return True
        if st.st_size == size and int(st.st_mtime) == mtime and mtime < index_mtime:
            continue  # git's stat shortcut; a file written in the second the index was written is hashed
        if converting is None:
            converting = _may_convert(g, workdir)
        if st.st_size != size and not converting:
            return True
        budget -= st.st_size
        if budget < 0:
            return None  # changed-looking files exceed the hashing budget
        try:
            data = full.read_bytes()
        except OSError:
            return None
        if _object_id(fmt, data) != sha:
            if converting:
                return None  # a conversion (whose filters are never run) or a change: cannot tell
            return True
    return False


def _index_entries(path: Path) -> dict[str, tuple[int, int, int, str]] | None:
    """``path -> (mode, size, mtime seconds, object id)`` for stage-0 entries, or ``None`` when unreadable."""
    try:
        from io import BytesIO

        from git.index.fun import read_cache
    except ImportError:  # pragma: no cover - GitPython is a declared dependency
        return None
    try:
        if path.stat().st_size > MAX_INDEX:
            return None
        data = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError:
        return None
    try:
        _, entries, _, _ = read_cache(BytesIO(data))
    except Exception:  # an index version GitPython does not read (4), or a corrupt index
        return None
    out: dict[str, tuple[int, int, int, str]] = {}
    for (name, stage), entry in entries.items():
        if stage != 0:
            return None  # an unmerged index: dirty, but say so only through git's own state
        out[str(name)] = (int(entry.mode), int(entry.size), int(entry.mtime[0]), entry.binsha.hex())
    return out


def _object_id(fmt: str, data: bytes) -> str:
    h = hashlib.new("sha256" if fmt == "sha256" else "sha1")
    h.update(b"blob %d\0" % len(data))
    h.update(data)
    return h.hexdigest()


def _may_convert(g: SafeGit, workdir: Path) -> bool:
    """True when attributes or core config could make the working-tree bytes differ from the stored blob."""
    try:
        listed = g.run("ls-files", "-z", "--", ":(glob)**/.gitattributes").decode("utf-8", "surrogateescape")
        info = Path(g.text("rev-parse", "--git-path", "info/attributes"))
        configs = [Path(g.text("rev-parse", "--git-path", name)) for name in ("config", "config.worktree")]
    except GitError:
        return True
    names = [workdir / n for n in listed.split("\0") if n]
    for cand in [*names, workdir / ".gitattributes", info if info.is_absolute() else workdir / info]:
        text = _read_head(cand)
        for line in text.splitlines():
            words = line.split()[1:]
            if any(w.lstrip("-!").split("=", 1)[0] in CONVERTING_ATTRIBUTES for w in words):
                return True
    for cfg in configs:
        cfg = cfg if cfg.is_absolute() else workdir / cfg
        text = _read_head(cfg).lower()
        if "autocrlf" in text or "eol" in text:
            return True
    return False


def _read_head(path: Path) -> str:
    """The first MiB of a regular file (never a FIFO or device, never a symlink), or ``""``."""
    try:
        if not stat.S_ISREG(path.lstat().st_mode):
            return ""
        with open(path, "rb") as fh:
            return fh.read(1 << 20).decode("utf-8", "replace")
    except OSError:
        return ""
