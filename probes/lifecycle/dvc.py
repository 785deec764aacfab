"""Parsers of DVC's files: ``.dvc/config``, ``dvc.yaml``, ``dvc.lock`` and ``*.dvc`` pointer files.

Formats as documented on dvc.org ("dvc.yaml", "dvc.lock", ".dvc files", "dvc config"): a pointer file lists
``outs`` with ``md5`` (``.dir`` suffix for folders), ``size``, ``path`` and, since DVC 3, ``hash: md5``; an
imported dataset's pointer has ``deps`` with ``repo: {url, rev_lock}`` and may be ``frozen: true``. ``dvc.yaml``
holds ``stages`` (``cmd``, ``deps``, ``outs``, ``params``, ``metrics``, ``plots``); ``dvc.lock`` records the
hash of every dep and out per stage. The config is INI-like (``['remote "storage"']``, ``[core] remote = ...``).

Only facts here: what is declared, where (line). Judgements live in :mod:`mlposture.probes.lifecycle.provenance`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from mlposture.scanner import yamlsafe
from mlposture.scanner.repo import RepoFile, RepoView

MAX_DVC_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Remote:
    """A ``['remote "name"']`` section with its options (line of each option kept)."""

    name: str
    line: int
    options: tuple[tuple[str, str, int], ...] = ()

    def get(self, key: str) -> tuple[str, int] | None:
        """Value and line of an option."""
        for k, v, line in self.options:
            if k == key:
                return v, line
        return None


@dataclass(frozen=True)
class DvcConfig:
    """The remotes of ``.dvc/config`` and the default remote (``[core] remote``)."""

    path: str
    remotes: tuple[Remote, ...]
    default_remote: tuple[str, int] | None


_SECTION = re.compile(r"""^\s*\[\s*['"]?\s*(?P<kind>[a-z]+)(?:\s+"(?P<name>[^"]*)")?\s*['"]?\s*\]\s*$""")
_OPTION = re.compile(r"^\s*(?P<key>[A-Za-z0-9_.-]+)\s*=\s*(?P<value>.*?)\s*$")


def parse_config(text: str, path: str) -> DvcConfig:
    """Parse ``.dvc/config`` text; unknown lines are skipped (DVC itself would reject them, but facts still help)."""
    remotes: list[Remote] = []
    default: tuple[str, int] | None = None
    kind = ""
    name = ""
    start = 0
    options: list[tuple[str, str, int]] = []

    def flush() -> None:
        if kind == "remote" and name:
            remotes.append(Remote(name, start, tuple(options)))

    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0] if raw.lstrip().startswith("#") else raw
        section = _SECTION.match(line)
        if section:
            flush()
            kind, name, start, options = section.group("kind"), section.group("name") or "", number, []
            continue
        opt = _OPTION.match(line)
        if opt is None:
            continue
        key, value = opt.group("key").lower(), opt.group("value").strip("'\"")
        if kind == "core" and key == "remote":
            default = (value, number)
        elif kind == "remote":
            options.append((key, value, number))
    flush()
    return DvcConfig(path, tuple(remotes), default)


@dataclass(frozen=True)
class Entry:
    """A dep or out: its path, its hash (kind, value) when recorded, and the line."""

    path: str
    line: int
    hash_kind: str | None = None
    digest: str | None = None


@dataclass(frozen=True)
class Stage:
    """A ``dvc.yaml`` stage (or a ``dvc.lock`` stage: then the entries carry hashes)."""

    name: str
    line: int
    cmds: tuple[tuple[str, int], ...] = ()
    deps: tuple[Entry, ...] = ()
    outs: tuple[Entry, ...] = ()
    params: tuple[Entry, ...] = ()
    metrics: tuple[Entry, ...] = ()


@dataclass(frozen=True)
class Pointer:
    """A ``*.dvc`` file: tracked outs with hashes, and for imports the source repository and its locked rev."""

    path: str
    outs: tuple[Entry, ...]
    import_url: str | None = None
    rev: str | None = None
    rev_lock: str | None = None
    import_line: int = 0
    frozen: bool = False


class DvcParseError(ValueError):
    """A DVC file that could not be read as its format; ``line`` when known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


HASH_KEYS = ("md5", "sha256", "etag", "checksum", "hash")


def _entry(item: object, line: int) -> Entry | None:
    if isinstance(item, str):
        return Entry(item, line)
    if isinstance(item, dict):
        if len(item) == 1 and not any(k in item for k in ("path", *HASH_KEYS)):
            # dvc.yaml form: ``- data/raw: {cache: false}``
            key = next(iter(item))
            return Entry(str(key), line)
        path = item.get("path")
        if not isinstance(path, str):
            return None
        for key in ("md5", "sha256", "etag", "checksum"):
            value = item.get(key)
            if isinstance(value, str) and value:
                return Entry(path, line, key, value)
        return Entry(path, line)
    return None


def _entries(value: object) -> tuple[Entry, ...]:
    out: list[Entry] = []
    if isinstance(value, yamlsafe.YList):
        for i, item in enumerate(value):
            e = _entry(item, value.line_of(i))
            if e is not None:
                out.append(e)
    elif isinstance(value, yamlsafe.YMap):  # params: {params.yaml: [lr, epochs]}
        for key in value:
            out.append(Entry(str(key), value.line_of(key)))
    return tuple(out)


def _cmds(value: object, line: int) -> tuple[tuple[str, int], ...]:
    if isinstance(value, str):
        return tuple((part, line + i) for i, part in enumerate(value.splitlines()) if part.strip())
    if isinstance(value, yamlsafe.YList):
        return tuple((str(v), value.value_line(i)) for i, v in enumerate(value) if isinstance(v, str))
    return ()


def _load(repo: RepoView, f: RepoFile) -> object:
    text = repo.read_text(f, limit=MAX_DVC_BYTES)
    if text is None:
        raise DvcParseError("not readable as text (binary or larger than 1 MiB)")
    try:
        return yamlsafe.load(text)
    except yamlsafe.YamlError as exc:
        raise DvcParseError(f"YAML error: {exc.message}", exc.line) from None


def parse_stages(repo: RepoView, f: RepoFile) -> tuple[Stage, ...]:
    """Stages of ``dvc.yaml`` or ``dvc.lock``; raises :class:`DvcParseError`."""
    doc = _load(repo, f)
    if not isinstance(doc, yamlsafe.YMap):
        raise DvcParseError("top level is not a mapping", 1)
    stages = doc.get("stages")
    if stages is None:
        return ()
    if not isinstance(stages, yamlsafe.YMap):
        raise DvcParseError("'stages' is not a mapping", doc.line_of("stages"))
    out: list[Stage] = []
    for name, body in stages.items():
        line = stages.line_of(name)
        if not isinstance(body, yamlsafe.YMap):
            continue
        inner = body.get("do") if isinstance(body.get("do"), yamlsafe.YMap) else body  # foreach ... do
        if not isinstance(inner, yamlsafe.YMap):
            continue
        out.append(Stage(
            name=str(name),
            line=line,
            cmds=_cmds(inner.get("cmd"), inner.value_line("cmd")),  # a 'cmd: |' block starts below its key
            deps=_entries(inner.get("deps")),
            outs=_entries(inner.get("outs")),
            params=_entries(inner.get("params")),
            metrics=_entries(inner.get("metrics")),
        ))
    return tuple(out)


def parse_pointer(repo: RepoView, f: RepoFile) -> Pointer:
    """A ``*.dvc`` pointer file; raises :class:`DvcParseError`."""
    doc = _load(repo, f)
    if not isinstance(doc, yamlsafe.YMap):
        raise DvcParseError("top level is not a mapping", 1)
    outs = _entries(doc.get("outs"))
    if not outs:
        raise DvcParseError("no 'outs' entries with a path", doc.line)
    url = rev = rev_lock = None
    import_line = 0
    deps = doc.get("deps")
    if isinstance(deps, yamlsafe.YList):
        for i, dep in enumerate(deps):
            repo_info = dep.get("repo") if isinstance(dep, dict) else None
            if isinstance(repo_info, dict):
                url = str(repo_info.get("url", "")) or None
                rev = str(repo_info["rev"]) if "rev" in repo_info else None
                rev_lock = str(repo_info["rev_lock"]) if "rev_lock" in repo_info else None
                import_line = deps.line_of(i)
            elif isinstance(dep, dict) and isinstance(dep.get("path"), str) and "://" in str(dep.get("path")):
                url = str(dep["path"])  # dvc import-url
                import_line = deps.line_of(i)
    return Pointer(f.path, outs, url, rev, rev_lock, import_line, doc.get("frozen") is True)


@dataclass
class DvcProject:
    """All DVC facts of a repository."""

    configs: list[DvcConfig] = field(default_factory=list)
    pipelines: list[tuple[str, tuple[Stage, ...]]] = field(default_factory=list)
    locks: list[tuple[str, tuple[Stage, ...]]] = field(default_factory=list)
    pointers: list[Pointer] = field(default_factory=list)

    @property
    def present(self) -> bool:
        """True when any DVC file was found."""
        return bool(self.configs or self.pipelines or self.locks or self.pointers)


def read_project(repo: RepoView) -> DvcProject:
    """Every DVC file of the view, parsed; unparseable files become notes."""
    project = DvcProject()
    for f in repo.files:
        try:
            if f.path == ".dvc/config" or f.path.endswith("/.dvc/config"):
                text = repo.read_text(f, limit=MAX_DVC_BYTES)
                if text is not None:
                    project.configs.append(parse_config(text, f.path))
            elif f.name == "dvc.yaml":
                project.pipelines.append((f.path, parse_stages(repo, f)))
            elif f.name == "dvc.lock":
                project.locks.append((f.path, parse_stages(repo, f)))
            elif f.suffix == ".dvc" and f.size <= MAX_DVC_BYTES:
                project.pointers.append(parse_pointer(repo, f))
        except DvcParseError as exc:
            repo.note(f"DVC file not parsed: {exc}", f.path, exc.line)
    return project
