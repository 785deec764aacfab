"""PIPE-03 judgement: are Python packages installed only from a private index?

Settings act together within one scope (a pip.conf, a requirements file, a Dockerfile, a CI file, a
pyproject.toml, a Pipfile): pip merges ``--index-url`` with every ``--extra-index-url`` and takes the highest
version from any of them, so a private index beside a public one (PyPI by default when no primary index is set)
lets anyone publish a higher-versioned package of the same name on the public side: dependency confusion.

- pass: a private primary index (``index-url``, ``PIP_INDEX_URL``, ``UV_DEFAULT_INDEX``, Poetry ``primary``,
  uv ``default = true``, the first Pipfile source) and no public index beside it;
- fail (finding ``dependencies.index-confusion``): a private index mixed with a public one through an *extra*
  index (``--extra-index-url``, ``PIP_EXTRA_INDEX_URL``, Poetry ``supplemental``/``secondary``), or uv with
  ``index-strategy = "unsafe-best-match"``;
- partial: a private index used only for some packages while PyPI stays primary without mixing (Poetry or uv
  ``explicit``; a uv index, which uv's default ``first-index`` strategy keeps from being overridden by PyPI).

Public indexes: PyPI and well-known public mirrors (PyTorch, NVIDIA, PyG, Anaconda). Anything else, including a
host written as a variable, is treated as private.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

from mlposture.scanner.probe import Effect, Evidence, Finding, ProbeItem, Searched, Severity
from mlposture.scanner.sources.manifests.model import IndexRole, IndexSetting, Manifests

RULE_CONFUSION = "dependencies.index-confusion"
RULE_PRIVATE = "dependencies.private-index"
PUBLIC_HOSTS = ("pypi.org", "pypi.python.org", "files.pythonhosted.org", "test.pypi.org", "download.pytorch.org",
                "pypi.nvidia.com", "pypi.ngc.nvidia.com", "data.pyg.org", "anaconda.org", "conda.anaconda.org",
                "repo.anaconda.com", "pypi.anaconda.org")
PYPI = "https://pypi.org/simple (default)"


def host(url: str) -> str:
    """Lower-cased host of an index URL ("" when it cannot be read)."""
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def is_public(url: str) -> bool:
    """True for PyPI and well-known public indexes."""
    h = host(url)
    return any(h == p or h.endswith("." + p) for p in PUBLIC_HOSTS)


def judge(manifests: Manifests) -> Iterator[ProbeItem]:
    """PIPE-03 evidence and findings."""
    scopes: dict[str, list[IndexSetting]] = {}
    for setting in manifests.indexes:
        if setting.role is not IndexRole.FIND_LINKS:
            scopes.setdefault(setting.scope, []).append(setting)
    decided = False
    for settings in scopes.values():
        for item in _scope(settings):
            decided = True
            yield item
    if not decided:
        seen = f"; {len(manifests.indexes)} public index setting(s) seen" if manifests.indexes else ""
        yield Searched("PIPE-03", "pip.conf/pip.ini, --index-url/--extra-index-url in requirements and pip install, "
                                  "PIP_INDEX_URL/PIP_EXTRA_INDEX_URL/UV_DEFAULT_INDEX in Dockerfiles and CI, Poetry "
                                  f"and PDM sources, uv indexes, Pipfile sources: no private index{seen}")


def _scope(settings: list[IndexSetting]) -> Iterator[ProbeItem]:
    privates = [s for s in settings if not is_public(s.url)]
    if not privates:
        return
    primaries = [s for s in settings if s.role is IndexRole.PRIMARY]
    extras = [s for s in settings if s.role is IndexRole.EXTRA]
    origin = settings[0].origin
    public_primary = [s for s in primaries if is_public(s.url)]
    implicit_pypi = not primaries
    public_extra = [s for s in extras if is_public(s.url)]
    private_extra = [s for s in extras if not is_public(s.url)]
    private_primary = [s for s in primaries if not is_public(s.url)]
    unsafe_uv = any(s.origin == "uv" and s.extra == "unsafe-best-match" for s in settings)
    if origin == "uv" and private_extra and implicit_pypi and not unsafe_uv:
        s = private_extra[0]
        yield Evidence("PIPE-03", Effect.PARTIAL, f"uv index {s.name or s.url} beside PyPI (first-index strategy "
                       "prefers it for the packages it holds; PyPI still serves the rest)", s.path, s.line,
                       RULE_PRIVATE)
        return
    if private_extra and (implicit_pypi or public_primary):
        s = private_extra[0]
        other = public_primary[0].url if public_primary else PYPI
        yield _confusion(s, f"private index {s.url} added as an extra index beside public {other}")
        return
    if private_primary and public_extra:
        s = public_extra[0]
        yield _confusion(s, f"public index {s.url} added as an extra index beside private {private_primary[0].url}")
        return
    if unsafe_uv and private_primary:
        s = private_primary[0]
        yield _confusion(s, "uv index-strategy 'unsafe-best-match' picks the best version from every index")
        return
    if private_primary:
        s = private_primary[0]
        yield Evidence("PIPE-03", Effect.PASS, f"private index {s.url} replaces PyPI ({s.origin}"
                       f"{', ' + s.name if s.name else ''})", s.path, s.line, RULE_PRIVATE)
        return
    explicit = [s for s in privates if s.role is IndexRole.EXPLICIT]
    if explicit:
        s = explicit[0]
        yield Evidence("PIPE-03", Effect.PARTIAL, f"private index {s.url} used only for packages that name it "
                       f"({s.origin} explicit); PyPI stays the primary index", s.path, s.line, RULE_PRIVATE)


def _confusion(s: IndexSetting, what: str) -> Finding:
    return Finding(rule=RULE_CONFUSION, severity=Severity.HIGH,
                   message=f"{what}: the installer takes the highest version from any index (dependency confusion)",
                   path=s.path, line=s.line, controls=("PIPE-03",), content=f"{s.role.value} {s.url}")
