"""Effective settings: defaults < repository file < ``MLPOSTURE_*`` environment < command-line flags.

The repository file is ``[tool.mlposture]`` in ``pyproject.toml`` and/or ``.mlposture.yaml`` (the YAML file wins
where both set a key). Every value is converted to the type of its :class:`~mlposture.scanner.settings.Settings` field
here, once, so probes never parse settings themselves; a bad value names the file and line, and the same range
checks apply whatever the source.

The repository file belongs to the scanned repository, which may be hostile (a fork's pull request): it is read
without following symbolic links out of the root, its ordinary settings are honoured, but every setting it makes
that lowers the gate or hides findings is returned as a :class:`RepoSetting` so that the summary and every report
show it ("this repository's config lowers the gate"). ``repo_config=False`` (``--no-repo-config``) ignores it.
The environment and the command line are the user's and are not flagged.
"""

from __future__ import annotations

import dataclasses
import os
import stat
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlposture.scanner import yamlsafe
from mlposture.scanner.errors import InputError
from mlposture.scanner.readers import ReadError, ignore_spec, toml_loads
from mlposture.scanner.results import RepoSetting
from mlposture.scanner.settings import FailOn, Settings

ENV_PREFIX = "MLPOSTURE_"
YAML_CONFIG = ".mlposture.yaml"
EXTRA_YAML_KEYS = {"eu_ai_act"}  # read by probes (risk tier), not a setting of its own


class ConfigError(InputError):
    """A configuration value or file that cannot be used; names the file and line."""


MAX_CONFIG_BYTES = 1 << 20
# (lowest, highest) accepted from any source; None: no bound on that side
RANGES: dict[str, tuple[float | None, float | None]] = {
    "max_text_bytes": (1024, 1 << 30),
    "log_retention_days": (1, 36_500),
    "eu_log_retention_days": (1, 36_500),
    "dp_epsilon_max": (0, 1_000_000),
    "redteam_max_age_days": (1, 36_500),
    "audit_max_age_days": (1, 36_500),
    "compliance_doc_max_age_days": (1, 36_500),
    "max_model_bytes_scanned": (0, None),
    "probe_timeout_seconds": (0, 86_400),
    "fail_under": (0, 100),
}


@dataclass(frozen=True)
class EffectiveConfig:
    """The settings and, for each one, where its value came from."""

    settings: Settings
    sources: dict[str, str]
    lowered: tuple[RepoSetting, ...] = ()  # repository settings that lower the gate (see the module docstring)
    notes: tuple[tuple[str, str, int | None], ...] = ()  # (message, path, line): repository files not used


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


def _checked(name: str, value: Any, where: str, line: int | None) -> Any:
    """The converted value after the range and pattern checks every source must pass."""
    value = _convert(name, value, where, line)
    low, high = RANGES.get(name, (None, None))
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if number and (value != value or (low is not None and value < low) or (high is not None and value > high)):
        bounds = f"{low if low is not None else '-inf'}..{high if high is not None else 'inf'}"
        raise ConfigError(where, f"{name}: {value!r} is out of range ({bounds})", line)
    if name == "exclude":
        _, bad = ignore_spec(value)
        if bad:
            raise ConfigError(where, f"exclude: {bad[0][1]!r} is not a valid gitignore pattern", line)
    return value


def _key(raw: str) -> str:
    return raw.strip().replace("-", "_").lower()


def _read_repo_file(root: Path, name: str) -> str | None:
    """Text of a file at the root of the scanned repository, or ``None`` when absent.

    A symbolic link that leaves the root, a special file or an oversized file is refused with a message that never
    quotes the content. Raises :class:`ConfigError` (the caller decides whether that is fatal).
    """
    path = root / name
    try:
        st = path.lstat()
    except OSError:
        return None
    real = os.path.realpath(path)
    root_real = os.path.realpath(root)
    if stat.S_ISLNK(st.st_mode) and os.path.commonpath([real, root_real]) != root_real:
        raise ConfigError(name, "symbolic link out of the scanned folder, not read")
    try:
        st = os.stat(real)
        if not stat.S_ISREG(st.st_mode):
            raise ConfigError(name, "not a regular file, not read")
        if st.st_size > MAX_CONFIG_BYTES:
            raise ConfigError(name, f"larger than {MAX_CONFIG_BYTES} bytes, not read")
        with open(real, "rb") as fh:
            data = fh.read(MAX_CONFIG_BYTES + 1)
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(name, f"not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise ConfigError(name, f"cannot read: {exc.strerror or type(exc).__name__}") from None


def read_repo_config(root: Path, notes: list[tuple[str, str, int | None]] | None = None,
                     ) -> list[tuple[str, str, Any, int | None]]:
    """(source, name, raw value, line) for every setting the repository's files set.

    A ``pyproject.toml`` that cannot be read is the repository's build file, not ours: it adds a note to ``notes``
    and sets nothing. ``.mlposture.yaml`` and ``[tool.mlposture]`` are ours: their mistakes raise
    :class:`ConfigError`.
    """
    out: list[tuple[str, str, Any, int | None]] = []
    try:
        pyproject = _read_repo_file(root, "pyproject.toml")
        data = toml_loads(pyproject) if pyproject is not None else {}
    except ConfigError as exc:
        data, pyproject = {}, None
        if notes is not None:
            notes.append((f"[tool.mlposture] not read: {exc.message}", "pyproject.toml", exc.line))
    except ReadError as exc:
        data, pyproject = {}, None
        if notes is not None:
            notes.append((f"[tool.mlposture] not read: {exc.message}", "pyproject.toml", exc.line))
    tool = data.get("tool", {}) if isinstance(data, dict) else {}
    section = tool.get("mlposture") if isinstance(tool, dict) else None
    if section is not None and pyproject is not None:
        if not isinstance(section, dict):
            raise ConfigError("pyproject.toml", "[tool.mlposture] must be a table")
        text = pyproject.splitlines()
        for raw_key, value in section.items():
            name = _key(raw_key)
            if name in EXTRA_YAML_KEYS:
                continue
            line = next((i + 1 for i, t in enumerate(text) if t.strip().startswith(raw_key)), None)
            if name not in _HINTS:
                raise ConfigError("pyproject.toml", f"[tool.mlposture] unknown setting '{raw_key[:60]}'", line)
            out.append(("pyproject.toml [tool.mlposture]", name, value, line))
    yml_text = _read_repo_file(root, YAML_CONFIG)
    if yml_text is not None:
        try:
            doc = yamlsafe.load(yml_text, strict=True)
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
                raise ConfigError(YAML_CONFIG, f"unknown setting '{str(raw_key)[:60]}'", line)
            out.append((YAML_CONFIG, name, value, line))
    return out


def _lowers(name: str, value: Any) -> str | None:
    """Why a repository-chosen value lowers the gate or hides findings, or ``None`` when it does not."""
    default = getattr(Settings(), name)
    if name == "fail_on" and value == FailOn.NONE:
        return "the gate never fails"
    if name == "allow_unverified" and value:
        return "unverified controls no longer block"
    if name == "allow_probe_errors" and value:
        return "a crashed or missing probe no longer blocks"
    if name == "disabled_probes" and value:
        return "probes switched off: their controls are not checked"
    if name == "exclude" and value:
        return "files hidden from every probe (model files included if they match)"
    if name == "no_vulns" and value:
        return "known-vulnerability audit switched off"
    if name == "vuln_db" and value:
        return "vulnerabilities audited against a database the repository chose"
    if name == "fail_under" and value is not None:
        return "score threshold chosen by the repository"
    if name in ("max_text_bytes", "log_retention_days", "eu_log_retention_days") and value < default:
        return f"lower than the default {default}"
    if name in ("dp_epsilon_max", "redteam_max_age_days", "audit_max_age_days", "compliance_doc_max_age_days") \
            and value > default:
        return f"more lenient than the default {default}"
    if name == "probe_timeout_seconds" and value != default:
        return "probe time budget " + ("removed" if value == 0 else f"changed from {default:g} s")
    if name == "max_model_bytes_scanned" and value != default:
        return "model files scanned only up to a byte cap"
    return None


def build_settings(root: Path | None, env: Mapping[str, str] | None = None,
                   flags: Mapping[str, Any] | None = None, repo_config: bool = True) -> EffectiveConfig:
    """Layer the sources and convert every value; raises :class:`ConfigError`.

    ``repo_config=False`` ignores the repository's own files (``--no-repo-config``).
    """
    values: dict[str, Any] = {}
    sources = {name: "default" for name in Settings.field_names()}
    from_repo: dict[str, tuple[str, int | None, Any]] = {}
    notes: list[tuple[str, str, int | None]] = []
    if root is not None and repo_config:
        for source, name, raw, line in read_repo_config(root, notes):
            where = source.split(" ")[0]
            values[name] = _checked(name, raw, where, line)
            sources[name] = f"{source}" + (f":{line}" if line else "")
            from_repo[name] = (where, line, raw)
            if name == "extra_controls":
                for item in values[name]:
                    if os.path.isabs(item) or ".." in Path(item).parts:
                        raise ConfigError(where, f"extra_controls: {item[:80]!r} must be a path inside the "
                                                 "repository (no absolute path, no '..')", line)
    for key, raw in (env if env is not None else os.environ).items():
        if not key.startswith(ENV_PREFIX):
            continue
        name = _key(key[len(ENV_PREFIX):])
        if name not in _HINTS:
            continue  # MLPOSTURE_* variables of other tools or future versions are not errors
        values[name] = _checked(name, raw, f"environment {key}", None)
        sources[name] = f"environment {key}"
        from_repo.pop(name, None)
    for name, raw in (flags or {}).items():
        if raw is None or (isinstance(raw, tuple) and not raw):
            continue
        values[name] = _checked(name, raw, f"--{name.replace('_', '-')}", None)
        sources[name] = "command line"
        from_repo.pop(name, None)
    if root is not None and "extra_controls" in values and sources["extra_controls"] != "command line":
        values["extra_controls"] = tuple(str((root / p).resolve()) for p in values["extra_controls"])
    lowered = []
    for name, (where, line, _raw) in from_repo.items():
        why = _lowers(name, values[name])
        if why is not None:
            shown = ", ".join(values[name]) if isinstance(values[name], tuple) else getattr(values[name], "value",
                                                                                              values[name])
            lowered.append(RepoSetting(name, str(shown), where, line, why))
    return EffectiveConfig(dataclasses.replace(Settings(), **values), sources, tuple(lowered), tuple(notes))
