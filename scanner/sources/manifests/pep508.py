"""One requirement string to a :class:`DeclaredRequirement`, with ``packaging`` doing the PEP 508 work.

Handles what requirement lines hold besides PEP 508: bare VCS URLs (``git+https://...@ref#egg=name``), archive
URLs, local paths (``.``, ``./pkg``, ``file:``), and tells a full commit id from a branch or tag.
"""

from __future__ import annotations

import re
from dataclasses import replace
from urllib.parse import urlsplit, urlunsplit

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from mlposture.scanner.sources.manifests.model import DeclaredRequirement, SourceKind

COMMIT_RE = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")
VCS_PREFIXES = ("git+", "hg+", "svn+", "bzr+")
ARCHIVE_RE = re.compile(r"/([A-Za-z0-9_.]+?)-(\d[^-/]*?)(?:-[^/]*)?\.(?:whl|tar\.gz|zip|tar\.bz2|tgz)(?:[#?].*)?$")
EGG_RE = re.compile(r"[#&]egg=([A-Za-z0-9_.\-]+)")
LOCAL_PREFIXES = (".", "/", "file:", "~")
PACKAGING_TOOLS = frozenset({"pip", "setuptools", "wheel", "pip-tools", "uv", "poetry", "pipenv", "build", "twine",
                             "hatch", "pdm", "virtualenv", "flit", "hatchling", "setuptools-scm"})


class RequirementError(ValueError):
    """The text is not a requirement; the message says why (from ``packaging`` when it parsed it)."""


def mask_url(url: str) -> str:
    """The URL with any ``user:password@`` replaced by ``***@`` (never print credentials)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if "@" not in parts.netloc:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit((parts.scheme, "***@" + host, parts.path, parts.query, parts.fragment))


def exact_version(spec: SpecifierSet | str) -> str | None:
    """The version when the specifier is one ``==`` (no wildcard) or ``===`` clause, else ``None``."""
    specs = list(spec if isinstance(spec, SpecifierSet) else SpecifierSet(spec))
    if len(specs) != 1:
        return None
    only = specs[0]
    if only.operator == "===":
        return only.version
    if only.operator == "==" and "*" not in only.version:
        return only.version
    return None


def _vcs_parts(url: str) -> tuple[str, str | None]:
    """(vcs, ref) of a VCS URL such as ``git+https://host/repo.git@v1.2#egg=x``."""
    vcs = url.split("+", 1)[0]
    base = url.split("#", 1)[0]
    path = urlsplit(base.split("+", 1)[1]).path if "://" in base else base
    ref = path.rsplit("@", 1)[1] if "@" in path else None
    return vcs, ref


def parse_requirement(text: str, path: str, line: int, kind: SourceKind, *, is_runtime: bool = True,
                      hashes: tuple[str, ...] = (), editable: bool = False, group: str | None = None,
                      raw: str | None = None) -> DeclaredRequirement:
    """Parse one requirement (PEP 508, VCS URL, archive URL or local path); raise :class:`RequirementError`."""
    text = text.strip()
    shown = raw if raw is not None else text
    common = {"path": path, "line": line, "source_kind": kind, "hashes": hashes, "editable": editable,
              "group": group, "raw": shown}
    if not text:
        raise RequirementError("empty requirement")
    if text.startswith(VCS_PREFIXES):
        vcs, ref = _vcs_parts(text)
        egg = EGG_RE.search(text)
        name = egg.group(1) if egg else text.split("/")[-1].split("@")[0].removesuffix(".git")
        return DeclaredRequirement(name=name, specifier="", version_pinned=None, url=mask_url(text), vcs=vcs,
                                   vcs_ref=ref, vcs_commit=bool(ref and COMMIT_RE.match(ref.lower())),
                                   is_runtime=is_runtime, **common)  # type: ignore[arg-type]
    if text.startswith(LOCAL_PREFIXES) or (editable and "://" not in text):
        return DeclaredRequirement(name=text, specifier="", version_pinned=None, local=True, is_runtime=is_runtime,
                                   **common)  # type: ignore[arg-type]
    if re.match(r"^[a-z]+://", text):
        m = ARCHIVE_RE.search(text)
        frag_hash = re.search(r"#(sha256|sha384|sha512|md5)=([0-9a-fA-F]+)", text)
        if m is None:
            egg = EGG_RE.search(text)
            if egg is None:
                raise RequirementError("URL without a package name")
            name, version = egg.group(1), None
        else:
            name, version = m.group(1), m.group(2)
        extra_hash = (f"{frag_hash.group(1)}:{frag_hash.group(2)}",) if frag_hash else ()
        return replace(DeclaredRequirement(name=name, specifier="", version_pinned=_valid(version),
                                           url=mask_url(text), is_runtime=is_runtime, **common),  # type: ignore[arg-type]
                       hashes=hashes + extra_hash)
    try:
        req = Requirement(text)
    except InvalidRequirement as exc:
        raise RequirementError(str(exc).splitlines()[0]) from None
    runtime = is_runtime and canonicalize_name(req.name) not in PACKAGING_TOOLS
    marker = str(req.marker) if req.marker else None
    extras = tuple(sorted(req.extras))
    if req.url:
        inner = parse_requirement(req.url if "#egg=" in req.url or req.url.startswith(VCS_PREFIXES)
                                  else req.url + "#egg=" + req.name, path, line, kind,
                                  is_runtime=runtime, hashes=hashes, editable=editable, group=group, raw=shown)
        return replace(inner, name=req.name, markers=marker, extras=extras,
                       url=None if inner.local else mask_url(req.url))
    return DeclaredRequirement(name=req.name, specifier=str(req.specifier), version_pinned=exact_version(req.specifier),
                               markers=marker, extras=extras, is_runtime=runtime, **common)  # type: ignore[arg-type]


def _valid(version: str | None) -> str | None:
    if version is None:
        return None
    try:
        Version(version)
    except InvalidVersion:
        return None
    return version
