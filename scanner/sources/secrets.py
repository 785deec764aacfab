"""Secrets committed to the tree: formats of well-known credentials, checked for entropy and placeholders.

The patterns follow the published formats of each issuer (AWS key ids ``AKIA``/``ASIA`` + 16 base-32 characters
with a 40-character secret, Hugging Face ``hf_``, OpenAI ``sk-``/``sk-proj-``, Anthropic ``sk-ant-``, GitHub
``ghp_``/``gho_``/``ghu_``/``ghs_``/``ghr_``/``github_pat_``, Slack ``xox?-`` tokens and webhooks, PEM private
keys) plus credential-named variables in committed ``.env`` files. To keep false positives low, a candidate must
look random (Shannon entropy, mixed characters) and must not be a documented example or a placeholder
(``AKIAIOSFODNN7EXAMPLE``, ``xxx``, ``<token>``, ``${{ secrets.X }}``, ``changeme``...). A line marked as
reviewed with detect-secrets' ``pragma: allowlist secret`` or gitleaks' ``gitleaks:allow`` is skipped.

Nothing here keeps a secret in clear beyond the match: :func:`mask` is what reports show, and
:func:`secret_digest` is what fingerprints use.
"""

from __future__ import annotations

import bisect
import hashlib
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass

from mlposture.scanner.probe import Severity

#: Documented example values and placeholder words that are never real credentials.
EXAMPLE_VALUES = frozenset({
    "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "ASIAIOSFODNN7EXAMPLE",
})
_PLACEHOLDER = re.compile(
    r"(example|xxxx|placeholder|dummy|changeme|change_me|your[_-]|redacted|sample|fake|notreal|not_real|"
    r"insert|replace|<[^<>\n]{0,200}>|\$\{|\{\{|%\(|\*\*\*|\.\.\.|0123456789|abcdef(?:gh|123))",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class SecretMatch:
    """One credential found in a text: ``kind`` names the format, ``secret`` the matched value."""

    kind: str
    label: str
    secret: str
    line: int
    severity: Severity
    visible_prefix: str = ""


def shannon_entropy(value: str) -> float:
    """Bits per character of ``value``."""
    if not value:
        return 0.0
    counts: dict[str, int] = {}
    for ch in value:
        counts[ch] = counts.get(ch, 0) + 1
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def is_placeholder(value: str) -> bool:
    """True for documented examples and placeholder-looking values."""
    return value in EXAMPLE_VALUES or bool(_PLACEHOLDER.search(value))


def looks_random(body: str, min_entropy: float = 3.0) -> bool:
    """True when ``body`` looks like a generated token: enough entropy, letters and digits both present."""
    if shannon_entropy(body) < min_entropy:
        return False
    has_digit = any(c.isdigit() for c in body)
    has_alpha = any(c.isalpha() for c in body)
    return has_digit and has_alpha


def mask(secret: str, prefix: str = "") -> str:
    """The secret as reports show it: its public prefix, then stars, then the length."""
    shown = prefix if secret.startswith(prefix) else ""
    return f"{shown}{'*' * 8} ({len(secret)} chars)"


def redact(text: str) -> str:
    """``text`` with every recognised credential replaced by its mask (for messages quoting a command)."""
    for m in find_tokens(text):
        text = text.replace(m.secret, mask(m.secret, m.visible_prefix))
    return text


def secret_digest(kind: str, secret: str) -> str:
    """What a finding's fingerprint uses instead of the secret: ``kind:sha256-prefix``."""
    return f"{kind}:sha256:{hashlib.sha256(secret.encode('utf-8', 'surrogateescape')).hexdigest()[:32]}"


# ---------------------------------------------------------------------------------------------------------- tokens
@dataclass(frozen=True)
class _TokenRule:
    kind: str
    label: str
    pattern: re.Pattern[str]
    prefix_len: int
    severity: Severity
    min_entropy: float = 3.0
    literals: tuple[str, ...] = ()  # a match contains one of these: a fast ``in`` test skips the regex
    not_after: str = ""  # characters that may not precede a match (checked in Python: a leading look-behind
    #                      would stop the regex engine from scanning for the literal prefix, ~50x slower)


_UPPER_DIGITS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_WORD = _UPPER_DIGITS + "abcdefghijklmnopqrstuvwxyz_"
_WORD_DASH = _WORD + "-"

_TOKEN_RULES = (
    _TokenRule("aws-access-key-id", "AWS access key id",
               re.compile(r"((?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16})(?![A-Z0-9])"), 4, Severity.HIGH,
               2.5, ("AKIA", "ASIA", "ABIA", "ACCA"), not_after=_UPPER_DIGITS),
    _TokenRule("huggingface-token", "Hugging Face token",
               re.compile(r"(hf_[A-Za-z0-9]{30,40})(?![A-Za-z0-9_])"), 3, Severity.HIGH,
               literals=("hf_",), not_after=_WORD),
    _TokenRule("anthropic-api-key", "Anthropic API key",
               re.compile(r"(sk-ant-[a-z]{2,8}\d{0,3}-[A-Za-z0-9_-]{40,200})(?![A-Za-z0-9_-])"),
               7, Severity.CRITICAL, literals=("sk-ant-",), not_after=_WORD_DASH),
    _TokenRule("openai-api-key", "OpenAI API key",
               re.compile(r"(sk-(?!ant-)(?:(?:proj|svcacct|admin)-)?[A-Za-z0-9_-]{32,200})"
                          r"(?![A-Za-z0-9_-])"), 3, Severity.CRITICAL, 3.5, ("sk-",), not_after=_WORD_DASH),
    _TokenRule("github-token", "GitHub token",
               re.compile(r"((?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36})(?![A-Za-z0-9_])"), 4,
               Severity.CRITICAL, literals=("ghp_", "gho_", "ghu_", "ghs_", "ghr_"), not_after=_WORD),
    _TokenRule("github-token", "GitHub fine-grained token",
               re.compile(r"(github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59})(?![A-Za-z0-9_])"), 11,
               Severity.CRITICAL, literals=("github_pat_",), not_after=_WORD),
    _TokenRule("slack-token", "Slack token",
               re.compile(r"(xox[abposr]-(?:\d+-){1,3}[A-Za-z0-9-]{8,})(?![A-Za-z0-9-])"), 5,
               Severity.HIGH, 2.8, ("xox",), not_after=_WORD_DASH),
    _TokenRule("slack-webhook", "Slack incoming webhook",
               re.compile(r"(https://hooks\.slack\.com/services/T[A-Z0-9]{6,}/B[A-Z0-9]{6,}/[A-Za-z0-9]{20,})"),
               33, Severity.HIGH, literals=("hooks.slack.com",)),
)

#: Inline allowlist markers of detect-secrets and gitleaks: a reviewed line is not reported.
_ALLOW = re.compile(r"pragma:\s*allowlist[ -]secret|gitleaks:allow", re.IGNORECASE)
_AWS_SECRET = re.compile(
    r"(?i)aws.{0,20}?secret.{0,20}?[\"']?\s*[:=]\s*[\"']?([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])")
_PEM_BEGIN = re.compile(r"-----BEGIN ((?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY(?: BLOCK)?)-----")
_PEM_BODY = re.compile(r"^[A-Za-z0-9+/=]{40,}$")
_ENV_CREDENTIAL = re.compile(
    r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*(?:SECRET|TOKEN|PASSWORD|PASSWD|PWD|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|"
    r"CREDENTIALS?|AUTH)[A-Za-z0-9_]*)\s*=\s*(.*?)\s*$", re.IGNORECASE)


def _body(secret: str, prefix_len: int) -> str:
    return secret[prefix_len:]


class _Lines:
    """Line numbers of offsets in a text, computed once and only when something matched."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._starts: list[int] | None = None

    def line_of(self, offset: int) -> int:
        if self._starts is None:
            self._starts = [0] + [m.end() for m in re.finditer("\n", self._text)]
        return bisect.bisect_right(self._starts, offset)

    def text_of(self, line: int) -> str:
        self.line_of(0)
        assert self._starts is not None
        start = self._starts[line - 1]
        end = self._starts[line] - 1 if line < len(self._starts) else len(self._text)
        return self._text[start:end]


def find_tokens(text: str) -> Iterator[SecretMatch]:
    """Credentials with a recognisable format, each with its line (example and low-entropy values skipped).

    Each pattern runs over the whole text (not line by line) and lines are computed only for matches, which
    keeps the scan at regex speed on large trees.
    """
    lines = _Lines(text)
    found: list[tuple[int, int, SecretMatch]] = []
    aws_ids: list[SecretMatch] = []
    aws_secrets: list[SecretMatch] = []
    for order, rule in enumerate(_TOKEN_RULES):
        if rule.literals and not any(lit in text for lit in rule.literals):
            continue
        for m in rule.pattern.finditer(text):
            value = m.group(1)
            if rule.not_after and m.start(1) > 0 and text[m.start(1) - 1] in rule.not_after:
                continue
            if is_placeholder(value) or not looks_random(_body(value, rule.prefix_len), rule.min_entropy):
                continue
            n = lines.line_of(m.start(1))
            if _ALLOW.search(lines.text_of(n)):
                continue
            match = SecretMatch(rule.kind, rule.label, value, n, rule.severity, value[:rule.prefix_len])
            if rule.kind == "aws-access-key-id":
                aws_ids.append(match)
            else:
                found.append((n, order, match))
    has_aws = "aws" in text or "AWS" in text or "aws" in text.lower()
    for m in _AWS_SECRET.finditer(text) if has_aws else ():
        value = m.group(1)
        if is_placeholder(value) or not looks_random(value, 4.0):
            continue
        n = lines.line_of(m.start(1))
        if not _ALLOW.search(lines.text_of(n)):
            aws_secrets.append(SecretMatch("aws-secret-access-key", "AWS secret access key", value, n,
                                           Severity.HIGH))
    found.sort(key=lambda t: (t[0], t[1]))
    for _, _, match in found:
        yield match
    paired = bool(aws_ids) and bool(aws_secrets)
    for kid in aws_ids:
        if paired:
            yield SecretMatch(kid.kind, "AWS access key id with its secret access key in the same file",
                              kid.secret, kid.line, Severity.CRITICAL, kid.visible_prefix)
        else:
            yield kid
    for sec in aws_secrets:
        yield SecretMatch(sec.kind, sec.label, sec.secret, sec.line,
                          Severity.CRITICAL if paired else Severity.HIGH)
    if "PRIVATE KEY" in text:
        yield from find_private_keys(text.splitlines())


def find_private_keys(lines: list[str]) -> Iterator[SecretMatch]:
    """PEM private key blocks with a real base64 body (a header alone, or ``...``, is not a key)."""
    n = 0
    while n < len(lines):
        m = _PEM_BEGIN.search(lines[n])
        if m is None or _ALLOW.search(lines[n]):
            n += 1
            continue
        start = n
        body: list[str] = []
        encrypted = "ENCRYPTED" in m.group(1)
        n += 1
        while n < len(lines) and n - start < 400 and "-----END " not in lines[n]:
            stripped = lines[n].strip().strip("\"',\\n").replace("\\n", "")
            if stripped.startswith("Proc-Type:") and "ENCRYPTED" in stripped:
                encrypted = True
            if _PEM_BODY.match(stripped):
                body.append(stripped)
            n += 1
        joined = "".join(body)
        if len(joined) >= 64 and looks_random(joined, 4.0) and not is_placeholder(joined):
            yield SecretMatch("private-key", f"{m.group(1).lower()}{' (encrypted)' if encrypted else ''}",
                              joined, start + 1, Severity.HIGH if encrypted else Severity.CRITICAL,
                              f"-----BEGIN {m.group(1)}-----")
        n += 1


_ENV_EXAMPLE_SUFFIXES = (".example", ".sample", ".template", ".dist", ".defaults", ".tmpl", ".tpl", ".test")


def is_env_file(name: str) -> bool:
    """``.env``, ``.env.production``, ``prod.env``... but not ``.env.example`` and other templates."""
    low = name.lower()
    if low.endswith(_ENV_EXAMPLE_SUFFIXES) or ".example" in low or ".sample" in low or ".template" in low:
        return False
    return low == ".env" or low.startswith(".env.") or low.endswith(".env")


def find_env_credentials(text: str) -> Iterator[SecretMatch]:
    """Credential-named variables with a real-looking value in a committed ``.env`` file."""
    for n, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("#") or _ALLOW.search(line):
            continue
        m = _ENV_CREDENTIAL.match(line)
        if m is None:
            continue
        name, value = m.group(1), m.group(2)
        if value[:1] in "\"'" and value[-1:] == value[:1] and len(value) >= 2:
            value = value[1:-1]
        elif " #" in value:
            value = value.split(" #", 1)[0].strip()
        if len(value) < 8 or is_placeholder(value) or value.startswith("$") or shannon_entropy(value) < 2.5:
            continue
        if value.lower() in ("true", "false", "none", "null"):
            continue
        yield SecretMatch("env-credential", f"credential {name} in a .env file", value, n,
                          Severity.HIGH)
