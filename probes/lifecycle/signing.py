"""Signature files as documents: Sigstore bundles (``*.sigstore.json``, ``*.sigstore``, ``*.bundle``) and ``*.sig``.

A bundle must be JSON with a Sigstore ``mediaType`` (``application/vnd.dev.sigstore.bundle...``),
``verificationMaterial`` and either a ``dsseEnvelope`` (model_signing writes in-toto statements in DSSE) or a
``messageSignature`` (``cosign sign-blob --bundle``). A ``.sig`` (``cosign sign-blob --output-signature``) is a
base64 signature, an ASCII-armoured PGP signature, or a short binary DER blob. Nothing is verified
cryptographically: these are facts about what was committed, judged as "signing happened".
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass

from mlposture.scanner.repo import RepoFile, RepoView

MAX_BUNDLE_BYTES = 4 * 1024 * 1024
BUNDLE_SUFFIXES = (".sigstore.json", ".sigstore", ".bundle")


@dataclass(frozen=True)
class SignatureFile:
    """A committed signature artifact: valid or not, and what it is."""

    path: str
    valid: bool
    detail: str


def is_signature_file(f: RepoFile) -> bool:
    """By name: Sigstore bundles and ``.sig`` files."""
    name = f.name.lower()
    return name.endswith(BUNDLE_SUFFIXES) or name.endswith(".sig")


def check_bundle(data: bytes) -> tuple[bool, str]:
    """``(valid, detail)`` for a Sigstore bundle's bytes."""
    try:
        doc = json.loads(data.decode("utf-8", "strict"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        return False, f"not JSON ({type(exc).__name__})"
    if not isinstance(doc, dict):
        return False, "JSON is not an object"
    media = doc.get("mediaType")
    if not (isinstance(media, str) and media.startswith("application/vnd.dev.sigstore.bundle")):
        return False, f"mediaType is {media!r}, not a Sigstore bundle type"
    if not isinstance(doc.get("verificationMaterial"), dict):
        return False, "no verificationMaterial"
    if isinstance(doc.get("dsseEnvelope"), dict):
        version = re.search(r"bundle\.(v[\d.]+)", media)
        shown = f" {version.group(1)}" if version else ""
        return True, f"Sigstore bundle{shown} with a DSSE envelope"
    if isinstance(doc.get("messageSignature"), dict):
        return True, "Sigstore bundle with a message signature"
    return False, "neither dsseEnvelope nor messageSignature"


def check_sig(data: bytes) -> tuple[bool, str]:
    """``(valid, detail)`` for a ``.sig`` file's bytes."""
    text = data.strip()
    if text.startswith(b"-----BEGIN PGP SIGNATURE-----"):
        return True, "ASCII-armoured PGP signature"
    if text.startswith(b"{"):
        ok, detail = check_bundle(text)
        return ok, detail
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if 32 <= len(raw) <= 1024:
        return True, f"base64 signature ({len(raw)} bytes)"
    if text[:1] == b"\x30" and 32 <= len(text) <= 1024:
        return True, f"binary DER signature ({len(text)} bytes)"
    return False, "neither base64, PGP armour nor a DER signature of plausible size"


def signature_files(repo: RepoView) -> list[SignatureFile]:
    """Every committed signature artifact, validated as a document."""
    out: list[SignatureFile] = []
    for f in repo.files:
        if not is_signature_file(f):
            continue
        if f.size > MAX_BUNDLE_BYTES:
            repo.note(f"signature file larger than {MAX_BUNDLE_BYTES // 1024} KiB, not read", f.path)
            continue
        data = repo.read_bytes(f, MAX_BUNDLE_BYTES)
        if data is None:
            continue
        valid, detail = check_sig(data) if f.name.lower().endswith(".sig") else check_bundle(data)
        out.append(SignatureFile(f.path, valid, detail))
    return out
