"""SBOM documents found by content, parsed and validated in each format; coverage against declared names."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlposture.probes.sbom.compare import coverage, normalize
from mlposture.probes.sbom.documents import SbomDocument, Unparsed, find_documents, parse, sniff
from mlposture.scanner.repo import RepoView

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "sbom"


def docs_by_path(path: Path) -> dict[str, SbomDocument | Unparsed]:
    found, _ = find_documents(RepoView(path))
    return {d.path: d for d in found}


def test_every_format_found_by_content_not_name() -> None:
    docs = docs_by_path(FIXTURES / "formats")
    # bom.json is named like an SBOM but is not one
    assert sorted(docs) == ["bom.rdf", "bom.spdx.yaml", "inventory.xml", "packages.spdx.json", "release.spdx"]
    got = {p: (d.format, d.encoding, d.spec_version, d.line, [c.name for c in d.components])
           for p, d in docs.items() if isinstance(d, SbomDocument)}
    assert got == {
        "bom.rdf": ("spdx", "rdf", "SPDX-2.3", 3, ["requests"]),
        "bom.spdx.yaml": ("spdx", "yaml", "SPDX-2.2", 1, ["requests"]),
        "inventory.xml": ("cyclonedx", "xml", "1.5", 2, ["requests", "sentiment"]),
        "packages.spdx.json": ("spdx", "json", "SPDX-2.3", 2, ["requests"]),
        "release.spdx": ("spdx", "tag-value", "SPDX-2.3", 1, ["requests", "numpy"]),
    }
    xml = docs["inventory.xml"]
    assert isinstance(xml, SbomDocument) and xml.valid
    assert [m.name for m in xml.models] == ["sentiment"]
    assert xml.components[0].purl == "pkg:pypi/requests@2.32.3" and xml.components[0].ecosystem == "pypi"
    tv = docs["release.spdx"]
    assert isinstance(tv, SbomDocument) and tv.components[0].purl == "pkg:pypi/requests@2.32.3"
    assert tv.components[1].version == "1.26.4" and tv.components[1].purl is None


def test_cyclonedx_json_nested_components_and_models() -> None:
    doc = docs_by_path(FIXTURES / "present")["docs/bill-of-materials.json"]
    assert isinstance(doc, SbomDocument)
    assert (doc.format, doc.encoding, doc.spec_version, doc.line) == ("cyclonedx", "json", "1.6", 3)
    assert [c.name for c in doc.components] == ["numpy", "requests", "urllib3", "classifier"]
    assert doc.describe() == "CycloneDX 1.6 JSON, 4 components (1 ML model)"


def test_validation_problems_and_parse_errors() -> None:
    docs = docs_by_path(FIXTURES / "malformed")
    broken = docs["broken.cdx.json"]
    assert isinstance(broken, Unparsed) and broken.line == 6 and broken.error.startswith("JSON:")
    bomb = docs["bomb.xml"]
    assert isinstance(bomb, Unparsed) and bomb.error == "XML refused: EntitiesForbidden"
    yml = docs["bad.spdx.yaml"]
    assert isinstance(yml, Unparsed) and yml.error.startswith("YAML:")
    future = docs["future.json"]
    assert isinstance(future, SbomDocument) and future.problems == ("unknown spec version 9.9",)
    empty = docs_by_path(FIXTURES / "anti-pattern")["sbom/empty.cdx.json"]
    assert isinstance(empty, SbomDocument) and empty.problems == ("no components",) and not empty.valid


def test_sniff_and_parse_edge_cases() -> None:
    assert sniff('{"name": "x"}') is None
    assert sniff('{\n  "@context": "https://spdx.org/rdf/3.0.1/spdx-context.jsonld",\n') == ("spdx", "json")
    doc = parse("x.json", '["bomFormat"]', "cyclonedx", "json")
    assert isinstance(doc, Unparsed) and doc.error == "the document is not a JSON object"
    spdx3 = parse("s3.json", """{"@context": "https://spdx.org/rdf/3.0.1/spdx-context.jsonld", "@graph": [
      {"type": "CreationInfo", "specVersion": "3.0.1"},
      {"type": "software_Package", "name": "requests", "software_packageVersion": "2.32.3"},
      {"type": "ai_AIPackage", "name": "llm"}]}""", "spdx", "json")
    assert isinstance(spdx3, SbomDocument) and spdx3.spec_version == "SPDX-3.0.1" and spdx3.valid
    assert [m.name for m in spdx3.models] == ["llm"]
    nov = parse("n.json", '{"bomFormat": "CycloneDX", "components": [{"name": "a"}]}', "cyclonedx", "json")
    assert isinstance(nov, SbomDocument) and nov.problems == ("no spec version",)


def test_binary_and_excluded_files_are_not_sniffed(tmp_path: Path) -> None:
    (tmp_path / "weights.bin").write_bytes(b'\x00{"bomFormat": "CycloneDX", "specVersion": "1.6"}')
    (tmp_path / "data.dat").write_bytes(b'{"bomFormat": "CycloneDX"\x00, "specVersion": "1.6"}')
    (tmp_path / "notes.md").write_text('"bomFormat": "CycloneDX"')
    found, sniffed = find_documents(RepoView(tmp_path))
    assert found == [] and sniffed == 1


@pytest.mark.parametrize(("name", "expected"), [("Foo_Bar.baz", "foo-bar-baz"), ("PyYAML", "pyyaml")])
def test_normalize(name: str, expected: str) -> None:
    assert normalize(name) == expected


def test_coverage_names_missing_declared_dependencies() -> None:
    doc = docs_by_path(FIXTURES / "present")["docs/bill-of-materials.json"]
    assert isinstance(doc, SbomDocument)
    cov = coverage(doc, ["NumPy", "requests", "torch", "scikit_learn"])
    assert cov.declared == 4 and cov.missing == ("scikit-learn", "torch")
    assert coverage(doc, ["numpy"]).missing == ()


def test_sorted_key_json_with_bomformat_at_the_end_is_found(tmp_path: Path) -> None:
    components = ",\n".join(
        f'    {{"name": "pkg{i}", "purl": "pkg:pypi/pkg{i}@1.0.{i}", "type": "library", "version": "1.0.{i}"}}'
        for i in range(400))
    text = f'{{\n  "components": [\n{components}\n  ],\n  "bomFormat": "CycloneDX",\n  "specVersion": "1.6"\n}}\n'
    assert len(text) > 32 * 1024
    (tmp_path / "out.json").write_text(text)
    (found,) = find_documents(RepoView(tmp_path))[0]
    assert isinstance(found, SbomDocument) and found.valid and len(found.components) == 400
    assert found.line == text[: text.index('"bomFormat"')].count("\n") + 1


def test_stale_versions_are_named() -> None:
    doc = docs_by_path(FIXTURES / "present")["docs/bill-of-materials.json"]
    assert isinstance(doc, SbomDocument)
    cov = coverage(doc, [("numpy", "2.0.0"), ("requests", "2.32.3"), ("torch", None)])
    assert cov.missing == ("torch",) and cov.stale == ("numpy 2.0.0 (SBOM: 1.26.4)",)
