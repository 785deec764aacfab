"""A probe from a separate installed distribution is discovered and run; a crashing one is isolated.

The distribution is a real wheel installed by pip into a folder on PYTHONPATH, so discovery goes through
importlib.metadata exactly as for any third-party plugin: nothing in the registry is patched.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

PROBE_MODULE = '''
"""Third-party probes for tests."""
from mlposture.scanner.api import Effect, Evidence, Probe


class WatermarkProbe(Probe):
    """Looks for a WATERMARK.md file (a third-party probe).

    Second paragraph is not part of the description.
    """

    name = "acme-watermark"
    version = "9.9.1"
    controls = ("MODEL-04",)

    def run(self, repo, settings):
        f = repo.get("WATERMARK.md")
        if f is not None:
            yield Evidence("MODEL-04", Effect.PASS, "watermark procedure documented", f.path, 1, "acme.watermark")


class CrashingProbe(Probe):
    """Always crashes."""

    name = "acme-crash"
    version = "0.0.1"
    controls = ("MODEL-09",)

    def run(self, repo, settings):
        raise ValueError("acme parser bug")
        yield
'''


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def build_wheel(folder: Path) -> Path:
    files = {
        "acme_probes/__init__.py": PROBE_MODULE.encode(),
        "acme_probes-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: acme-probes\nVersion: 1.0\n",
        "acme_probes-1.0.dist-info/WHEEL": (b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
                                            b"Tag: py3-none-any\n"),
        "acme_probes-1.0.dist-info/entry_points.txt": (
            b"[mlposture.probes]\nacme-watermark = acme_probes:WatermarkProbe\nacme-crash = acme_probes:CrashingProbe\n"
            b"acme-broken = acme_probes_missing:Nothing\n"),
    }
    wheel = folder / "acme_probes-1.0-py3-none-any.whl"
    record = [_record_line(n, d) for n, d in files.items()] + ["acme_probes-1.0.dist-info/RECORD,,"]
    with zipfile.ZipFile(wheel, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
        zf.writestr("acme_probes-1.0.dist-info/RECORD", "\n".join(record) + "\n")
    return wheel


@pytest.fixture(scope="module")
def plugin_path(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("plugin")
    wheel = build_wheel(base)
    target = base / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
                    "--disable-pip-version-check", "--target", str(target), str(wheel)], check=True)
    return target


def mlposture(plugin_path: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(plugin_path), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "mlposture.scanner", *args], env=env, capture_output=True, text=True,
                          cwd=cwd, timeout=300)


def test_third_party_probe_is_listed(plugin_path):
    out = mlposture(plugin_path, "probes", "--format", "json")
    assert out.returncode == 0, out.stderr
    rows = {r["name"]: r for r in json.loads(out.stdout)}
    w = rows["acme-watermark"]
    assert (w["version"], w["controls"], w["distribution"]) == ("9.9.1", ["MODEL-04"], "acme-probes")
    assert w["description"] == "Looks for a WATERMARK.md file (a third-party probe)."
    assert "ModuleNotFoundError" in rows["acme-broken"]["error"]


def test_third_party_probe_runs_and_crash_is_isolated(plugin_path, tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "WATERMARK.md").write_text("# Watermarking\n")
    out = mlposture(plugin_path, "scan", str(repo), "--format", "json", "-o", "-", "--no-vulns",
                    "--disable-probe", "dependencies")
    assert out.returncode in (0, 1), out.stderr
    report = json.loads(out.stdout)
    controls = {c["id"]: c for c in report["controls"]}
    m4 = controls["MODEL-04"]
    assert m4["status"] == "pass"
    assert m4["evidence"][0] == {"probe": "acme-watermark", "effect": "pass", "path": "WATERMARK.md", "line": 1,
                                 "message": "watermark procedure documented", "rule": "acme.watermark",
                                 "finding": None, "context": "production", "counted": True}
    m9 = controls["MODEL-09"]
    assert m9["status"] == "unverified"
    assert "probe acme-crash failed: ValueError: acme parser bug" in m9["reason"]
    probes = {p["name"]: p for p in report["probes"]}
    assert probes["acme-crash"]["status"] == "error"
    assert probes["acme-broken"]["status"] == "error"
    assert report["score"] >= 0
