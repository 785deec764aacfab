"""Keyless signing and verification through sigstore-python (the optional ``sigstore`` extra; needs the network).

The record is then a Sigstore bundle (one line of JSON): the same DSSE envelope and in-toto statement, plus the
short-lived Fulcio certificate of the signer's OpenID Connect identity and the Rekor transparency-log entry.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from mlposture.scanner.errors import InputError

INSTALL_HINT = "keyless (Sigstore) records need sigstore-python: pip install 'mlposture[sigstore]'"


class SigstoreUnavailable(InputError):
    """sigstore-python is not installed, or it refused (no identity, no network)."""


def _require() -> None:
    try:
        import sigstore  # noqa: F401
    except ImportError:
        raise SigstoreUnavailable("--sigstore", INSTALL_HINT) from None


@dataclass(frozen=True)
class SigstoreSigner:
    """Signs with an OpenID Connect identity: the ambient one in CI, else ``identity_token``, else the browser."""

    identity_token: str | None = None

    @property
    def description(self) -> str:
        """For messages."""
        return "Sigstore (keyless)"

    def sign_statement(self, payload: bytes) -> str:
        """A Sigstore bundle around the DSSE-signed ``payload``."""
        _require()
        from sigstore.dsse import Statement
        from sigstore.oidc import IdentityToken, Issuer, detect_credential
        from sigstore.sign import SigningContext

        try:
            raw = self.identity_token or detect_credential()
            token = IdentityToken(raw) if raw else Issuer.production().identity_token()
            context = _signing_context(SigningContext)
            with context.signer(token) as signer:
                bundle = signer.sign_dsse(Statement(payload))
        except Exception as exc:  # sigstore-python raises its own error types, network errors among them
            raise SigstoreUnavailable("--sigstore", f"signing failed: {type(exc).__name__}: {exc}") from None
        return json.dumps(json.loads(bundle.to_json()), separators=(",", ":"))


def _signing_context(cls: Any) -> Any:
    try:
        from sigstore.models import ClientTrustConfig

        return cls.from_trust_config(ClientTrustConfig.production())
    except ImportError:  # sigstore-python 3.x
        return cls.production()


def verify_bundle(text: str, identity: str, issuer: str) -> tuple[str, bytes]:
    """(payloadType, payload) of a bundle signed by ``identity`` as certified by ``issuer``; raises on failure.

    Verification uses the trust root sigstore-python ships (``offline=True`` where supported), so a record can be
    checked without the network; the transparency-log inclusion proof is checked from the bundle.
    """
    _require()
    from sigstore.models import Bundle
    from sigstore.verify import Verifier
    from sigstore.verify.policy import Identity

    bundle = Bundle.from_json(text)
    try:
        verifier = Verifier.production(offline=True)
    except TypeError:
        verifier = Verifier.production()
    payload_type, payload = verifier.verify_dsse(bundle, Identity(identity=identity, issuer=issuer))
    return str(payload_type), bytes(payload)
