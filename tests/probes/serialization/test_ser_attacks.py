"""Attack samples for every class of bypass (built here, never loaded): ``mlposture scan-models`` must exit 1 with
a critical finding on each. Where a loader is a plain unpickler, the recording unpickler of ``ser_oracle.py``
(imports return an inert stub) first proves that the sample really imports its payload."""

from __future__ import annotations

import gzip
import io
import json
import struct
import tarfile
import zipfile
import zlib
from pathlib import Path

import pytest
from click.testing import CliRunner

from mlposture.probes.serialization.command import scan_models
from tests.probes.serialization.ser_oracle import imports

TEXT_PAYLOAD = b"cos\nsystem\n(S'true'\ntR."


def sbu(text: str) -> bytes:
    raw = text.encode()
    return b"\x8c" + bytes([len(raw)]) + raw


def sg(module: str, name: str) -> bytes:
    return sbu(module) + sbu(name) + b"\x93"


BIN_PAYLOAD = sg("os", "system") + sbu("true") + b"\x85R."  # protocol 4 opcodes without PROTO or FRAME


def scan(path: Path, *extra: str) -> tuple[int, list[dict[str, object]]]:
    res = CliRunner().invoke(scan_models, ["--format", "json", *extra, str(path)])
    doc = json.loads(res.output)
    issues = [i for a in doc["artifacts"] for i in a["issues"]]
    return res.exit_code, issues


def assert_blocked(path: Path, *extra: str, rule: str | None = None) -> None:
    code, issues = scan(path, *extra)
    critical = [i for i in issues if i["severity"] == "critical"]
    assert code == 1 and critical, issues
    if rule is not None:
        assert any(i["rule"] == f"serialization.{rule}" for i in critical), issues


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


# ---------------------------------------------------------------- 1. format by sniffing, first match wins
def test_pickle_spelling_the_gguf_magic(tmp_path: Path) -> None:
    data = b"GGUF\x03\x00\x00\x00\x00" + TEXT_PAYLOAD  # BINFLOAT swallows 8 bytes, then the payload
    assert ("os", "system") in imports(data)
    assert_blocked(write(tmp_path, "model.gguf", data), rule="dangerous-global")


def test_pickle_spelling_the_bzip2_magic(tmp_path: Path) -> None:
    data = b"BZh\x00\x00" + b"x" * 0x685A + b"0" + TEXT_PAYLOAD  # BINBYTES of length 'Zh\0\0'
    assert ("os", "system") in imports(data)
    assert_blocked(write(tmp_path, "weights.bz2", data), rule="dangerous-global")


def test_headerless_binary_pickle(tmp_path: Path) -> None:
    assert ("os", "system") in imports(BIN_PAYLOAD)
    assert_blocked(write(tmp_path, "weights.bin", BIN_PAYLOAD), rule="dangerous-global")


def test_text_pickle_with_a_computed_import_and_trailing_bytes(tmp_path: Path) -> None:
    data = (b"c__builtin__\ngetattr\n(c__builtin__\n__import__\n(S'os'\ntRS'system'\ntR(S'true'\ntR."
            + b"\nthis is not part of the pickle\n" * 20)
    assert ("__builtin__", "getattr") in imports(data)
    assert_blocked(write(tmp_path, "notes.txt", data), rule="dangerous-global")


# ---------------------------------------------------------------- 2. streams cut short
def test_fourth_pickle_of_a_legacy_torch_stream(tmp_path: Path) -> None:
    magic = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19."
    data = magic + b"\x80\x02M\xe9\x03." + b"\x80\x02}q\x00." + b"K\x010" + TEXT_PAYLOAD + b"\x80\x02]q\x00."
    assert ("os", "system") in imports(data)
    assert_blocked(write(tmp_path, "legacy.pt", data), rule="dangerous-global")


def test_payload_after_stop_in_a_frame(tmp_path: Path) -> None:
    data = b"\x80\x04K\x01." + b"\x95" + len(BIN_PAYLOAD).to_bytes(8, "little") + BIN_PAYLOAD
    assert ("os", "system") in imports(data)
    assert_blocked(write(tmp_path, "model.pkl", data), rule="dangerous-global")


# ---------------------------------------------------------------- 3. skips that desync from the loader
PLAIN_STATE = b"(K\x03\x8c\x01<NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb"


def _wrapper(code: str, count: int, state: bytes = PLAIN_STATE) -> bytes:
    """A joblib NumpyArrayWrapper for ``count`` items of dtype ``code``, as joblib pickles it."""
    dtype = sg("numpy", "dtype") + sbu(code) + b"\x89\x88\x87R" + state
    return (b"\x80\x04" + sg("joblib.numpy_pickle", "NumpyArrayWrapper") + b")\x81}(" + sbu("subclass")
            + sg("numpy", "ndarray") + sbu("shape") + b"K" + bytes([count]) + b"\x85" + sbu("order") + sbu("C")
            + sbu("dtype") + dtype + sbu("allow_mmap") + b"\x89ub")


def test_joblib_array_bytes_read_as_opcodes_by_a_plain_unpickler(tmp_path: Path) -> None:
    hidden = b"0" + TEXT_PAYLOAD  # joblib skips these 8 * n bytes as float64 data; pickle.load runs them
    n = -(-len(hidden) // 8)
    data = _wrapper("f8", n) + hidden.ljust(8 * n, b"\x00") + b"."
    assert ("os", "system") in imports(data)
    assert_blocked(write(tmp_path, "model.joblib", data), rule="dangerous-global")


def test_joblib_object_dtype_spelled_o8(tmp_path: Path) -> None:
    nested = b"\x80\x02" + TEXT_PAYLOAD  # joblib unpickles an object array's data
    data = _wrapper("|O8", 1) + nested + b"."
    assert_blocked(write(tmp_path, "model.joblib", data), rule="dangerous-global")


def test_member_named_like_a_storage_that_data_pkl_does_not_name(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("archive/data.pkl", b"\x80\x02}q\x00.")
        zf.writestr("archive/data/0", b"\x80\x02" + TEXT_PAYLOAD)
        zf.writestr("archive/version", b"3\n")
    assert_blocked(write(tmp_path, "model.pt", buf.getvalue()), rule="dangerous-global")


# ---------------------------------------------------------------- 4. containers not read
def test_lzma_zip_member(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_LZMA) as zf:
        zf.writestr("archive/data.pkl", b"\x80\x02" + TEXT_PAYLOAD)
    assert_blocked(write(tmp_path, "model.pt", buf.getvalue()), rule="dangerous-global")


def test_pre_posix_v7_tar_checkpoint(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tf:
        info = tarfile.TarInfo("pickle")
        payload = b"\x80\x02" + TEXT_PAYLOAD
        info.size = len(payload)
        tf.addfile(info, io.BytesIO(payload))
    raw = bytearray(buf.getvalue())
    raw[257:265] = b"\x00" * 8  # no ustar magic or version: a V7 header
    raw[148:156] = b" " * 8
    raw[148:155] = b"%06o\x00" % sum(raw[:512])
    with tarfile.open(fileobj=io.BytesIO(bytes(raw))) as tf:
        assert tf.getnames() == ["pickle"]  # Python's own reader accepts it
    assert_blocked(write(tmp_path, "checkpoint.tar", bytes(raw)), rule="dangerous-global")


@pytest.mark.parametrize("descr", ["|O", "object", "O8"])
def test_npy_object_arrays(tmp_path: Path, descr: str) -> None:
    header = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': (1,), }}".encode()
    header = header.ljust(8000, b" ") + b"\n"  # numpy reads a header this long with allow_pickle=True
    data = b"\x93NUMPY\x02\x00" + struct.pack("<I", len(header)) + header + b"\x80\x02" + TEXT_PAYLOAD
    assert_blocked(write(tmp_path, "array.npy", data), rule="dangerous-global")


# ---------------------------------------------------------------- 5. caps that end the scan
def test_payload_after_a_million_stack_items(tmp_path: Path) -> None:
    data = b"\x80\x02(" + b"K\x01" * 1_200_000 + b"t0" + TEXT_PAYLOAD
    assert_blocked(write(tmp_path, "deep.pkl", data), rule="dangerous-global")


def test_mark_flood_in_a_zip_is_blocking_not_a_pass(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("archive/data.pkl", b"\x80\x02" + b"(" * (64 << 20) + TEXT_PAYLOAD)
    assert len(buf.getvalue()) < 1 << 20
    code, issues = scan(write(tmp_path, "marks.pt", buf.getvalue()), "--budget", "1")
    assert code == 1 and any(i["severity"] == "critical" for i in issues)


def test_opcode_flood_in_a_gzip_hits_the_time_budget_and_blocks(tmp_path: Path) -> None:
    data = gzip.compress(b"\x80\x02" + b"N" * (48 << 20) + b".", 9)
    assert len(data) < 1 << 20
    assert_blocked(write(tmp_path, "flood.pkl.gz", data), "--budget", "0.5", rule="scan-limit")


def test_time_limit_severity_is_configurable(tmp_path: Path) -> None:
    data = gzip.compress(b"\x80\x02" + b"N" * (48 << 20) + b".", 9)
    code, issues = scan(write(tmp_path, "flood.pkl.gz", data), "--budget", "0.5", "--limit-severity", "medium")
    assert code == 0 and [i["severity"] for i in issues] == ["medium"]


def test_scan_budget_across_files_blocks(tmp_path: Path) -> None:
    for i in range(3):
        write(tmp_path, f"m{i}.pkl", b"\x80\x02K\x01.")
    code, issues = scan(tmp_path, "--scan-budget-bytes", "8")
    assert code == 1 and any("files were not scanned" in str(i["message"]) for i in issues)


def test_zip_member_count_cap_blocks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mlposture.probes.serialization import artifacts

    monkeypatch.setattr(artifacts, "MAX_MEMBERS", 5)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for i in range(6):
            zf.writestr(f"m{i}.txt", b"hello")
    assert_blocked(write(tmp_path, "many.zip", buf.getvalue()), rule="scan-limit")


# ---------------------------------------------------------------- 6. allowlist by prefix, getattr, denylist
@pytest.mark.parametrize(("module", "name"), [
    ("sklearn.utils._testing", "assert_run_python_script_without_output"),
    ("_aix_support", "_read_cmd_output"), ("_osx_support", "_read_output"), ("_pyrepl.pager", "pipe_pager"),
    ("test.support.script_helper", "assert_python_ok"), ("nntplib", "NNTP"),
])
def test_imports_outside_the_allowlist(tmp_path: Path, module: str, name: str) -> None:
    data = b"\x80\x04" + sg(module, name) + sbu("print(1)") + b"\x85R."
    assert_blocked(write(tmp_path, "model.pkl", data), rule="dangerous-global")


def test_getattr_on_an_allowlisted_class_reaching_a_file_write(tmp_path: Path) -> None:
    data = (b"\x80\x04" + sg("builtins", "getattr") + sg("numpy", "ndarray") + sbu("tofile") + b"\x86R"
            + b")R.")
    assert {("builtins", "getattr"), ("numpy", "ndarray")} <= imports(data)
    assert_blocked(write(tmp_path, "model.pkl", data), rule="dangerous-global")


# ---------------------------------------------------------------- 7. regexes over raw bytes
def test_keras_hdf5_config_with_unicode_escapes(tmp_path: Path) -> None:
    config = (b'{"class_name": "Sequential", "config": {"layers": [{"\\u0063lass_name": "\\u004cambda", '
              b'"config": {"name": "x", "function": ["4wEAAAAA", null, null]}}]}}')
    data = b"\x89HDF\r\n\x1a\n" + b"\x00" * 200 + b"model_config\x00\x00\x00\x00" + config + b"\x00" * 100
    assert_blocked(write(tmp_path, "model.h5", data), rule="keras-lambda")


def _gguf(template: str) -> bytes:
    key, value = b"tokenizer.chat_template", template.encode()
    return (b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + struct.pack("<Q", len(key)) + key + struct.pack("<I", 8)
            + struct.pack("<Q", len(value)) + value)


@pytest.mark.parametrize("template", [
    "{{ ''|attr('__cl' ~ 'ass__')|attr('__ba' ~ 'se__') }}",
    "{% set g = '__glo' ~ 'bals__' %}{{ lipsum[g]['o' ~ 's'].popen('true').read() }}",
    "{{ cycler.__init__.__globals__.os.popen('true').read() }}",
])
def test_gguf_template_split_with_concatenation(tmp_path: Path, template: str) -> None:
    assert_blocked(write(tmp_path, "model.gguf", _gguf(template)), rule="gguf-template")


def test_ordinary_chat_template_is_safe(tmp_path: Path) -> None:
    template = ("{% for message in messages %}{% if loop.first and message['role'] != 'system' %}{{ bos_token }}"
                "{% endif %}<|{{ message['role'] }}|>\n{{ message['content'] | trim }}{% endfor %}"
                "{% if add_generation_prompt %}<|assistant|>{% endif %}")
    code, issues = scan(write(tmp_path, "model.gguf", _gguf(template)))
    assert code == 0 and issues == []


def test_zlib_stream_is_still_read(tmp_path: Path) -> None:
    assert_blocked(write(tmp_path, "model.z", zlib.compress(b"\x80\x02" + TEXT_PAYLOAD)), rule="dangerous-global")
