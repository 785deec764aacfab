"""DSSE envelopes (Dead Simple Signing Envelope, v1): the pre-authentication encoding, encoding and parsing.

The signature covers ``PAE(payloadType, payload)`` rather than the JSON text of the envelope, so the envelope can be
re-serialised freely and the signed bytes stay unambiguous (the type is bound to the body).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

MAX_ENVELOPE_BYTES = 64 * 1024 * 1024


class EnvelopeError(ValueError):
    """The text is not a DSSE envelope at all (unusable input)."""


class EncodingError(ValueError):
    """A payload or signature is not valid base64 (the record was altered or damaged)."""


@dataclass(frozen=True)
class Signature:
    """One signature: the key's id (may be empty) and the base64 text of the signature."""

    keyid: str
    sig: str


@dataclass(frozen=True)
class Envelope:
    """A parsed envelope; ``payload`` stays base64 text until :func:`decode` is asked for it."""

    payload_type: str
    payload: str
    signatures: tuple[Signature, ...]

    def to_json(self) -> str:
        """One line of JSON, in the field order of the DSSE specification."""
        return json.dumps({
            "payloadType": self.payload_type,
            "payload": self.payload,
            "signatures": [{"keyid": s.keyid, "sig": s.sig} for s in self.signatures],
        }, separators=(",", ":"))


def pae(payload_type: str, body: bytes) -> bytes:
    """``"DSSEv1" SP len(type) SP type SP len(body) SP body``, lengths as ASCII decimal byte counts."""
    kind = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(body), body)


def encode(raw: bytes) -> str:
    """Standard base64 with padding (what cosign and the DSSE reference implementation write)."""
    return base64.b64encode(raw).decode("ascii")


def decode(text: str, what: str) -> bytes:
    """Strict base64, standard or URL-safe alphabet (DSSE allows both); raises :class:`EncodingError`."""
    alt = b"-_" if ("-" in text or "_" in text) else None
    try:
        return base64.b64decode(text.encode("ascii"), altchars=alt, validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise EncodingError(f"{what} is not valid base64") from None


def parse(text: str) -> Envelope:
    """The envelope in ``text`` (one JSON object); raises :class:`EnvelopeError` naming what is missing."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise EnvelopeError(f"not JSON ({exc})") from None
    return from_dict(data)


def from_dict(data: Any) -> Envelope:
    """The envelope held in already parsed JSON."""
    if not isinstance(data, dict):
        raise EnvelopeError("not a DSSE envelope (a JSON object with payloadType, payload, signatures)")
    kind, payload, sigs = data.get("payloadType"), data.get("payload"), data.get("signatures")
    if not isinstance(kind, str) or not isinstance(payload, str):
        raise EnvelopeError("not a DSSE envelope: 'payloadType' and 'payload' must be strings")
    if not isinstance(sigs, list) or not sigs:
        raise EnvelopeError("not a DSSE envelope: 'signatures' must be a non-empty list")
    out = []
    for n, item in enumerate(sigs):
        if not isinstance(item, dict) or not isinstance(item.get("sig"), str):
            raise EnvelopeError(f"signature {n + 1}: an object with a 'sig' string is expected")
        keyid = item.get("keyid", "")
        out.append(Signature(keyid if isinstance(keyid, str) else "", item["sig"]))
    return Envelope(kind, payload, tuple(out))
