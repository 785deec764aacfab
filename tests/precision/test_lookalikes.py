"""Precision: look-alikes of real problems produce nothing that counts, and no fingerprint names two problems.

``fixtures/precision/lookalikes`` is a small serving project whose production code is clean, surrounded by what
fooled earlier versions: a monitoring stack's ``:latest`` images, an untagged local build, a Helm template and a
Terraform variable as image references, test keys and a pickle round-trip in ``tests/``, an example that pickles on
purpose, docs code, an installer download, a CSV of floats whose digits pass the Luhn check and raw float bytes in a
``.txt``, and ``torch.load(**options)`` with ``weights_only=True`` in a literal.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlposture.probes.lifecycle.pii import _find, looks_like_text
from mlposture.probes.lifecycle.subjects import built_here, carries_model, is_unknown
from mlposture.probes.serialization.code_signals import scan_module, with_torch_default
from mlposture.scanner.results import ScanResult, Status
from mlposture.scanner.scan import scan
from mlposture.scanner.settings import Settings
from mlposture.scanner.sources.python import PyModule, module_of_text

ROOT = Path(__file__).resolve().parents[2]
LOOKALIKES = ROOT / "fixtures" / "precision" / "lookalikes"


@pytest.fixture(scope="module")
def default() -> ScanResult:
    return scan(LOOKALIKES, Settings(no_vulns=True))


@pytest.fixture(scope="module")
def everything() -> ScanResult:
    return scan(LOOKALIKES, Settings(no_vulns=True, contexts=("all",)))


def test_nothing_counts_by_default(default: ScanResult) -> None:
    assert [f for f in default.findings if f.counted] == []
    assert not [(r.control.id, e.evidence.path) for r in default.controls for e in r.evidence
                if e.counted and e.evidence.effect.value == "fail"]
    assert not [b for b in default.gate.blockers if b.kind == "finding"]
    # what was left out is still reported, with its context
    apart = sorted((f.context, f.finding.rule, f.finding.path) for f in default.findings)
    assert apart == [
        ("docs", "serialization.pickle-load-call", "docs/snippet.py"),
        ("example", "serialization.pickle-load-call", "examples/pickle_demo.py"),
        ("test", "cicd.secret", "tests/test_pickle_roundtrip.py"),
        ("test", "serialization.pickle-load-call", "tests/test_pickle_roundtrip.py"),
    ]


def test_counting_every_context_shows_them(everything: ScanResult) -> None:
    assert all(f.counted for f in everything.findings)
    assert everything.control("MODEL-03").status is Status.FAIL  # type: ignore[union-attr]
    assert any(b.kind == "finding" for b in everything.gate.blockers)


def test_no_model_deployment_in_infrastructure_images(everything: ScanResult) -> None:
    assert not [f for f in everything.findings if "MODEL-06" in f.finding.controls]
    model06 = everything.control("MODEL-06")
    assert model06 is not None and model06.status is not Status.FAIL


def test_no_pii_in_numbers_or_binary(everything: ScanResult) -> None:
    assert not [f for f in everything.findings if "DATA-07" in f.finding.controls]
    assert any(n.path == "data/tensor_dump.txt" and "binary" in n.message for n in everything.notes)


def test_weights_only_through_a_literal_dict(everything: ScanResult) -> None:
    assert not [f for f in everything.findings if f.finding.path == "src/app/load.py"]
    model03 = everything.control("MODEL-03")
    assert model03 is not None
    assert {(e.evidence.path, e.evidence.line) for e in model03.evidence if e.evidence.path == "src/app/load.py"} == {
        ("src/app/load.py", 9), ("src/app/load.py", 14)}


@pytest.mark.parametrize(("ref", "spec", "model"), [
    ("prom/prometheus:latest", False, False),
    ("grafana/grafana", False, False),
    ("busybox", True, False),  # an init container of an InferenceService is still not the model
    ("curlimages/curl:latest", False, False),
    ("minio/minio", False, False),
    ("example-org/model-server:latest", False, True),
    ("ghcr.io/acme/churn-inference", False, True),
    ("nvcr.io/nvidia/tritonserver:24.01-py3", False, True),
    ("acme/app", True, True),
    ("acme/app", False, False),
])
def test_image_subjects(ref: str, spec: bool, model: bool) -> None:
    assert carries_model(ref, spec) is model


def test_unknown_and_local_builds() -> None:
    assert is_unknown("var.model_image") and is_unknown("${IMAGE}") and is_unknown("{{ .Values.image.tag }}")
    assert not is_unknown("acme/model-server:1.2.0")
    compose = ["services:", "  api:", "    build: .", "    image: acme/model-api", "  db:", "    image: postgres"]
    assert built_here(compose, 3) and not built_here(compose, 5)


def test_card_numbers_only_in_text() -> None:
    assert _find("0.4111111111111111,1.5555555555554444e-05\n") == []
    assert [k for k, _, _ in _find("card: 4111 1111 1111 1111.\n")] == ["payment card number (Luhn-valid)"]
    floats = bytes(range(1, 256)) * 8
    assert not looks_like_text(floats)
    assert looks_like_text(b"name,email\nAda,ada@example.com\n")


def test_weights_only_kwargs_scoping() -> None:
    src = ("import torch\nKW = {'weights_only': True}\n"
           "def a(p):\n    return torch.load(p, **KW)\n"
           "def b(p, KW):\n    return torch.load(p, **KW)\n"
           "def c(p):\n    o = {'weights_only': True}\n    o['weights_only'] = False\n    return torch.load(p, **o)\n"
           "def d(p):\n    return torch.load(p, **{'weights_only': True})\n")
    mod = module_of_text("lookalike.py", src)
    assert isinstance(mod, PyModule), mod
    kinds = {s.line: with_torch_default(s, False).kind for s in scan_module(mod) or []}
    assert kinds == {4: "mitigated", 6: "unsafe", 10: "unsafe", 12: "mitigated"}


def test_no_fingerprint_names_two_problems() -> None:
    """Every fixture repository and the demo (the verdict snapshot, which the snapshot test keeps current)."""
    recorded = json.loads((ROOT / "tests" / "snapshots" / "verdicts.json").read_text("utf-8"))
    shared = {}
    for target, record in recorded.items():
        prints = [line.split(" ", 1)[0] for line in record["findings"]]
        dupes = {p for p in prints if prints.count(p) > 1}
        if dupes:
            shared[target] = sorted(dupes)
    assert shared == {}
