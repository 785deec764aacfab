"""The repository view: one bounded walk of the tree, shared by every probe.

Why one view: twenty probes each walking a 20,000-file tree would cost twenty walks; and the safety rules
(never follow a symlink out of the root, skip FIFOs and devices, cap every read) are easier to get right once.
Reads that fail or are refused are recorded as notes, so a probe can simply treat ``None`` as "nothing here".
"""

from __future__ import annotations

import ast
import fnmatch
import functools
import os
import re
import stat
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import pathspec

from mlposture.scanner.gitinfo import GitInfo, read_git_info
from mlposture.scanner.probe import Note
from mlposture.scanner.readers import ignore_spec
from mlposture.scanner.settings import Settings

VENDORED_DIRS = frozenset(
    {".venv", "venv", "site-packages", "node_modules", "__pycache__", ".tox", ".mypy_cache",
     ".pytest_cache", ".ruff_cache", ".nox", ".eggs"}
)
BINARY_SNIFF_BYTES = 8192
CACHE_BYTES = 64 * 1024 * 1024
#: Built-in probes read Python through the one pass; this small cache only serves plugins calling python_ast.
AST_CACHE_ENTRIES = 16
MAX_FILES = 2_000_000


def display_path(raw: str) -> str:
    """A path string safe to print and to write as UTF-8: undecodable bytes become ``\\xNN`` escapes."""
    return raw.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


@dataclass(frozen=True, slots=True)
class RepoFile:
    """A regular file inside the scanned root (slotted: a large tree holds hundreds of thousands, and every forked
    worker that walks them copies their pages)."""

    path: str  # relative to the root, '/' separators, printable
    abspath: str  # the real location on disk (may hold undecodable bytes as surrogates)
    size: int
    name: str = field(init=False, repr=False, compare=False)  # base name
    suffix: str = field(init=False, repr=False, compare=False)  # lower-cased extension with the dot, or ""

    def __post_init__(self) -> None:
        name = self.path.rsplit("/", 1)[-1]
        dot = name.rfind(".")
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "suffix", name[dot:].lower() if dot > 0 else "")

    @property
    def parent(self) -> str:
        """Relative folder of the file (``""`` for the root)."""
        return self.path.rsplit("/", 1)[0] if "/" in self.path else ""


class _IgnoreRules:
    """Gitignore rules of every folder walked so far, plus the configured excludes."""

    def __init__(self, excludes: Sequence[str]) -> None:
        self._specs: dict[str, pathspec.GitIgnoreSpec] = {}
        self._excludes = ignore_spec(excludes)[0] if excludes else None  # validated when the settings are built

    def add(self, folder: str, text: str) -> list[int]:
        """Rules of one ``.gitignore``; returns the lines that are not valid patterns (they are left out)."""
        spec, bad = ignore_spec(text.splitlines())
        if spec is not None:
            self._specs[folder] = spec
        return [number for number, _ in bad]

    def ignored(self, rel: str, is_dir: bool) -> bool:
        candidate = rel + "/" if is_dir else rel
        if self._excludes is not None and self._excludes.match_file(candidate):
            return True
        parts = rel.split("/")
        for depth in range(len(parts)):
            folder = "/".join(parts[:depth])
            spec = self._specs.get(folder)
            if spec is None:
                continue
            sub = "/".join(parts[depth:]) + ("/" if is_dir else "")
            if spec.match_file(sub):
                return True
        return False


@functools.lru_cache(maxsize=256)
def _glob_matchers(patterns: tuple[str, ...]) -> tuple[Callable[[str], object] | None, Callable[[str], object] | None]:
    """One compiled matcher for the patterns with a ``/`` (whole path) and one for the others (base name): the same
    answers as :func:`fnmatch.fnmatchcase` per pattern, in one regex match per file."""
    def compiled(pats: list[str]) -> Callable[[str], object] | None:
        if not pats:
            return None
        return re.compile("|".join(f"(?:{fnmatch.translate(p)})" for p in pats)).match

    return compiled([p for p in patterns if "/" in p]), compiled([p for p in patterns if "/" not in p])


def _read_head(path: str, limit: int, size: int) -> bytes:
    """At most ``limit`` bytes from the start of ``path``, with plain system calls.

    Why not ``open().read(limit)``: a buffered read of ``limit`` bytes allocates that much first, which cost a
    small file four times the read itself, and every small file of a repository is read. The first read asks for
    the size the walk saw plus one byte, so a file that grew since reads on. ``O_NONBLOCK`` keeps a file swapped
    for a FIFO after the walk from hanging the open (it changes nothing for a regular file).
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        chunks: list[bytes] = []
        got = 0
        want = min(limit, size + 1)
        while got < limit:
            chunk = os.read(fd, want - got)
            if not chunk:
                break
            chunks.append(chunk)
            got += len(chunk)
            if got == want:
                want = limit
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)
    finally:
        os.close(fd)


class RepoView:
    """Files of the scanned target, with capped readers and the git metadata.

    ``files`` lists regular files only (symlinks to files inside the root included, once); everything skipped
    for safety is recorded in ``notes``.
    """

    def __init__(self, target: str | os.PathLike[str], settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        target_path = Path(os.path.abspath(target))
        if not target_path.exists():
            raise FileNotFoundError(str(target))
        self.single_file = target_path.is_file()
        self.root = target_path.parent if self.single_file else target_path
        self._real_root = os.path.realpath(self.root)
        self._notes: dict[tuple[str | None, str], Note] = {}
        self._text_cache: OrderedDict[str, str | None] = OrderedDict()
        self._cache_size = 0
        self._ast_cache: OrderedDict[str, ast.Module | None] = OrderedDict()
        self._python_files: list[RepoFile] | None = None
        self.bytes_walked = 0
        if self.single_file:
            st = target_path.stat()
            self._files = [RepoFile(display_path(target_path.name), str(target_path), st.st_size)]
        else:
            self._files = list(self._walk())
        self._files.sort(key=lambda f: f.path)
        self._by_path = {f.path: f for f in self._files}
        self.git: GitInfo | None = read_git_info(self.root, self.note)

    # ---------------------------------------------------------------- walking
    def _walk(self) -> Iterator[RepoFile]:
        rules = _IgnoreRules(self.settings.exclude)
        stack: list[tuple[str, str]] = [(os.fspath(self.root), "")]
        count = 0
        while stack:
            abs_dir, rel_dir = stack.pop()
            try:
                entries = sorted(os.scandir(abs_dir), key=lambda e: e.name)
            except OSError as exc:
                self.note(f"folder not readable: {exc.strerror or exc}", rel_dir or ".")
                continue
            for entry in entries:
                if entry.name == ".gitignore" and not entry.is_symlink():
                    text = self._read_small(entry.path)
                    if text is not None:
                        for number in rules.add(rel_dir, text):
                            self.note("not a valid gitignore pattern, left out",
                                      f"{rel_dir}/.gitignore" if rel_dir else ".gitignore", number)
            subdirs: list[tuple[str, str]] = []
            for entry in entries:
                rel = f"{rel_dir}/{display_path(entry.name)}" if rel_dir else display_path(entry.name)
                try:
                    st = entry.stat(follow_symlinks=False)
                except OSError as exc:
                    self.note(f"not readable: {exc.strerror or exc}", rel)
                    continue
                if stat.S_ISLNK(st.st_mode):
                    resolved = self._resolve_link(entry.path, rel)
                    if resolved is None:
                        continue
                    real, rst = resolved
                    if stat.S_ISDIR(rst.st_mode):
                        self.note("symbolic link to a folder, not followed", rel)
                        continue
                    if not stat.S_ISREG(rst.st_mode):
                        self.note("symbolic link to a special file, skipped", rel)
                        continue
                    self.note("symbolic link to a file inside the root: scanned under its own name "
                              f"({display_path(os.path.relpath(real, self._real_root))})", rel)
                    continue
                if stat.S_ISDIR(st.st_mode):
                    if entry.name == ".git":
                        continue
                    if entry.name in VENDORED_DIRS and not self.settings.include_vendored:
                        continue
                    if rules.ignored(rel, True):
                        continue
                    subdirs.append((entry.path, rel))
                    continue
                if not stat.S_ISREG(st.st_mode):
                    self.note("special file (FIFO, socket or device), skipped", rel)
                    continue
                if rules.ignored(rel, False):
                    continue
                count += 1
                if count > MAX_FILES:
                    self.note(f"more than {MAX_FILES} files; the rest of the tree was not walked", None)
                    return
                self.bytes_walked += st.st_size
                yield RepoFile(rel, entry.path, st.st_size)
            stack.extend(reversed(subdirs))

    def _resolve_link(self, abspath: str, rel: str) -> tuple[str, os.stat_result] | None:
        try:
            real = os.path.realpath(abspath, strict=True)
        except (OSError, RuntimeError):
            self.note("broken or looping symbolic link, skipped", rel)
            return None
        if os.path.commonpath([real, self._real_root]) != self._real_root:
            self.note("symbolic link leads out of the scanned root, not followed", rel)
            return None
        try:
            return real, os.stat(real)
        except OSError as exc:
            self.note(f"not readable: {exc.strerror or exc}", rel)
            return None

    def _read_small(self, abspath: str, limit: int = 1024 * 1024) -> str | None:
        try:
            with open(abspath, "rb") as fh:
                return fh.read(limit).decode("utf-8", "replace")
        except OSError:
            return None

    # ---------------------------------------------------------------- notes
    def note(self, message: str, path: str | None = None, line: int | None = None) -> None:
        """Record something the report should mention (deduplicated)."""
        key = (path, message)
        if key not in self._notes:
            self._notes[key] = Note(message=message, path=path, line=line)

    @property
    def notes(self) -> tuple[Note, ...]:
        """Everything the view skipped or could not read."""
        return tuple(self._notes.values())

    # ---------------------------------------------------------------- lookup
    @property
    def files(self) -> Sequence[RepoFile]:
        """All regular files, sorted by path."""
        return self._files

    def get(self, path: str) -> RepoFile | None:
        """The file at a relative path, if the walk kept it."""
        return self._by_path.get(path.strip("/"))

    def exists(self, path: str) -> bool:
        """True when a file at that relative path was walked."""
        return path.strip("/") in self._by_path

    def find(self, *patterns: str) -> list[RepoFile]:
        """Files whose relative path or base name matches one of the glob patterns (case-insensitive).

        A pattern with a ``/`` is matched against the whole relative path, otherwise against the name.
        """
        by_path, by_name = _glob_matchers(tuple(p.lower() for p in patterns))
        return [f for f in self._files
                if (by_name is not None and by_name(f.name.lower()))
                or (by_path is not None and by_path(f.path.lower()))]

    def under(self, folder: str) -> list[RepoFile]:
        """Files below a relative folder."""
        prefix = folder.strip("/") + "/"
        return [f for f in self._files if f.path.startswith(prefix)]

    # ---------------------------------------------------------------- reading
    def _resolve(self, file: RepoFile | str) -> RepoFile | None:
        if isinstance(file, RepoFile):
            return file
        return self.get(file)

    def read_bytes(self, file: RepoFile | str, limit: int) -> bytes | None:
        """At most ``limit`` bytes from the start of the file; ``None`` (with a note) if it cannot be read."""
        f = self._resolve(file)
        if f is None:
            return None
        try:
            return _read_head(f.abspath, limit, f.size)
        except OSError as exc:
            self.note(f"not readable: {exc.strerror or exc}", f.path)
            return None

    def open_binary(self, file: RepoFile | str) -> BinaryIO | None:
        """A buffered binary stream for streaming parsers; the caller closes it. ``None`` if unreadable."""
        f = self._resolve(file)
        if f is None:
            return None
        try:
            return open(f.abspath, "rb")
        except OSError as exc:
            self.note(f"not readable: {exc.strerror or exc}", f.path)
            return None

    def read_text(self, file: RepoFile | str, limit: int | None = None, cache: bool = True) -> str | None:
        """The file decoded as UTF-8 (invalid bytes replaced), or ``None`` with a note.

        ``None`` when the file is larger than the cap (``limit`` or ``settings.max_text_bytes``), is binary
        (a NUL byte in its first 8 KiB, whatever its extension) or cannot be read. ``cache=False`` for a reader
        that goes through every file once (the Python pass): keeping its texts would only evict the others'.
        """
        f = self._resolve(file)
        if f is None:
            return None
        cap = limit if limit is not None else self.settings.max_text_bytes
        if f.size > cap:
            self.note(f"larger than the {cap // 1024} KiB text cap ({f.size} bytes), not read as text", f.path)
            return None
        # keyed by path alone: a file is only ever decoded whole, so one read serves every cap >= its size
        if f.path in self._text_cache:
            self._text_cache.move_to_end(f.path)
            return self._text_cache[f.path]
        text = self._load_text(f, cap)
        if not cache:
            return text
        self._text_cache[f.path] = text
        self._cache_size += len(text) if text else 0
        while self._cache_size > CACHE_BYTES and self._text_cache:
            _, old = self._text_cache.popitem(last=False)
            self._cache_size -= len(old) if old else 0
        return text

    def cached_text(self, file: RepoFile) -> str | None:
        """The text of ``file`` when some reader already loaded it and it is still cached, else ``None`` (a reader
        that would otherwise read every file's bytes itself takes what is there first)."""
        return self._text_cache.get(file.path)

    def _load_text(self, f: RepoFile, cap: int) -> str | None:
        data = self.read_bytes(f, cap + 1)
        if data is None:
            return None
        if len(data) > cap:  # it grew since the walk
            self.note(f"larger than the {cap // 1024} KiB text cap, not read as text", f.path)
            return None
        if b"\x00" in data[:BINARY_SNIFF_BYTES]:
            self.note("binary content, not read as text", f.path)
            return None
        if data.startswith(b"\xef\xbb\xbf"):
            data = data[3:]
        return data.decode("utf-8", "replace")

    def lines(self, file: RepoFile | str, limit: int | None = None) -> list[str]:
        """The text split into lines (line ``n`` is ``lines[n - 1]``); empty when unreadable."""
        text = self.read_text(file, limit)
        return text.splitlines() if text is not None else []

    def python_ast(self, file: RepoFile | str) -> ast.Module | None:
        """The parsed module (``ast.parse``, never executed), cached; ``None`` with a note on a syntax error.

        For plugins that read one file at a time; the built-in probes read Python through the one pass
        (:mod:`mlposture.scanner.sources.python`), which parses each module once for all of them.
        """
        f = self._resolve(file)
        if f is None:
            return None
        if f.path in self._ast_cache:
            self._ast_cache.move_to_end(f.path)
            return self._ast_cache[f.path]
        from mlposture.scanner.sources.python import ParseError, parse_python
        from mlposture.scanner.sources.python_text import read_python

        text = read_python(self, f)  # as the interpreter decodes it (a declared encoding honoured)
        tree: ast.Module | None = None
        if text is not None:
            parsed = parse_python(text, f.path)
            if isinstance(parsed, ParseError):
                self.note(parsed.message, f.path, parsed.line)
            else:
                tree = parsed
        self._ast_cache[f.path] = tree
        if len(self._ast_cache) > AST_CACHE_ENTRIES:  # ASTs are ~50x their source: keep memory flat
            self._ast_cache.popitem(last=False)
        return tree

    def python_files(self) -> list[RepoFile]:
        """Python sources, in path order: ``.py``, ``.pyw``, and scripts without an extension whose first line runs
        Python (found once per view: telling them needs a read of each extensionless file)."""
        if self._python_files is None:
            from mlposture.scanner.sources.python_text import is_python_script

            self._python_files = [f for f in self._files if f.suffix in (".py", ".pyw") or is_python_script(self, f)]
        return list(self._python_files)

    def text_files(self, suffixes: Iterable[str]) -> list[RepoFile]:
        """Files with one of the given extensions (lower-case, with the dot)."""
        wanted = {s.lower() for s in suffixes}
        return [f for f in self._files if f.suffix in wanted]
