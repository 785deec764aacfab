"""Find SBOM documents by their content and read them (CycloneDX JSON/XML, SPDX JSON/tag-value/YAML/RDF).

A file is an SBOM because of what it says, not its name: ``"bomFormat": "CycloneDX"``, a ``<bom>`` element in a
``cyclonedx.org/schema/bom`` namespace, ``spdxVersion``/``SPDXVersion: SPDX-2.x``, an SPDX 3 JSON-LD context, or
an RDF ``SpdxDocument``. The head of every text file (NUL-free, not a model/archive/media extension, at most
:data:`MAX_SBOM_BYTES`) is sniffed, and the tail of a JSON object too (serializers that sort keys, such as
cyclonedx-python-lib, write ``bomFormat`` after the components); candidates are parsed in full: JSON with
``json``, XML with ``defusedxml`` (no entity expansion, no external fetches), YAML with
:mod:`mlposture.scanner.yamlsafe`,
tag-value line by line.

Validation is structural: the document parses, has a known spec version, and lists components (CycloneDX
``components``, nested ones included; SPDX ``packages`` or SPDX 3 software packages).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from mlposture.scanner.repo import BINARY_SNIFF_BYTES, RepoFile, RepoView
from mlposture.scanner.yamlsafe import YamlError
from mlposture.scanner.yamlsafe import load as yaml_load

MAX_SBOM_BYTES = 32 * 1024 * 1024
SNIFF_BYTES = 16 * 1024
MAX_COMPONENTS = 200_000
MAX_NESTING = 50

CYCLONEDX_VERSIONS = frozenset({"1.0", "1.1", "1.2", "1.3", "1.4", "1.5", "1.6", "1.7"})
SPDX_VERSIONS = frozenset({"SPDX-2.0", "SPDX-2.1", "SPDX-2.2", "SPDX-2.3", "SPDX-3.0", "SPDX-3.0.1"})

#: Extensions that are never SBOMs (models, archives, media, code); everything else is sniffed.
_NOT_SBOM_SUFFIXES = frozenset({
    ".py", ".pyi", ".ipynb", ".md", ".rst", ".pt", ".pth", ".bin", ".safetensors", ".onnx", ".pkl", ".pickle",
    ".joblib", ".h5", ".hdf5", ".keras", ".gguf", ".pb", ".tflite", ".ckpt", ".npy", ".npz", ".parquet",
    ".arrow", ".zip", ".gz", ".tgz", ".bz2", ".xz", ".zst", ".tar", ".whl", ".png", ".jpg", ".jpeg", ".gif",
    ".pdf", ".mp4", ".wav", ".so", ".dll", ".pyc", ".csv", ".tsv", ".tf", ".hcl", ".lock", ".toml", ".cfg", ".ini",
    ".js", ".ts", ".go", ".rs", ".java", ".c", ".h", ".cpp", ".sh", ".css", ".html",
})

_CDX_JSON = re.compile(r'"bomFormat"\s*:\s*"CycloneDX"')
_CDX_XML = re.compile(r"<(?:\w+:)?bom\b[^>]*cyclonedx\.org/schema/bom", re.S)
_SPDX_JSON = re.compile(r'"spdxVersion"\s*:\s*"SPDX-')
_SPDX3_JSON = re.compile(r'"@context"\s*:\s*"https?://spdx\.org/rdf/3\.')
_SPDX_TV = re.compile(r"^SPDXVersion:\s*SPDX-", re.M)
_SPDX_YAML = re.compile(r"^spdxVersion:\s*[\"']?SPDX-", re.M)
_SPDX_RDF = re.compile(r"spdx\.org/rdf/terms.*SpdxDocument", re.S)


@dataclass(frozen=True)
class SbomComponent:
    """One component listed by an SBOM."""

    name: str
    version: str | None = None
    purl: str | None = None
    type: str = "library"

    @property
    def ecosystem(self) -> str | None:
        """``pypi``, ``npm``... from the purl, when there is one."""
        if self.purl and self.purl.startswith("pkg:"):
            return self.purl[4:].split("/", 1)[0].lower()
        return None


@dataclass(frozen=True)
class SbomDocument:
    """A parsed SBOM: format (``cyclonedx``/``spdx``), encoding, spec version, components, problems found."""

    path: str
    line: int
    format: str
    encoding: str
    spec_version: str | None
    components: tuple[SbomComponent, ...] = ()
    problems: tuple[str, ...] = ()

    @property
    def valid(self) -> bool:
        """Parsed, known spec version, at least one component."""
        return not self.problems

    @property
    def models(self) -> tuple[SbomComponent, ...]:
        """AI-BOM entries: CycloneDX ``machine-learning-model`` components, SPDX 3 AI packages."""
        return tuple(c for c in self.components if c.type in ("machine-learning-model", "ai_AIPackage"))

    def describe(self) -> str:
        """``CycloneDX 1.6 JSON, 12 components (1 ML model)``."""
        fmt = "CycloneDX" if self.format == "cyclonedx" else "SPDX"
        ver = self.spec_version or "?"
        if fmt == "SPDX" and ver.startswith("SPDX-"):
            ver = ver[5:]
        enc = {"json": "JSON", "xml": "XML", "tag-value": "tag-value", "yaml": "YAML", "rdf": "RDF/XML"}.get(
            self.encoding, self.encoding)
        models = f" ({len(self.models)} ML model{'s' if len(self.models) != 1 else ''})" if self.models else ""
        count = len(self.components)
        return f"{fmt} {ver} {enc}, {count} component{'s' if count != 1 else ''}{models}"


@dataclass(frozen=True)
class Unparsed:
    """A file that looks like an SBOM but could not be read; ``line`` of the error when known."""

    path: str
    format: str
    encoding: str
    error: str
    line: int | None = None


def sniff(head: str) -> tuple[str, str] | None:
    """(format, encoding) when the head of a file says it is an SBOM."""
    if _CDX_JSON.search(head):
        return "cyclonedx", "json"
    if _SPDX_JSON.search(head) or _SPDX3_JSON.search(head):
        return "spdx", "json"
    if _CDX_XML.search(head):
        return "cyclonedx", "xml"
    if _SPDX_TV.search(head):
        return "spdx", "tag-value"
    if _SPDX_YAML.search(head):
        return "spdx", "yaml"
    if _SPDX_RDF.search(head):
        return "spdx", "rdf"
    return None


def _line_of(text: str, pattern: re.Pattern[str]) -> int:
    m = pattern.search(text)
    return text.count("\n", 0, m.start()) + 1 if m else 1


# ---------------------------------------------------------------------------------------------------------- CycloneDX
def _cdx_json_components(nodes: Any, out: list[SbomComponent], depth: int = 0) -> None:
    if not isinstance(nodes, list) or depth > MAX_NESTING:
        return
    for node in nodes:
        if len(out) >= MAX_COMPONENTS:
            return
        if not isinstance(node, dict) or not isinstance(node.get("name"), str):
            continue
        out.append(SbomComponent(node["name"], _opt(node.get("version")), _opt(node.get("purl")),
                                 str(node.get("type") or "library")))
        _cdx_json_components(node.get("components"), out, depth + 1)


def _opt(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1] if "}" in tag else tag.rsplit(":", 1)[-1]


def _ns(tag: str) -> str:
    return tag[1:].split("}", 1)[0] if tag.startswith("{") else ""


def _child_text(el: Element, name: str) -> str | None:
    for child in el:
        if _local(child.tag) == name:
            return (child.text or "").strip() or None
    return None


def _cdx_xml_components(parent: Element, out: list[SbomComponent], depth: int = 0) -> None:
    if depth > MAX_NESTING:
        return
    for holder in parent:
        if _local(holder.tag) != "components":
            continue
        for comp in holder:
            if _local(comp.tag) != "component" or len(out) >= MAX_COMPONENTS:
                continue
            name = _child_text(comp, "name")
            if name:
                out.append(SbomComponent(name, _child_text(comp, "version"), _child_text(comp, "purl"),
                                         comp.get("type") or "library"))
            _cdx_xml_components(comp, out, depth + 1)


# ---------------------------------------------------------------------------------------------------------- SPDX
def _spdx_purl(pkg: dict[str, Any]) -> str | None:
    refs = pkg.get("externalRefs")
    if isinstance(refs, list):
        for ref in refs:
            if isinstance(ref, dict) and str(ref.get("referenceType", "")).lower() == "purl":
                return _opt(ref.get("referenceLocator"))
    return None


def _spdx_mapping(doc: Any) -> tuple[str | None, list[SbomComponent]]:
    """Spec version and packages of an SPDX 2 JSON/YAML document or an SPDX 3 JSON-LD graph."""
    if not isinstance(doc, dict):
        return None, []
    comps: list[SbomComponent] = []
    version = _opt(doc.get("spdxVersion"))
    packages = doc.get("packages")
    if isinstance(packages, list):
        for pkg in packages[:MAX_COMPONENTS]:
            if isinstance(pkg, dict) and isinstance(pkg.get("name"), str):
                comps.append(SbomComponent(pkg["name"], _opt(pkg.get("versionInfo")), _spdx_purl(pkg)))
    graph = doc.get("@graph")
    if isinstance(graph, list):
        for el in graph[:MAX_COMPONENTS]:
            if not isinstance(el, dict):
                continue
            etype = str(el.get("type") or el.get("@type") or "")
            if etype in ("CreationInfo",) and isinstance(el.get("specVersion"), str):
                version = "SPDX-" + el["specVersion"]
            if etype in ("software_Package", "ai_AIPackage", "dataset_DatasetPackage") and isinstance(
                    el.get("name"), str):
                comps.append(SbomComponent(el["name"], _opt(el.get("software_packageVersion")),
                                           _opt(el.get("software_packageUrl")),
                                           etype if etype == "ai_AIPackage" else "library"))
    return version, comps


def _spdx_tag_value(text: str) -> tuple[str | None, list[SbomComponent]]:
    version: str | None = None
    comps: list[SbomComponent] = []
    name: str | None = None
    pkg_version: str | None = None
    purl: str | None = None

    def flush() -> None:
        if name is not None and len(comps) < MAX_COMPONENTS:
            comps.append(SbomComponent(name, pkg_version, purl))

    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key, value = key.strip(), value.strip()
        if key == "SPDXVersion":
            version = value
        elif key == "PackageName":
            flush()
            name, pkg_version, purl = value, None, None
        elif key == "PackageVersion" and name is not None:
            pkg_version = value
        elif key == "ExternalRef" and name is not None:
            parts = value.split()
            if len(parts) >= 3 and parts[1].lower() == "purl":
                purl = parts[2]
    flush()
    return version, comps


def _spdx_rdf(root: Element) -> tuple[str | None, list[SbomComponent]]:
    version: str | None = None
    comps: list[SbomComponent] = []
    for el in root.iter():
        tag = _local(el.tag)
        if tag == "specVersion" and el.text and version is None:
            version = el.text.strip()
        elif tag == "Package" and len(comps) < MAX_COMPONENTS:
            name = _child_text(el, "name")
            if name:
                comps.append(SbomComponent(name, _child_text(el, "versionInfo")))
    return version, comps


# ---------------------------------------------------------------------------------------------------------- entry
def parse(path: str, text: str, fmt: str, encoding: str) -> SbomDocument | Unparsed:
    """Read one SBOM whose kind :func:`sniff` found; never raises for bad content."""
    version: str | None = None
    comps: list[SbomComponent] = []
    line = 1
    try:
        if fmt == "cyclonedx" and encoding == "json":
            doc = json.loads(text)
            if not isinstance(doc, dict):
                return Unparsed(path, fmt, encoding, "the document is not a JSON object")
            version = _opt(doc.get("specVersion"))
            _cdx_json_components(doc.get("components"), comps)
            line = _line_of(text, _CDX_JSON)
        elif fmt == "cyclonedx":
            root = SafeET.fromstring(text)
            ns = _ns(root.tag)
            version = ns.rsplit("/", 1)[-1] if ns.startswith("http://cyclonedx.org/schema/bom/") else None
            _cdx_xml_components(root, comps)
            line = _line_of(text, re.compile(r"<(?:\w+:)?bom\b"))
        elif encoding == "json":
            version, comps = _spdx_mapping(json.loads(text))
            line = _line_of(text, re.compile(r'"spdxVersion"|"@context"'))
        elif encoding == "yaml":
            version, comps = _spdx_mapping(yaml_load(text))
            line = _line_of(text, _SPDX_YAML)
        elif encoding == "tag-value":
            version, comps = _spdx_tag_value(text)
            line = _line_of(text, _SPDX_TV)
        else:
            version, comps = _spdx_rdf(SafeET.fromstring(text))
            line = _line_of(text, re.compile(r"SpdxDocument"))
    except json.JSONDecodeError as exc:
        return Unparsed(path, fmt, encoding, f"JSON: {exc.msg}", exc.lineno)
    except YamlError as exc:
        return Unparsed(path, fmt, encoding, f"YAML: {exc.message}", exc.line)
    except DefusedXmlException as exc:
        return Unparsed(path, fmt, encoding, f"XML refused: {type(exc).__name__}", 1)
    except SafeET.ParseError as exc:
        return Unparsed(path, fmt, encoding, f"XML: {exc}", exc.position[0] if exc.position else None)
    except (RecursionError, ValueError) as exc:
        return Unparsed(path, fmt, encoding, f"{type(exc).__name__}: {exc}")
    problems: list[str] = []
    known = CYCLONEDX_VERSIONS if fmt == "cyclonedx" else SPDX_VERSIONS
    if version is None:
        problems.append("no spec version")
    elif version not in known:
        problems.append(f"unknown spec version {version}")
    if not comps:
        problems.append("no components")
    return SbomDocument(path, line, fmt, encoding, version, tuple(comps), tuple(problems))


def find_documents(repo: RepoView) -> tuple[list[SbomDocument | Unparsed], int]:
    """Every SBOM of the tree, parsed, and the number of files sniffed."""
    out: list[SbomDocument | Unparsed] = []
    sniffed = 0
    for f in repo.files:
        kind = _sniff_file(repo, f)
        if kind is None:
            sniffed += f.suffix not in _NOT_SBOM_SUFFIXES
            continue
        sniffed += 1
        if f.size > MAX_SBOM_BYTES:
            repo.note(f"SBOM larger than {MAX_SBOM_BYTES // (1024 * 1024)} MiB ({f.size} bytes), not read", f.path)
            out.append(Unparsed(f.path, kind[0], kind[1], "too large to read"))
            continue
        data = repo.read_bytes(f, MAX_SBOM_BYTES)
        if data is None:
            continue
        text = data.decode("utf-8", "replace")
        if text.startswith("\ufeff"):
            text = text[1:]
        out.append(parse(f.path, text, kind[0], kind[1]))
    return out, sniffed


def _tail(repo: RepoView, f: RepoFile, size: int) -> bytes:
    """The last ``size`` bytes (serializers that sort keys write ``bomFormat`` after the components)."""
    stream = repo.open_binary(f)
    if stream is None:
        return b""
    try:
        stream.seek(max(0, f.size - size))
        return stream.read(size)
    except OSError:
        return b""
    finally:
        stream.close()


def _sniff_file(repo: RepoView, f: RepoFile) -> tuple[str, str] | None:
    if f.suffix in _NOT_SBOM_SUFFIXES or f.size == 0:
        return None
    head = repo.read_bytes(f, SNIFF_BYTES)
    if head is None or b"\x00" in head[:BINARY_SNIFF_BYTES]:
        return None
    found = sniff(head.decode("utf-8", "replace"))
    if found is None and f.size > SNIFF_BYTES and head.lstrip()[:1] == b"{":
        found = sniff(_tail(repo, f, SNIFF_BYTES).decode("utf-8", "replace"))
        if found is not None and found[1] != "json":
            found = None
    return found
