"""Effective settings: defaults < repository file < ``MLPOSTURE_*`` environment < command-line flags.

The repository file is ``[tool.mlposture]`` in ``pyproject.toml`` and/or ``.mlposture.yaml`` (the YAML file wins
where both set a key). Every value is converted to the type of its :class:`~mlposture.scanner.settings.Settings` field
here, once, so probes never parse settings themselves; a bad value names the file and line.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlposture.scanner import yamlsafe
from mlposture.scanner.errors import InputError
from mlposture.scanner.settings import FailOn, Settings

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ENV_PREFIX = "MLPOSTURE_"
YAML_CONFIG = ".mlposture.yaml"
EXTRA_YAML_KEYS = {"eu_ai_act"}  # read by probes (risk tier), not a setting of its own


class ConfigError(InputError):
    """A configuration value or file that cannot be used; names the file and line."""


@dataclass(frozen=True)
class EffectiveConfig:
    """The settings and, for each one, where its value came from."""

    settings: Settings
    sources: dict[str, str]


_HINTS = typing.get_type_hints(Settings)


def _convert(name: str, value: Any, where: str, line: int | None) -> Any:
    hint = _HINTS[name]
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    optional = origin in (typing.Union, types.UnionType) and type(None) in args
    if optional:
        if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none", "null")):
            return None
        hint = next(a for a in args if a is not type(None))
        origin = typing.get_origin(hint)
    try:
        if hint is bool:
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ValueError("expected true or false")
        if hint is int:
            if isinstance(value, bool):
                raise ValueError("expected a whole number")
            return int(str(value).strip())
        if hint is float:
            if isinstance(value, bool):
                raise ValueError("expected a number")
            return float(str(value).strip())
        if hint is str:
            if isinstance(value, (dict, list)):
                raise ValueError("expected text")
            return str(value)
        if hint is FailOn:
            return FailOn(str(value).strip().lower())
        if origin is tuple:
            items = value.split(",") if isinstance(value, str) else value
            if not isinstance(items, (list, tuple)):
                raise ValueError("expected a list")
            return tuple(str(i).strip() for i in items if str(i).strip())
    except ValueError as exc:
        choices = f" (one of {', '.join(f.value for f in FailOn)})" if hint is FailOn else ""
        raise ConfigError(where, f"{name}: invalid value {value!r}: {exc}{choices}", line) from None
    raise ConfigError(where, f"{name}: unsupported setting type", line)  # pragma: no cover


def _key(raw: str) -> str:
    return raw.strip().replace("-", "_").lower()


def read_repo_config(root: Path) -> list[tuple[str, str, Any, int | None]]:
    """(source, name, raw value, line) for every setting the repository's files set."""
    out: list[tuple[str, str, Any, int | None]] = []
    pyproject = root / "pyproject.toml"
    if pyproject.is_file():
        try:
            data = tomllib.loads(pyproject.read_text("utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError("pyproject.toml", f"cannot read: {exc}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError("pyproject.toml", f"invalid TOML: {exc}") from None
        section = data.get("tool", {}).get("mlposture")
        if section is not None:
            if not isinstance(section, dict):
                raise ConfigError("pyproject.toml", "[tool.mlposture] must be a table")
            text = pyproject.read_text("utf-8").splitlines()
            for raw_key, value in section.items():
                name = _key(raw_key)
                if name in EXTRA_YAML_KEYS:
                    continue
                line = next((i + 1 for i, t in enumerate(text) if t.strip().startswith(raw_key)), None)
                if name not in _HINTS:
                    raise ConfigError("pyproject.toml", f"[tool.mlposture] unknown setting '{raw_key}'", line)
                out.append(("pyproject.toml [tool.mlposture]", name, value, line))
    yml = root / YAML_CONFIG
    if yml.is_file():
        try:
            doc = yamlsafe.load(yml.read_text("utf-8"), strict=True)
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(YAML_CONFIG, f"cannot read: {exc}") from None
        except yamlsafe.YamlError as exc:
            raise ConfigError(YAML_CONFIG, f"invalid YAML: {exc.message}", exc.line) from None
        if doc is not None and not isinstance(doc, yamlsafe.YMap):
            raise ConfigError(YAML_CONFIG, "must be a mapping of settings", 1)
        for raw_key, value in (doc or yamlsafe.YMap()).items():
            name = _key(str(raw_key))
            line = doc.line_of(raw_key) if doc is not None else None
            if name == "eu_ai_act":
                tier = value.get("risk_tier") if isinstance(value, dict) else None
                if tier is not None:
                    out.append((YAML_CONFIG, "eu_risk_tier", str(tier).strip().lower(), line))
                continue
            if name not in _HINTS:
                raise ConfigError(YAML_CONFIG, f"unknown setting '{raw_key}'", line)
            out.append((YAML_CONFIG, name, value, line))
    return out


def build_settings(root: Path | None, env: Mapping[str, str] | None = None,
                   flags: Mapping[str, Any] | None = None) -> EffectiveConfig:
    """Layer the sources and convert every value; raises :class:`ConfigError`."""
    values: dict[str, Any] = {}
    sources = {name: "default" for name in Settings.field_names()}
    if root is not None:
        for source, name, raw, line in read_repo_config(root):
            values[name] = _convert(name, raw, source.split(" ")[0], line)
            sources[name] = f"{source}" + (f":{line}" if line else "")
    for key, raw in (env if env is not None else os.environ).items():
        if not key.startswith(ENV_PREFIX):
            continue
        name = _key(key[len(ENV_PREFIX):])
        if name not in _HINTS:
            continue  # MLPOSTURE_* variables of other tools or future versions are not errors
        values[name] = _convert(name, raw, f"environment {key}", None)
        sources[name] = f"environment {key}"
    for name, raw in (flags or {}).items():
        if raw is None or (isinstance(raw, tuple) and not raw):
            continue
        values[name] = _convert(name, raw, f"--{name.replace('_', '-')}", None)
        sources[name] = "command line"
    if root is not None and "extra_controls" in values and sources["extra_controls"] != "command line":
        values["extra_controls"] = tuple(str((root / p).resolve()) for p in values["extra_controls"])
    return EffectiveConfig(dataclasses.replace(Settings(), **values), sources)
