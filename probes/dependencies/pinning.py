"""PIPE-01 judgement: is every runtime dependency pinned, or covered by a committed lock file?

Rules (issue 3): a requirement is pinned when it is an exact ``==``/``===`` version without wildcard, hash-locked,
a VCS reference at a full commit id, or a local path (built from the repository itself). A range in a manifest
is covered when a lock file (poetry.lock, uv.lock, pdm.lock, Pipfile.lock, conda-lock.yml, pip-compile output, a
constraints file) generated from that very manifest pins that package: ``Pipfile.lock`` its ``Pipfile``,
``poetry.lock``/``pdm.lock``/``uv.lock`` the ``pyproject.toml`` beside it and the workspace members and path
projects it resolved, a pip-compile output its inputs, a constraints file the files that include it, a
``conda-lock.yml`` the environment file beside it. A lock in another project folder never covers a manifest.
``pip install`` in a Dockerfile or CI step is never covered by a lock file (pip ignores it) unless the same
command passes ``-c``.

Every unpinned requirement is a finding at its file and line: ``high`` and failing PIPE-01 for a runtime
dependency, ``low`` with a partial effect for development, test and CI tooling (which pass evidence outweighs).

GitHub Actions ``uses:`` references not pinned to a 40-hex commit are their own finding
(``dependencies.unpinned-action``) attached to PIPE-01 with a *partial* effect: the catalog (controls/pipeline.yaml)
lists SHA-pinned actions among PIPE-01's evidence, but the control's pass criterion is about the project's runtime
dependencies; a movable action tag is a CI supply-chain weakness that should be seen and gated on (medium for
third-party actions, low for GitHub's own ``actions/*`` and ``github/*``) without failing the pinning of the
project's dependencies.
"""

from __future__ import annotations

from collections.abc import Iterator

from mlposture.scanner.probe import Effect, Evidence, Finding, ProbeItem, Searched, Severity
from mlposture.scanner.sources.manifests.model import (
    DeclaredRequirement,
    LockedPackage,
    LockScope,
    Manifests,
    SourceKind,
)

RULE_UNPINNED = "dependencies.unpinned-requirement"
RULE_ACTION = "dependencies.unpinned-action"
RULE_SHARE = "dependencies.pinned-share"
INSTALL_KINDS = frozenset({SourceKind.DOCKERFILE, SourceKind.CI})
NOT_JUDGED = frozenset({SourceKind.CONSTRAINTS})


def why_unpinned(req: DeclaredRequirement) -> str:
    """One phrase saying why ``req`` is not pinned."""
    if req.vcs:
        if req.vcs_ref:
            return f"VCS reference at {req.vcs_ref!r}, a branch or tag that can move, not a commit id"
        return "VCS reference without a commit"
    if req.url:
        return "direct URL without a version or hash"
    spec = req.specifier.strip()
    if not spec:
        return "no version constraint"
    if "*" in spec:
        return f"wildcard version {spec!r}"
    if spec.startswith("^") or (spec.startswith("~") and not spec.startswith("~=")):
        return f"Poetry range {spec!r} accepts new releases"
    return f"range {spec!r} accepts new releases"


PROJECT_FILES = ("pyproject.toml", "setup.py", "setup.cfg")
CONDA_KINDS = frozenset({SourceKind.CONDA, SourceKind.CONDA_PIP})


def scope_covers(scope: LockScope, req: DeclaredRequirement) -> bool:
    """Was lock ``scope`` generated from the manifest that declares ``req``?"""
    if req.path in scope.manifests:
        return True
    folder, _, name = req.path.rpartition("/")
    if folder not in scope.folders:
        return False
    if scope.kind is SourceKind.CONDA_LOCK:
        return req.source_kind in CONDA_KINDS
    return name in PROJECT_FILES


class LockIndex:
    """Which lock files pin which package, and which manifests each lock was generated from."""

    def __init__(self, locked: tuple[LockedPackage, ...], scopes: tuple[LockScope, ...]) -> None:
        self._by_lock: dict[str, dict[tuple[str, str], LockedPackage]] = {}
        for pkg in locked:
            eco = "conda" if pkg.ecosystem == "conda" else "pypi"
            self._by_lock.setdefault(pkg.path, {}).setdefault((eco, pkg.canonical), pkg)
        self._scopes = scopes

    def locks_of(self, req: DeclaredRequirement) -> list[str]:
        """Lock files generated from the manifest that declares ``req`` (none for Dockerfile and CI installs)."""
        if req.source_kind in INSTALL_KINDS:
            return []
        return [s.lock for s in self._scopes if s.lock != req.path and scope_covers(s, req)]

    def pinned_elsewhere(self, req: DeclaredRequirement) -> str | None:
        """A lock file that pins ``req``'s package although it was not generated from ``req``'s manifest."""
        key = (req.ecosystem, req.canonical)
        return next((lock for lock, table in sorted(self._by_lock.items()) if key in table), None)

    def covering(self, req: DeclaredRequirement) -> LockedPackage | None:
        """The lock entry that pins ``req`` for its manifest, if any: a lock covers only what it was generated
        from, never a manifest of another project folder."""
        key = (req.ecosystem, req.canonical)
        if req.source_kind in INSTALL_KINDS:
            if not req.constrained:
                return None
            for table in self._by_lock.values():
                if key in table and table[key].source_kind in (SourceKind.CONSTRAINTS, SourceKind.PIP_COMPILE):
                    return table[key]
            return None
        for lock in self.locks_of(req):
            found = self._by_lock.get(lock, {}).get(key)
            if found is not None:
                return found
        return None


def judge(manifests: Manifests) -> Iterator[ProbeItem]:
    """PIPE-01 evidence and findings for the parsed manifests."""
    locks = LockIndex(manifests.locked, manifests.lock_scopes)
    runtime_total = pinned = hashed = covered = 0
    unpinned_runtime: list[DeclaredRequirement] = []
    covering_files: set[str] = set()
    for req in manifests.requirements:
        if req.source_kind in NOT_JUDGED:
            continue
        if req.is_runtime and not req.local:
            runtime_total += 1
        if req.pinned:
            if req.is_runtime and not req.local:
                pinned += 1
                hashed += bool(req.hashes)
            continue
        lock = locks.covering(req)
        if lock is not None:
            if req.is_runtime:
                covered += 1
                covering_files.add(lock.path)
            continue
        why = why_unpinned(req)
        if req.source_kind in INSTALL_KINDS:
            why += "; installed at build time without a lock file" + (" and with --upgrade" if req.upgrade else "")
        elif req.is_runtime and manifests.lock_files:
            own = locks.locks_of(req)
            other = locks.pinned_elsewhere(req)
            if own:
                why += f"; {', '.join(own)}, generated from this manifest, does not pin it"
            else:
                why += "; no lock file was generated from this manifest"
            if other:
                why += f" ({other} pins it for another project, which does not cover this one)"
        where = "runtime dependency" if req.is_runtime else "not a runtime dependency: development, CI or tooling"
        if req.is_runtime:
            unpinned_runtime.append(req)
        yield Finding(
            rule=RULE_UNPINNED,
            severity=Severity.HIGH if req.is_runtime else Severity.LOW,
            message=f"{req.raw or req.name}: {why} ({where}, {req.source_kind.value})",
            path=req.path, line=req.line, controls=("PIPE-01",), content=req.raw or req.name,
            effect=Effect.FAIL if req.is_runtime else Effect.PARTIAL)
    yield from _actions(manifests)
    yield from _summary(manifests, runtime_total, pinned, hashed, covered, sorted(covering_files), unpinned_runtime)


def _summary(manifests: Manifests, total: int, pinned: int, hashed: int, covered: int, covering: list[str],
             unpinned: list[DeclaredRequirement]) -> Iterator[ProbeItem]:
    searched = ("requirements*.txt/*.in, pyproject.toml (PEP 621, Poetry, PDM, uv), setup.cfg, setup.py, Pipfile, "
                "environment.yml, lock files (poetry.lock, uv.lock, pdm.lock, Pipfile.lock, conda-lock.yml, "
                "pip-compile output), pip install in Dockerfiles and CI")
    if total == 0:
        if manifests.lock_files:
            n = len(manifests.locked)
            yield Evidence("PIPE-01", Effect.PASS, f"lock file(s) {', '.join(manifests.lock_files)} pin {n} "
                           "package(s) exactly", manifests.lock_files[0], 1, RULE_SHARE)
        else:
            yield Searched("PIPE-01", f"{searched}: no runtime dependency declared")
        return
    ok = pinned + covered
    share = round(100 * ok / total)
    parts = [f"{ok} of {total} runtime dependencies pinned ({share}%)", f"{pinned} pinned in place"]
    if hashed:
        parts.append(f"{hashed} hash-locked (strong)")
    if covered:
        parts.append(f"{covered} covered by {', '.join(covering)}")
    if unpinned:
        first = unpinned[0]
        parts.append(f"{len(unpinned)} unpinned, first {first.raw or first.name} at {first.path}:{first.line}")
        yield Evidence("PIPE-01", Effect.FAIL, "; ".join(parts), first.path, first.line, RULE_SHARE)
        return
    path = covering[0] if covering else (manifests.lock_files[0] if manifests.lock_files else None)
    if manifests.unknown:
        u = manifests.unknown[0]
        parts.append(f"but {u.message} ({u.path})")
        yield Evidence("PIPE-01", Effect.PARTIAL, "; ".join(parts), u.path, u.line, RULE_SHARE)
        return
    yield Evidence("PIPE-01", Effect.PASS, "; ".join(parts), path, 1 if path else None, RULE_SHARE)


def _actions(manifests: Manifests) -> Iterator[ProbeItem]:
    for ref in manifests.actions:
        if ref.sha_pinned:
            continue
        first_party = ref.action.split("/", 1)[0].lower() in ("actions", "github")
        shown = f"{ref.action}@{ref.ref}" if ref.ref else ref.action
        why = ("image not pinned by a sha256 digest, the tag can be moved to another image"
               if ref.action.startswith("docker://") else
               "not pinned to a 40-hex commit SHA, the tag or branch can be moved to other code")
        yield Finding(
            rule=RULE_ACTION, severity=Severity.LOW if first_party else Severity.MEDIUM,
            message=f"uses: {shown}: {why}",
            path=ref.path, line=ref.line, controls=("PIPE-01",), content=shown, effect=Effect.PARTIAL)
