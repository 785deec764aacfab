"""Signed audit records: an in-toto Statement v1 about one scan, inside a DSSE envelope, verifiable offline.

The record names the scanned git commit, the SHA-256 of every model artifact and of the answers file, and carries the
JSON report, so a reviewer can later check with the public key alone (or with ``openssl``) that this commit, with
these model files and these answers, got this result, and that nobody edited the record since. The format is
described in ``docs/attestation.md``.
"""

from __future__ import annotations

PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
# A name, never fetched: the version at the end changes when the predicate changes incompatibly.
PREDICATE_TYPE = "https://mlposture.dev/attestation/audit/v1"
RECORD_SUFFIX = ".intoto.jsonl"
