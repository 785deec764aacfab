"""Recall and false alarms on the generated model corpus (``fixtures/serialization/generate.py``).

Every malicious technique must come out *dangerous* (or *suspicious* where the expected verdict says so: a format
problem that is not code execution), every benign file written by the real libraries must be free of dangerous
and suspicious verdicts (a pickled ``nn.Module`` of user code may be suspicious), and nothing is ever loaded: the
canary file the payloads would create never appears.
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import pytest

from mlposture.probes.serialization.artifacts import scan_file

ROOT = Path(__file__).resolve().parents[3]
CORPUS = ROOT / "fixtures" / "serialization" / "models"
EXPECTED: dict[str, str | None] = json.loads((ROOT / "fixtures" / "serialization" / "expected.json").read_text())
CANARY = "/tmp/mlposture-serialization-canary"
HAVE_LZ4 = importlib.util.find_spec("lz4") is not None


def expected_verdict(name: str) -> str | None:
    want = EXPECTED[name]
    if "lz4" in name and not HAVE_LZ4:
        return "suspicious"  # detected, not decompressed: reported as unscanned, never as clean
    return want


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_verdict_per_sample(name: str) -> None:
    artifact = scan_file(str(CORPUS / name), name)
    got = artifact.verdict if artifact is not None else None
    assert got == expected_verdict(name), (name, artifact)


def test_recall_and_false_alarms() -> None:
    malicious = [n for n, v in EXPECTED.items() if v == "dangerous" and ("lz4" not in n or HAVE_LZ4)]
    benign = [n for n, v in EXPECTED.items() if v in ("pickle", "safe", None) and ("lz4" not in n or HAVE_LZ4)]
    caught = 0
    false_alarms = []
    for name in malicious:
        a = scan_file(str(CORPUS / name), name)
        caught += a is not None and a.verdict == "dangerous"
    for name in benign:
        a = scan_file(str(CORPUS / name), name)
        if a is not None and a.verdict in ("dangerous", "suspicious"):
            false_alarms.append(name)
    assert len(malicious) >= 60 and len(benign) >= 25
    assert caught == len(malicious)
    assert false_alarms == []
    assert not os.path.exists(CANARY)


def test_details_a_user_sees() -> None:
    a = scan_file(str(CORPUS / "mal_torch_name_mismatch.pt"), "m.pt")
    assert a is not None and a.kind == "PyTorch zip"
    rules = {i.rule: i for i in a.issues}
    assert "local name 'archive/data.pkX' differs" in rules["archive-anomaly"].message
    danger = rules["dangerous-global"]
    assert danger.member == "archive/data.pkl" and "posix.system" in danger.message

    a = scan_file(str(CORPUS / "mal_torch_bad_crc.pt"), "crc.pt")
    assert a is not None and "fails its CRC check" in a.issues[0].message
    assert {i.rule for i in a.issues} == {"archive-anomaly", "dangerous-global"}

    a = scan_file(str(CORPUS / "ok_torch_full_module.pt"), "full.pt")
    assert a is not None and a.verdict == "suspicious"
    assert [i.rule for i in a.issues] == ["unknown-global"] and "mypackage.models.Net" in a.issues[0].message

    a = scan_file(str(CORPUS / "mal_nested_loads.pkl"), "n.pkl")
    assert a is not None and "_pickle.loads" in a.issues[0].message and "posix.system" in a.issues[0].message

    a = scan_file(str(CORPUS / "mal_external.onnx"), "x.onnx")
    assert a is not None and a.issues[0].rule == "onnx-external-data" and "../../../etc/passwd" in a.issues[0].message

    a = scan_file(str(CORPUS / "mal_lambda.keras"), "l.keras")
    assert a is not None and [i.rule for i in a.issues] == ["keras-lambda"] and "'double'" in a.issues[0].message

    a = scan_file(str(CORPUS / "mal_lambda.h5"), "l.h5")
    assert a is not None and a.kind == "Keras HDF5" and [i.rule for i in a.issues] == ["keras-lambda"]
    assert a.issues[0].offset is not None and a.issues[0].offset > 0

    a = scan_file(str(CORPUS / "ok_torch_legacy.pt"), "legacy.pt")
    assert a is not None and a.kind == "PyTorch legacy" and a.protocol == 2 and a.issues == ()

    a = scan_file(str(CORPUS / "mal_broken_stream.pkl"), "b.pkl")
    assert a is not None and {i.rule for i in a.issues} == {"dangerous-global", "malformed"}

    a = scan_file(str(CORPUS / "bad_overlap.safetensors"), "o.safetensors")
    assert a is not None and "overlap" in a.issues[0].message and a.issues[0].rule == "malformed"

    a = scan_file(str(CORPUS / "mal_disguised.safetensors"), "models/model.safetensors")
    assert a is not None and {i.rule for i in a.issues} == {"dangerous-global", "disguised-format"}

    a = scan_file(str(CORPUS / "ok_model.safetensors"), "m.safetensors")
    assert a is not None and a.safe_format and not a.pickle_based


def test_canary_never_appears() -> None:
    for name in EXPECTED:
        scan_file(str(CORPUS / name), name)
    assert not os.path.exists(CANARY)


def test_prefilter_never_drops_an_artifact() -> None:
    from mlposture.probes.serialization.artifacts import HEAD, might_be_model

    for name in EXPECTED:
        path = CORPUS / name
        head = path.read_bytes()[:HEAD]
        if scan_file(str(path), name) is not None:
            assert might_be_model(head, path.stat().st_size), name
    assert not might_be_model(b"# a README\\n", 11)


def test_allowlist_is_what_the_real_files_import() -> None:
    import importlib.util

    script = ROOT / "fixtures" / "serialization" / "allowlist.py"
    spec = importlib.util.spec_from_file_location("allowlist_builder", script)
    assert spec is not None and spec.loader is not None
    builder = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(builder)
    pairs, gets = builder.collect()
    assert builder.TARGET.read_text() == builder.render(pairs, gets)  # regenerate: fixtures/serialization/allowlist.py
    assert ("torch._utils", "_rebuild_tensor_v2") in pairs and ("sklearn.tree._tree", "Tree") in pairs
    assert not any(module.startswith(("mypackage", "__main__")) for module, _ in pairs)
