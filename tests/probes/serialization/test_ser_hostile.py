"""Hostile containers: bombs, deep nesting, broken archives, time budgets. Bounded work, never an exception."""

from __future__ import annotations

import gzip
import io
import os
import pickle
import tarfile
import zipfile
from pathlib import Path

from mlposture.probes.serialization.artifacts import scan_file, scan_fileobj
from mlposture.probes.serialization.pickle_reader import scan_stream

EVIL = b"\x80\x04\x8c\x05posix\x8c\x06system\x93\x8c\x04true\x85R."


def write(tmp_path: Path, name: str, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def test_gzip_bomb_stops_at_the_cap(tmp_path: Path) -> None:
    # a pickle whose first opcode is a 20 MiB byte string: skipping it means decompressing it
    bomb = gzip.compress(b"\x80\x04\x8e" + (20 << 20).to_bytes(8, "little") + b"\x00" * (20 << 20) + b".")
    with open(write(tmp_path, "bomb.gz", bomb), "rb") as fh:
        art = scan_fileobj(fh, len(bomb), "bomb.gz", decompressed_cap=1 << 20)
    assert art is not None and art.verdict == "dangerous"  # not fully analysed blocks
    assert [i.rule for i in art.issues] == ["scan-limit"] and "cap" in art.issues[0].message
    assert art.issues[0].severity.value == "critical" and "not fully analysed" in art.issues[0].message


def test_zip_nesting_is_capped(tmp_path: Path) -> None:
    data = EVIL
    for level in range(6):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr(f"level{level}.zip" if level else "model.pkl", data)
        data = buf.getvalue()
    art = scan_file(write(tmp_path, "deep.zip", data), "deep.zip")
    assert art is not None and art.verdict == "dangerous"
    assert any(i.rule == "scan-limit" and "nesting" in i.message for i in art.issues)


def test_shallow_nesting_is_followed(tmp_path: Path) -> None:
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("weights", EVIL)  # no extension: found by content
    outer = io.BytesIO()
    with zipfile.ZipFile(outer, "w") as zf:
        zf.writestr("bundle/inner.zip", inner.getvalue())
    art = scan_file(write(tmp_path, "bundle.zip", outer.getvalue()), "bundle.zip")
    assert art is not None and art.verdict == "dangerous"
    assert art.issues[0].member == "bundle/inner.zip!weights"


def test_tar_gz_with_a_pickle(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        info = tarfile.TarInfo("ckpt/model")
        info.size = len(EVIL)
        tf.addfile(info, io.BytesIO(EVIL))
    art = scan_file(write(tmp_path, "ckpt.tgz", buf.getvalue()), "ckpt.tgz")
    assert art is not None and art.verdict == "dangerous" and art.issues[0].member == "ckpt/model"


def test_broken_zip_is_an_anomaly_not_a_crash(tmp_path: Path) -> None:
    art = scan_file(write(tmp_path, "broken.zip", b"PK\x03\x04" + os.urandom(200)), "broken.zip")
    assert art is not None and art.issues[0].rule == "archive-anomaly"


def test_truncated_compressed_streams(tmp_path: Path) -> None:
    data = gzip.compress(pickle.dumps({"a": list(range(1000))}, protocol=4))[:60]
    art = scan_file(write(tmp_path, "t.gz", data), "t.gz")
    assert art is None or art.verdict in ("suspicious", "pickle")


def test_time_budget_marks_the_pickle_incomplete() -> None:
    data = pickle.dumps(list(range(300_000)), protocol=4)
    facts = scan_stream(io.BytesIO(data), len(data), budget=0.0)
    assert facts.incomplete is not None and "time budget" in facts.incomplete


def test_random_bytes_and_empty_files(tmp_path: Path) -> None:
    for i in range(30):
        blob = bytes([0x80, 2 + i % 4]) + os.urandom(64)
        art = scan_file(write(tmp_path, f"r{i}", blob), f"r{i}")
        assert art is None or art.verdict != "dangerous" or art.issues[0].rule == "dangerous-global"
    assert scan_file(write(tmp_path, "empty", b""), "empty") is None


def test_text_that_parses_up_to_a_dot_is_not_a_pickle(tmp_path: Path) -> None:
    assert scan_file(write(tmp_path, "notes.txt", b"Vsome text\n.\nmore text after the dot\n"), "notes.txt") is None
    assert scan_file(write(tmp_path, "p0.pkl", pickle.dumps([1, 2], protocol=0)), "p0.pkl") is not None


def test_python2_npy_header_with_longs() -> None:
    from mlposture.probes.serialization.formats import parse_npy_header

    header = b"{'descr': '|O', 'fortran_order': False, 'shape': (2L,), }"
    raw = b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header
    parsed = parse_npy_header(raw)
    assert parsed.shape == (2,) and parsed.has_objects


def test_huge_safetensors_header_is_a_scan_limit(tmp_path: Path) -> None:
    n = 40 << 20
    path = tmp_path / "big.safetensors"
    with open(path, "wb") as fh:
        fh.write(n.to_bytes(8, "little") + b"{")
        fh.truncate(8 + n + 16)
    art = scan_file(str(path), "big.safetensors")
    assert art is not None and [i.rule for i in art.issues] == ["scan-limit"]
