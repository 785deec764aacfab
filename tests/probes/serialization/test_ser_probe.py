"""The probe on small repositories: safe formats present, pickle anti-patterns, nothing at all, malformed input."""

from __future__ import annotations

from pathlib import Path

from mlposture.probes.serialization import SerializationProbe
from mlposture.scanner.probe import Effect, Evidence, Finding, Note, ProbeItem, Searched, Severity
from mlposture.scanner.repo import RepoView
from mlposture.scanner.settings import Settings

REPOS = Path(__file__).resolve().parents[3] / "fixtures" / "serialization" / "repos"


def run(name: str) -> list[ProbeItem]:
    return list(SerializationProbe().run(RepoView(REPOS / name), Settings()))


def evidence(items: list[ProbeItem], control: str) -> set[tuple[Effect, str | None, int | None]]:
    return {(i.effect, i.path, i.line) for i in items if isinstance(i, Evidence) and i.control == control}


def findings(items: list[ProbeItem]) -> set[tuple[str, str | None, int | None]]:
    return {(i.rule, i.path, i.line) for i in items if isinstance(i, Finding)}


def test_safe_repository() -> None:
    items = run("safe")
    assert evidence(items, "MODEL-03") == {
        (Effect.PASS, "models/model.safetensors", None),
        (Effect.PASS, "models/tiny.gguf", None),
        (Effect.PASS, "serve.py", 14),
        (Effect.PASS, "serve.py", 18),
        (Effect.PARTIAL, "serve.py", 26),  # torch.load() with torch>=2.6 pinned: weights_only default
        (Effect.PARTIAL, "serve.py", 30),
    }
    assert evidence(items, "MODEL-07") == {(Effect.PASS, "serve.py", 18)}
    assert evidence(items, "MODEL-01") == {(Effect.PASS, "serve.py", 12), (Effect.PARTIAL, "SHA256SUMS", None)}
    assert findings(items) == set()
    assert {i.control for i in items if isinstance(i, Searched)} == {"MODEL-03", "MODEL-07", "MODEL-01"}


def test_unsafe_repository() -> None:
    items = run("unsafe")
    assert findings(items) == {
        ("serialization.dangerous-global", "models/weights.bin", None),
        ("serialization.unknown-global", "models/net.pt", None),
        ("serialization.pickle-load-call", "load.py", 13),
        ("serialization.pickle-load-call", "load.py", 14),
        ("serialization.pickle-load-call", "load.py", 15),
        ("serialization.pickle-load-call", "load.py", 16),
        ("serialization.torch-load-unsafe", "load.py", 17),
        ("serialization.torch-load-unsafe", "load.py", 18),
        ("serialization.unsafe-yaml-load", "load.py", 19),
        ("serialization.trust-remote-code", "load.py", 24),
    }
    danger = next(i for i in items if isinstance(i, Finding) and i.rule == "serialization.dangerous-global")
    assert danger.severity == Severity.CRITICAL and danger.controls == ("MODEL-03",)
    assert "posix.system" in danger.message
    pickles = {(i.path, i.message) for i in items
               if isinstance(i, Evidence) and i.rule == "serialization.pickle-format"}
    assert pickles == {
        ("models/clf.pkl", "pickle model file (protocol 4)"),
        ("models/weights.bin", "pickle model file (protocol 4)"),
        ("models/net.pt", "pickle model file (protocol 2, PyTorch zip)"),
    }
    assert evidence(items, "MODEL-07") == {
        (Effect.FAIL, "load.py", 24),  # trust_remote_code=True, and no revision
        (Effect.PARTIAL, "load.py", 25),  # revision="main"
        (Effect.FAIL, "load.py", 26),  # torch.hub.load of a default branch
    }


def test_absent_repository_only_says_what_was_searched() -> None:
    items = run("absent")
    assert all(isinstance(i, Searched) for i in items) and len(items) == 3


def test_malformed_inputs_become_findings_and_notes() -> None:
    repo = RepoView(REPOS / "malformed")
    items = list(SerializationProbe().run(repo, Settings()))
    assert findings(items) == {("serialization.malformed", "bad.safetensors", None),
                               ("serialization.malformed", "broken.pkl", None)}
    assert any(n.path == "broken.py" and n.line == 1 for n in repo.notes)
    assert not any(isinstance(i, Evidence) and i.effect == Effect.PASS for i in items)
    assert all(not isinstance(i, Note) or i.path for i in items)
