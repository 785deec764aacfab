"""The context rule: one decision per path (production, test, example, docs, fixture, vendored), from path
conventions and the project's own packaging, test runner and docs builder configuration; and what the engine and
the gate do with it."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pytest
from click.testing import CliRunner

from mlposture.scanner.answers import AnswersFile
from mlposture.scanner.catalog import build_catalog
from mlposture.scanner.cli import cli
from mlposture.scanner.context import Context, ContextRule, build_rule, parse_contexts
from mlposture.scanner.engine import decide, run_probe
from mlposture.scanner.gate import evaluate_gate
from mlposture.scanner.probe import Effect, Evidence, Finding, Probe, ProbeItem, Severity
from mlposture.scanner.repo import RepoView
from mlposture.scanner.results import Status
from mlposture.scanner.scan import scan
from mlposture.scanner.scoring import compute_scores
from mlposture.scanner.settings import FailOn, Settings


@pytest.mark.parametrize(("path", "context"), [
    (None, Context.PRODUCTION),
    ("src/app/serve.py", Context.PRODUCTION),
    ("train.py", Context.PRODUCTION),
    ("tests/test_io.py", Context.TEST),
    ("pkg/tests/helpers.py", Context.TEST),
    ("pkg/io_test.py", Context.TEST),
    ("conftest.py", Context.TEST),
    ("tests/fixtures/model.pkl", Context.FIXTURE),
    ("testdata/weights.bin", Context.FIXTURE),
    ("third_party/lib/x.py", Context.VENDORED),
    ("src/pkg/_vendor/y.py", Context.VENDORED),
    ("examples/pickle_demo.py", Context.EXAMPLE),
    ("tutorials/01/compose.yaml", Context.EXAMPLE),
    ("docs/guide/snippet.py", Context.DOCS),
    ("contest.py", Context.PRODUCTION),
    ("latest/deploy.yaml", Context.PRODUCTION),
])
def test_path_conventions(path: str | None, context: Context) -> None:
    assert ContextRule().of(path) is context


def _write(root: Path, files: dict[str, str]) -> RepoView:
    for rel, text in files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return RepoView(root)


def test_project_configuration_decides(tmp_path: Path) -> None:
    repo = _write(tmp_path, {
        "pyproject.toml": '[tool.pytest.ini_options]\ntestpaths = ["checks"]\n'
                          '[tool.setuptools.packages.find]\ninclude = ["mypkg*"]\nexclude = ["demos*"]\n',
        "mkdocs.yml": "site_name: x\ndocs_dir: site_src\n",
        "manual/conf.py": "extensions = ['sphinx.ext.autodoc']\n",
        "checks/check_io.py": "x = 1\n",
        "mypkg/examples/builtin.py": "x = 1\n",
        "mypkg/core.py": "x = 1\n",
        "site_src/index.md": "# x\n",
        "manual/index.rst": "x\n",
    })
    rule = build_rule(repo)
    assert rule.of("checks/check_io.py") is Context.TEST
    assert rule.of("mypkg/examples/builtin.py") is Context.PRODUCTION  # shipped with the package
    assert rule.of("site_src/index.md") is Context.DOCS
    assert rule.of("manual/index.rst") is Context.DOCS
    assert rule.of("mypkg/core.py") is Context.PRODUCTION
    assert set(rule.sources) == {"pyproject.toml", "mkdocs.yml", "manual/conf.py"}


def test_configuration_cannot_declare_shipped_code_a_test(tmp_path: Path) -> None:
    repo = _write(tmp_path, {
        "setup.cfg": "[tool:pytest]\ntestpaths = src .\n[options]\npackages = mypkg\n",
        "tox.ini": "[pytest]\ntestpaths = mypkg\n",
        "mypkg/core.py": "x = 1\n",
        "src/app.py": "x = 1\n",
    })
    rule = build_rule(repo)
    assert rule.of("mypkg/core.py") is Context.PRODUCTION
    assert rule.of("src/app.py") is Context.PRODUCTION


def test_parse_contexts() -> None:
    assert parse_contexts(["test,example", "docs"]) == (Context.TEST, Context.EXAMPLE, Context.DOCS)
    assert set(parse_contexts(["all"])) == set(Context)
    with pytest.raises(ValueError, match="unknown context 'tset'"):
        parse_contexts(["tset"])


CATALOG = """
category: {id: alpha, name: Alpha}
controls:
  - id: AL-01
    title: No secrets
    description: No secrets in the tree.
    severity: critical
    automation: [A]
    evidence: [a secret scanner finding]
    remediation: Remove it.
  - id: AL-02
    title: Monitoring
    description: Production is monitored.
    severity: high
    automation: [A]
    evidence: [a monitoring configuration]
    remediation: Monitor it.
  - id: AL-03
    title: Fairness tests
    description: Fairness is tested.
    severity: medium
    automation: [A]
    evidence: [Tests asserting fairness thresholds in `tests/`]
    remediation: Test it.
"""


def _probe(items: list[ProbeItem]) -> type[Probe]:
    class _P(Probe):
        """A probe defined in the test."""

        name = "t"
        controls = ("AL-01", "AL-02", "AL-03")

        def run(self, repo: RepoView, settings: Settings) -> Iterable[ProbeItem]:
            yield from items

    return _P


def _decide(tmp_path: Path, items: list[ProbeItem], counted: tuple[Context, ...] = ()):  # type: ignore[no-untyped-def]
    catalog = build_catalog([("a.yaml", CATALOG)])
    run = run_probe(_probe(items), "", RepoView(tmp_path), Settings())
    return catalog, decide(catalog, [run], AnswersFile.empty(), ContextRule(), counted)


def test_test_key_neither_fails_the_control_nor_the_gate(tmp_path: Path) -> None:
    key = Finding("t.secret", Severity.CRITICAL, "AWS key", "tests/test_auth.py", 3, ("AL-01",), "AKIA...")
    catalog, d = _decide(tmp_path, [key])
    (rec,) = d.findings
    assert (rec.context, rec.counted) == ("test", False)
    control = next(r for r in d.controls if r.control.id == "AL-01")
    assert control.status is Status.UNVERIFIED
    assert control.evidence[0].counted is False
    gate = evaluate_gate(d.controls, d.findings, compute_scores(catalog, d.controls),
                         Settings(fail_on=FailOn.LOW, allow_unverified=True))
    assert gate.passed
    # counted on request: the same finding fails the control and blocks
    catalog, d = _decide(tmp_path, [key], (Context.TEST,))
    assert next(r for r in d.controls if r.control.id == "AL-01").status is Status.FAIL
    gate = evaluate_gate(d.controls, d.findings, compute_scores(catalog, d.controls),
                         Settings(fail_on=FailOn.LOW, allow_unverified=True))
    assert [b.kind for b in gate.blockers] == ["control", "finding"]


def test_pass_evidence_from_examples_and_tests(tmp_path: Path) -> None:
    _, d = _decide(tmp_path, [
        Evidence("AL-02", Effect.PASS, "prometheus scrape config", "examples/monitoring/prometheus.yml", 1),
        Evidence("AL-02", Effect.PASS, "monitor set up in a test", "tests/test_monitor.py", 4),
        Evidence("AL-03", Effect.PASS, "fairness threshold asserted", "tests/test_fairness.py", 9),
    ])
    status = {r.control.id: r.status for r in d.controls}
    assert status["AL-02"] is Status.UNVERIFIED  # an example or a test-only monitor is not production monitoring
    assert status["AL-03"] is Status.PASS  # a fairness test is the evidence the control asks for


def test_docs_pass_counts_docs_fail_does_not(tmp_path: Path) -> None:
    _, d = _decide(tmp_path, [
        Evidence("AL-02", Effect.PASS, "runbook", "docs/runbook.md", 1),
        Evidence("AL-01", Effect.FAIL, "key in a snippet", "docs/quickstart.md", 7),
    ])
    status = {r.control.id: r.status for r in d.controls}
    assert status["AL-02"] is Status.PASS
    assert status["AL-01"] is Status.UNVERIFIED


def test_scan_counts_contexts_from_settings(tmp_path: Path) -> None:
    item = Finding("t.pickle", Severity.HIGH, "pickle.load", "examples/load.py", 2, ("AL-01",), "pickle.load")
    catalog = build_catalog([("a.yaml", CATALOG)])
    default = scan(tmp_path, Settings(), catalog=catalog, probes=[(_probe([item]), "")])
    assert [(f.context, f.counted) for f in default.findings] == [("example", False)]
    assert default.counted_contexts == ("production",)
    wide = scan(tmp_path, Settings(contexts=("example",)), catalog=catalog, probes=[(_probe([item]), "")])
    assert [(f.context, f.counted) for f in wide.findings] == [("example", True)]
    assert wide.counted_contexts == ("production", "example")


def test_cli_rejects_unknown_context(tmp_path: Path) -> None:
    res = CliRunner().invoke(cli, ["scan", str(tmp_path), "--context", "tests", "-q"])
    assert res.exit_code == 2
    assert "unknown context 'tests'" in res.output
