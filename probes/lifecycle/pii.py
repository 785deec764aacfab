"""A bounded PII sample of committed data files: e-mail, phone, payment card, IBAN and SSN-like patterns.

Why a sample and not a scan: data files can be gigabytes; the question for DATA-07 is "does personal data sit in
the repository un-redacted?", and a few kilobytes from the head of a few files answer it. Limits: at most
``MAX_FILES`` files, the first ``SAMPLE_BYTES`` of each, binary content (a NUL byte) skipped with a note, Parquet
and other binary formats not sampled. Matches are validated to cut noise (Luhn for cards, ISO 7064 mod 97 for
IBANs, the SSA's impossible SSN areas) and reported only masked: the report must not become a copy of the PII.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mlposture.scanner.repo import RepoFile, RepoView

SAMPLE_BYTES = 64 * 1024
MAX_FILES = 25
ALWAYS_DATA = (".csv", ".tsv", ".jsonl", ".ndjson")
DATA_IF_IN_DATA_DIR = (".json", ".txt")
BINARY_DATA = (".parquet", ".feather", ".arrow", ".avro", ".orc", ".npy", ".npz", ".h5", ".hdf5", ".tfrecord")
DATA_DIRS = {"data", "dataset", "datasets", "raw", "processed", "interim", "samples", "corpus", "train", "test"}
EXAMPLE_DOMAINS = re.compile(r"(?i)@(?:[a-z0-9-]+\.)*(?:example\.(?:com|org|net)|test|invalid|localhost)$")

EMAIL = re.compile(r"(?<![\w.+-])[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})*\.[A-Za-z]{2,24}\b")
PHONE = re.compile(r"(?<![\w+])(?:\+\d{1,3}[ .-]?\(?\d{1,4}\)?(?:[ .-]\d{2,4}){2,3}"
                   r"|\(?\d{3}\)?[ .-]\d{3}[ .-]\d{4})(?![\w-])")
# not the digits of a decimal fraction or an exponent: "0.4111111111111111" in a text dump of a tensor is a float
CARD = re.compile(r"(?<![\w.-])\d(?:[ -]?\d){12,18}(?![\w-]|\.\d)")
IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b")
SSN = re.compile(r"(?<![\w-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\w-])")


@dataclass(frozen=True)
class PiiHit:
    """The first match of one kind in one file, masked, with the count in the sample."""

    kind: str
    path: str
    line: int
    masked: str
    count: int


@dataclass(frozen=True)
class SampleReport:
    """What was sampled and what was found."""

    hits: tuple[PiiHit, ...]
    sampled: tuple[str, ...]
    skipped: int


def luhn_ok(digits: str) -> bool:
    """Luhn checksum of a digit string."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _card_brand_ok(digits: str) -> bool:
    n = len(digits)
    if digits.startswith("4"):
        return n in (13, 16, 19)
    if digits[:2] in ("34", "37"):
        return n == 15
    if 51 <= int(digits[:2]) <= 55 or 2221 <= int(digits[:4]) <= 2720:
        return n == 16
    if digits.startswith(("6011", "65")):
        return n in (16, 19)
    return False


def iban_ok(text: str) -> bool:
    """ISO 13616 check digits (mod 97 == 1) of an IBAN with or without spaces."""
    s = text.replace(" ", "")
    if not 15 <= len(s) <= 34:
        return False
    moved = s[4:] + s[:4]
    number = "".join(str(int(ch, 36)) for ch in moved)
    return int(number) % 97 == 1


def mask(kind: str, value: str) -> str:
    """A masked form that keeps only enough to recognise the record: ``j***@g***.com``, ``****1111``."""
    if kind == "e-mail address":
        local, _, domain = value.partition("@")
        host, _, tld = domain.rpartition(".")
        return f"{local[:1]}***@{host[:1]}***.{tld}"
    digits = re.sub(r"[^0-9A-Za-z]", "", value)
    if kind == "IBAN":
        return f"{digits[:2]}**{'*' * 4}{digits[-4:]}"
    return f"****{digits[-4:]}"


def _find(text: str) -> list[tuple[str, int, str]]:
    """``(kind, line, value)`` for every validated match."""
    out: list[tuple[str, int, str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if len(line) > 20000:
            line = line[:20000]
        for m in EMAIL.finditer(line):
            if not EXAMPLE_DOMAINS.search(m.group()):
                out.append(("e-mail address", number, m.group()))
        for m in CARD.finditer(line):
            digits = re.sub(r"\D", "", m.group())
            if 13 <= len(digits) <= 19 and _card_brand_ok(digits) and luhn_ok(digits):
                out.append(("payment card number (Luhn-valid)", number, m.group()))
        for m in IBAN.finditer(line):
            if iban_ok(m.group()):
                out.append(("IBAN", number, m.group()))
        for m in SSN.finditer(line):
            out.append(("SSN-like number", number, m.group()))
        for m in PHONE.finditer(line):
            if not SSN.fullmatch(m.group()) and len(re.sub(r"\D", "", m.group())) >= 10:
                out.append(("phone number", number, m.group()))
    return out


TEXT_CONTROL = frozenset(b"\t\n\r\f\v")
MAX_NON_TEXT_SHARE = 0.05


def looks_like_text(data: bytes) -> bool:
    """True for text: no NUL byte in the first 8 KiB, and at most 5% control bytes or undecodable UTF-8.

    PII is looked for only in text: the raw bytes of a tensor or an image hold every digit sequence sooner or later,
    and a Luhn-valid "card number" among them is noise, not personal data.
    """
    if b"\x00" in data[:8192]:
        return False
    if not data:
        return True
    controls = sum(1 for b in data if (b < 32 and b not in TEXT_CONTROL) or b == 127)
    undecodable = data.decode("utf-8", "replace").count("\ufffd")
    return (controls + undecodable) / len(data) <= MAX_NON_TEXT_SHARE


def is_data_file(f: RepoFile) -> bool:
    """Committed data by extension; ``.json``/``.txt`` only inside a data folder (configs are not data)."""
    if f.suffix in ALWAYS_DATA:
        return True
    if f.suffix in DATA_IF_IN_DATA_DIR:
        return bool(DATA_DIRS & {part.lower() for part in f.path.split("/")[:-1]})
    return False


def sample(repo: RepoView) -> SampleReport:
    """Scan the head of up to ``MAX_FILES`` data files; notes name what was cut or skipped."""
    candidates = [f for f in repo.files if is_data_file(f)]
    binary = [f for f in repo.files if f.suffix in BINARY_DATA]
    for f in binary[:MAX_FILES]:
        repo.note(f"binary data format ({f.suffix}) not sampled for PII", f.path)
    hits: list[PiiHit] = []
    sampled: list[str] = []
    for f in candidates[:MAX_FILES]:
        data = repo.read_bytes(f, SAMPLE_BYTES)
        if data is None:
            continue
        if not looks_like_text(data):
            repo.note("binary content in a data file, not sampled for PII", f.path)
            continue
        if f.size > SAMPLE_BYTES:
            repo.note(f"PII sample read the first {SAMPLE_BYTES // 1024} KiB of {f.size} bytes", f.path)
            cut = data.rfind(b"\n")
            data = data[:cut] if cut > 0 else data
        sampled.append(f.path)
        found = _find(data.decode("utf-8", "replace"))
        by_kind: dict[str, list[tuple[int, str]]] = {}
        for kind, line, value in found:
            by_kind.setdefault(kind, []).append((line, value))
        for kind, items in by_kind.items():
            line, value = items[0]
            hits.append(PiiHit(kind, f.path, line, mask(kind, value), len(items)))
    skipped = max(0, len(candidates) - MAX_FILES)
    if skipped:
        repo.note(f"PII sample covered {MAX_FILES} of {len(candidates)} data files; {skipped} not sampled")
    return SampleReport(tuple(hits), tuple(sampled), skipped)
