"""A scan result built by the real pipeline (``mlposture.scanner.scan.scan``) from probes defined here on a small
catalog.

The repository holds hostile text (HTML and script in a path and in messages) so every writer is tested on it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path

import pytest

from mlposture.scanner.catalog import build_catalog
from mlposture.scanner.probe import Effect, Evidence, Finding, NotApplicable, Probe, ProbeItem, Searched, Severity
from mlposture.scanner.repo import RepoView
from mlposture.scanner.results import ScanResult
from mlposture.scanner.scan import scan
from mlposture.scanner.settings import Settings
from tests.conftest import MINI_CATALOG, MINI_CATALOG_2

TODAY = dt.date(2026, 11, 28)
XSS = '<img src=x onerror="alert(1)"><script>alert("xss")</script>'

MINI_CATALOG_3 = """
category: {id: gamma, name: Gamma & <Co>}
controls:
  - id: GA-01
    title: Passing thing
    description: Passes.
    severity: high
    automation: [A]
    evidence: [a config key]
    remediation: Nothing to do.
    mappings: {owasp: [ML06], atlas: [AML.M0013]}
  - id: GA-02
    title: Partial thing
    description: Partly there.
    severity: medium
    automation: [A]
    evidence: [a config key]
    remediation: Finish it.
  - id: GA-03
    title: Security policy
    description: A security policy file exists.
    severity: high
    automation: [A]
    evidence: [SECURITY.md at the repository root]
    remediation: Write SECURITY.md.
"""

UNPINNED = Finding("t.unpinned-requirement", Severity.HIGH, "torch>=2 is not pinned", "requirements.txt", 3,
                   ("AL-02",), "torch>=2")
HOSTILE = Finding("t.hostile-text", Severity.MEDIUM, f"secret-looking value {XSS}", f"conf/{XSS}.yaml", 7,
                  ("AL-02",), "hostile")
ACCEPTED = Finding("t.secret", Severity.LOW, "token in test fixture", "deploy/app.env", 2, (), "tok")


class GoodProbe(Probe):
    """Evidence for most controls."""

    name = "good"
    controls = ("AL-01", "AL-02", "AL-03", "BE-01", "GA-01", "GA-02", "GA-03")

    def run(self, repo: RepoView, settings: Settings) -> Iterable[ProbeItem]:
        yield Evidence("AL-01", Effect.PASS, "bucket encrypted with KMS", "infra/main.tf", 4, "good.kms")
        yield Evidence("AL-01", Effect.FAIL, "bucket 'raw' has no encryption block", "infra/main.tf", 12, "good.kms")
        yield Evidence("AL-01", Effect.FAIL, "bucket 'tmp' has no encryption block", "infra/tmp.tf", 3, "good.kms")
        yield UNPINNED
        yield HOSTILE
        yield ACCEPTED
        yield Searched("AL-03", "nothing else")
        yield NotApplicable("BE-01", "no federated training found")
        yield Evidence("GA-01", Effect.PASS, "configured", "conf/app.yaml", 2, "good.conf")
        yield Evidence("GA-02", Effect.PARTIAL, "half configured", "conf/app.yaml", 5, "good.conf")
        yield Evidence("GA-03", Effect.FAIL, "no security policy in the repository", None, None, "good.policy")


class CrashingProbe(Probe):
    """Crashes while reading."""

    name = "crashy"
    controls = ("BE-02",)

    def run(self, repo: RepoView, settings: Settings) -> Iterable[ProbeItem]:
        raise RuntimeError("parser exploded on <b>input</b>")


def write_repo(root: Path) -> None:
    files = {
        "README.md": "# demo\n",
        "SECURITY.md": "# policy draft\n",
        "infra/main.tf": "\n" * 20,
        "infra/tmp.tf": "\n" * 5,
        "requirements.txt": "numpy==1\nrequests==2\ntorch>=2\n",
        "deploy/app.env": "A=1\nTOKEN=x\n",
        "conf/app.yaml": "a: 1\n" * 6,
    }
    for name, text in files.items():
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    (root / ".mlposture").mkdir()
    (root / ".mlposture/answers.yaml").write_text(f"""version: 1
exceptions:
  - fingerprint: {ACCEPTED.fingerprint[:12]}
    by: alice@example.com
    date: 2026-11-01
    reason: test fixture token, never deployed
""", encoding="utf-8")


def build_result(root: Path) -> ScanResult:
    """Scan ``root`` (written by :func:`write_repo`) with the real pipeline."""
    catalog = build_catalog([("alpha.yaml", MINI_CATALOG), ("beta.yaml", MINI_CATALOG_2),
                             ("gamma.yaml", MINI_CATALOG_3)])
    return scan(root, Settings(), catalog=catalog, probes=[(GoodProbe, ""), (CrashingProbe, "")], today=TODAY)


@pytest.fixture
def sample(tmp_path: Path) -> ScanResult:
    root = tmp_path / "repo"
    root.mkdir()
    write_repo(root)
    return build_result(root)
