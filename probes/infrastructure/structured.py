"""YAML and JSON documents with line numbers, including Helm templates read tolerantly.

Every YAML file goes through :mod:`mlposture.scanner.yamlsafe` (bounded aliases, depth and document count; custom tags
such as CloudFormation's ``!Ref`` kept as plain values). JSON is loaded the same way, since JSON is YAML and the
loader keeps lines; a JSON file PyYAML rejects is retried with :mod:`json` (lines then fall back to 1).

Helm templates (files under a chart's ``templates/`` folder) are Go templates, not YAML: directives are stripped
before loading (a line that is only ``{{- ... }}`` is blanked, an inline ``{{ .Values.x }}`` becomes the
placeholder ``HELM_VALUE``), so that the line numbers stay those of the file. A template that still does not load
is reported as a note and read no further. Lines and paths inside the loaded documents are read with the shared
helpers of :mod:`mlposture.scanner.yamlsafe` (``line_of``, ``dig``, ``item_lines``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from mlposture.scanner.readers import ReadError, json_loads
from mlposture.scanner.yamlsafe import YamlError, load_all

HELM_PLACEHOLDER = "HELM_VALUE"
_DIRECTIVE_LINE = re.compile(r"^[ \t]*\{\{[^\n]{0,500}?\}\}[ \t]*$")  # bounded: linear on "{{{{..." lines
_INLINE = re.compile(r"\{\{(?:[^{}\n]|\}(?!\}))*\}\}")  # no "{" inside: a failed start stops at the next "{"
_BLOCK_START = re.compile(r"\{\{-?\s*/\*")


@dataclass(frozen=True)
class Loaded:
    """The documents of one file, or the error that stopped loading it."""

    docs: list[Any]
    error: str | None = None
    error_line: int | None = None


def is_helm_template(path: str) -> bool:
    """True for files inside a chart's ``templates/`` folder."""
    return "/templates/" in "/" + path and path.rsplit(".", 1)[-1].lower() in ("yaml", "yml", "tpl")


def strip_helm(text: str) -> str:
    """Template directives removed, line count preserved."""
    out = []
    in_comment = False
    for line in text.splitlines():
        if in_comment:
            if "*/" in line:
                in_comment = False
            out.append("")
            continue
        if _BLOCK_START.search(line) and "*/" not in line:
            in_comment = True
            out.append("")
            continue
        if _DIRECTIVE_LINE.match(line):
            out.append("")
            continue
        out.append(_INLINE.sub(HELM_PLACEHOLDER, line))
    return "\n".join(out)


def load_text(text: str, path: str) -> Loaded:
    """Documents of a YAML or JSON text; Helm templates are stripped first."""
    source = strip_helm(text) if is_helm_template(path) else text
    try:
        docs = [d for d in load_all(source) if d is not None]
        return Loaded(docs)
    except YamlError as exc:
        if path.lower().endswith(".json"):
            try:
                return Loaded([json_loads(text)])
            except ReadError as jexc:
                return Loaded([], f"JSON parse error: {jexc.message}", jexc.line)
        return Loaded([], f"YAML parse error: {exc.message}", exc.line)


def as_list(value: Any) -> list[Any]:
    """A list as is, a scalar as a one-item list, None as empty."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]
