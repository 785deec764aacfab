"""IAM policy documents: statements read from JSON, from Terraform ``jsonencode({...})`` and heredocs.

The judgement is deliberately narrow, as the catalog words it: an ``Allow`` statement granting every action
(``*``), or ``s3:*`` on every resource, is a wildcard grant; a ``Deny`` on ``aws:SecureTransport = false`` is TLS
enforcement. Everything else is "scoped" as far as a repository can tell.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from mlposture.scanner.readers import ReadError, json_loads

MAX_POLICY_CHARS = 200_000


@dataclass(frozen=True)
class Statement:
    """One policy statement, normalised to lists."""

    effect: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    condition: Any
    principal: Any = None

    def public(self) -> bool:
        """``Allow`` to every principal (``"*"`` or ``{"AWS": "*"}``) with no condition narrowing it."""
        if self.effect.lower() != "allow" or self.condition:
            return False
        p = self.principal
        if isinstance(p, str):
            return p.strip() == "*"
        if isinstance(p, dict):
            return any("*" in _as_list(v) for v in p.values())
        return False

    def wildcard(self) -> str | None:
        """The wildcard grant this statement makes (``Action "*"``, ``s3:* on Resource "*"``), or None."""
        if self.effect.lower() != "allow":
            return None
        acts = [a.lower() for a in self.actions]
        if "*" in acts:
            res = "*" if "*" in self.resources else ",".join(self.resources[:2])
            return f'Action "*" on Resource "{res}"'
        if "*" in self.resources:
            for a in acts:
                if a == "s3:*" or a == "s3:*object*":
                    return f'Action "{a}" on Resource "*"'
        return None

    def denies_insecure_transport(self) -> bool:
        """``Deny`` with ``Bool aws:SecureTransport false`` (or an ``s3:TlsVersion`` floor)."""
        if self.effect.lower() != "deny":
            return False
        text = json.dumps(self.condition).lower()
        return ("aws:securetransport" in text and "false" in text) or "s3:tlsversion" in text


def _as_list(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        return tuple(str(v) for v in value if isinstance(v, (str, int, float)))
    return ()


def statements_of(document: Any) -> list[Statement]:
    """Statements of a parsed policy document (a dict with ``Statement``), or of a bare statement list."""
    raw: Any = document.get("Statement", document.get("statement")) if isinstance(document, dict) else document
    if isinstance(raw, dict):
        raw = [raw]
    if not isinstance(raw, list):
        return []
    out = []
    for st in raw:
        if not isinstance(st, dict):
            continue
        get = {str(k).lower(): v for k, v in st.items()}
        out.append(Statement(str(get.get("effect", "Allow")), _as_list(get.get("action")),
                             _as_list(get.get("resource")), get.get("condition"), get.get("principal")))
    return out


_BARE = re.compile(r"[A-Za-z_][\w.\-\[\]*]*")


def hcl_object_to_json(text: str) -> str:
    """Rewrite an HCL object expression (``{Action = ["s3:*"], Resource = aws_s3_bucket.x.arn}``) as JSON.

    Keys become quoted, ``=`` becomes ``:``, bare references become strings; string literals are copied
    untouched (a single pass that skips over them, so ``"${a = b}"`` inside a string is left alone).
    """
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            literal = text[i:j + 1]
            k = j + 1
            while k < n and text[k] in " \t":
                k += 1
            if k < n and text[k] == "=" and text[k + 1:k + 2] != "=":
                out.append(literal + ":")
                i = k + 1
            else:
                out.append(literal)
                i = j + 1
            continue
        m = _BARE.match(text, i) if (ch.isalpha() or ch == "_") else None
        if m:
            word = m.group(0)
            k = m.end()
            while k < n and text[k] in " \t":
                k += 1
            if k < n and text[k] == "=" and text[k + 1:k + 2] != "=":
                out.append(json.dumps(word) + ":")
                i = k + 1
            elif word in ("true", "false", "null"):
                out.append(word)
                i = m.end()
            else:
                out.append(json.dumps(word))
                i = m.end()
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def parse_policy_text(value: Any) -> Any:
    """A policy document from a Terraform attribute value: a dict, JSON text, a heredoc or ``jsonencode``.

    Returns the parsed document or None when the value is an expression this reader cannot evaluate (a
    ``data.aws_iam_policy_document`` reference, a ``file()`` call...).
    """
    if isinstance(value, dict):
        return value
    if not isinstance(value, str) or len(value) > MAX_POLICY_CHARS:
        return None
    text = value.strip()
    m = re.match(r"^<<-?([A-Za-z_]\w*)\r?\n(.*)\n\s*\1\s*$", text, re.S)
    if m:
        text = m.group(2).strip()
    if text.startswith("${jsonencode(") and text.endswith(")}"):
        inner = text[len("${jsonencode("):-2]
        converted = hcl_object_to_json(inner)
        try:
            return json_loads(converted)
        except ReadError:
            return None
    if text.startswith("{"):
        try:
            return json_loads(text)
        except ReadError:
            return None
    return None
