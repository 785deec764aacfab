"""Objects named as ``"module:attribute"`` in our own tables, imported only when first used (fast start-up)."""

from __future__ import annotations

import importlib


def load_object(spec: str) -> object:
    """Import ``module`` and return its ``attribute``; ``spec`` always comes from mlposture's own tables."""
    module, attr = spec.split(":")
    return getattr(importlib.import_module(module), attr)
