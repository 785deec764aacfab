"""The context of a path: production, test, example, docs, fixture or vendored, decided once for the whole scan.

Why in the core: a finding in a test that pickles on purpose, a key in ``tests/``, a ``:latest`` image in an
``examples/`` compose file are real facts but not problems of the shipped system. If every probe decided that on its
own, each would draw the line somewhere else; the engine instead attaches one context, from this module, to every
evidence item and finding, and counts only the contexts the user asked for (production by default).

The rule (documented for users in ``docs/context.md``), first match wins, per path relative to the scanned root:

1. No path (the repository as a whole): production.
2. **vendored**: a folder named like copied third-party code (``vendor``, ``third_party``, ``_vendor``...).
3. **fixture**: a folder of test data (``fixtures``, ``testdata``, ``test_data``...).
4. **test**: below a folder the test runner is configured to collect (pytest ``testpaths`` in pyproject.toml,
   pytest.ini, setup.cfg or tox.ini), a folder named ``tests``/``test``/``testing``/``__tests__``, or a test file
   by pytest's naming (``test_*.py``, ``*_test.py``, ``conftest.py``).
5. Inside a folder the project's packaging ships (setuptools ``packages`` or ``packages.find`` ``include``, hatch
   wheel ``packages``, poetry ``packages``): production, whatever the folder names below it say (a shipped
   ``mypkg/examples`` module is code users import).
6. **docs**: below the docs builder's source folder (mkdocs ``docs_dir``, default ``docs``; the folder of a Sphinx
   ``conf.py``) or a folder named ``docs``/``doc``/``documentation``.
7. **example**: a folder named ``examples``/``example``/``samples``/``demo(s)``/``tutorial(s)``/``cookbook``, or a
   folder the packaging's ``find`` ``exclude`` list names together with one of those words.
8. Everything else: production.

Reading the configuration follows the scanner's rules: only small files at known places, parsed with safe parsers
(tomllib, configparser without interpolation, the safe YAML loader), never executed.
"""

from __future__ import annotations

import configparser
import enum
import fnmatch
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlposture.scanner import yamlsafe

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

if TYPE_CHECKING:
    from mlposture.scanner.repo import RepoView

CONFIG_BYTES = 512 * 1024
MAX_CONFIG_FILES = 64


class Context(str, enum.Enum):
    """Where a piece of evidence or a finding lives."""

    PRODUCTION = "production"
    TEST = "test"
    EXAMPLE = "example"
    DOCS = "docs"
    FIXTURE = "fixture"
    VENDORED = "vendored"


CONTEXT_NAMES = tuple(c.value for c in Context)
VENDORED_FOLDERS = frozenset({"vendor", "vendored", "_vendor", "third_party", "third-party", "thirdparty",
                              "3rdparty", "external", "extern", "node_modules", "site-packages"})
FIXTURE_FOLDERS = frozenset({"fixtures", "fixture", "__fixtures__", "testdata", "test_data", "test-data",
                             "test_fixtures", "test-fixtures", "testfiles", "test_files"})
TEST_FOLDERS = frozenset({"tests", "test", "testing", "__tests__", "unittests", "unit_tests", "integration_tests",
                          "e2e", "e2e_tests"})
DOCS_FOLDERS = frozenset({"docs", "doc", "documentation", "docsrc"})
EXAMPLE_FOLDERS = frozenset({"examples", "example", "samples", "sample", "demo", "demos", "tutorials", "tutorial",
                             "cookbook", "cookbooks"})
TEST_FILE = re.compile(r"^(?:test_.*\.py|.*_test\.py|conftest\.py|.*_tests\.py)$")


TEST_WORD = re.compile(r"(?<![a-z])tests?(?![a-z])", re.I)


def accepts_test_evidence(evidence_text: Iterable[str]) -> bool:
    """True for a control whose catalog evidence names tests (fairness tests, rollback drills, attack suites).

    For those, a test is the very evidence of the practice; for the others (monitoring, secrets, serving), what
    only a test sets up says nothing about production.
    """
    return any(TEST_WORD.search(text) for text in evidence_text)


def parse_contexts(values: Iterable[str]) -> tuple[Context, ...]:
    """Context names from ``--context``/config (comma-separated allowed); ``ValueError`` names an unknown one."""
    out: list[Context] = []
    for value in values:
        for part in str(value).split(","):
            name = part.strip().lower()
            if not name:
                continue
            if name == "production":
                continue
            if name == "all":
                out.extend(Context)
                continue
            if name not in CONTEXT_NAMES:
                raise ValueError(f"unknown context {name!r} (use {', '.join(CONTEXT_NAMES)} or all)")
            out.append(Context(name))
    return tuple(dict.fromkeys(out))


@dataclass(frozen=True)
class ContextRule:
    """The folders the project's own configuration names, plus the fixed conventions above."""

    test_paths: tuple[str, ...] = ()
    docs_paths: tuple[str, ...] = ()
    shipped_paths: tuple[str, ...] = ()
    excluded_examples: tuple[str, ...] = ()
    sources: tuple[str, ...] = field(default=(), compare=False)  # config files that contributed, for the report

    def of(self, path: str | None) -> Context:
        """The context of a path relative to the scanned root (``None``: the whole repository)."""
        if not path:
            return Context.PRODUCTION
        parts = path.strip("/").split("/")
        folders = [p.lower() for p in parts[:-1]]
        name = parts[-1]
        if any(f in VENDORED_FOLDERS for f in folders):
            return Context.VENDORED
        if any(f in FIXTURE_FOLDERS for f in folders):
            return Context.FIXTURE
        if (_below(path, self.test_paths) or any(f in TEST_FOLDERS for f in folders)
                or (name.endswith(".py") and TEST_FILE.match(name))):
            return Context.TEST
        if _below(path, self.shipped_paths):
            return Context.PRODUCTION
        if _below(path, self.docs_paths) or any(f in DOCS_FOLDERS for f in folders):
            return Context.DOCS
        if _below(path, self.excluded_examples) or any(f in EXAMPLE_FOLDERS for f in folders):
            return Context.EXAMPLE
        return Context.PRODUCTION


def _below(path: str, folders: Iterable[str]) -> bool:
    return any(folder and (path == folder or path.startswith(folder + "/")) for folder in folders)


def _clean(folder: str, base: str = "") -> str:
    """A configured folder as a root-relative path without ``./`` or trailing ``/`` (``""`` when unusable)."""
    text = folder.strip().strip("\"'").replace("\\", "/")
    while text.startswith("./"):
        text = text[2:]
    text = text.strip("/")
    if not text or text == "." or ".." in text.split("/") or any(c in text for c in "*?[{$"):
        return ""
    return f"{base}/{text}" if base else text


def build_rule(repo: RepoView) -> ContextRule:
    """Read the project's packaging, test runner and docs builder configuration (root and one level down)."""
    tests: list[str] = []
    docs: list[str] = []
    shipped: list[str] = []
    excluded: list[str] = []
    sources: list[str] = []
    candidates = [f for f in repo.files if f.path.count("/") <= 1 and f.name in
                  ("pyproject.toml", "setup.cfg", "pytest.ini", "tox.ini", "mkdocs.yml", "mkdocs.yaml")]
    for f in candidates[:MAX_CONFIG_FILES]:
        text = repo.read_text(f, CONFIG_BYTES)
        if text is None:
            continue
        base = f.parent
        before = len(tests) + len(docs) + len(shipped) + len(excluded)
        if f.name == "pyproject.toml":
            _from_pyproject(text, base, tests, shipped, excluded)
        elif f.name in ("setup.cfg", "pytest.ini", "tox.ini"):
            _from_ini(text, f.name, base, tests, shipped, excluded)
        else:
            _from_mkdocs(text, base, docs)
        if len(tests) + len(docs) + len(shipped) + len(excluded) > before:
            sources.append(f.path)
    for f in repo.files:
        if f.name == "conf.py" and f.path.count("/") <= 2 and f.parent:
            text = repo.read_text(f, CONFIG_BYTES) or ""
            if "sphinx" in text or re.search(r"^\s*extensions\s*=", text, re.M):
                docs.append(f.parent)
                sources.append(f.path)
    shipped_set = tuple(dict.fromkeys(s for s in shipped if s))
    return ContextRule(_narrow(tests, shipped_set), _narrow(docs, shipped_set), shipped_set,
                       _narrow(excluded, shipped_set), tuple(sources))


def _narrow(folders: Iterable[str], shipped: tuple[str, ...]) -> tuple[str, ...]:
    """Configured folders that cannot hide shipped code: a test or docs folder that is ``src`` or holds a shipped
    package is ignored (a repository must not be able to declare its production code a test and pass the gate)."""
    out = []
    for folder in dict.fromkeys(folders):
        if not folder or folder.split("/")[-1] == "src" or any(_below(s, (folder,)) for s in shipped):
            continue
        out.append(folder)
    return tuple(out)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return value.split()
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def _get(data: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _from_pyproject(text: str, base: str, tests: list[str], shipped: list[str], excluded: list[str]) -> None:
    try:
        data = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, RecursionError, ValueError):
        return
    tests.extend(_clean(t, base) for t in _strings(_get(data, "tool", "pytest", "ini_options", "testpaths")))
    setuptools = _get(data, "tool", "setuptools")
    packages = _get(setuptools, "packages")
    if isinstance(packages, list):
        shipped.extend(_clean(p.replace(".", "/"), base) for p in _strings(packages))
    find = _get(packages, "find") if isinstance(packages, dict) else None
    if isinstance(find, dict):
        _from_find(_strings(find.get("where")) or [""], _strings(find.get("include")),
                   _strings(find.get("exclude")), base, shipped, excluded)
    package_dir = _get(setuptools, "package-dir")
    if isinstance(package_dir, dict):
        shipped.extend(_clean(v, base) for k, v in package_dir.items() if k and isinstance(v, str))
    hatch = _get(data, "tool", "hatch", "build", "targets", "wheel", "packages")
    shipped.extend(_clean(p, base) for p in _strings(hatch))
    poetry = _get(data, "tool", "poetry", "packages")
    if isinstance(poetry, list):
        for entry in poetry:
            if isinstance(entry, dict) and isinstance(entry.get("include"), str):
                start = entry.get("from") if isinstance(entry.get("from"), str) else ""
                shipped.append(_clean(f"{start}/{entry['include']}" if start else entry["include"], base))


def _from_find(where: list[str], include: list[str], exclude: list[str], base: str, shipped: list[str],
               excluded: list[str]) -> None:
    roots = [_clean(w, base) if w.strip(" ./") else base for w in where]
    for root in roots:
        for pattern in include:
            top = pattern.split(".", 1)[0].rstrip("*")
            if top and not any(c in top for c in "*?["):
                shipped.append(f"{root}/{top}" if root else top)
        for pattern in exclude:
            top = pattern.split(".", 1)[0].rstrip("*")
            if top.lower() in EXAMPLE_FOLDERS or any(fnmatch.fnmatchcase(w, pattern) for w in EXAMPLE_FOLDERS):
                excluded.append(f"{root}/{top}" if root else top)


def _from_ini(text: str, name: str, base: str, tests: list[str], shipped: list[str], excluded: list[str]) -> None:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(text, name)
    except (configparser.Error, ValueError):
        return
    for section in ("pytest", "tool:pytest"):
        if parser.has_option(section, "testpaths"):
            tests.extend(_clean(t, base) for t in parser.get(section, "testpaths").split())
    if name != "setup.cfg":
        return
    if parser.has_option("options", "packages"):
        value = parser.get("options", "packages").strip()
        if not value.startswith("find"):
            shipped.extend(_clean(p.strip().replace(".", "/"), base) for p in value.split() if p.strip())
    if parser.has_section("options.packages.find"):
        find = parser["options.packages.find"]
        _from_find(find.get("where", "").split() or [""], find.get("include", "").split(),
                   find.get("exclude", "").split(), base, shipped, excluded)


def _from_mkdocs(text: str, base: str, docs: list[str]) -> None:
    try:
        data = yamlsafe.load(text)
    except yamlsafe.YamlError:
        data = None
    folder = data.get("docs_dir") if isinstance(data, dict) else None
    docs.append(_clean(folder if isinstance(folder, str) else "docs", base))
