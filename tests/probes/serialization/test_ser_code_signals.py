"""The AST reader of model-loading calls, on small snippets (aliases, keyword forms, pins)."""

from __future__ import annotations

import pytest

from mlposture.probes.serialization.code_signals import scan_module, torch_default_safe, with_torch_default
from mlposture.scanner.sources.python import PyModule, module_of_text


def signals(code: str, torch_safe: bool = False) -> list[tuple[str, str, str, int]]:
    mod = module_of_text("m.py", code)
    assert isinstance(mod, PyModule), mod
    return [(s.control, s.kind, s.rule, s.line)
            for s in (with_torch_default(x, torch_safe) for x in scan_module(mod) or [])]


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("import torch as T\nT.load(p)\n", [("MODEL-03", "unsafe", "serialization.torch-load-unsafe", 2)]),
        ("from torch import load\nload(p, weights_only=True)\n",
         [("MODEL-03", "mitigated", "serialization.torch-load-weights-only", 2)]),
        ("from joblib import load as jl\njl(p)\n", [("MODEL-03", "unsafe", "serialization.pickle-load-call", 2)]),
        ("import cloudpickle\ncloudpickle.loads(b)\n",
         [("MODEL-03", "unsafe", "serialization.pickle-load-call", 2)]),
        ("import numpy as np\nnp.load(p)\nnp.load(p, allow_pickle=True)\n",
         [("MODEL-03", "unsafe", "serialization.pickle-load-call", 3)]),
        ("import yaml\nyaml.load(s, Loader=yaml.SafeLoader)\nyaml.load(s, yaml.FullLoader)\n",
         [("MODEL-03", "unsafe", "serialization.unsafe-yaml-load", 3)]),
        ("from keras.models import load_model\nload_model(p, safe_mode=False)\nload_model(p)\n",
         [("MODEL-03", "unsafe", "serialization.keras-unsafe-load", 2)]),
        ("from huggingface_hub import hf_hub_download\nhf_hub_download(repo_id='a/b', filename='x', revision='"
         + "0" * 40 + "')\n", [("MODEL-07", "pinned", "serialization.pinned-revision", 2)]),
        ("from huggingface_hub import snapshot_download\nsnapshot_download('a/b')\n",
         [("MODEL-07", "unpinned", "serialization.unpinned-model", 2)]),
        ("from transformers import AutoModel\nAutoModel.from_pretrained('./local_dir')\n", []),
        ("import torch\ntorch.hub.load('a/b:" + "f" * 40 + "', 'm')\n",
         [("MODEL-07", "pinned", "serialization.pinned-revision", 2)]),
        ("import pooch\npooch.retrieve(u, known_hash='sha256:ab')\npooch.retrieve(u, known_hash=None)\n",
         [("MODEL-01", "verified", "serialization.digest-check", 2)]),
        ("import hashlib\nok = hashlib.md5(d).hexdigest() == h\n", []),
        ("import hashlib\nok = hashlib.sha256(d).hexdigest() == h\n",
         [("MODEL-01", "verified", "serialization.digest-check", 2)]),
    ],
)
def test_snippets(code: str, expected: list[tuple[str, str, str, int]]) -> None:
    assert signals(code) == expected


def test_torch_default_depends_on_the_pin() -> None:
    assert signals("import torch\ntorch.load(p)\n", torch_safe=True)[0][1] == "mitigated"
    assert torch_default_safe(["torch>=2.6.0\n"]) is True
    assert torch_default_safe(["torch==2.2.1\n"]) is False
    assert torch_default_safe(["numpy\n"]) is False
    assert torch_default_safe(['dependencies = ["torch>=2.7", "numpy"]\n']) is True
    assert torch_default_safe(["pytorch-lightning>=2.9\ntorchaudio>=2.6\n"]) is False
