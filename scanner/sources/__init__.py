"""The raw-facts layer: readers shared by every probe (CI model, shell lines, secrets, manifests, documents).

Probes judge; the readers here only parse, never execute, and never decide a control. A probe reuses another
probe's facts only through this package, never by importing the other probe.
"""
