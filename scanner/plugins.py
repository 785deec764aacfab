"""Probe discovery through the ``mlposture.probes`` entry-point group.

Built-in probes register through the same group as third-party ones (as Bandit's plugins do), so there is one
way in and it is exercised by every run.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points

from mlposture.scanner.probe import Probe, ProbeLoadError

GROUP = "mlposture.probes"


@dataclass(frozen=True)
class LoadedProbes:
    """Probe classes found, and entry points that failed to load."""

    probes: tuple[tuple[type[Probe], str], ...]  # (class, distribution name)
    errors: tuple[ProbeLoadError, ...]


def _distribution(ep: EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    return str(dist.name) if dist is not None else ""


def discover(disabled: tuple[str, ...] = ()) -> LoadedProbes:
    """Load every probe class registered in the group, skipping ``disabled`` names.

    A broken plugin is reported, never fatal: one bad third-party distribution must not stop a CI gate.
    """
    found: list[tuple[type[Probe], str]] = []
    errors: list[ProbeLoadError] = []
    seen: set[str] = set()
    for ep in sorted(entry_points(group=GROUP), key=lambda e: e.name):
        if ep.name in disabled or ep.name in seen:
            continue
        seen.add(ep.name)
        dist = _distribution(ep)
        try:
            obj = ep.load()
        except Exception as exc:  # any import-time failure of a plugin
            errors.append(ProbeLoadError(ep.name, f"{type(exc).__name__}: {exc}", dist))
            continue
        if not (isinstance(obj, type) and issubclass(obj, Probe)):
            errors.append(ProbeLoadError(ep.name, f"{ep.value} is not a mlposture Probe subclass", dist))
            continue
        if not getattr(obj, "name", None):
            errors.append(ProbeLoadError(ep.name, f"{ep.value} has no 'name'", dist))
            continue
        found.append((obj, dist))
    return LoadedProbes(tuple(found), tuple(errors))
