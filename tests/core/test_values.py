"""Hostile config values are coerced conservatively."""

from __future__ import annotations

import pytest

from mlposture.scanner.values import as_number


@pytest.mark.parametrize(("value", "expected"), [
    (14, 14.0), ("90", 90.0), (" 7.5 ", 7.5), (True, None), ("inf", None), ("nan", None), (float("inf"), None),
    ("${var.days}", None), ([1], None), (None, None), ({"a": 1}, None),
])
def test_as_number(value, expected):
    assert as_number(value) == expected
