"""Make ``probes`` resolve to the real package, not to ``tests/probes`` as a namespace package.

pytest puts ``tests`` on ``sys.path`` for the root conftest; ``tests/probes`` has no ``__init__.py``, so ``import
probes`` could find it before the editable install's finder. The project root first fixes the lookup.
"""

from __future__ import annotations

import os
import sys

import scanner

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(scanner.__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
_mod = sys.modules.get("probes")
if _mod is not None and getattr(_mod, "__file__", None) is None:
    del sys.modules["probes"]
