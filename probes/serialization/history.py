"""Model artifacts that left HEAD but stay in git history (``--history``).

Anyone who clones gets every blob reachable from a ref, so a pickle deleted last year still ships. Every blob
reachable from any ref is scanned once (by object id), streamed from ``git cat-file --batch`` through GitPython,
never checked out and never passed through filters; blobs also present in HEAD's tree are skipped (the normal scan
covers them). Each artifact found is reported with its path and the most recent commit that holds it.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator

from mlposture.probes.serialization.artifacts import HEAD, Artifact, might_be_model, scan_file
from mlposture.scanner.gitinfo import SAFE_GIT_OPTIONS
from mlposture.scanner.probe import Finding, Note, ProbeItem, Severity
from mlposture.scanner.repo import RepoView
from mlposture.scanner.settings import Settings

SAFE_OPTIONS = list(SAFE_GIT_OPTIONS)  # git never runs fsmonitor hooks for these reads
MAX_BLOB = 2 << 30
MAX_BLOBS = 200_000
MAX_COMMIT_LOOKUPS = 200  # each walks the history once (git log --find-object)


def history_items(repo: RepoView, settings: Settings) -> Iterator[ProbeItem]:
    """Findings for model artifacts reachable from refs but absent from HEAD."""
    if repo.git is None or not repo.git.workdir:
        yield Note("--history: the scanned folder is not in a git repository; history not scanned")
        return
    try:
        import git
    except ImportError:  # pragma: no cover - GitPython is a declared dependency
        return
    try:
        r = git.Repo(repo.git.workdir)
        listing = r.git.execute(["git", *SAFE_OPTIONS, "rev-list", "--objects", "--all"])
        head_blobs = set()
        if repo.git.commit:
            tree = r.git.execute(["git", *SAFE_OPTIONS, "ls-tree", "-r", "HEAD"])
            for line in str(tree).splitlines():
                parts = line.split(None, 3)
                if len(parts) == 4 and parts[1] == "blob":
                    head_blobs.add(parts[2])
    except Exception as exc:  # a corrupt repository must not stop the scan
        yield Note(f"--history: git history not read: {type(exc).__name__}: {exc}")
        return
    prefix = repo.git.prefix.rstrip("/") + "/" if repo.git.prefix else ""
    seen: set[str] = set()
    scanned = 0
    lookups = 0
    for line in str(listing).splitlines():
        sha, _, path = line.partition(" ")
        if not path or sha in seen or sha in head_blobs:
            continue
        seen.add(sha)
        if prefix and not path.startswith(prefix):
            continue
        try:
            info = r.odb.info(bytes.fromhex(sha))
        except Exception:  # missing objects in a partial clone
            continue
        if info.type != b"blob" or info.size < 2:
            continue
        if info.size > MAX_BLOB:
            yield Note(f"--history: blob {sha[:12]} ({info.size} bytes) larger than the cap, not scanned", path)
            continue
        scanned += 1
        if scanned > MAX_BLOBS:
            yield Note(f"--history: more than {MAX_BLOBS} blobs outside HEAD; the rest was not scanned")
            break
        rel = path[len(prefix) :]
        art = _scan_blob(r, sha, rel, info.size)
        if art is None:
            continue
        lookups += 1
        commit = _last_commit(r, sha) if lookups <= MAX_COMMIT_LOOKUPS else "?"
        yield _history_finding(art, rel, sha, commit)


def _scan_blob(r: object, sha: str, rel: str, size: int) -> Artifact | None:
    """Stream the blob; only blobs whose first bytes could start a model artifact are spooled and scanned."""
    stream = r.odb.stream(bytes.fromhex(sha))  # type: ignore[attr-defined]
    head = stream.read(HEAD)
    if not might_be_model(head, size):
        while stream.read(1 << 20):  # cat-file --batch: the object must be read to the end
            pass
        return None
    with tempfile.NamedTemporaryFile(prefix="mlposture-blob-") as tmp:
        tmp.write(head)
        shutil.copyfileobj(stream, tmp, 1 << 20)
        tmp.flush()
        return scan_file(tmp.name, rel)


def _last_commit(r: object, sha: str) -> str:
    try:
        out = r.git.execute(["git", *SAFE_OPTIONS, "log", "--all", f"--find-object={sha}",  # type: ignore[attr-defined]
                             "--format=%H", "-n", "1"])
    except Exception:  # git failures: the commit stays unknown
        return "?"
    return str(out).strip()[:40] or "?"


def _history_finding(art: Artifact, rel: str, sha: str, commit: str) -> Finding:
    verdict = art.verdict
    severity = {"dangerous": Severity.CRITICAL, "suspicious": Severity.MEDIUM}.get(
        verdict, Severity.MEDIUM if art.pickle_based else Severity.LOW
    )
    worst = next((i for i in art.issues if i.severity == severity), None)
    detail = f": {worst.message}" if worst else ""
    return Finding(
        rule="serialization.history-artifact",
        severity=severity,
        message=f"{art.kind} ({verdict}) removed from HEAD but still in history at commit {commit[:12]}{detail}",
        path=rel,
        line=None,
        controls=("MODEL-03",) if art.pickle_based or verdict == "dangerous" else (),
        content=f"{sha}|{verdict}",
    )
