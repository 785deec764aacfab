"""The control catalog as data: one YAML file per category (package data, read with importlib.resources)."""
