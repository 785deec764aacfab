"""Model artifacts of a repository for the AI-BOM: which files, their format (read from the bytes), their hashes.

Candidates are files with a model extension (``.pt``, ``.safetensors``, ``.onnx``, ``.gguf``, ``.pkl``...); the
format is decided by magic bytes where the format has them (zip/TorchScript, pickle protocol, safetensors header,
GGUF, HDF5, TFLite), by the extension otherwise, and the content is hashed with SHA-256 by streaming (never
loaded). The verdict of the ``serialization`` probe is attached when that probe is installed: it is run through
the probe API on the same :class:`~mlposture.scanner.repo.RepoView`, guarded, so a missing or failing probe only leaves
the verdict out.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable
from dataclasses import dataclass

from mlposture.scanner.probe import Effect, Evidence, Finding, ProbeItem
from mlposture.scanner.repo import RepoFile, RepoView
from mlposture.scanner.settings import Settings
from mlposture.scanner.sources.model_files import MODEL_SUFFIXES

CHUNK = 1024 * 1024


@dataclass(frozen=True)
class ModelArtifact:
    """A model file: repo-relative path, size, SHA-256, format, and the serialization verdict when known."""

    path: str
    size: int
    sha256: str
    format: str
    verdict: str | None = None


def detect_format(head: bytes, suffix: str) -> str:
    """The serialization format from the first bytes, falling back to the extension."""
    if head.startswith(b"version https://git-lfs"):
        return "git-lfs pointer (content not in the repository)"
    if head.startswith(b"PK\x03\x04"):
        return "zip (pytorch/keras archive)" if suffix in (".pt", ".pth", ".bin", ".keras", ".ckpt") else "zip"
    if head[:1] == b"\x80" and len(head) > 1 and 2 <= head[1] <= 5:
        return f"pickle (protocol {head[1]})"
    if head.startswith(b"GGUF"):
        return "gguf"
    if head.startswith(b"\x89HDF\r\n\x1a\n"):
        return "hdf5"
    if len(head) >= 8 and head[4:8] == b"TFL3":
        return "tflite"
    if len(head) >= 10:
        (n,) = struct.unpack("<Q", head[:8])
        if 0 < n < 100 * 1024 * 1024 and head[8:9] == b"{":
            return "safetensors"
    return MODEL_SUFFIXES.get(suffix, "unknown")


def _hash(repo: RepoView, f: RepoFile) -> tuple[str, bytes] | None:
    stream = repo.open_binary(f)
    if stream is None:
        return None
    digest = hashlib.sha256()
    head = b""
    try:
        while True:
            chunk = stream.read(CHUNK)
            if not chunk:
                break
            if not head:
                head = chunk[:64]
            digest.update(chunk)
    except OSError as exc:
        repo.note(f"model file not readable: {exc.strerror or exc}", f.path)
        return None
    finally:
        stream.close()
    return digest.hexdigest(), head


def serialization_verdicts(repo: RepoView, settings: Settings) -> dict[str, str]:
    """Per path, what the ``serialization`` probe says (worst finding, else its pass evidence); {} without it."""
    try:
        from mlposture.scanner.plugins import discover

        loaded = discover()
        probe_cls = next((cls for cls, _ in loaded.probes if cls.name == "serialization"), None)
        if probe_cls is None:
            return {}
        items: Iterable[ProbeItem] = list(probe_cls().run(repo, settings))
    except Exception as exc:  # a broken plugin must not break the AI-BOM; the verdict is left out
        repo.note(f"serialization probe not run for the AI-BOM: {type(exc).__name__}: {exc}")
        return {}
    worst: dict[str, tuple[int, str]] = {}
    for item in items:
        path = getattr(item, "path", None)
        if not path:
            continue
        if isinstance(item, Finding):
            rank = 10 + item.severity.rank
            text = f"{item.severity.value}: {item.rule}: {item.message}"
        elif isinstance(item, Evidence):
            rank = {Effect.FAIL: 9, Effect.PARTIAL: 5, Effect.PASS: 1}[item.effect]
            text = f"{item.effect.value}: {item.message}"
        else:
            continue
        if path not in worst or rank > worst[path][0]:
            worst[path] = (rank, text[:300])
    return {p: t for p, (_, t) in worst.items()}


def find_models(repo: RepoView, settings: Settings | None = None, with_verdicts: bool = True) -> list[ModelArtifact]:
    """Every model artifact of the tree, hashed, with the serialization verdict when available."""
    verdicts = serialization_verdicts(repo, settings or repo.settings) if with_verdicts else {}
    out: list[ModelArtifact] = []
    for f in repo.files:
        if f.suffix not in MODEL_SUFFIXES:
            continue
        hashed = _hash(repo, f)
        if hashed is None:
            continue
        digest, head = hashed
        out.append(ModelArtifact(f.path, f.size, digest, detect_format(head, f.suffix), verdicts.get(f.path)))
    return out
