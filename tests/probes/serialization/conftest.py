"""Make ``probes`` resolve to the real package.

``tests/probes`` has no ``__init__.py``, and pytest puts ``tests`` on ``sys.path`` for the root conftest, so
``import probes`` would find ``tests/probes`` as a namespace package before the editable install's finder.
Putting the project root first fixes the lookup for this folder's tests.
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
