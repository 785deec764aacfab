"""The model lifecycle probe on its fixture repositories: statuses, evidence paths and lines, findings, notes."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mlposture.probes.lifecycle.signing import check_bundle, check_sig
from mlposture.scanner.probe import Effect, Severity
from mlposture.scanner.settings import Settings

ScanFn = Callable[..., Any]


def test_secure_statuses(scan: ScanFn) -> None:
    s = scan("secure")
    expected = {
        "MODEL-01": "pass", "MODEL-02": "partial", "MODEL-04": "unverified", "MODEL-05": "pass", "MODEL-06": "pass",
        "MODEL-07": "pass", "MODEL-08": "pass", "MODEL-09": "pass", "MODEL-10": "pass", "MODEL-11": "pass",
        "MODEL-12": "partial", "MODEL-13": "pass",
    }
    assert {c: s.status(c) for c in expected} == expected
    assert s.searched("MODEL-04")


def test_hash_check_before_load(scan: ScanFn) -> None:
    s = scan("secure")
    ev = s.evidence("MODEL-01")
    assert [(e.path, e.line, e.effect) for e in ev] == [("src/load.py", 20, Effect.PASS)]
    assert "verify_digest() compares a digest (line 13)" in ev[0].message
    (searched,) = s.searched("MODEL-01")
    assert "loads without a preceding check: src/load.py:24, src/load.py:25" in searched


def test_epsilon_from_code_constant_and_config(scan: ScanFn) -> None:
    s = scan("secure")
    ev = s.evidence("MODEL-05", "model_lifecycle.dp-epsilon")
    assert [(e.path, e.line, e.effect) for e in ev] == [("src/train_dp.py", 9, Effect.PASS),
                                                          ("config/dp.yaml", 4, Effect.PASS)]
    assert "ε = 8, below 10" in ev[0].message
    assert "training.privacy.target_epsilon: ε = 3" in ev[1].message  # optimizer.epsilon (Adam) is not DP
    assert s.findings("model_lifecycle.dp-secure-mode-off") == []


def test_deploy_refs_provenance_and_signing_lines(scan: ScanFn) -> None:
    s = scan("secure")
    assert {(e.path, e.line) for e in s.evidence("MODEL-06")} == {
        ("deploy/rollout.yaml", 2), ("deploy/rollout.yaml", 7), ("deploy/rollout.yaml", 12),
        ("deploy/rollout.yaml", 15)}
    prov = s.evidence("MODEL-07")
    assert [(e.path, e.line, e.rule) for e in prov] == [
        ("src/load.py", 24, "model_lifecycle.pinned-pretrained"),
        ("src/load.py", 25, "model_lifecycle.pinned-pretrained"),
        (".github/workflows/release.yml", 13, "model_lifecycle.model-scan")]
    sig = {(e.path, e.line): e for e in s.evidence("MODEL-11")}
    assert sig[(".github/workflows/release.yml", 20)].effect is Effect.PASS
    assert sig[(".github/workflows/release.yml", 14)].effect is Effect.PARTIAL
    assert sig[("models/model.safetensors.sigstore.json", 1)].message.startswith("committed signature: Sigstore")
    assert s.findings() == []


def test_model_card_sections_classification_and_licence(scan: ScanFn) -> None:
    s = scan("secure")
    (card,) = s.evidence("MODEL-08")
    assert card.path == "MODEL_CARD.md" and card.effect is Effect.PASS
    assert "security (line 33)" in card.message and "missing: none" in card.message
    assert "front matter: license, datasets, metrics, base_model, model-index" in card.message
    assert {(e.path, e.line) for e in s.evidence("MODEL-09")} == {("MODEL_CARD.md", 8), ("src/register.py", 9)}
    (lic,) = s.evidence("MODEL-13")
    assert (lic.path, lic.line, lic.message) == ("MODEL_CARD.md", 2, "model card licence recorded: apache-2.0")


def test_compression_and_hardening(scan: ScanFn) -> None:
    s = scan("secure")
    (comp,) = s.evidence("MODEL-10")
    assert comp.path == "tests/test_quantized_robustness.py" and comp.effect is Effect.PASS
    (hard,) = s.evidence("MODEL-12")
    assert hard.path == "src/train_dp.py" and hard.line == 1 and hard.effect is Effect.PARTIAL
    assert "no DVC stage, CI job or orchestrator task" in hard.message


def test_antipattern_statuses_and_findings(scan: ScanFn) -> None:
    s = scan("antipatterns")
    assert s.status("MODEL-05") == "partial"
    assert "ε = 50, not below 10" in s.evidence("MODEL-05")[0].message
    info = s.findings("model_lifecycle.dp-secure-mode-off")
    assert [(f.path, f.line, f.severity) for f in info] == [("src/train.py", 5, Severity.INFO)]
    assert s.status("MODEL-06") == "fail"
    assert sorted((f.path, f.line) for f in s.findings() if "MODEL-06" in f.controls) == [
        ("k8s/deploy.yaml", 6), ("k8s/deploy.yaml", 11), ("k8s/deploy.yaml", 14)]
    assert s.status("MODEL-07") == "fail"
    unpinned = s.findings("model_lifecycle.unpinned-pretrained")
    assert [(f.path, f.line) for f in unpinned] == [("src/app.py", 6), ("src/app.py", 7), ("src/app.py", 8)]
    assert "revision='main'" in unpinned[1].message and "torch.hub.load('pytorch/vision')" in unpinned[2].message
    weights = s.findings("model_lifecycle.unverified-weights-download")
    assert [(f.path, f.line) for f in weights] == [("scripts/get_weights.sh", 2)]
    assert s.status("MODEL-10") == "not_applicable"


def test_antipattern_card_signing_and_licence(scan: ScanFn) -> None:
    s = scan("antipatterns")
    (card,) = s.evidence("MODEL-08")
    assert card.effect is Effect.PARTIAL and "missing: out-of-scope use, bias, evaluation, security" in card.message
    assert s.status("MODEL-11") == "partial"
    (sign,) = s.evidence("MODEL-11")
    assert sign.line == 7 and "sign only is partial" in sign.message
    assert any("mediaType is 'application/json'" in n.message for n in s.note_for("models/model.bin.sigstore.json"))
    (nc,) = s.findings("model_lifecycle.noncommercial-license")
    assert (nc.path, nc.line, nc.severity, nc.controls) == ("README.md", 2, Severity.MEDIUM, ("MODEL-13",))
    assert s.status("MODEL-13") == "fail"


def test_epsilon_threshold_comes_from_settings(scan: ScanFn) -> None:
    s = scan("antipatterns", Settings(dp_epsilon_max=60))
    assert s.status("MODEL-05") == "pass"
    assert "ε = 50, below 60" in s.evidence("MODEL-05")[0].message


def test_malformed_inputs_are_notes(scan: ScanFn) -> None:
    s = scan("malformed")
    notes = {(n.path, n.line): n.message for n in s.notes}
    assert "model card front matter not parsed" in notes[("MODEL_CARD.md", 3)]
    assert "not valid JSON" in notes[("bom.json", None)]
    assert "not JSON" in notes[("models/model.sigstore.json", None)]
    assert "neither base64" in notes[("models/model.sig", None)]
    assert "privacy/hardening settings in it were not read" in notes[("config/dp.yaml", 3)]
    (card,) = s.evidence("MODEL-08")
    assert "no front matter" in card.message and "intended use (line 7)" in card.message
    assert s.status("MODEL-11") == "unverified"


def test_none_repository(scan: ScanFn) -> None:
    s = scan("none")
    for control in ("MODEL-01", "MODEL-02", "MODEL-04", "MODEL-05", "MODEL-06", "MODEL-07", "MODEL-08", "MODEL-09",
                    "MODEL-11", "MODEL-12", "MODEL-13"):
        assert s.status(control) == "unverified", control
        assert s.searched(control), control
    assert s.status("MODEL-10") == "not_applicable"
    assert s.findings() == []


def test_notebook_and_mutable_beside_versioned(tmp_path: Path, scan: ScanFn) -> None:
    nb = {"cells": [{"cell_type": "code", "source": "from transformers import AutoModel\n"
                     "m = AutoModel.from_pretrained('org/net')\n"}], "nbformat": 4}
    (tmp_path / "explore.ipynb").write_text(json.dumps(nb))
    (tmp_path / "deploy.yaml").write_text("a: models:/churn/3\nb: models:/churn/Staging\n")
    (tmp_path / "README.md").write_text("---\nlicense: llama3\nbase_model: meta/llama\n---\n# Card\n")
    s = scan(tmp_path)
    (f,) = s.findings("model_lifecycle.unpinned-pretrained")
    assert (f.path, f.line) == ("explore.ipynb", None) and "(cell 1, line 2)" in f.message
    (mut,) = s.findings("model_lifecycle.mutable-deploy-ref")
    assert (mut.line, mut.effect, mut.severity) == (2, Effect.PARTIAL, Severity.LOW)
    assert s.status("MODEL-06") == "pass"
    (lic,) = s.findings("model_lifecycle.restrictive-license")
    assert lic.effect is Effect.PARTIAL and "llama3" in lic.message


def test_signature_documents() -> None:
    dsse = {"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json", "verificationMaterial": {},
            "dsseEnvelope": {"payload": "e30=", "signatures": []}}
    assert check_bundle(json.dumps(dsse).encode()) == (True, "Sigstore bundle v0.3 with a DSSE envelope")
    assert check_bundle(b'{"mediaType": "application/vnd.dev.sigstore.bundle+json"}') == (
        False, "no verificationMaterial")
    assert check_sig(b"MEUCIQCr0cHqGq0fXvU3+1YF7nHk6H0n3B4i3JmT0r0Vw5QnwwIgS2gk8vT3bZy1Yk9P8Lr0c3W0X8Yd6n1Q==\n")[0]
    assert check_sig(b"-----BEGIN PGP SIGNATURE-----\n...\n")[0]
    assert not check_sig(b"hello")[0]


def test_verify_in_code_with_model_signing(tmp_path: Path, scan: ScanFn) -> None:
    (tmp_path / "serve.py").write_text(
        "import model_signing\n\ndef load(p):\n    model_signing.verifying.Config().use_sigstore_verifier("
        "identity='a', oidc_issuer='b').verify(p, p + '.sig')\n")
    s = scan(tmp_path)
    (ev,) = s.evidence("MODEL-11")
    assert (ev.path, ev.line, ev.effect) == ("serve.py", 4, Effect.PASS)


def test_models_uri_only_as_values_not_prose(tmp_path: Path, scan: ScanFn) -> None:
    (tmp_path / "catalog.yaml").write_text("evidence: deploys of models:/name/Production only are bad\n")
    (tmp_path / "serve.py").write_text("# models:/x/Production in a comment\nURI = 'models:/churn@champion'\n")
    (tmp_path / "serve.sh").write_text("#!/bin/sh\nmlflow models serve -m models:/churn/Production\n")
    (tmp_path / "compose.yml").write_text("services:\n  a:\n    image: [broken\n")
    s = scan(tmp_path)
    assert [(e.path, e.line) for e in s.evidence("MODEL-06")] == [("serve.py", 2)]
    (mut,) = s.findings("model_lifecycle.mutable-deploy-ref")
    assert (mut.path, mut.line, mut.effect) == ("serve.sh", 2, Effect.PARTIAL)


def test_continued_command_lines_are_joined(tmp_path: Path, scan: ScanFn) -> None:
    (tmp_path / "deploy.sh").write_text("#!/bin/sh\npython -m model_signing \\\n    verify sigstore \\\n"
                                        "    --signature model.sig model/\n")
    s = scan(tmp_path)
    (ev,) = s.evidence("MODEL-11")
    assert (ev.path, ev.line, ev.effect) == ("deploy.sh", 2, Effect.PASS)
    assert "model_signing verify sigstore --signature model.sig model/" in ev.message


def test_registry_with_access_control_and_hash_helper(tmp_path: Path, scan: ScanFn) -> None:
    (tmp_path / "train.py").write_text(
        "import mlflow\nimport torch\n\ndef go(m):\n"
        "    mlflow.sklearn.log_model(m, 'model', registered_model_name='churn')\n"
        "    return torch.hub.load_state_dict_from_url('https://h/w.pth', check_hash=True)\n")
    (tmp_path / "start.sh").write_text("mlflow server --app-name basic-auth --host 0.0.0.0\n")
    s = scan(tmp_path)
    assert s.status("MODEL-02") == "pass"
    access = s.evidence("MODEL-02", "model_lifecycle.registry-access")
    assert [(e.path, e.line) for e in access] == [("start.sh", 1)]
    reg = s.evidence("MODEL-02", "model_lifecycle.registry")
    assert [(e.path, e.line) for e in reg] == [("train.py", 5)]
    (h,) = s.evidence("MODEL-01")
    assert (h.path, h.line, h.effect) == ("train.py", 6, Effect.PASS) and "check_hash=" in h.message


def test_torch_hub_however_imported_is_read_and_github_links_are_not(tmp_path: Path, scan: Callable[..., Any]) -> None:
    (tmp_path / "a.py").write_text("from torch import hub\n\nnet = hub.load('org/vision', 'resnet')\n")
    (tmp_path / "b.py").write_text("import torch.hub as th\n\nnet = th.load('org/text')\n")
    (tmp_path / "c.py").write_text('"""Adapted from https://github.com/org/vision/blob/main/hubconf.py"""\n'
                                   "import torch\n\nnet = torch.hub.load('org/audio', 'w2v')\n")
    s = scan(tmp_path)
    found = [(f.path, f.line) for f in s.findings("model_lifecycle.unpinned-pretrained")]
    assert found == [("a.py", 3), ("b.py", 3), ("c.py", 4)]
