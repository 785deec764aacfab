"""Serialized model artifacts, found by content: can loading them execute code? (MODEL-03, MODEL-07, MODEL-01)."""
