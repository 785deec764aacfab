"""Evidence that is there must be found: DP through TF Privacy optimizer factories, robustness evaluation with
Foolbox/CleverHans (MODEL-12, MON-06, PIPE-11), HMAC-signed model files checked before load (MODEL-01, MODEL-11),
and a Trivy image scan that also scans the image's Python packages (PIPE-02). Each with look-alikes that must not
count.
"""

from __future__ import annotations

from pathlib import Path

from mlposture.scanner.scan import scan
from mlposture.scanner.settings import Settings

FIXTURE = Path(__file__).resolve().parents[3] / "fixtures" / "model_lifecycle" / "robust_dp"


def _result(path: Path) -> dict[str, tuple[str, list[tuple[str, str | None, int | None]]]]:
    res = scan(path, Settings(no_vulns=True))
    return {r.control.id: (r.status.value, [(e.evidence.effect.value, e.evidence.path, e.evidence.line)
                                            for e in r.evidence]) for r in res.controls}


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_fixture_verdicts_with_their_evidence():
    got = _result(FIXTURE)
    assert got["MODEL-05"] == ("partial", [("partial", "train/dp_train.py", 5), ("partial", "train/dp_train.py", 10)])
    assert got["MODEL-12"] == ("partial", [("partial", "train/adv_train.py", 3)])  # PGD inside the training loop
    assert got["MODEL-01"] == ("pass", [("pass", "serve/load.py", 12)])  # verify_model() imported from integrity
    assert got["MODEL-11"] == ("partial", [("partial", "serve/load.py", 12)])  # HMAC, not Sigstore
    assert got["MON-06"] == ("partial", [("partial", "eval/robustness.py", 4)])  # no schedule runs it
    assert got["PIPE-11"] == ("pass", [("pass", ".github/workflows/release.yml", 14)])
    assert ("pass", ".github/workflows/release.yml", 20) in got["PIPE-02"][1]  # trivy image on push


def test_dp_optimizer_factory_messages(tmp_path):
    res = scan(FIXTURE, Settings(no_vulns=True))
    [model05] = [r for r in res.controls if r.control.id == "MODEL-05"]
    msgs = [e.evidence.message for e in model05.evidence]
    assert msgs[0].endswith("make_keras_optimizer_class() builds a DP-SGD optimizer class; ε not stated in code")
    assert msgs[1] == "DPAdam() trains with DP (noise_multiplier=1.1); ε not stated in code"


def test_dp_sgd_keywords_alone_count_and_plain_optimizers_do_not(tmp_path):
    present = _write(tmp_path / "present", {"train.py": (
        "import tensorflow as tf\nfrom privacy_utils import DPOptimizer\n\n"
        "opt = DPOptimizer(tf.keras.optimizers.SGD, l2_norm_clip=1.0, noise_multiplier=0.9)\n"
        "model = tf.keras.Sequential()\nmodel.compile(optimizer=opt)\nmodel.fit(x, y)\n")})
    assert _result(present)["MODEL-05"] == ("partial", [("partial", "train.py", 4)])
    absent = _write(tmp_path / "absent", {"train.py": (
        "import tensorflow as tf\n\nopt = tf.keras.optimizers.Adam(learning_rate=1e-3, clipnorm=1.0)\n"
        "model = tf.keras.Sequential()\nmodel.compile(optimizer=opt)\nmodel.fit(x, y)\n")})
    assert _result(absent)["MODEL-05"] == ("unverified", [])


def test_attacks_in_evaluation_only_are_not_hardening(tmp_path):
    root = _write(tmp_path, {
        "train.py": "import torch\n\ndef fit(model, loader, opt):\n    for x, y in loader:\n"
                    "        loss = model(x).sum()\n        loss.backward()\n        opt.step()\n",
        "eval/attack.py": "import foolbox as fb\n\ndef run(model, x, y):\n    fmodel = fb.PyTorchModel(model, (0, 1))\n"
                          "    return fb.attacks.LinfPGD()(fmodel, x, y, epsilons=[0.03])\n",
    })
    got = _result(root)
    assert got["MODEL-12"][1] == []
    assert got["MON-06"] == ("partial", [("partial", "eval/attack.py", 1)])
    assert got["PIPE-11"][1] == [("partial", "eval/attack.py", 1)]


def test_robustness_extra_alone_is_partial_pipe11(tmp_path):
    root = _write(tmp_path, {
        "pyproject.toml": '[project]\nname = "m"\nversion = "1"\ndependencies = ["torch==2.2.2"]\n'
                          '[project.optional-dependencies]\nrobustness = ["adversarial-robustness-toolbox==1.17.1"]\n',
        "train.py": "import torch\n\ndef fit(model, x):\n    model(x).sum().backward()\n",
    })
    assert _result(root)["PIPE-11"][1] == [("partial", "pyproject.toml", 6)]


def test_hmac_after_the_load_or_in_an_unrelated_module_does_not_count(tmp_path):
    root = _write(tmp_path, {
        "integrity.py": "import hashlib, hmac\n\ndef verify_model(path, expected, key):\n"
                        "    actual = hmac.new(key, open(path, 'rb').read(), hashlib.sha256).hexdigest()\n"
                        "    if not hmac.compare_digest(actual, expected):\n        raise ValueError(path)\n",
        "serve.py": "import torch\nfrom integrity import verify_model\n\ndef load(p, e, k):\n"
                    "    model = torch.load(p, weights_only=True)\n    verify_model(p, e, k)\n    return model\n",
        "other.py": "import torch\nfrom elsewhere import verify_model\n\ndef load(p):\n    verify_model(p)\n"
                    "    return torch.load(p, weights_only=True)\n",
    })
    got = _result(root)
    assert got["MODEL-01"][1] == []
    assert got["MODEL-11"][1] == []


def test_malformed_python_is_a_note_not_a_verdict(tmp_path):
    root = _write(tmp_path, {"eval/attack.py": "import foolbox as fb\ndef run(:\n"})
    res = scan(root, Settings(no_vulns=True))
    assert any(n.path == "eval/attack.py" for n in res.notes)
    assert not [r for r in res.controls if r.control.id == "MON-06" and r.evidence]
