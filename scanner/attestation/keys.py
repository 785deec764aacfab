"""Signing keys: PEM ECDSA P-256 (PKCS#8 or SEC1) and Ed25519, through ``cryptography``.

ECDSA signatures are DER-encoded over SHA-256 of the DSSE pre-authentication encoding and Ed25519 signs it as is,
so ``openssl dgst -sha256 -verify`` and ``openssl pkeyutl -verify -rawin`` check them without mlposture. A key's id is
the SHA-256 of its public key in DER (SubjectPublicKeyInfo), hex: it names the key without revealing anything and
anyone holding the public key can compute it.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from mlposture.scanner.errors import InputError

MAX_KEY_BYTES = 1024 * 1024
PASSWORD_ENV = "MLPOSTURE_ATTEST_KEY_PASSWORD"  # the name of a variable, not a password
PRIVATE_NAME, PUBLIC_NAME = "mlposture-attest.key", "mlposture-attest.pub"
KEY_TYPES = ("ecdsa-p256", "ed25519")

PrivateKey = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
PublicKey = ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey


class KeyFileError(InputError):
    """A key file that cannot be used (unreadable, not PEM, encrypted without a password, unsupported type)."""


def key_id(public: PublicKey) -> str:
    """SHA-256 (hex) of the public key's SubjectPublicKeyInfo DER."""
    der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def _algorithm(key: PrivateKey | PublicKey, path: str) -> str:
    if isinstance(key, (ed25519.Ed25519PrivateKey, ed25519.Ed25519PublicKey)):
        return "ed25519"
    if isinstance(key.curve, ec.SECP256R1):
        return "ecdsa-p256"
    raise KeyFileError(path, f"EC key on curve {key.curve.name}: only P-256 (prime256v1) ECDSA and Ed25519 are used")


@dataclass(frozen=True)
class SigningKey:
    """A private key ready to sign DSSE envelopes."""

    private: PrivateKey
    keyid: str
    algorithm: str

    def sign(self, data: bytes) -> bytes:
        """The raw signature of ``data`` (DER for ECDSA)."""
        if isinstance(self.private, ed25519.Ed25519PrivateKey):
            return self.private.sign(data)
        return self.private.sign(data, ec.ECDSA(hashes.SHA256()))

    def public(self) -> VerifyingKey:
        """The matching public key."""
        pub = self.private.public_key()
        return VerifyingKey(pub, self.keyid, self.algorithm)


@dataclass(frozen=True)
class VerifyingKey:
    """A public key that checks DSSE signatures."""

    public: PublicKey
    keyid: str
    algorithm: str

    def verify(self, signature: bytes, data: bytes) -> bool:
        """True when ``signature`` is this key's signature of ``data``."""
        try:
            if isinstance(self.public, ed25519.Ed25519PublicKey):
                self.public.verify(signature, data)
            else:
                self.public.verify(signature, data, ec.ECDSA(hashes.SHA256()))
        except (InvalidSignature, ValueError):
            return False
        return True


def _read(path: Path) -> bytes:
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_KEY_BYTES + 1)
    except OSError as exc:
        raise KeyFileError(str(path), f"cannot read: {exc.strerror or exc}") from None
    if len(data) > MAX_KEY_BYTES:
        raise KeyFileError(str(path), "larger than 1 MB: not a key file")
    if b"-----BEGIN" not in data:
        raise KeyFileError(str(path), "not a PEM file (no -----BEGIN line)")
    return data


def load_signing_key(path: Path) -> SigningKey:
    """The private key in ``path``; an encrypted one takes its password from ``MLPOSTURE_ATTEST_KEY_PASSWORD``."""
    data = _read(path)
    if b"PRIVATE KEY-----" not in data:
        raise KeyFileError(str(path), "no private key in this PEM file (signing needs the private key)")
    password = os.environ.get(PASSWORD_ENV)
    try:
        key = serialization.load_pem_private_key(data, password.encode() if password else None)
    except TypeError:
        raise KeyFileError(str(path), f"the key is encrypted: set {PASSWORD_ENV} to its password") from None
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise KeyFileError(str(path), f"not a usable private key ({exc})") from None
    if not isinstance(key, (ec.EllipticCurvePrivateKey, ed25519.Ed25519PrivateKey)):
        raise KeyFileError(str(path), f"{type(key).__name__.lstrip('_')}: only ECDSA P-256 and Ed25519 keys are used")
    algorithm = _algorithm(key, str(path))
    return SigningKey(key, key_id(key.public_key()), algorithm)


def load_verifying_key(path: Path) -> VerifyingKey:
    """The public key in ``path`` (a ``PUBLIC KEY`` PEM; a private key file also works, its public half is used)."""
    data = _read(path)
    if b"PRIVATE KEY-----" in data:
        return load_signing_key(path).public()
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise KeyFileError(str(path), f"not a usable public key ({exc})") from None
    if not isinstance(key, (ec.EllipticCurvePublicKey, ed25519.Ed25519PublicKey)):
        raise KeyFileError(str(path), "only ECDSA P-256 and Ed25519 public keys are used")
    return VerifyingKey(key, key_id(key), _algorithm(key, str(path)))


def generate_key_pair(folder: Path, key_type: str = "ecdsa-p256") -> tuple[Path, Path]:
    """Write ``mlposture-attest.key`` (PKCS#8, mode 0600) and ``.pub`` in ``folder``; never overwrites a file."""
    private_path, public_path = folder / PRIVATE_NAME, folder / PUBLIC_NAME
    for p in (private_path, public_path):
        if p.exists() or p.is_symlink():
            raise KeyFileError(str(p), "already exists; mlposture never overwrites a key file")
    key: PrivateKey = (ed25519.Ed25519PrivateKey.generate() if key_type == "ed25519"
                       else ec.generate_private_key(ec.SECP256R1()))
    private_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    public_pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
    folder.mkdir(parents=True, exist_ok=True)
    _create(private_path, private_pem, 0o600)
    try:
        _create(public_path, public_pem, 0o644)
    except KeyFileError:
        private_path.unlink()
        raise
    return private_path, public_path


def _create(path: Path, data: bytes, mode: int) -> None:
    """Create ``path`` exclusively with ``mode`` from the start (the private key is never readable by others)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), mode)
    except FileExistsError:
        raise KeyFileError(str(path), "already exists; mlposture never overwrites a key file") from None
    except OSError as exc:
        raise KeyFileError(str(path), f"cannot create: {exc.strerror or exc}") from None
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(path, mode)  # the umask may have removed bits of the public key's mode; never adds to the private one
