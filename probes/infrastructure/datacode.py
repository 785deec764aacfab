"""Data-transfer hygiene in code and data-tool configuration (DATA-01, DATA-02).

Python sources are read in the one Python pass (:data:`VISITOR`; ``ast`` only, never imported):
``verify=False`` on any call (requests, httpx, boto3 clients), ``ssl._create_unverified_context()``, Kafka
``security_protocol="PLAINTEXT"``, and string literals that point at a storage service over plain ``http://`` (S3,
GCS, Azure Blob/Data Lake, MinIO) or a database URL that turns TLS off (``sslmode=disable``). Test files are
skipped: the checklist is about the training and data path. DVC's ``.dvc/config`` gives remote encryption
(``sse``, ``sse_kms_key_id``) and plain-HTTP endpoints (``endpointurl``).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from mlposture.probes.infrastructure.facts import FAIL, PARTIAL, PASS, Signal, sig
from mlposture.probes.infrastructure.values import LOOPBACK
from mlposture.scanner.probe import Severity
from mlposture.scanner.sources.python import PyModule, PythonVisitor

STORAGE_HOST = re.compile(r"(^|\.)s3[.-]([\w-]+\.)*amazonaws\.com$|^s3\.amazonaws\.com$|storage\.googleapis\.com$|"
                          r"\.blob\.core\.windows\.net$|\.dfs\.core\.windows\.net$|minio|"
                          r"\.r2\.cloudflarestorage\.com$|\.digitaloceanspaces\.com$", re.I)
DB_URL = re.compile(r"^(postgres(ql)?(\+\w+)?|mysql(\+\w+)?|mongodb(\+srv)?|redis|amqp)://", re.I)
TLS_OFF = re.compile(r"[?&](sslmode=disable|ssl=false|tls=false|ssl_mode=disabled)\b", re.I)
TLS_ON = re.compile(r"[?&](sslmode=(require|verify-ca|verify-full)|ssl=true|tls=true)\b", re.I)


def is_test_path(path: str) -> bool:
    """Test code, which the DATA checks leave out."""
    parts = path.lower().split("/")
    return any(p in ("tests", "test", "testing") for p in parts[:-1]) or parts[-1].startswith("test_") \
        or parts[-1].endswith("_test.py") or parts[-1] == "conftest.py"


def url_signal(url: str, path: str, line: int) -> Signal | None:
    """DATA-02 verdict for one URL literal, or None when it is not a data endpoint."""
    text = url.strip()
    if len(text) > 2000:
        return None
    if text.lower().startswith("http://"):
        try:
            host = urlsplit(text).hostname or ""
            port = urlsplit(text).port
        except ValueError:
            return None
        if not host or LOOPBACK.match(host):
            return None
        if STORAGE_HOST.search(host) or port == 9000:
            return sig("DATA-02", FAIL, "plaintext-data-endpoint", f"plain HTTP data endpoint {text[:120]}", path,
                       line, content=f"http data endpoint {text[:200]}", severity=Severity.HIGH)
        return None
    if DB_URL.match(text):
        off = TLS_OFF.search(text)
        if off:
            return sig("DATA-02", FAIL, "plaintext-data-endpoint", f"database URL disables TLS ({off.group(1)})",
                       path, line, content=f"db url tls off {_redact(text)}", severity=Severity.HIGH)
        on = TLS_ON.search(text)
        if on:
            return sig("DATA-02", PARTIAL, "tls-policy",
                       f"database URL requires TLS ({on.group(1)}; version not pinned)", path, line)
    return None


def _redact(url: str) -> str:
    return re.sub(r"//[^@/]*@", "//***@", url)[:200]


#: Words a module must contain to hold a signal (a cheap substring test spares thousands of parses).
NEEDLES = ("verify", "security_protocol", "ServerSideEncryption", "_create_unverified_context", "://")


def scan_module(mod: PyModule) -> tuple[Signal, ...] | None:
    """The signals of one module of the Python pass (test code left out)."""
    if is_test_path(mod.path):
        return None
    return tuple(python_signals(mod)) or None


#: The infrastructure probe's reader in the one Python pass (``.py`` modules; notebooks are not read for these).
VISITOR = PythonVisitor("infrastructure.datacode", scan_module, needles=NEEDLES, notebooks=False)


def python_signals(mod: PyModule) -> Iterator[Signal]:
    """verify=False, unverified SSL contexts, plaintext Kafka and http:// storage endpoints in one module, in
    source order."""
    path = mod.path
    nodes = sorted(mod.nodes(ast.Call, ast.Constant), key=lambda n: (n.lineno, n.col_offset))
    for node in nodes:
        if isinstance(node, ast.Call):
            callee = _name(node.func)
            for kw in node.keywords:
                if kw.arg == "verify" and isinstance(kw.value, ast.Constant) and kw.value.value is False:
                    yield sig("DATA-02", FAIL, "tls-verify-disabled",
                              f"{callee or 'call'}(..., verify=False) disables TLS certificate checks", path,
                              node.lineno, content=f"{callee} verify=False", severity=Severity.HIGH)
                proto = kw.value.value if isinstance(kw.value, ast.Constant) else None
                if kw.arg == "security_protocol" and isinstance(proto, str) and \
                        proto.upper() in ("PLAINTEXT", "SASL_PLAINTEXT"):
                    yield sig("DATA-02", FAIL, "plaintext-data-endpoint",
                              f"{callee or 'call'}(security_protocol={proto!r}) sends data unencrypted",
                              path, node.lineno, content=f"{callee} security_protocol {proto}",
                              severity=Severity.HIGH)
            sse = next((kw for kw in node.keywords if kw.arg == "ServerSideEncryption"), None)
            if sse is not None and isinstance(sse.value, ast.Constant) and sse.value.value:
                yield sig("DATA-01", PASS, "encryption-at-rest",
                          f"{callee or 'call'}(..., ServerSideEncryption={sse.value.value!r})", path, node.lineno)
            if callee.endswith("_create_unverified_context"):
                yield sig("DATA-02", FAIL, "tls-verify-disabled",
                          f"{callee}() disables TLS certificate checks", path, node.lineno,
                          content=f"{callee}", severity=Severity.HIGH)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and "://" in node.value[:20]:
            found = url_signal(node.value, path, node.lineno)
            if found is not None:
                yield found


def _name(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _name(node.value)
        return f"{base}.{node.attr}" if base else node.attr
    return ""


# --------------------------------------------------------------------------- DVC
@dataclass
class IniSection:
    """A section of a git-config style file with its keys and their lines."""

    name: str
    line: int
    keys: dict[str, str] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)


def parse_ini(text: str) -> list[IniSection]:
    """Sections of DVC's ``.dvc/config`` (``['remote "s3"']`` headers, ``key = value`` lines)."""
    sections: list[IniSection] = []
    current: IniSection | None = None
    for no, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        m = re.fullmatch(r"\[\s*'?(.*?)'?\s*\]", line)
        if m:
            current = IniSection(m.group(1), no)
            sections.append(current)
            continue
        if current is not None and "=" in line:
            key, value = line.split("=", 1)
            current.keys[key.strip().lower()] = value.strip()
            current.lines[key.strip().lower()] = no
    return sections


def dvc_signals(text: str, path: str) -> Iterator[Signal]:
    """Remote encryption and plain-HTTP endpoints of a DVC configuration."""
    for s in parse_ini(text):
        if not s.name.startswith("remote"):
            continue
        remote = s.name.split('"')[1] if '"' in s.name else s.name
        url = s.keys.get("url", "")
        if "sse" in s.keys or "sse_kms_key_id" in s.keys:
            key = "sse" if "sse" in s.keys else "sse_kms_key_id"
            yield sig("DATA-01", PASS, "encryption-at-rest",
                      f"DVC remote {remote} ({url}) {key} = {s.keys[key]}", path, s.lines[key])
        for key in ("endpointurl", "url"):
            value = s.keys.get(key, "")
            if value:
                found = url_signal(value, path, s.lines[key])
                if found is not None:
                    yield found
