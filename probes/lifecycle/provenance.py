"""DATA-04 (provenance and chain of custody) and DATA-08 (immutable dataset versions): the judgements.

Rules (docs/probes.md, data_lifecycle): hashed lineage (DVC pointers and lock, Git LFS pointers, hash manifests) is
``partial`` on its own and ``pass`` once a verification step runs (``dvc pull|status|repro|fetch|checkout``,
``sha256sum -c``, a digest comparison in the data code) in CI, a DVC stage, a script or the training entry point.
DVC's md5 is reported once as a weak hash (info). Downloading training data from a mutable URL with no digest
anywhere in the file, or ``load_dataset("org/name")`` without an immutable ``revision``, is fail evidence at the
line. A download is data (a dataset file or folder, an archive of data, model weights), never a tool installer, a
release binary named for an OS or CPU, a package repository or a REST API call.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import urlsplit

from mlposture.probes.lifecycle.context import Context
from mlposture.probes.lifecycle.pysource import FString, SourceFacts
from mlposture.scanner.probe import Effect, Evidence, Finding, ProbeItem, Searched, Severity
from mlposture.scanner.sources.python import PYTHON_SUFFIXES

R = "data_lifecycle."
COMMIT = re.compile(r"^[0-9a-f]{40}$")
VERIFY_CMD = re.compile(
    r"\bdvc\s+(?:pull|status|repro|fetch|checkout|exp\s+run)\b|\b(?:sha256sum|sha512sum|shasum)\b[^|;&]*\s(?:-c|--check)\b"
    r"|\bgit\s+lfs\s+(?:fsck|pull)\b")
DIGEST_CMD = re.compile(r"\b(?:sha256sum|sha512sum|shasum|md5sum|b2sum)\b|--checksum|--expected-sha")
DOWNLOAD_CMD = re.compile(r"\b(?:wget|curl)\b")
URL = re.compile(r"https?://[^\s'\"<>)]+")
DATA_EXT = re.compile(
    r"\.(?:csv|tsv|jsonl?|ndjson|parquet|zip|t?gz|tar|bz2|xz|zst|npz|npy|h5|hdf5|txt|arrow|feather|xlsx?|tfrecords?|"
    r"pt|pth|ckpt|safetensors|onnx|gguf|pkl|pickle|joblib|tflite|mlmodel)$", re.I)
# extensions that are data even behind an API path (an export, weights), unlike .json/.txt answers of a REST call
STRONG_DATA_EXT = re.compile(r"\.(?:csv|tsv|parquet|npz|npy|h5|hdf5|arrow|feather|xlsx?|tfrecords?|pt|pth|ckpt|"
                             r"safetensors|onnx|gguf|pkl|pickle|joblib)$", re.I)
DATA_PATH = re.compile(r"(?i)/(?:data|datasets?|raw|corpus)(?:/|$)|dataset")
# Not data: installers, scripts and binaries of tools, their release archives (named for an OS or CPU), package
# repositories, and REST APIs.
TOOL_EXT = re.compile(r"\.(?:sh|bash|ps1|py|deb|rpm|exe|msi|dmg|pkg|whl|apk|jar|appimage|asc|sig|gpg|key|pub)$", re.I)
TOOL_NAME = re.compile(r"(?i)(?:^|[-_./])(?:install(?:er)?|setup|get-pip|bootstrap|rustup|miniconda\d?|miniforge\d?|"
                       r"anaconda\d?|mambaforge|awscli(?:v2)?|cli|sdk|linux|darwin|macos|osx|windows|win(?:32|64)|"
                       r"amd64|x86_64|x64|arm64|aarch64|i386|musl)(?:$|[-_.])")
TOOL_HOSTS = re.compile(r"(?i)^(?:awscli\.amazonaws\.com|get\.docker\.com|download\.docker\.com|sh\.rustup\.rs|"
                        r"install\.python-poetry\.org|bootstrap\.pypa\.io|astral\.sh|deb\.nodesource\.com|"
                        r"rpm\.nodesource\.com|dl\.k8s\.io|releases\.hashicorp\.com|apt\.releases\.hashicorp\.com|"
                        r"packages\.microsoft\.com|repo\.anaconda\.com|cli\.github\.com|dl\.google\.com|"
                        r"packages\.cloud\.google\.com|apt\.kubernetes\.io|get\.helm\.sh|nvidia\.github\.io|"
                        r"developer\.download\.nvidia\.com|download\.pytorch\.org|pypi\.org|files\.pythonhosted\.org|"
                        r"sdk\.cloud\.google\.com|aka\.ms|deb\.debian\.org|archive\.ubuntu\.com|"
                        r"dl-cdn\.alpinelinux\.org)$")
API = re.compile(r"(?i)^api[.-]|\.api\.")


def _not_data(host: str, path: str) -> bool:
    """A tool installer, a release binary, a package repository or an API call: not a data download."""
    name = path.rsplit("/", 1)[-1]
    if TOOL_HOSTS.match(host) or TOOL_EXT.search(name):
        return True
    if TOOL_NAME.search(name) and not STRONG_DATA_EXT.search(name):
        return True
    return bool((API.search(host) or "/api/" in path) and not STRONG_DATA_EXT.search(name))


def is_data_url(url: str) -> bool:
    """A URL that points at data (a dataset file or folder, an archive of data, model weights), as opposed to a
    tool installer, a release binary or a REST API."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    host, path = (parts.hostname or "").lower(), parts.path
    if _not_data(host, path):
        return False
    return bool(DATA_EXT.search(path) or DATA_PATH.search(host + path))


def is_tool_url(url: str) -> bool:
    """A URL of an installer, tool binary, package repository or API (never a data download)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return _not_data((parts.hostname or "").lower(), parts.path)


BUILTIN_BUILDERS = {"csv", "json", "parquet", "text", "imagefolder", "audiofolder", "arrow", "webdataset", "pandas",
                    "sql", "generator", "videofolder", "xml"}
ALWAYS_DOWNLOAD = {"urlretrieve", "download_url", "download_and_extract_archive", "gdown.download"}
HTTP_GETTERS = {"get", "urlopen", "read_csv", "read_parquet", "read_json", "read_table", "read_excel", "download"}
DIGEST_KWARGS = ("md5", "sha256", "known_hash", "file_hash", "hash_value", "checksum", "expected_hash")


def _url_of(value: object) -> str | None:
    if isinstance(value, str) and value.startswith(("http://", "https://")):
        return value
    if isinstance(value, FString) and value.head.startswith(("http://", "https://")):
        return value.head + "{...}"
    return None


def _has_digest_kw(call_kwargs: tuple[tuple[str, object], ...]) -> bool:
    return any(k in DIGEST_KWARGS and v is not None for k, v in call_kwargs)


def mutable_downloads(facts: SourceFacts) -> Iterator[Finding]:
    """Data downloads with no digest check in the same file."""
    if facts.digest_checks:
        return
    for call in facts.calls:
        tail = call.attr
        url = _url_of(call.arg(0, "url"))
        if url is None or _has_digest_kw(call.kwargs):
            continue
        always = tail in ALWAYS_DOWNLOAD or call.name in ALWAYS_DOWNLOAD or call.name.endswith("wget.download")
        if always and is_tool_url(url):
            continue
        if not always and not (tail in HTTP_GETTERS and is_data_url(url)):
            continue
        yield Finding(
            R + "mutable-download", Severity.MEDIUM,
            f"{call.name}() downloads data from {url[:160]} with no digest check in this file{call.site.suffix()}",
            call.site.path, call.site.line, ("DATA-04",), f"{call.name}:{url}")


def hub_datasets(facts: SourceFacts) -> Iterator[ProbeItem]:
    """``load_dataset`` calls: pinned to a commit (DATA-08 pass) or not (DATA-04/08 fail)."""
    for call in facts.calls_named("load_dataset"):
        if not (call.name == "load_dataset" or call.name.startswith("datasets.")):
            continue
        name = call.arg(0, "path")
        if not isinstance(name, str) or name.lower() in BUILTIN_BUILDERS or name.startswith((".", "/")):
            continue
        rev = call.kw("revision")
        site = call.site
        if isinstance(rev, str) and COMMIT.match(rev):
            yield Evidence("DATA-08", Effect.PASS, f"load_dataset('{name}') pinned to commit {rev[:12]}"
                           f"{site.suffix()}", site.path, site.line, R + "dataset-revision")
        elif rev is None:
            yield Finding(R + "unpinned-dataset", Severity.MEDIUM,
                          f"load_dataset('{name}') without revision=: the dataset can change under the same "
                          f"name{site.suffix()}", site.path, site.line, ("DATA-04", "DATA-08"), f"{name}:none")
        elif isinstance(rev, str):
            yield Finding(R + "unpinned-dataset", Severity.MEDIUM,
                          f"load_dataset('{name}', revision='{rev}'): a branch or tag, not a 40-hex commit"
                          f"{site.suffix()}", site.path, site.line, ("DATA-04", "DATA-08"), f"{name}:{rev}")
        else:
            yield Evidence("DATA-08", Effect.PARTIAL, f"load_dataset('{name}') with a revision that is not a "
                           f"literal (not determinable){site.suffix()}", site.path, site.line,
                           R + "dataset-revision")
    for call in facts.calls:
        if call.name in ("dvc.api.open", "dvc.api.read", "dvc.api.get_url"):
            rev = call.kw("rev")
            if rev is not None:
                shown = rev if isinstance(rev, str) else "<variable>"
                yield Evidence("DATA-08", Effect.PASS, f"{call.name}(..., rev={shown!s}) reads a fixed dataset "
                               f"version{call.site.suffix()}", call.site.path, call.site.line, R + "dataset-revision")


LINEAGE = {
    "mlflow.log_input": "MLflow dataset logging", "mlflow.data": "MLflow dataset logging",
    "openlineage": "OpenLineage", "lakefs_client": "lakeFS", "lakefs": "lakeFS", "lakefs_sdk": "lakeFS",
}


LFS_POINTER_TEXT = "version https://git-lfs.github.com/spec/v1"
LFS_POINTER = LFS_POINTER_TEXT.encode()


def _lfs(ctx: Context) -> Iterator[ProbeItem]:
    repo = ctx.repo
    for f in repo.files:
        if f.name != ".gitattributes":
            continue
        for number, line in enumerate(repo.lines(f, limit=256 * 1024), start=1):
            if "filter=lfs" in line and not line.lstrip().startswith("#"):
                pattern = line.split()[0] if line.split() else "?"
                yield Evidence("DATA-04", Effect.PARTIAL, f"Git LFS tracks '{pattern}' (sha256 pointers in git); "
                               "no verification step seen yet", f.path, number, R + "lfs-tracked")
    pointers = 0
    for f in repo.files:
        if pointers >= 50:
            break
        if f.size > 1024 or f.size < len(LFS_POINTER):
            continue
        if f.suffix in PYTHON_SUFFIXES:  # the Python pass read it as text already (cached, notes made)
            text = repo.read_text(f)
            pointer = text is not None and text.startswith(LFS_POINTER_TEXT)
        else:
            head = repo.read_bytes(f, 200)
            pointer = bool(head and head.startswith(LFS_POINTER))
        if pointer:
            pointers += 1
            yield Evidence("DATA-08", Effect.PARTIAL, "Git LFS pointer: content pinned by sha256 oid in each commit",
                           f.path, 1, R + "lfs-pointer")


_MANIFEST_NAMES = re.compile(r"(?i)^(?:SHA256SUMS|SHA512SUMS|checksums?\.(?:txt|json|sha256)|.+\.sha256|.+\.sha512)$")
_MANIFEST_LINE = re.compile(r"^\s*([0-9a-fA-F]{64}|[0-9a-fA-F]{128})\s+\*?(\S.*)$")


def _manifests(ctx: Context) -> Iterator[Evidence]:
    for f in ctx.repo.files:
        if not _MANIFEST_NAMES.match(f.name):
            continue
        lines = ctx.repo.lines(f, limit=1024 * 1024)
        entries = [m for m in (_MANIFEST_LINE.match(x) for x in lines) if m]
        json_digests = sum(1 for x in lines if re.search(r'"sha(?:256|512)"\s*:\s*"[0-9a-fA-F]{64}', x))
        count = len(entries) + json_digests
        if count or f.name.lower().endswith((".sha256", ".sha512")):
            yield Evidence("DATA-04", Effect.PARTIAL, f"hash manifest with {count} SHA-2 digest(s)", f.path, 1,
                           R + "hash-manifest")


def _dvc(ctx: Context) -> Iterator[ProbeItem]:
    dvc = ctx.dvc
    for cfg in dvc.configs:
        for remote in cfg.remotes:
            url = remote.get("url")
            shown = url[0] if url else "(no url)"
            yield Evidence("DATA-08", Effect.PARTIAL, f"DVC remote '{remote.name}' = {shown}: dataset versions are "
                           "pushed to a remote", cfg.path, remote.line, R + "dvc-remote")
    for path, stages in dvc.pipelines:
        for st in stages:
            parts = [f"{len(st.deps)} deps", f"{len(st.outs)} outs"]
            if st.params:
                parts.append(f"{len(st.params)} params")
            if st.metrics:
                parts.append(f"{len(st.metrics)} metrics")
            if st.deps or st.outs:
                yield Evidence("DATA-04", Effect.PARTIAL, f"DVC stage '{st.name}' records lineage ({', '.join(parts)})",
                               path, st.line, R + "dvc-stage")
    for path, stages in dvc.locks:
        hashed = sum(1 for st in stages for e in (*st.deps, *st.outs) if e.digest)
        if hashed:
            first = stages[0]
            yield Evidence("DATA-04", Effect.PARTIAL, f"dvc.lock records {hashed} hashes over {len(stages)} stage(s)",
                           path, first.line, R + "dvc-lock")
            yield Evidence("DATA-08", Effect.PASS if any(c.remotes for c in dvc.configs) else Effect.PARTIAL,
                           f"dvc.lock pins {hashed} dep/out hashes per run"
                           + ("" if any(c.remotes for c in dvc.configs) else "; no DVC remote configured"),
                           path, first.line, R + "dvc-lock")
    for p in dvc.pointers:
        hashed_outs = [e for e in p.outs if e.digest]
        if hashed_outs:
            e = hashed_outs[0]
            yield Evidence("DATA-04", Effect.PARTIAL, f"DVC pointer records {e.hash_kind} {e.digest} for "
                           f"'{e.path}'", p.path, e.line, R + "dvc-pointer")
        if p.import_url:
            if p.rev_lock and COMMIT.match(p.rev_lock):
                yield Evidence("DATA-08", Effect.PASS, f"DVC import from {p.import_url} locked at rev_lock "
                               f"{p.rev_lock[:12]}" + (" (frozen)" if p.frozen else ""), p.path, p.import_line,
                               R + "dvc-import")
            else:
                yield Evidence("DATA-08", Effect.PARTIAL, f"DVC import from {p.import_url} without a commit "
                               "rev_lock", p.path, p.import_line, R + "dvc-import")
    md5 = _first_md5(ctx)
    if md5 is not None:
        path, line, count = md5
        yield Finding(R + "weak-hash", Severity.INFO,
                      f"DVC records md5 hashes ({count} seen): fine to detect accidental change, not "
                      "collision-resistant against deliberate tampering", path, line, ("DATA-04",), "dvc-md5",
                      Effect.PARTIAL)


def _first_md5(ctx: Context) -> tuple[str, int, int] | None:
    first: tuple[str, int] | None = None
    count = 0
    for p in ctx.dvc.pointers:
        for e in p.outs:
            if e.hash_kind == "md5":
                count += 1
                first = first or (p.path, e.line)
    for path, stages in ctx.dvc.locks:
        for st in stages:
            for e in (*st.deps, *st.outs):
                if e.hash_kind == "md5":
                    count += 1
                    first = first or (path, e.line)
    return (first[0], first[1], count) if first else None


def _lineage(ctx: Context) -> Iterator[Evidence]:
    for facts in ctx.facts:
        seen: set[str] = set()
        for sym in facts.symbols:
            for prefix, label in LINEAGE.items():
                if (sym.name == prefix or sym.name.startswith(prefix + ".")) and label not in seen:
                    seen.add(label)
                    yield Evidence("DATA-04", Effect.PARTIAL, f"{label} records dataset lineage ({sym.name})"
                                   f"{sym.site.suffix()}", sym.site.path, sym.site.line, R + "lineage")


def _verification(ctx: Context) -> list[tuple[str, str | None, int | None]]:
    """``(description, path, line)`` of every verification step."""
    out: list[tuple[str, str | None, int | None]] = []
    for cmd in ctx.commands:
        if VERIFY_CMD.search(cmd.text):
            out.append((f"{cmd.text[:100]} in {cmd.describe()}", cmd.path, cmd.line))
    for facts in ctx.facts:
        if facts.notebook:
            continue
        for call in facts.calls:
            argv = call.args[0] if call.args and isinstance(call.args[0], tuple) else call.args
            words = [a for a in argv if isinstance(a, str)]
            text = " ".join(words)
            if len(words) >= 2 and VERIFY_CMD.search(text):
                out.append((f"{call.name}({text[:80]}) in the training entry point {facts.path}",
                            facts.path, call.site.line))
        for check in facts.digest_checks:
            if not _loads_model(facts):
                fn = f" in {check.function}()" if check.function else ""
                out.append((f"hashlib digest compared{fn} ({facts.path})", facts.path, check.site.line))
    return out


def _loads_model(facts: SourceFacts) -> bool:
    return any(c.attr in ("from_pretrained", "load_file", "load_state_dict", "load_model", "InferenceSession")
               or c.name in ("torch.load", "joblib.load") for c in facts.calls)


def _shell_downloads(ctx: Context) -> Iterator[Finding]:
    checked = {c.path for c in ctx.commands if DIGEST_CMD.search(c.text)}
    for cmd in ctx.commands:
        if cmd.path in checked or not DOWNLOAD_CMD.search(cmd.text):
            continue
        for url in URL.findall(cmd.text):
            if is_data_url(url):
                yield Finding(R + "mutable-download", Severity.MEDIUM,
                              f"{cmd.text.split()[0]} downloads data from {url[:160]} in {cmd.kind} with no digest "
                              "check in this file", cmd.path, cmd.line, ("DATA-04",), f"shell:{url}")
                break


def provenance(ctx: Context) -> Iterator[ProbeItem]:
    """All DATA-04 and DATA-08 items."""
    hashes: list[ProbeItem] = [*_dvc(ctx), *_lfs(ctx), *_manifests(ctx)]
    yield from hashes
    yield from _lineage(ctx)
    has_hashes = any(isinstance(i, Evidence) and i.control == "DATA-04" for i in hashes)
    steps = _verification(ctx)
    for text, path, line in steps:
        if has_hashes:
            yield Evidence("DATA-04", Effect.PASS, f"recorded data hashes are verified: {text}", path, line,
                           R + "verify-step")
        else:
            yield Evidence("DATA-04", Effect.PARTIAL, f"verification step without recorded hashes in the repository: "
                           f"{text}", path, line, R + "verify-step")
    if has_hashes and not steps:
        yield Searched("DATA-04", "a verification step for the recorded hashes: dvc pull/status/repro/fetch/checkout "
                       "or sha256sum -c in CI jobs, DVC stages, shell scripts, Makefiles, Dockerfiles, or a hashlib "
                       "digest comparison in data code (none found: hashes without verification are partial)")
    for facts in ctx.facts:
        yield from mutable_downloads(facts)
        yield from hub_datasets(facts)
    yield from _shell_downloads(ctx)
    yield Searched("DATA-04", ".dvc/config, dvc.yaml, dvc.lock, *.dvc pointers, .gitattributes (filter=lfs), LFS "
                   "pointer files, SHA256SUMS/*.sha256/checksums.*, MLflow log_input/mlflow.data, OpenLineage, "
                   "lakeFS; verification commands; urlretrieve/requests/wget/curl data downloads without digest")
    yield Searched("DATA-08", "DVC remotes in .dvc/config with a committed dvc.lock, DVC imports with rev_lock, "
                   "Git LFS pointers, load_dataset(..., revision=<commit>), dvc.api.open/read(..., rev=...)")
