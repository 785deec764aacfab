"""Every regular expression the scanner and the built-in probes compile runs in linear time on hostile text.

The patterns are collected from the modules themselves (module-level compiled patterns, also inside tuples, lists
and dicts), so a new pattern is covered without editing this test. Each one is run over adversarial texts (long
runs of spaces, blank lines, repeated delimiters) of size n and 8n: linear work grows about 8 times, a
backtracking pattern 64 times or more. Timings are compared with each other, never with a clock budget; runs
too fast to measure are not judged.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

import mlposture.probes
import mlposture.scanner

SMALL, FACTOR = 1000, 8  # below ~1000 characters fixed per-call costs blur the comparison
MAX_RATIO = 24.0  # linear is ~8, quadratic ~64
MEASURABLE = 0.03  # seconds: below this for the large input there is nothing to judge
ATTEMPTS = 5
# patterns that only ever see file names (at most a few hundred characters), not file contents
NAME_ONLY = {"mlposture.probes.dependencies.shell.DOCKERFILE_RE"}

ADVERSARIAL: dict[str, Callable[[int], str]] = {
    "spaces": lambda n: " " * n + "\x00",
    "blank lines": lambda n: "\n" * n + "\x00",
    "space-newline": lambda n: " \n" * (n // 2) + "\x00",
    "tabs": lambda n: "\t" * n + "!",
    "letters": lambda n: "a" * n + "!",
    "words": lambda n: "a " * (n // 2) + "!",
    "heading": lambda n: "# " + " " * (n // 2) + "#" + " " * (n // 2) + "x",
    "dashes": lambda n: "-" * n + "\n",
    "colons": lambda n: ":" * n,
    "quotes": lambda n: '"' * n,
    "dots": lambda n: "." * n,
    "slashes": lambda n: "/" * n,
    "equals": lambda n: "=" * n,
    "braces": lambda n: "{" * n,
    "templates": lambda n: "${{ " * (n // 4),
    "digits": lambda n: "1" * n + "x",
    "keys": lambda n: "a: " * (n // 3),
    "underscores": lambda n: "a_" * (n // 2),
    "angles": lambda n: "<" * n,
    "commas": lambda n: "a," * (n // 2),
}


def _patterns() -> dict[str, re.Pattern[str]]:
    found: dict[tuple[str, int], tuple[str, re.Pattern[str]]] = {}
    for pkg in (mlposture.scanner, mlposture.probes):
        for info in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
            if info.name.endswith("__main__"):
                continue
            module = importlib.import_module(info.name)
            for attr, value in vars(module).items():
                values = value.values() if isinstance(value, dict) else value if isinstance(value, (tuple, list)) \
                    else [value]
                for item in values:
                    if isinstance(item, re.Pattern) and isinstance(item.pattern, str):
                        found.setdefault((item.pattern, item.flags), (f"{info.name}.{attr}", item))
    return {name: pattern for name, pattern in found.values() if name not in NAME_ONLY}


PATTERNS = _patterns()


HANG_GUARD = 20.0  # seconds: a pattern that backtracks catastrophically fails here instead of hanging the suite


@contextmanager
def _guard() -> Iterator[None]:
    def expired(*_: object) -> None:
        raise AssertionError(f"still running after {HANG_GUARD} s: not linear")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, HANG_GUARD)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _cost(pattern: re.Pattern[str], text: str) -> float:
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _match in pattern.finditer(text):
            pass
        best = min(best, time.perf_counter() - start)
    return best


def test_patterns_were_collected():
    assert len(PATTERNS) > 100
    assert "mlposture.probes.monitoring.infra.THRESHOLD_KEY" in PATTERNS


@pytest.mark.parametrize("name", sorted(PATTERNS))
def test_pattern_runs_in_linear_time(name):
    pattern = PATTERNS[name]
    slow = []
    for kind, make in ADVERSARIAL.items():
        small = large = float("inf")
        for _attempt in range(ATTEMPTS):  # a loaded machine stalls now and then: keep the best of each size
            with _guard():
                small = min(small, _cost(pattern, make(SMALL)))
                large = min(large, _cost(pattern, make(SMALL * FACTOR)))
            if large <= MEASURABLE or large / max(small, 1e-4) <= MAX_RATIO:
                break
        else:
            slow.append(f"{kind}: {small:.4f}s -> {large:.4f}s")
    assert not slow, f"{name} ({pattern.pattern[:80]!r}) grows faster than linear: {slow}"


def _grows_linearly(run: Callable[[int], object], n: int) -> None:
    costs = []
    for size in (n, n * FACTOR):
        start = time.perf_counter()
        with _guard():
            run(size)
        costs.append(time.perf_counter() - start)
    assert costs[1] < 0.5 or costs[1] / max(costs[0], 1e-4) < MAX_RATIO, costs


def test_readme_heading_of_spaces_and_hashes():
    from mlposture.scanner.sources.markdown import _ATX, atx_title

    _grows_linearly(lambda n: _ATX.match("# " + " " * n + "#" + " " * n + "x"), 400)
    assert atx_title("Model card ##") == "Model card" and atx_title("C#") == "C#"


def test_helm_template_fallback_on_blank_lines():
    from mlposture.probes.infrastructure.kubernetes import fallback_scan

    _grows_linearly(lambda n: fallback_scan("{{ broken\n" + " \n" * n + "image: x"), 500)
    assert fallback_scan("{{ x\nkind: Deployment\n  - image: pytorch/pytorch:2.1\n")[0] == [("Deployment", 2)]


def test_yaml_threshold_key_on_blank_lines():
    from mlposture.probes.monitoring.infra import THRESHOLD_KEY

    _grows_linearly(lambda n: THRESHOLD_KEY.search("\n" * n + "x"), 4000)
    m = THRESHOLD_KEY.search("a: 1\n\n  min_accuracy: 0.8\n")
    assert m is not None and m.group(1) == "min_accuracy" and m.group(6) == "0.8"
