"""Model artifacts that left HEAD but stay in git history (``--history``).

Anyone who clones gets every blob reachable from a ref, so a pickle deleted last year still ships. Every blob
reachable from any ref is scanned once (by object id), streamed from ``git cat-file blob`` through
:mod:`mlposture.scanner.safegit` (nothing the repository's git config names is run), never checked out and never
passed through filters; blobs also present in HEAD's tree are skipped (the normal scan
covers them). Each artifact found is reported with its path and the most recent commit that holds it.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator

from mlposture.probes.serialization.artifacts import HEAD, Artifact, might_be_model, scan_file
from mlposture.scanner.probe import Finding, Note, ProbeItem, Severity
from mlposture.scanner.repo import RepoView
from mlposture.scanner.safegit import GitError, SafeGit
from mlposture.scanner.settings import Settings

MAX_BLOB = 2 << 30
MAX_BLOBS = 200_000
MAX_COMMIT_LOOKUPS = 200  # each walks the history once (git log --find-object)


def history_items(repo: RepoView, settings: Settings) -> Iterator[ProbeItem]:
    """Findings for model artifacts reachable from refs but absent from HEAD."""
    if repo.git is None or not repo.git.workdir:
        yield Note("--history: the scanned folder is not in a git repository; history not scanned")
        return
    r = repo.git.safe_git()
    if r is None:
        yield Note("--history: the git folder was not found; history not scanned")
        return
    try:
        listing = r.text("rev-list", "--objects", "--all")
        head_blobs = set()
        if repo.git.commit:
            tree = r.text("ls-tree", "-r", "HEAD")
            for line in tree.splitlines():
                parts = line.split(None, 3)
                if len(parts) == 4 and parts[1] == "blob":
                    head_blobs.add(parts[2])
    except GitError as exc:  # a corrupt repository must not stop the scan
        yield Note(f"--history: git history not read: {exc}")
        return
    prefix = repo.git.prefix.rstrip("/") + "/" if repo.git.prefix else ""
    seen: set[str] = set()
    scanned = 0
    lookups = 0
    infos = _object_infos(r, [line.partition(" ")[0] for line in listing.splitlines() if " " in line])
    for line in listing.splitlines():
        sha, _, path = line.partition(" ")
        if not path or sha in seen or sha in head_blobs:
            continue
        seen.add(sha)
        if prefix and not path.startswith(prefix):
            continue
        kind, size = infos.get(sha, ("", 0))
        if kind != "blob" or size < 2:  # also missing objects in a partial clone (never fetched)
            continue
        if size > MAX_BLOB:
            yield Note(f"--history: blob {sha[:12]} ({size} bytes) larger than the cap, not scanned", path)
            continue
        scanned += 1
        if scanned > MAX_BLOBS:
            yield Note(f"--history: more than {MAX_BLOBS} blobs outside HEAD; the rest was not scanned")
            break
        rel = path[len(prefix) :]
        art = _scan_blob(r, sha, rel, size)
        if art is None:
            continue
        lookups += 1
        commit = _last_commit(r, sha) if lookups <= MAX_COMMIT_LOOKUPS else "?"
        yield _history_finding(art, rel, sha, commit)


def _object_infos(r: SafeGit, shas: list[str]) -> dict[str, tuple[str, int]]:
    """Type and size of each object, in one ``cat-file --batch-check`` (missing objects are left out)."""
    unique = list(dict.fromkeys(shas))
    try:
        out = r.text("cat-file", "--batch-check=%(objectname) %(objecttype) %(objectsize)",
                     stdin="".join(f"{s}\n" for s in unique).encode())
    except GitError:
        return {}
    infos: dict[str, tuple[str, int]] = {}
    for line in out.splitlines():
        parts = line.split(" ")
        if len(parts) == 3 and parts[2].isdigit():
            infos[parts[0]] = (parts[1], int(parts[2]))
    return infos


def _scan_blob(r: SafeGit, sha: str, rel: str, size: int) -> Artifact | None:
    """Stream the blob; only blobs whose first bytes could start a model artifact are spooled and scanned."""
    with r.blob(sha) as stream:
        head = stream.read(HEAD)
        if not might_be_model(head, size):
            return None
        with tempfile.NamedTemporaryFile(prefix="mlposture-blob-") as tmp:
            tmp.write(head)
            shutil.copyfileobj(stream, tmp, 1 << 20)
            tmp.flush()
            return scan_file(tmp.name, rel)


def _last_commit(r: SafeGit, sha: str) -> str:
    try:
        out = r.text("log", "--all", f"--find-object={sha}", "--format=%H", "-n", "1")
    except GitError:  # git failures: the commit stays unknown
        return "?"
    return out.strip()[:40] or "?"


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
