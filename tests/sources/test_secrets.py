"""Secret formats, placeholders, masking and hashing (text in, matches out)."""

from __future__ import annotations

import pytest

from mlposture.scanner.probe import Severity
from mlposture.scanner.sources.secrets import (
    find_env_credentials,
    find_tokens,
    is_env_file,
    is_placeholder,
    mask,
    redact,
    secret_digest,
)

GHP = "ghp_" "aZUPgHV7iB3m03nbqnsGpWLuqIA1id6Vw5DQ"
AWS_ID = "AKIA" "UJZDEGXDNCF32EPF"
AWS_SECRET = "2hpC" "hYgCfrL1spNxnyVmihA+2O76UMFxFkM+R5Kj"


@pytest.mark.parametrize(("text", "kind"), [
    ("token = 'hf_h" "GAkWvj7FAc9QeWJKY40uvSwMFLZDe1f8r'", "huggingface-token"),
    ("OPENAI_API_KEY=sk-p" "roj-8ihN5KXSc7Tvo-hBKqFYY-kv5ZJr3J1TWDtkwtDDb_xHKas1", "openai-api-key"),
    ("key: sk-I" "xNKu8iS2G8NPRVdD53X83RZJzzzzgEOzdmenCkhvMdgaKjI", "openai-api-key"),
    ("x = 'sk-ant-" "api03-mUdjAWtGSU8po_799NksnRH9ucAUsdMlHUvTCQCyEZDz-TddJ8HyS5SUkCnD8zRA9a9SkpXz9w3"
     "QlY7Zkuvqdt7s8St'",
     "anthropic-api-key"),
    (f"GH={GHP}", "github-token"),
    ("gho_" "aZUPgHV7iB3m03nbqnsGpWLuqIA1id6Vw5DQ", "github-token"),
    ("github_pat_" "L05HA064GiIjHGb3CXlMaX_ZjljENUhJduRHHJEYXg4JdpmrcXgGCJbW56eCuNGMGmSrCGIZEG8pSH4487",
     "github-token"),
    ("SLACK=xoxb-" "483726167513-6134125242731-z4FkQ1okTBGzvAmwufUxbvJD", "slack-token"),
    ("hook = 'https://hooks.slack.com/services/" "T0A1B2C3D/B0A1B2C3D/q8Zr4LmN2vXp7TbK1wYc5HdJ'", "slack-webhook"),
    (f"aws_access_key_id = {AWS_ID}", "aws-access-key-id"),
])
def test_each_format_is_found(text: str, kind: str) -> None:
    matches = list(find_tokens("first line\n" + text))
    assert [(m.kind, m.line) for m in matches] == [(kind, 2)]


@pytest.mark.parametrize("text", [
    "AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE",
    "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "HF_TOKEN=hf_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    "HF_TOKEN=hf_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "token: ${{ secrets.HF_TOKEN }}",
    "OPENAI_API_KEY=<token>",
    "OPENAI_API_KEY=sk-your-openai-api-key-goes-here-please-replace",
    "ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    "task-sk-1234 scikit-learn sk-learn",
    "-----BEGIN RSA PRIVATE KEY-----\n...\n-----END RSA PRIVATE KEY-----",
    "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQ\n-----END PRIVATE KEY-----",
])
def test_placeholders_and_examples_are_not_secrets(text: str) -> None:
    assert list(find_tokens(text)) == []


def test_aws_pair_in_one_file_is_critical_alone_is_high() -> None:
    pair = list(find_tokens(f"id = '{AWS_ID}'\nsecret_key: x\naws_secret_access_key = '{AWS_SECRET}'\n"))
    assert [(m.kind, m.line, m.severity) for m in pair] == [
        ("aws-access-key-id", 1, Severity.CRITICAL), ("aws-secret-access-key", 3, Severity.CRITICAL)]
    alone = list(find_tokens(f"id = '{AWS_ID}'\n"))
    assert [(m.kind, m.severity) for m in alone] == [("aws-access-key-id", Severity.HIGH)]


def test_private_key_block() -> None:
    body = ("MIIEpAIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM9Oi8Gg8sSsVxZrQ1Tq5QFjZr2w9vY1bN\n"
            "q0Jr7dXk4hH6pQ8v9sZ2lT4mYc7wN1eR5uKb3oV8fGx0iA2jD6tS9yW4zE7nL1cP\n")
    text = f"x = 1\n-----BEGIN RSA PRIVATE KEY-----\n{body}-----END RSA PRIVATE KEY-----\n"
    (m,) = list(find_tokens(text))
    assert (m.kind, m.line, m.severity) == ("private-key", 2, Severity.CRITICAL)
    enc = text.replace("-----BEGIN RSA PRIVATE KEY-----\n", "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n")
    (e,) = list(find_tokens(enc))
    assert e.severity is Severity.HIGH and "encrypted" in e.label


def test_env_files() -> None:
    assert is_env_file(".env") and is_env_file(".env.production") and is_env_file("prod.env")
    assert not is_env_file(".env.example") and not is_env_file(".env.sample") and not is_env_file("env.py")
    text = ("# comment\nDB_PASSWORD=Tr0ub4dor&3-horse\nAPI_TOKEN=\nSECRET_KEY=changeme\n"
            "export GITHUB_TOKEN='${GH_TOKEN}'\nDEBUG=true\nSTRIPE_API_KEY=\"rk_4f9a8b7c6d5e4f3a\"  \n")
    assert [(m.line, m.label) for m in find_env_credentials(text)] == [
        (2, "credential DB_PASSWORD in a .env file"), (7, "credential STRIPE_API_KEY in a .env file")]


def test_mask_and_digest_never_show_the_secret() -> None:
    shown = mask(GHP, "ghp_")
    assert shown == "ghp_******** (40 chars)"
    assert GHP[4:10] not in shown
    digest = secret_digest("github-token", GHP)
    assert digest.startswith("github-token:sha256:") and GHP not in digest and GHP[4:] not in digest
    assert digest == secret_digest("github-token", GHP)
    assert is_placeholder("AKIAIOSFODNN7EXAMPLE")


def test_reviewed_lines_are_skipped() -> None:
    text = (f"a = '{GHP}'  # pragma: allowlist secret\n"
            f"b = '{GHP}'  # gitleaks:allow\n"
            f"c = '{GHP}'\n")
    assert [m.line for m in find_tokens(text)] == [3]
    assert list(find_env_credentials("DB_PASSWORD=Tr0ub4dor&3-horse # pragma: allowlist secret\n")) == []


def test_redact_masks_every_token_in_a_command() -> None:
    assert redact(f"curl -H 'Authorization: token {GHP}' https://api.github.com") == (
        "curl -H 'Authorization: token ghp_******** (40 chars)' https://api.github.com")
    assert redact("echo hello") == "echo hello"
