"""``mlposture sbom``: a CycloneDX 1.6 AI-BOM, validated with cyclonedx-python-lib's own validator."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from cyclonedx.output.json import JsonV1Dot6
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from mlposture.probes.sbom.aibom import build_aibom, make_bom
from mlposture.probes.sbom.declared import DeclaredDependency, declared_dependencies
from mlposture.probes.sbom.models import ModelArtifact, detect_format, find_models
from mlposture.scanner.cli import cli
from mlposture.scanner.plugins import discover
from mlposture.scanner.repo import RepoView

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "sbom"
VALIDATOR = JsonStrictValidator(SchemaVersion.V1_6)
SHA_A = "a" * 64
SHA_B = "0123456789abcdef" * 4


def _valid(text: str) -> None:
    errors = VALIDATOR.validate_str(text)
    assert errors is None, str(errors)


def test_command_writes_a_valid_cyclonedx_16_aibom_with_the_model_files(tmp_path: Path) -> None:
    out = tmp_path / "aibom.cdx.json"
    result = CliRunner().invoke(cli, ["sbom", str(FIXTURES / "present"), "-o", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    _valid(text)
    doc = json.loads(text)
    assert doc["bomFormat"] == "CycloneDX" and doc["specVersion"] == "1.6"
    assert doc["metadata"]["component"]["name"] == "present"
    assert doc["metadata"]["tools"]["components"][0]["name"] == "mlposture"
    models = {c["bom-ref"]: c for c in doc["components"] if c["type"] == "machine-learning-model"}
    assert sorted(models) == ["model:models/classifier.safetensors", "model:models/legacy.pkl"]
    for ref, comp in models.items():
        path = FIXTURES / "present" / ref.split(":", 1)[1]
        assert comp["hashes"] == [{"alg": "SHA-256", "content": hashlib.sha256(path.read_bytes()).hexdigest()}]
    props = {p["name"]: p["value"] for p in models["model:models/legacy.pkl"]["properties"]}
    assert props["mlposture:format"] == "pickle (protocol 4)"
    assert props["mlposture:path"] == "models/legacy.pkl"
    sprops = {p["name"]: p["value"] for p in models["model:models/classifier.safetensors"]["properties"]}
    assert sprops["mlposture:format"] == "safetensors"
    has_serialization = any(cls.name == "serialization" for cls, _ in discover().probes)
    assert ("mlposture:serialization" in props) == has_serialization
    if has_serialization:  # the verdict of the serialization probe, run through the probe API
        assert props["mlposture:serialization"].startswith("fail: pickle model file")
        assert sprops["mlposture:serialization"].startswith("pass: safetensors model file")
    assert "model file(s)" in result.output


def test_command_to_stdout_and_without_models(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("nothing here\n")
    result = CliRunner().invoke(cli, ["sbom", str(tmp_path), "--no-verdicts"])
    assert result.exit_code == 0
    start = result.output.index("{")
    end = result.output.rindex("}") + 1
    _valid(result.output[start:end])
    assert "components" not in json.loads(result.output[start:end]) or not json.loads(
        result.output[start:end])["components"]


def test_command_refuses_a_missing_path(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["sbom", str(tmp_path / "nope")])
    assert result.exit_code == 2


def test_dependencies_with_versions_purls_and_lock_hashes_validate() -> None:
    deps = [
        DeclaredDependency("Requests", None, "requirements.in", 1),
        DeclaredDependency("requests", "2.32.3", "requirements.txt", 4, (f"sha256:{SHA_A}",), locked=True),
        DeclaredDependency("requests", "2.32.3", "poetry.lock", 10, (f"sha256:{SHA_B}", "md5:zz"), locked=True),
        DeclaredDependency("torch", None, "pyproject.toml", 7),
    ]
    model = ModelArtifact("models/m.onnx", 10, SHA_A, "onnx", "pass: safe format")
    bom = make_bom("demo", "abc123", deps, [model])
    text = str(JsonV1Dot6(bom).output_as_string(indent=2))
    _valid(text)
    doc = json.loads(text)
    comps = {c["bom-ref"]: c for c in doc["components"]}
    req = comps["pkg:pypi/requests@2.32.3"]
    assert req["version"] == "2.32.3" and req["purl"] == "pkg:pypi/requests@2.32.3"
    assert sorted(h["content"] for h in req["hashes"]) == sorted([SHA_A, SHA_B])  # invalid md5 dropped
    torch = comps["pkg:pypi/torch"]
    assert "version" not in torch
    assert {"name": "mlposture:version", "value": "not pinned"} in torch["properties"]
    m = comps["model:models/m.onnx"]
    assert m["type"] == "machine-learning-model"
    assert {"name": "mlposture:serialization", "value": "pass: safe format"} in m["properties"]
    assert len(doc["dependencies"]) >= 1


@pytest.mark.parametrize(("head", "suffix", "expected"), [
    (b"PK\x03\x04rest", ".pt", "zip (pytorch/keras archive)"),
    (b"\x80\x02}q\x00.", ".bin", "pickle (protocol 2)"),
    (b"GGUF\x03\x00\x00\x00", ".gguf", "gguf"),
    (b"\x89HDF\r\n\x1a\n", ".h5", "hdf5"),
    (b"\x1c\x00\x00\x00TFL3", ".tflite", "tflite"),
    (b"version https://git-lfs.github.com/spec/v1\n", ".pt", "git-lfs pointer (content not in the repository)"),
    (b"\x08\x07\x12\x04", ".onnx", "onnx"),
    (b"\x00\x00", ".weird", "unknown"),
])
def test_detect_format_reads_the_bytes(head: bytes, suffix: str, expected: str) -> None:
    assert detect_format(head, suffix) == expected


def test_find_models_hashes_without_loading() -> None:
    models = find_models(RepoView(FIXTURES / "present"), with_verdicts=False)
    assert [(m.path, m.format, m.verdict) for m in models] == [
        ("models/classifier.safetensors", "safetensors", None), ("models/legacy.pkl", "pickle (protocol 4)", None)]


def test_build_aibom_from_the_repository() -> None:
    result = build_aibom(RepoView(FIXTURES / "present"), with_verdicts=False)
    assert result.notes == ()
    assert [(d.name, d.version, d.path, d.line) for d in result.dependencies] == [
        ("numpy", "1.26.4", "requirements.txt", 1), ("requests", "2.32.3", "requirements.txt", 2)]
    assert [m.path for m in result.models] == ["models/classifier.safetensors", "models/legacy.pkl"]
    _valid(result.to_json())
    declared, why = declared_dependencies(RepoView(FIXTURES / "absent"))
    assert why is None and declared is not None and [d.name for d in declared] == ["requests"]


def test_from_manifests_keeps_direct_runtime_pypi_and_locked_packages() -> None:
    from mlposture.probes.sbom.declared import from_manifests
    from mlposture.scanner.sources.manifests import model

    kind = model.SourceKind
    req = model.DeclaredRequirement
    manifests = model.Manifests(
        requirements=(
            req("requests", ">=2", None, "requirements.txt", 1, kind.REQUIREMENTS),
            req("numpy", "==1.26.4", "1.26.4", "requirements.txt", 2, kind.REQUIREMENTS,
                hashes=(f"sha256:{SHA_A}",)),
            req("pytest", "", None, "requirements-dev.txt", 1, kind.REQUIREMENTS, is_runtime=False),
            req("torch", "", None, "Dockerfile", 3, kind.DOCKERFILE),
            req("python", "=3.11", "3.11", "environment.yml", 4, kind.CONDA, ecosystem="conda"),
        ),
        locked=(model.LockedPackage("requests", "2.32.3", "poetry.lock", 10, kind.POETRY_LOCK,
                                    (f"sha256:{SHA_B}",)),),
    )
    deps = from_manifests(manifests)
    assert [(d.name, d.version, d.path, d.line, d.direct, d.locked) for d in deps] == [
        ("requests", None, "requirements.txt", 1, True, False),
        ("numpy", "1.26.4", "requirements.txt", 2, True, False),
        ("requests", "2.32.3", "poetry.lock", 10, False, True),
    ]
    bom = make_bom("demo", None, deps, [])
    text = str(JsonV1Dot6(bom).output_as_string(indent=2))
    _valid(text)
    comps = {c["bom-ref"]: c for c in json.loads(text)["components"]}
    assert sorted(comps) == ["pkg:pypi/numpy@1.26.4", "pkg:pypi/requests@2.32.3"]
    assert comps["pkg:pypi/requests@2.32.3"]["hashes"] == [{"alg": "SHA-256", "content": SHA_B}]
    assert {"name": "mlposture:declared-in", "value": "poetry.lock:10"} in comps["pkg:pypi/requests@2.32.3"][
        "properties"]


def test_command_lists_dependencies_with_lock_hashes_and_models(tmp_path: Path) -> None:
    out = tmp_path / "bom.json"
    result = CliRunner().invoke(cli, ["sbom", str(FIXTURES / "aibom"), "-o", str(out), "--no-verdicts"])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    _valid(text)
    comps = {c["bom-ref"]: c for c in json.loads(text)["components"]}
    assert sorted(comps) == ["model:models/encoder.onnx", "model:models/llm.gguf", "pkg:pypi/certifi@2024.8.30",
                             "pkg:pypi/requests@2.32.3"]
    req = comps["pkg:pypi/requests@2.32.3"]
    assert (req["type"], req["name"], req["version"]) == ("library", "requests", "2.32.3")
    assert [h["content"][:8] for h in req["hashes"]] == ["55365417", "70761cfe"]
    assert {"name": "mlposture:declared-in", "value": "requirements.txt:11"} in req["properties"]
    gguf = {p["name"]: p["value"] for p in comps["model:models/llm.gguf"]["properties"]}
    assert gguf["mlposture:format"] == "gguf" and "mlposture:serialization" not in gguf
    assert "2 dependencies, 2 model file(s)" in result.output


def test_the_aibom_written_by_the_command_is_found_by_the_probe(tmp_path: Path) -> None:
    from mlposture.probes.sbom import SbomProbe
    from mlposture.scanner.probe import Evidence
    from mlposture.scanner.settings import Settings

    result = CliRunner().invoke(cli, ["sbom", str(FIXTURES / "aibom"), "-o", str(tmp_path / "release.bom"),
                                      "--no-verdicts"])
    assert result.exit_code == 0
    (tmp_path / "requirements.txt").write_text("requests==2.32.3\n")
    items = list(SbomProbe().run(RepoView(tmp_path), Settings()))
    assert [(e.path, e.effect.value) for e in items if isinstance(e, Evidence)] == [("release.bom", "partial")]
    msg = next(e.message for e in items if isinstance(e, Evidence))
    assert "CycloneDX 1.6 JSON, 4 components (2 ML models)" in msg and msg.endswith(
        "covers the declared dependency")
