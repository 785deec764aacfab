"""Which source files a pipeline actually runs: the difference between pass and partial for library evidence.

A control such as DATA-06 is met when the validation runs on every batch, not when a notebook once imported
pandera. A Python file counts as wired when
- a CI job step or a DVC stage command names it (``python src/validate.py``, ``python -m pkg.validate``), directly
  or through a shell script / Makefile those commands run;
- it defines orchestrator tasks (imports Airflow, Prefect, Kubeflow Pipelines, Dagster, Metaflow, ZenML, Flyte or
  Luigi);
- a wired file imports it (followed through the repository's own modules, breadth-first and bounded).
Notebooks are never wired here: the judgement treats them as weaker evidence.
"""

from __future__ import annotations

import posixpath
import re
from collections import deque
from collections.abc import Callable

from mlposture.probes.lifecycle.commands import CI, DVC, Command

ORCHESTRATORS = {
    "airflow": "Airflow", "prefect": "Prefect", "kfp": "Kubeflow Pipelines", "dagster": "Dagster",
    "metaflow": "Metaflow", "zenml": "ZenML", "flytekit": "Flyte", "luigi": "Luigi",
}
MAX_IMPORT_HOPS = 5000
_TOKEN = re.compile(r"[^\s'\"=;|&()<>]+")


def _module_paths(module: str) -> list[str]:
    base = module.replace(".", "/")
    out = []
    for root in ("", "src/"):
        out += [f"{root}{base}.py", f"{root}{base}/__init__.py"]
    return out


class Wiring:
    """Index of wired files, built once from the command list and the imports of the ``.py`` files it reaches.

    ``imports``: path -> the absolute module names the file imports (empty for notebooks: never wired).
    """

    def __init__(self, commands: list[Command], imports: Callable[[str], tuple[str, ...]], paths: set[str]) -> None:
        self._why: dict[str, str] = {}
        self._paths = paths
        self._tasks: dict[str, str | None] = {}  # orchestrator task files, looked up when asked
        queue: deque[str] = deque()

        def mark(path: str, why: str) -> None:
            if path not in self._why:
                self._why[path] = why
                queue.append(path)

        direct = [c for c in commands if c.kind in (CI, DVC)]
        for cmd in direct:
            for path in self._referenced(cmd):
                mark(path, cmd.describe())
        # shell scripts and Makefiles run by a pipeline pass the wiring on to what they call
        hops = 0
        while queue and hops < MAX_IMPORT_HOPS:
            hops += 1
            current = queue.popleft()
            for cmd in commands:
                if cmd.path == current:
                    for path in self._referenced(cmd):
                        mark(path, f"{cmd.describe()}, itself run by {self._why[current]}")
            for module in imports(current):
                for candidate in _module_paths(module):
                    if candidate in self._paths:
                        mark(candidate, f"{current} imports it; that runs in {self._why[current]}")
        self._imports = imports

    def _referenced(self, cmd: Command) -> list[str]:
        base = posixpath.dirname(cmd.path) if cmd.kind == DVC else ""
        tokens = _TOKEN.findall(cmd.text)
        found: list[str] = []
        for i, token in enumerate(tokens):
            clean = token.removeprefix("./").rstrip(",")
            candidates = [clean]
            if base:
                candidates.append(posixpath.normpath(posixpath.join(base, clean)))
            if i > 0 and tokens[i - 1] == "-m":
                candidates += _module_paths(clean)
            for c in candidates:
                if c in self._paths and c not in found:
                    found.append(c)
        return found

    def why(self, path: str) -> str | None:
        """How the file is wired into a pipeline, or ``None``."""
        found = self._why.get(path)
        if found is not None:
            return found
        if path not in self._tasks:
            tops = {m.split(".", 1)[0] for m in self._imports(path)}
            self._tasks[path] = next((f"{label} task definition" for module, label in ORCHESTRATORS.items()
                                      if module in tops), None)
        return self._tasks[path]
