"""The rules of the dependencies probe: the ids its evidence and findings carry, what each looks for, its controls.

``severity`` is what a finding of the rule usually carries; the finding itself may differ (a development-only
requirement or a first-party action is ``low``, a vulnerability carries its advisory's severity).
"""

from __future__ import annotations

from mlposture.scanner.probe import Rule, Severity

RULES: tuple[Rule, ...] = (
    Rule("dependencies.unpinned-requirement", ("PIPE-01",),
         "a requirement neither pinned exactly nor covered by a lock file generated from its manifest", Severity.HIGH),
    Rule("dependencies.unpinned-action", ("PIPE-01",),
         "a GitHub Actions uses: reference (or docker:// image) not pinned to a commit SHA or digest", Severity.MEDIUM),
    Rule("dependencies.pinned-share", ("PIPE-01",),
         "share of runtime dependencies pinned in place, hash-locked or covered by a lock file"),
    Rule("dependencies.known-vulnerability", ("PIPE-02",),
         "a pinned package version with a known vulnerability (pip-audit against OSV)", Severity.HIGH),
    Rule("dependencies.private-index", ("PIPE-03",),
         "a private package index that replaces PyPI or serves only the packages that name it"),
    Rule("dependencies.index-confusion", ("PIPE-03",),
         "a private index added as an extra index beside PyPI (dependency confusion)", Severity.HIGH),
)
