"""Signed audit records end to end: made with keys from openssl and --generate-key, checked by openssl itself,
and refused with a clear reason when anything recorded changed."""

from __future__ import annotations

import base64
import hashlib
import json
import stat
from pathlib import Path

import pytest

from mlposture.scanner.attestation import PAYLOAD_TYPE, PREDICATE_TYPE, STATEMENT_TYPE
from mlposture.scanner.attestation.dsse import pae

from .conftest import clone, git, openssl, report_data, run


def attest_report(repo: Path, report: Path, key: Path, out: Path) -> dict:
    res = run("attest", str(repo), "--report", str(report), "--key", str(key), "-o", str(out))
    assert res.exit_code == 0, res.output
    lines = out.read_text().splitlines()
    assert len(lines) == 1
    return json.loads(lines[0])


def statement(envelope: dict) -> dict:
    return json.loads(base64.b64decode(envelope["payload"]))


def verify(record: Path, pub: Path, *extra: str):
    return run("verify-attestation", str(record), "--key", str(pub), *extra)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def openssl_verifies(envelope: dict, pub: Path, algorithm: str, tmp: Path) -> bool:
    """An independent check: openssl over the DSSE pre-authentication encoding, built here by hand."""
    body = base64.b64decode(envelope["payload"])
    kind = envelope["payloadType"].encode()
    (tmp / "pae.bin").write_bytes(b"DSSEv1 " + str(len(kind)).encode() + b" " + kind + b" "
                                  + str(len(body)).encode() + b" " + body)
    (tmp / "sig.bin").write_bytes(base64.b64decode(envelope["signatures"][0]["sig"]))
    if algorithm == "ed25519":
        res = openssl("pkeyutl", "-verify", "-pubin", "-inkey", str(pub), "-rawin", "-in", str(tmp / "pae.bin"),
                      "-sigfile", str(tmp / "sig.bin"))
    else:
        res = openssl("dgst", "-sha256", "-verify", str(pub), "-signature", str(tmp / "sig.bin"),
                      str(tmp / "pae.bin"))
    return res.returncode == 0 and "Verified" in res.stdout + res.stderr


def test_pae_is_the_dsse_encoding() -> None:
    expected = b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    assert pae("http://example.com/HelloWorld", b"hello world") == expected


@pytest.mark.parametrize("kind", ["ec-sec1", "ec-pkcs8", "ed25519"])
def test_round_trip_with_openssl_keys(kind, keys, checkout, report, tmp_path) -> None:
    private, public = keys[kind]
    out = tmp_path / "audit.intoto.jsonl"
    envelope = attest_report(checkout, report, private, out)
    assert envelope["payloadType"] == PAYLOAD_TYPE
    assert openssl_verifies(envelope, public, "ed25519" if kind == "ed25519" else "ecdsa", tmp_path)
    res = verify(out, public, "--repo", str(checkout), "--fail-on", "none")
    assert res.exit_code == 0, res.output
    assert "verified:" in res.output
    assert "2 model file(s) and the answers file have their attested SHA-256" in res.output


def test_keyid_is_the_sha256_of_the_public_key_der(keys, checkout, report, tmp_path) -> None:
    import subprocess

    private, public = keys["ec-pkcs8"]
    envelope = attest_report(checkout, report, private, tmp_path / "a.intoto.jsonl")
    der = subprocess.run(["openssl", "pkey", "-pubin", "-in", str(public), "-outform", "DER"], capture_output=True,
                         check=True).stdout
    assert envelope["signatures"][0]["keyid"] == hashlib.sha256(der).hexdigest()


@pytest.mark.parametrize("key_type", ["ecdsa-p256", "ed25519"])
def test_generated_key_pair_round_trip(key_type, checkout, report, tmp_path) -> None:
    keydir = tmp_path / "keys"
    res = run("attest", "--generate-key", str(keydir), "--key-type", key_type)
    assert res.exit_code == 0, res.output
    private, public = keydir / "mlposture-attest.key", keydir / "mlposture-attest.pub"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert "PRIVATE KEY" in private.read_text() and "PUBLIC KEY" in public.read_text()
    out = tmp_path / "a.intoto.jsonl"
    envelope = attest_report(checkout, report, private, out)
    assert openssl_verifies(envelope, public, "ed25519" if key_type == "ed25519" else "ecdsa", tmp_path)
    assert verify(out, public, "--repo", str(checkout), "--fail-on", "none").exit_code == 0


def test_generate_key_never_overwrites(tmp_path) -> None:
    keydir = tmp_path / "keys"
    keydir.mkdir()
    (keydir / "mlposture-attest.pub").write_text("mine")
    res = run("attest", "--generate-key", str(keydir))
    assert res.exit_code == 2
    assert "already exists; mlposture never overwrites a key file" in res.output
    assert (keydir / "mlposture-attest.pub").read_text() == "mine"
    assert not (keydir / "mlposture-attest.key").exists()


def test_statement_subjects_and_predicate(scanned, report, origin) -> None:
    """The record `scan --attest` wrote beside the JSON report names the commit, the model files and the answers."""
    record = scanned / "mlposture-report.intoto.jsonl"
    envelope = json.loads(record.read_text())
    st = statement(envelope)
    assert st["_type"] == STATEMENT_TYPE
    assert st["predicateType"] == PREDICATE_TYPE
    commit = git(origin, "rev-parse", "HEAD")
    assert st["subject"][0] == {"name": f"file://{origin}", "digest": {"gitCommit": commit}}
    files = {s["name"]: s["digest"]["sha256"] for s in st["subject"][1:]}
    assert files == {
        "models/classifier.pkl": sha256(origin / "models/classifier.pkl"),
        "models/encoder.safetensors": sha256(origin / "models/encoder.safetensors"),
        ".mlposture/answers.yaml": sha256(origin / ".mlposture/answers.yaml"),
    }
    pred = st["predicate"]
    written = report_data(report)
    assert pred["report"]["schema_version"] == 1
    assert pred["report"]["controls"] == written["controls"]
    assert pred["report"]["findings"] == written["findings"]
    assert pred["answers"]["sha256"] == files[".mlposture/answers.yaml"]
    assert len(pred["catalog"]["sha256"]) == 64 and pred["catalog"]["controls"] == len(written["controls"])
    assert pred["gate"]["fail_on"] == "critical" and pred["gate"]["source"] == "scan"
    assert pred["tool"]["name"] == "mlposture"


def test_attest_scans_and_exits_like_scan(checkout, keys, tmp_path) -> None:
    private, public = keys["ed25519"]
    out = tmp_path / "rec.intoto.jsonl"
    res = run("attest", str(checkout), "--key", str(private), "-o", str(out), "--no-vulns", "--fail-on", "none")
    assert res.exit_code == 0, res.output
    assert f"wrote {out}" in res.output and "2 model file(s), answers .mlposture/answers.yaml" in res.output
    assert statement(json.loads(out.read_text()))["predicate"]["gate"]["fail_on"] == "none"
    assert verify(out, public, "--repo", str(checkout), "--fail-on", "none").exit_code == 0


def test_a_failed_gate_is_refused_under_fail_on_critical(scanned, keys) -> None:
    res = verify(scanned / "mlposture-report.intoto.jsonl", keys["ec-sec1"][1])
    assert res.exit_code == 1
    assert "not verified: policy --fail-on critical: control MODEL-03 (critical) is fail" in res.output
    assert "signature: valid" in res.output  # the record itself is genuine: only the policy fails


def _tampered(envelope: dict, tmp_path: Path) -> Path:
    out = tmp_path / "tampered.intoto.jsonl"
    out.write_text(json.dumps(envelope) + "\n")
    return out


def test_a_flipped_byte_in_the_payload_is_refused(keys, checkout, report, tmp_path) -> None:
    private, public = keys["ec-pkcs8"]
    envelope = attest_report(checkout, report, private, tmp_path / "a.intoto.jsonl")
    body = bytearray(base64.b64decode(envelope["payload"]))
    at = body.index(b'"score":') + 8
    body[at] = ord("9") if body[at] != ord("9") else ord("8")  # the recorded score, one digit changed
    envelope["payload"] = base64.b64encode(bytes(body)).decode()
    res = verify(_tampered(envelope, tmp_path), public, "--fail-on", "none")
    assert res.exit_code == 1
    assert "the signature does not match the content" in res.output
    assert "altered after signing" in res.output


def test_a_flipped_character_of_the_base64_payload_is_refused(keys, checkout, report, tmp_path) -> None:
    private, public = keys["ec-sec1"]
    envelope = attest_report(checkout, report, private, tmp_path / "a.intoto.jsonl")
    text = envelope["payload"]
    envelope["payload"] = text[:100] + ("B" if text[100] != "B" else "C") + text[101:]
    res = verify(_tampered(envelope, tmp_path), public, "--fail-on", "none")
    assert res.exit_code == 1
    assert "not verified: signature:" in res.output


@pytest.mark.parametrize("kind", ["ec-sec1", "ed25519"])
def test_a_flipped_byte_in_the_signature_is_refused(kind, keys, checkout, report, tmp_path) -> None:
    private, public = keys[kind]
    envelope = attest_report(checkout, report, private, tmp_path / "a.intoto.jsonl")
    sig = bytearray(base64.b64decode(envelope["signatures"][0]["sig"]))
    sig[len(sig) // 2] ^= 0x01
    envelope["signatures"][0]["sig"] = base64.b64encode(bytes(sig)).decode()
    res = verify(_tampered(envelope, tmp_path), public, "--fail-on", "none")
    assert res.exit_code == 1
    assert "the signature does not match the content" in res.output


def test_another_key_is_refused(keys, checkout, report, tmp_path) -> None:
    out = tmp_path / "a.intoto.jsonl"
    envelope = attest_report(checkout, report, keys["ec-sec1"][0], out)
    res = verify(out, keys["ec-pkcs8"][1], "--fail-on", "none")
    assert res.exit_code == 1
    assert f"signed by another key: the record's signature is by keyid {envelope['signatures'][0]['keyid'][:16]}" \
        in res.output
    # the keyid is a hint, never trusted: a signature without one is still checked against the key
    envelope["signatures"][0]["keyid"] = ""
    res = verify(_tampered(envelope, tmp_path), keys["ec-pkcs8"][1], "--fail-on", "none")
    assert res.exit_code == 1 and "the signature does not match the content" in res.output


def test_a_new_commit_is_refused(keys, checkout, report, tmp_path) -> None:
    private, public = keys["ec-sec1"]
    out = tmp_path / "a.intoto.jsonl"
    attest_report(checkout, report, private, out)
    attested = git(checkout, "rev-parse", "HEAD")
    (checkout / "NOTES.md").write_text("after the audit\n")
    git(checkout, "add", "NOTES.md")
    git(checkout, "commit", "-q", "-m", "later")
    now = git(checkout, "rev-parse", "HEAD")
    res = verify(out, public, "--repo", str(checkout), "--fail-on", "none")
    assert res.exit_code == 1
    assert f"not verified: commit: HEAD of {checkout} is {now}, the record attests {attested}" in res.output


def test_a_changed_model_file_is_refused(keys, checkout, report, tmp_path) -> None:
    private, public = keys["ed25519"]
    out = tmp_path / "a.intoto.jsonl"
    attest_report(checkout, report, private, out)
    model = checkout / "models" / "encoder.safetensors"
    before = sha256(model)
    model.write_bytes(model.read_bytes() + b"\0")
    res = verify(out, public, "--repo", str(checkout), "--fail-on", "none")
    assert res.exit_code == 1
    assert (f"not verified: model file models/encoder.safetensors: changed since the audit (sha256 now "
            f"{sha256(model)}, attested {before})") in res.output
    model.unlink()
    res = verify(out, public, "--repo", str(checkout), "--fail-on", "none")
    assert res.exit_code == 1 and "model file models/encoder.safetensors: missing" in res.output


def test_a_changed_answers_file_is_refused(keys, checkout, report, tmp_path) -> None:
    private, public = keys["ec-pkcs8"]
    out = tmp_path / "a.intoto.jsonl"
    attest_report(checkout, report, private, out)
    answers = checkout / ".mlposture" / "answers.yaml"
    answers.write_text(answers.read_text().replace("internal", "public"))
    res = verify(out, public, "--repo", str(checkout), "--fail-on", "none")
    assert res.exit_code == 1
    assert "not verified: answers file .mlposture/answers.yaml: changed since the audit" in res.output


def test_an_answers_file_added_after_an_audit_without_one_is_refused(origin, keys, report, tmp_path) -> None:
    repo = clone(origin, tmp_path / "c")
    private, public = keys["ec-sec1"]
    (repo / ".mlposture" / "answers.yaml").unlink()
    out = tmp_path / "a.intoto.jsonl"
    envelope = attest_report(repo, report, private, out)
    assert statement(envelope)["predicate"]["answers"] is None
    git(repo, "checkout", "-q", "--", ".mlposture/answers.yaml")
    res = verify(out, public, "--repo", str(repo), "--fail-on", "none")
    assert res.exit_code == 1
    assert "answers file .mlposture/answers.yaml: present now, but the audit used no answers file" in res.output


def test_a_report_of_another_commit_is_not_attested(keys, checkout, report, tmp_path) -> None:
    (checkout / "NOTES.md").write_text("x\n")
    git(checkout, "add", "NOTES.md")
    git(checkout, "commit", "-q", "-m", "later")
    out = tmp_path / "a.intoto.jsonl"
    res = run("attest", str(checkout), "--report", str(report), "--key", str(keys["ec-sec1"][0]), "-o", str(out))
    assert res.exit_code == 2
    assert f"the report is of commit {report_data(report)['target']['git']['commit']}, but HEAD of" in res.output
    assert not out.exists()


def test_attest_outside_git_is_refused_before_scanning(keys, tmp_path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "train.py").write_text("x = 1\n")
    res = run("attest", str(plain), "--key", str(keys["ec-sec1"][0]), "-o", str(tmp_path / "a.intoto.jsonl"))
    assert res.exit_code == 2
    assert "not inside a git repository: a record names the commit it audits" in res.output


def test_unusable_input_exits_2(keys, scanned, tmp_path) -> None:
    record = scanned / "mlposture-report.intoto.jsonl"
    pub = keys["ec-sec1"][1]
    res = verify(tmp_path / "missing.intoto.jsonl", pub)
    assert res.exit_code == 2 and "cannot read" in res.output
    bad_key = tmp_path / "bad.pem"
    bad_key.write_text("not a key\n")
    res = verify(record, bad_key)
    assert res.exit_code == 2 and "not a PEM file" in res.output
    notjson = tmp_path / "n.intoto.jsonl"
    notjson.write_text("{nope\n")
    res = verify(notjson, pub)
    assert res.exit_code == 2 and "not JSON" in res.output
    res = run("verify-attestation", str(record))
    assert res.exit_code == 2 and "give one of --key PUB.pem or --sigstore-identity" in res.output
    res = run("attest", ".", "--key", str(pub), "-o", str(tmp_path / "x.intoto.jsonl"))
    assert res.exit_code == 2 and "no private key in this PEM file" in res.output


def test_sigstore_without_the_extra_is_a_clear_error(tmp_path) -> None:
    try:
        import sigstore  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("sigstore-python is installed here")
    res = run("attest", ".", "--sigstore", "-o", str(tmp_path / "x.intoto.jsonl"))
    assert res.exit_code == 2
    assert "keyless (Sigstore) records need sigstore-python: pip install 'mlposture[sigstore]'" in res.output
    bundle = tmp_path / "keyless.intoto.jsonl"
    bundle.write_text(json.dumps({"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
                                  "dsseEnvelope": {"payload": "", "payloadType": PAYLOAD_TYPE, "signatures": []}}))
    res = run("verify-attestation", str(bundle), "--sigstore-identity", "release@example.com")
    assert res.exit_code == 2
    assert "need sigstore-python: pip install 'mlposture[sigstore]'" in res.output


def test_a_keyless_record_needs_the_sigstore_identity_and_a_keyed_one_the_key(keys, scanned, tmp_path) -> None:
    bundle = tmp_path / "keyless.intoto.jsonl"
    bundle.write_text(json.dumps({"dsseEnvelope": {"payload": "", "payloadType": PAYLOAD_TYPE, "signatures": []}}))
    res = verify(bundle, keys["ec-sec1"][1])
    assert res.exit_code == 2 and "a Sigstore bundle (keyless record): verify it with --sigstore-identity" in res.output
    res = run("verify-attestation", str(scanned / "mlposture-report.intoto.jsonl"), "--sigstore-identity", "x@y")
    assert res.exit_code == 2 and "not a Sigstore bundle (a key-signed record): verify it with --key" in res.output


def test_nothing_the_checkout_configures_runs(keys, checkout, report, tmp_path) -> None:
    marker = tmp_path / "ran"
    script = tmp_path / "evil.sh"
    script.write_text(f"#!/bin/sh\necho ran >> {marker}\ncat\n")
    script.chmod(0o755)
    with (checkout / ".git" / "config").open("a") as fh:
        fh.write(f'[core]\n\tfsmonitor = {script}\n\tpager = {script}\n\thooksPath = {tmp_path}\n'
                 f'[filter "evil"]\n\tclean = {script}\n\tsmudge = {script}\n')
    (checkout / ".gitattributes").write_text("* filter=evil\n")
    for hook in ("post-checkout", "pre-commit", "reference-transaction"):
        (tmp_path / hook).write_text(script.read_text())
        (tmp_path / hook).chmod(0o755)
    private, public = keys["ec-sec1"]
    out = tmp_path / "a.intoto.jsonl"
    attest_report(checkout, report, private, out)
    assert verify(out, public, "--repo", str(checkout), "--fail-on", "none").exit_code == 0
    assert not marker.exists()


def test_a_scanned_subfolder_is_verified_from_the_repository_top(keys, tmp_path) -> None:
    import shutil

    from .conftest import DEMO

    top = tmp_path / "mono"
    shutil.copytree(DEMO, top / "ml" / "churn")
    (top / "README.md").write_text("monorepo\n")
    git(top, "init", "-q", "-b", "main")
    git(top, "add", "-A")
    git(top, "commit", "-q", "-m", "mono")
    private, public = keys["ec-pkcs8"]
    out = tmp_path / "a.intoto.jsonl"
    res = run("attest", str(top / "ml" / "churn"), "--key", str(private), "-o", str(out), "--no-vulns",
              "--fail-on", "none", "-q")
    assert res.exit_code == 0, res.output
    st = statement(json.loads(out.read_text()))
    assert st["predicate"]["repository"]["path"] == "ml/churn"
    assert st["subject"][0]["name"] == "mono"  # no origin remote: the checkout folder names it
    assert {s["name"] for s in st["subject"][1:]} == {"models/classifier.pkl", "models/encoder.safetensors",
                                                       ".mlposture/answers.yaml"}
    for repo in (top, top / "ml" / "churn"):
        res = verify(out, public, "--repo", str(repo), "--fail-on", "none")
        assert res.exit_code == 0, res.output
    (top / "ml" / "churn" / "models" / "classifier.pkl").write_bytes(b"\x80\x04N.")
    res = verify(out, public, "--repo", str(top), "--fail-on", "none")
    assert res.exit_code == 1 and "model file models/classifier.pkl: changed since the audit" in res.output
