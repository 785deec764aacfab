"""``mlposture attest`` and ``mlposture verify-attestation``, and the record behind ``mlposture scan --attest``.

Registered through the ``mlposture.commands`` entry-point group, so ``cryptography`` is imported only when a record
is made or checked. ``attest`` takes the scan's own options (read from the ``scan`` command, so new scan options
reach it without a change here) and runs the scan through that command.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from mlposture.scanner.attestation import RECORD_SUFFIX
from mlposture.scanner.errors import InputError

if TYPE_CHECKING:
    from mlposture.scanner.attestation.record import Signer

ATTEST_META = "mlposture.attestation"  # click context meta key: the record `mlposture attest` asks scan to write
DEFAULT_RECORD = "mlposture-report" + RECORD_SUFFIX
EXIT_OK, EXIT_NOT_VERIFIED, EXIT_USAGE = 0, 1, 2
NOT_SCAN_OPTIONS = {"target", "formats", "output", "output_dir", "attest_key"}


def _fail(message: str, prefix: str = "mlposture") -> NoReturn:
    click.echo(f"{prefix}: error: {message}", err=True)
    sys.exit(EXIT_USAGE)


def record_path_for(output: str | None, output_dir: str | None) -> Path:
    """Where ``scan --attest`` writes: beside ``-o FILE`` (same stem), else in the report folder."""
    if output_dir is None and output not in (None, "-"):
        from mlposture.scanner.attestation.beside import record_path_beside

        return record_path_beside(Path(str(output)))
    return Path(output_dir or ".") / DEFAULT_RECORD


@dataclass(frozen=True)
class ScanAttestation:
    """A record to write at the end of a scan: who signs, and where it goes."""

    signer: Signer
    dest: Path

    def check(self, root: Path) -> None:
        """Before scanning: the target must be a git checkout with a commit (fail fast, before minutes of scan)."""
        from mlposture.scanner.attestation.subjects import read_head

        if not root.is_dir():
            _fail(f"{root}: an audit record is made for a folder (a repository checkout), not one file")
        try:
            read_head(root, named=False)
        except InputError as exc:
            _fail(str(exc))

    def write(self, result: Any, root: Path, settings: Any, catalog: Any, answers_path: str | None,
              baseline: bool, url: str | None, quiet: bool) -> None:
        """Sign and write the record of ``result``; exit 2 when it cannot be made."""
        from mlposture.scanner.attestation.record import gate_settings, record
        from mlposture.scanner.report.json_report import to_dict

        git = result.target.git
        if git is not None and git.dirty is True:
            _fail(f"{root}: uncommitted changes in the working tree: an audit record names a commit, so commit (or "
                  "stash) the changes and scan again")
        report = to_dict(result)
        try:
            written = record(report, root, settings, catalog, Path(answers_path) if answers_path else None,
                             gate_settings(settings, baseline, "scan"), self.signer, self.dest, url)
        except InputError as exc:
            _fail(str(exc))
        if not quiet:
            click.echo(_written_message(written, self.signer), err=True)


def _written_message(written: Any, signer: Signer) -> str:
    answers = f", answers {written.answers.path}" if written.answers else ", no answers file"
    return (f"wrote {written.path}: {written.head.name} at {written.head.commit[:12]}, {len(written.models)} model "
            f"file(s){answers}; signed by {signer.description}; {written.size} bytes")


def for_scan_option(key: str, output: str | None, output_dir: str | None) -> ScanAttestation:
    """The record ``scan --attest KEY`` asks for; the key is loaded now so a bad key stops before the scan."""
    return ScanAttestation(_key_signer(key), record_path_for(output, output_dir))


def _key_signer(key: str) -> Signer:
    from mlposture.scanner.attestation.keys import load_signing_key
    from mlposture.scanner.attestation.record import KeySigner

    try:
        return KeySigner(load_signing_key(Path(key)))
    except InputError as exc:
        _fail(str(exc))


def _scan_params() -> list[click.Parameter]:
    from mlposture.scanner.cli import scan

    return [p for p in scan.params if p.name not in NOT_SCAN_OPTIONS]


@click.command("attest", params=_scan_params())
@click.argument("path", default=".", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("--key", "key", default=None, type=click.Path(dir_okay=False),
              help="Private key (PEM: ECDSA P-256 or Ed25519) that signs the record.")
@click.option("--sigstore", is_flag=True, help="Sign keyless with Sigstore (needs the 'sigstore' extra and network).")
@click.option("--identity-token", default=None, envvar="MLPOSTURE_SIGSTORE_IDENTITY_TOKEN",
              help="With --sigstore: an OIDC identity token (default: the CI's ambient identity, else a browser).")
@click.option("-o", "--output", "record_out", default=None, type=click.Path(dir_okay=False, path_type=Path),
              help="Record file to write (FILE.intoto.jsonl).")
@click.option("--report", "report_path", default=None, type=click.Path(dir_okay=False, path_type=Path),
              help="Attest this existing JSON report (of PATH's HEAD) instead of scanning.")
@click.option("--generate-key", "generate_dir", default=None, type=click.Path(file_okay=False, path_type=Path),
              help="Write a new key pair (mlposture-attest.key, mode 0600, and .pub) into this folder and stop.")
@click.option("--key-type", type=click.Choice(["ecdsa-p256", "ed25519"]), default="ecdsa-p256",
              help="Key type for --generate-key.")
@click.pass_context
def attest(ctx: click.Context, /, path: Path, key: str | None, sigstore: bool, identity_token: str | None,
           record_out: Path | None, report_path: Path | None, generate_dir: Path | None, key_type: str,
           **scan_options: Any) -> None:
    """Scan PATH (or take --report) and write a signed audit record: a DSSE envelope around an in-toto statement.

    Exit codes are the scan's (0 gate passed, 1 gate failed) once the record is written; 2 when no record could be
    made. With --report, 0 once the record is written.
    """
    if generate_dir is not None:
        _generate(generate_dir, key_type)
        return
    if (key is None) == (not sigstore):
        _fail("give one of --key KEY.pem or --sigstore")
    if record_out is None:
        _fail("-o/--output FILE.intoto.jsonl is required")
    signer = _key_signer(str(key)) if key is not None else _sigstore_signer(identity_token)
    if not path.is_dir():
        _fail(f"{path}: no such folder")
    if report_path is not None:
        _attest_report(path, report_path, signer, record_out, scan_options)
        return
    from mlposture.scanner.cli import scan

    ctx.meta[ATTEST_META] = ScanAttestation(signer, record_out)
    ctx.invoke(scan, target=str(path), formats=("terminal",), output=None, output_dir=None, attest_key=None,
               **scan_options)


def _sigstore_signer(identity_token: str | None) -> Signer:
    from mlposture.scanner.attestation.sigstore_signing import INSTALL_HINT, SigstoreSigner, SigstoreUnavailable

    try:
        import sigstore  # noqa: F401
    except ImportError:
        _fail(str(SigstoreUnavailable("--sigstore", INSTALL_HINT)))
    return SigstoreSigner(identity_token)


def _generate(folder: Path, key_type: str) -> None:
    from mlposture.scanner.attestation.keys import generate_key_pair, load_signing_key

    try:
        private, public = generate_key_pair(folder, key_type)
    except InputError as exc:
        _fail(str(exc))
    keyid = load_signing_key(private).keyid
    click.echo(f"wrote {private} (private, mode 0600: keep it secret, e.g. as a CI secret)")
    click.echo(f"wrote {public} (public: give it to whoever verifies)")
    click.echo(f"keyid {keyid} ({key_type})")


def _attest_report(root: Path, report_path: Path, signer: Signer, dest: Path, options: Mapping[str, Any]) -> None:
    import os

    from mlposture.scanner.attestation.record import check_report_matches, gate_settings, load_report, record
    from mlposture.scanner.catalog import load_catalog
    from mlposture.scanner.config import build_settings

    try:
        flags = {"exclude": options.get("exclude") or ()}
        settings = build_settings(root, os.environ, flags).settings
        catalog = load_catalog(settings.extra_controls)
        report = load_report(report_path)
        check_report_matches(report, report_path, root, catalog)
        gate = gate_settings(settings, None, "report")
        gate.update({k: None for k in gate if k not in ("source", "baseline")})
        gate["fail_on"] = (report.get("gate") or {}).get("fail_on")
        answers = options.get("answers_path")
        written = record(report, root, settings, catalog, Path(answers) if answers else None, gate, signer, dest)
    except InputError as exc:
        _fail(str(exc))
    click.echo(_written_message(written, signer), err=True)


@click.command("verify-attestation")
@click.argument("record_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--key", "key", default=None, type=click.Path(dir_okay=False, path_type=Path),
              help="Public key (PEM) the record must be signed with.")
@click.option("--sigstore-identity", default=None, help="Keyless record: the signer identity (e-mail or URI).")
@click.option("--sigstore-issuer", default="https://token.actions.githubusercontent.com", show_default=True,
              help="Keyless record: the OIDC issuer that certified the identity.")
@click.option("--repo", "repo", default=None, type=click.Path(file_okay=False, path_type=Path),
              help="Checkout to compare: HEAD must be the attested commit, model and answers files unchanged.")
@click.option("--fail-on", type=click.Choice(["critical", "high", "medium", "low", "none"]), default="critical",
              show_default=True, help="Policy: the recorded result must pass the gate at this level.")
@click.option("--allow-unverified", is_flag=True, help="Policy: unverified controls do not fail it.")
@click.option("--allow-probe-errors", is_flag=True, help="Policy: probes that did not complete do not fail it.")
def verify_attestation(record_file: Path, key: Path | None, sigstore_identity: str | None, sigstore_issuer: str,
                       repo: Path | None, fail_on: str, allow_unverified: bool, allow_probe_errors: bool) -> None:
    """Check a signed audit record: signature, statement, the checkout (--repo) and the policy (--fail-on).

    Exit 0 verified, 1 not verified or the policy failed (each reason on stderr), 2 unusable input.
    """
    from mlposture.scanner.attestation.dsse import EnvelopeError
    from mlposture.scanner.attestation.verify import Policy, Verification, is_bundle, read_record, verify_with_key

    start = time.perf_counter()
    if (key is None) == (sigstore_identity is None):
        _fail("give one of --key PUB.pem or --sigstore-identity IDENTITY")
    if repo is not None and not repo.is_dir():
        _fail(f"{repo}: no such folder")
    policy = Policy(fail_on, allow_unverified, allow_probe_errors)
    try:
        data = read_record(record_file)
        if key is not None:
            if is_bundle(data):
                _fail(f"{record_file}: a Sigstore bundle (keyless record): verify it with --sigstore-identity")
            from mlposture.scanner.attestation.keys import load_verifying_key

            outcome: Verification = verify_with_key(data, load_verifying_key(key), str(key), repo, policy)
        else:
            outcome = _verify_sigstore(data, record_file, str(sigstore_identity), sigstore_issuer, repo, policy)
    except EnvelopeError as exc:
        _fail(f"{record_file}: {exc}")
    except InputError as exc:
        _fail(str(exc))
    elapsed = time.perf_counter() - start
    for line in outcome.checked:
        click.echo(f"  ok: {line}")
    if outcome.verified:
        click.echo(f"verified: {record_file} ({elapsed:.2f} s)")
        sys.exit(EXIT_OK)
    for problem in outcome.problems:
        click.echo(f"mlposture: not verified: {problem}", err=True)
    click.echo(f"NOT verified: {record_file}: {len(outcome.problems)} problem(s)")
    sys.exit(EXIT_NOT_VERIFIED)


def _verify_sigstore(data: dict[str, Any], record_file: Path, identity: str, issuer: str, repo: Path | None,
                     policy: Any) -> Any:
    import json

    from mlposture.scanner.attestation.sigstore_signing import verify_bundle
    from mlposture.scanner.attestation.verify import Verification, verify_payload

    if "dsseEnvelope" not in data:
        _fail(f"{record_file}: not a Sigstore bundle (a key-signed record): verify it with --key")
    try:
        payload_type, payload = verify_bundle(json.dumps(data), identity, issuer)
    except InputError:
        raise
    except Exception as exc:  # sigstore-python's verification errors
        return Verification((f"signature: Sigstore verification failed: {type(exc).__name__}: {exc}",), (), None)
    return verify_payload(payload, payload_type, f"Sigstore identity {identity} ({issuer})", repo, policy)
