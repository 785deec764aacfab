"""Public parser API: every Python dependency a repository declares or locks, read without executing anything.

Use :func:`read_manifests` (everything, cached per :class:`~mlposture.scanner.repo.RepoView`), or the two shortcuts
:func:`declared_requirements` and :func:`locked_packages`. The values are frozen dataclasses from
:mod:`mlposture.scanner.sources.manifests.model` (re-exported here); their fields are the contract:

- :class:`DeclaredRequirement` ``(name, specifier, version_pinned, path, line, source_kind, is_runtime, hashes,
  markers, extras, url, vcs, vcs_ref, vcs_commit, editable, local, group, raw, constrained, upgrade, ecosystem)``
  with ``.canonical`` and ``.pinned``;
- :class:`LockedPackage` ``(name, version, path, line, source_kind, hashes, ecosystem)`` with ``.canonical``.

Formats: ``requirements*.txt`` / ``*.in`` / constraints (``-r``/``-c`` includes, ``--hash``, markers, extras,
URLs, editable, VCS), pip-compile and ``uv pip compile`` output (also lock entries), ``pyproject.toml`` (PEP 621,
PEP 735, Poetry, PDM, uv), ``setup.cfg``, ``setup.py`` (``ast``, literal lists only), ``Pipfile``,
``Pipfile.lock``, conda ``environment.yml`` (conda and pip sections), ``poetry.lock``, ``uv.lock``, ``pdm.lock``,
``conda-lock.yml``, ``pip install`` in Dockerfiles and CI steps (GitHub Actions, GitLab CI), GitHub Actions
``uses:`` references, and index settings (pip.conf/pip.ini, index options, ``PIP_INDEX_URL``-style variables,
Poetry/PDM/uv/Pipfile sources). Files that cannot be parsed become :class:`ManifestNote` values naming the file
and line; the other files are still read.
"""

from __future__ import annotations

import posixpath

from mlposture.scanner.repo import RepoFile, RepoView
from mlposture.scanner.sources.manifests.ci import (
    CiResult,
    is_github_workflow,
    is_gitlab_ci,
    read_github_workflow,
    read_gitlab_ci,
    read_pip_conf,
)
from mlposture.scanner.sources.manifests.conda import is_environment_file, read_conda_lock, read_environment
from mlposture.scanner.sources.manifests.locks import LOCK_NAMES, read_toml_lock
from mlposture.scanner.sources.manifests.model import (
    ActionRef,
    DeclaredRequirement,
    IndexRole,
    IndexSetting,
    LockedPackage,
    LockScope,
    ManifestNote,
    Manifests,
    SourceKind,
)
from mlposture.scanner.sources.manifests.pipenv import read_pipfile, read_pipfile_lock
from mlposture.scanner.sources.manifests.pyproject import read_pyproject
from mlposture.scanner.sources.manifests.requirements_txt import read_requirements
from mlposture.scanner.sources.manifests.setuptools_files import read_setup_cfg, read_setup_py
from mlposture.scanner.sources.manifests.shell import is_dockerfile, read_dockerfile
from mlposture.scanner.sources.python import ParseError, PyModule, module_of_text

__all__ = [
    "ActionRef",
    "DeclaredRequirement",
    "IndexRole",
    "IndexSetting",
    "LockedPackage",
    "ManifestNote",
    "Manifests",
    "SourceKind",
    "declared_requirements",
    "locked_packages",
    "read_manifests",
]

LOCK_MAX_BYTES = 32 * 1024 * 1024


def read_manifests(repo: RepoView) -> Manifests:
    """Everything the dependency parsers find in ``repo`` (built once per scan by the view's :class:`Sources`)."""
    from mlposture.scanner.sources import Sources

    return Sources.of(repo).manifests


def build_manifests(repo: RepoView) -> Manifests:
    """Read every manifest of ``repo`` now (uncached: :class:`~mlposture.scanner.sources.Sources` caches)."""
    return _Collector(repo).collect()


def declared_requirements(repo: RepoView) -> tuple[DeclaredRequirement, ...]:
    """Every declared requirement, in file order (files sorted by path)."""
    return read_manifests(repo).requirements


def locked_packages(repo: RepoView) -> tuple[LockedPackage, ...]:
    """Every package pinned by a lock file, pip-compile output or constraints file."""
    return read_manifests(repo).locked


class _Collector:
    def __init__(self, repo: RepoView) -> None:
        self.repo = repo
        self.requirements: list[DeclaredRequirement] = []
        self.locked: list[LockedPackage] = []
        self.lock_files: list[str] = []
        self.lock_scopes: list[LockScope] = []
        self.manifest_files: list[str] = []
        self.indexes: list[IndexSetting] = []
        self.actions: list[ActionRef] = []
        self.notes: list[ManifestNote] = []
        self.unknown: list[ManifestNote] = []

    def _text(self, f: RepoFile, what: str, limit: int | None = None) -> str | None:
        text = self.repo.read_text(f, limit)
        if text is None:
            cap = limit or self.repo.settings.max_text_bytes
            reason = (f"larger than {cap // (1024 * 1024)} MiB" if f.size > cap
                      else "binary or unreadable")
            self.notes.append(ManifestNote(f"{what} not read ({reason}): what it declares is not counted", f.path))
        return text

    def _setup_module(self, f: RepoFile) -> PyModule | None:
        """The parsed ``setup.py`` (one file: parsed here rather than by a visitor of the Python pass, which this
        source may run before); a syntax error is noted on the view like every Python parse error."""
        text = self.repo.read_text(f)
        if text is None:
            return None
        parsed = module_of_text(f.path, text)
        if isinstance(parsed, ParseError):
            self.repo.note(parsed.message, f.path, parsed.line)
            return None
        return parsed

    def collect(self) -> Manifests:
        req = read_requirements(self.repo)
        self.requirements += req.requirements
        self.locked += req.locked
        self.lock_files += req.lock_files
        self.lock_scopes += req.scopes
        self.manifest_files += req.files
        self.indexes += req.indexes
        self.notes += req.notes
        ci = CiResult()
        for f in self.repo.files:
            self._file(f, ci)
        self.requirements += ci.shell.requirements
        self.indexes += ci.shell.indexes
        self.notes += ci.shell.notes
        self.unknown += ci.shell.unknown
        self.actions += ci.actions
        return Manifests(
            requirements=tuple(self.requirements), locked=tuple(self.locked), lock_files=tuple(self.lock_files),
            lock_scopes=tuple(self.lock_scopes),
            manifest_files=tuple(self.manifest_files), indexes=tuple(self.indexes), actions=tuple(self.actions),
            notes=tuple(self.notes), unknown=tuple(self.unknown))

    def _file(self, f: RepoFile, ci: CiResult) -> None:
        name = f.name
        low = name.lower()
        path = f.path
        if low == "pyproject.toml":
            text = self._text(f, "pyproject.toml")
            if text is not None:
                res = read_pyproject(path, text)
                self._add(path, res.requirements, res.notes)
                self.indexes += res.indexes
                self.unknown += res.unknown
        elif low == "setup.cfg":
            text = self._text(f, "setup.cfg")
            if text is not None:
                sres = read_setup_cfg(path, text)
                self._add(path, sres.requirements, sres.notes)
                self.unknown += sres.unknown
        elif low == "setup.py":
            module = self._setup_module(f)
            if module is None:
                self.notes.append(ManifestNote("setup.py not parsed: its requirements are unknown", path))
            else:
                sres = read_setup_py(path, module.tree)
                self._add(path, sres.requirements, sres.notes)
                self.unknown += sres.unknown
        elif name == "Pipfile":
            text = self._text(f, "Pipfile")
            if text is not None:
                pres = read_pipfile(path, text)
                self._add(path, pres.requirements, pres.notes)
                self.indexes += pres.indexes
        elif name == "Pipfile.lock":
            text = self._text(f, "lock file", LOCK_MAX_BYTES)
            if text is not None:
                pres = read_pipfile_lock(path, text)
                self._lock(path, pres.locked, pres.notes)
                self._scope(f, SourceKind.PIPFILE_LOCK, [posixpath.join(f.parent, "Pipfile")],
                            pres.local_paths)
        elif low in LOCK_NAMES:
            text = self._text(f, "lock file", LOCK_MAX_BYTES)
            if text is not None:
                local: list[str] = []
                locked, notes = read_toml_lock(path, text, LOCK_NAMES[low], local)
                self._lock(path, locked, notes)
                self._scope(f, LOCK_NAMES[low], [], [".", *local])
        elif low.endswith(("conda-lock.yml", "conda-lock.yaml")):
            text = self._text(f, "lock file", LOCK_MAX_BYTES)
            if text is not None:
                cres = read_conda_lock(path, text)
                self._lock(path, cres.locked, cres.notes)
                self._scope(f, SourceKind.CONDA_LOCK, [], ["."])
        elif is_environment_file(path):
            text = self._text(f, "conda environment file")
            if text is not None:
                cres = read_environment(path, text)
                self._add(path, cres.requirements, cres.notes)
                self.indexes += cres.indexes
        elif low in ("pip.conf", "pip.ini"):
            text = self._text(f, "pip configuration")
            if text is not None:
                idx, notes = read_pip_conf(path, text)
                self.indexes += idx
                self.notes += notes
        elif is_dockerfile(path):
            text = self._text(f, "Dockerfile")
            if text is not None:
                dres = read_dockerfile(path, text)
                self._add(path, dres.requirements, dres.notes)
                self.indexes += dres.indexes
                self.unknown += dres.unknown
        elif is_github_workflow(path):
            text = self._text(f, "workflow")
            if text is not None:
                read_github_workflow(path, text, ci)
        elif is_gitlab_ci(path):
            text = self._text(f, "GitLab CI file")
            if text is not None:
                read_gitlab_ci(path, text, ci)

    def _add(self, path: str, reqs: list[DeclaredRequirement], notes: list[ManifestNote]) -> None:
        self.manifest_files.append(path)
        self.requirements += reqs
        self.notes += notes

    def _scope(self, f: RepoFile, kind: SourceKind, manifests: list[str], folders: list[str]) -> None:
        """Record what lock ``f`` was generated from (``folders`` relative to the lock's folder)."""
        resolved = sorted({posixpath.normpath(posixpath.join(f.parent, d)).removeprefix("./")
                           for d in folders if "://" not in d})
        self.lock_scopes.append(LockScope(f.path, kind, tuple(manifests),
                                          tuple("" if d == "." else d for d in resolved)))

    def _lock(self, path: str, locked: list[LockedPackage], notes: list[ManifestNote]) -> None:
        self.notes += notes
        if locked or not notes:
            self.lock_files.append(path)
        self.locked += locked


def primary_indexes(manifests: Manifests) -> tuple[IndexSetting, ...]:
    """Index settings that replace PyPI (a convenience for reports)."""
    return tuple(i for i in manifests.indexes if i.role is IndexRole.PRIMARY)

