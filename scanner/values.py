"""Coercion of values read from hostile configuration files (YAML, JSON, HCL), shared by the probes.

Any key of a scanned config may hold anything (a list where a number belongs, ``"inf"``, ``true``); one
conservative reading keeps the probes' judgements consistent.
"""

from __future__ import annotations

import math
from typing import Any


def as_number(value: Any) -> float | None:
    """A finite number from an int, float or numeric string; ``None`` for booleans, references and expressions."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None
