"""Parsers of the non-pickle model formats: raw facts only, no judgement.

safetensors (strict header validation, as the ``safetensors`` library does it), GGUF headers, NumPy ``.npy``
headers, ONNX external-data locations (a minimal protobuf walk; the ``onnx`` package is not a runtime dependency),
Keras configurations (Lambda layers and function references in HDF5 ``model_config`` and ``.keras`` config.json;
``h5py`` is not a runtime dependency, the JSON attribute bytes are found by a streaming byte search).
"""

from __future__ import annotations

import ast
import itertools
import json
import re
import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

SAFETENSORS_DTYPES = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "F8_E8M0": 1, "I16": 2, "U16": 2, "F16": 2,
    "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "F64": 8, "I64": 8, "U64": 8, "C64": 8, "F4": 0, "F6_E2M3": 0,
    "F6_E3M2": 0,
}
MAX_SAFETENSORS_HEADER = 100_000_000  # what the safetensors library accepts
PARSED_SAFETENSORS_HEADER = 32 << 20  # what we parse: real headers are a few MB, and JSON costs ~10x in memory


class FormatError(ValueError):
    """The bytes do not form a valid file of the format; the message says where and why."""


class HeaderTooLarge(FormatError):
    """Valid as far as we can tell, but larger than what we agree to parse."""


# --------------------------------------------------------------------------- safetensors
def looks_like_safetensors(head: bytes, size: int) -> bool:
    """8-byte little-endian header length followed by a JSON object that fits in the file."""
    if len(head) < 9 or size < 10:
        return False
    n = struct.unpack("<Q", head[:8])[0]
    return 2 <= n <= min(size - 8, MAX_SAFETENSORS_HEADER) and head[8:9] == b"{"


@dataclass(frozen=True)
class SafetensorsInfo:
    """A validated safetensors header."""

    tensors: int
    data_bytes: int


def validate_safetensors(fh: BinaryIO, size: int) -> SafetensorsInfo:
    """Strict parse of the header: length, JSON, dtypes, shapes, offsets inside the file and no overlaps."""
    fh.seek(0)
    raw = fh.read(8)
    n = struct.unpack("<Q", raw)[0]
    if n > MAX_SAFETENSORS_HEADER or 8 + n > size:
        raise FormatError(f"header length {n} does not fit in the {size}-byte file")
    if n > PARSED_SAFETENSORS_HEADER:
        raise HeaderTooLarge(f"{n}-byte header larger than the {PARSED_SAFETENSORS_HEADER >> 20} MiB parse cap")
    header_bytes = fh.read(n)
    try:
        header = json.loads(header_bytes.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FormatError(f"header is not valid JSON: {exc}") from None
    if not isinstance(header, dict):
        raise FormatError("header is not a JSON object")
    data_len = size - 8 - n
    spans: list[tuple[int, int, str]] = []
    for name, entry in header.items():
        if name == "__metadata__":
            if not isinstance(entry, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in entry.items()
            ):
                raise FormatError("__metadata__ must map strings to strings")
            continue
        if not isinstance(entry, dict):
            raise FormatError(f"tensor {name!r} is not an object")
        dtype = entry.get("dtype")
        shape = entry.get("shape")
        offsets = entry.get("data_offsets")
        if dtype not in SAFETENSORS_DTYPES:
            raise FormatError(f"tensor {name!r} has unknown dtype {dtype!r}")
        if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
            raise FormatError(f"tensor {name!r} has an invalid shape")
        if (not isinstance(offsets, list) or len(offsets) != 2
                or not all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)):
            raise FormatError(f"tensor {name!r} has invalid data_offsets")
        begin, end = offsets
        if not 0 <= begin <= end <= data_len:
            raise FormatError(f"tensor {name!r} data_offsets [{begin}, {end}] outside the {data_len}-byte data")
        itemsize = SAFETENSORS_DTYPES[dtype]
        count = 1
        for d in shape:
            count *= d
        if itemsize and end - begin != count * itemsize:
            raise FormatError(f"tensor {name!r} spans {end - begin} bytes, its shape and dtype need "
                              f"{count * itemsize}")
        spans.append((begin, end, name))
    spans.sort()
    for (_b1, e1, n1), (b2, _e2, n2) in itertools.pairwise(spans):
        if b2 < e1:
            raise FormatError(f"tensors {n1!r} and {n2!r} overlap")
        if b2 > e1:
            raise FormatError(f"{b2 - e1} bytes of gap between tensors {n1!r} and {n2!r}")
    # the safetensors library refuses data it cannot account for: tensors must cover the data exactly
    if spans and spans[0][0] != 0:
        raise FormatError(f"{spans[0][0]} unaccounted bytes before the first tensor")
    covered = spans[-1][1] if spans else 0
    if covered != data_len:
        raise FormatError(f"{data_len - covered} bytes after the last tensor are not described by the header")
    return SafetensorsInfo(tensors=len(spans), data_bytes=data_len)


# --------------------------------------------------------------------------- GGUF
@dataclass(frozen=True)
class GgufInfo:
    """The fixed GGUF header."""

    version: int
    tensors: int
    metadata_keys: int


def parse_gguf_header(head: bytes) -> GgufInfo:
    """Magic, version and counts; implausible values are a format error."""
    if len(head) < 24 or head[:4] != b"GGUF":
        raise FormatError("not a GGUF header")
    version = struct.unpack("<I", head[4:8])[0]
    if version not in (1, 2, 3):
        raise FormatError(f"unknown GGUF version {version}")
    if version == 1:
        tensors, keys = struct.unpack("<II", head[8:16])
    else:
        tensors, keys = struct.unpack("<QQ", head[8:24])
    if tensors > 10_000_000 or keys > 10_000_000:
        raise FormatError(f"implausible GGUF counts ({tensors} tensors, {keys} keys)")
    return GgufInfo(version, tensors, keys)


GGUF_FIXED = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
GGUF_STRING = 8
GGUF_ARRAY = 9


def gguf_templates(fh: BinaryIO, size: int, max_keys: int = 100_000,
                   deadline: float | None = None) -> list[tuple[str, int, str]]:
    """(key, offset, text) of every chat template in the GGUF metadata (``tokenizer.chat_template*``).

    llama.cpp bindings render them with Jinja2; a template that walks ``__class__`` / ``__globals__`` or calls
    ``popen`` runs code when the model is used (CVE-2024-34359). :mod:`.templates` judges them.
    """
    fh.seek(0)
    head = fh.read(24)
    info = parse_gguf_header(head)
    if info.version == 1:
        return []  # v1 used 32-bit lengths; no chat templates existed then
    fh.seek(24)
    out: list[tuple[str, int, str]] = []

    def u32() -> int:
        raw = fh.read(4)
        if len(raw) < 4:
            raise FormatError("GGUF metadata truncated")
        return int(struct.unpack("<I", raw)[0])

    def u64() -> int:
        raw = fh.read(8)
        if len(raw) < 8:
            raise FormatError("GGUF metadata truncated")
        return int(struct.unpack("<Q", raw)[0])

    def string(keep: bool) -> bytes:
        n = u64()
        if fh.tell() + n > size:
            raise FormatError("GGUF string runs past the end of the file")
        if keep and n <= 16 << 20:
            return fh.read(n)
        fh.seek(n, 1)
        return b""

    for _ in range(min(info.metadata_keys, max_keys)):
        key = string(True).decode("utf-8", "replace")
        vtype = u32()
        if vtype == GGUF_STRING:
            offset = fh.tell()
            value = string("chat_template" in key)
            if "chat_template" in key:
                if not value and fh.tell() - offset - 8 > 0:
                    raise HeaderTooLarge(f"chat template {key} larger than 16 MiB")
                out.append((key, offset, value.decode("utf-8", "replace")))
        elif vtype == GGUF_ARRAY:
            etype = u32()
            count = u64()
            if etype == GGUF_STRING:
                for i in range(count):
                    string(False)
                    if not i & 0xFFFF and deadline is not None and time.monotonic() > deadline:
                        raise HeaderTooLarge("GGUF metadata not read within the time budget")
            elif etype in GGUF_FIXED:
                fh.seek(GGUF_FIXED[etype] * count, 1)
            else:
                raise FormatError(f"GGUF array of unsupported type {etype}")
        elif vtype in GGUF_FIXED:
            fh.seek(GGUF_FIXED[vtype], 1)
        else:
            raise FormatError(f"GGUF metadata value of unknown type {vtype}")
        if fh.tell() > size:
            raise FormatError("GGUF metadata runs past the end of the file")
    return out


# --------------------------------------------------------------------------- NumPy
@dataclass(frozen=True)
class NpyHeader:
    """The header of a ``.npy`` stream."""

    descr: str
    has_objects: bool
    shape: tuple[int, ...]
    data_offset: int


# The descr strings numpy writes for plain numbers, strings, raw bytes and dates. Anything else (``|O``, ``O8``,
# ``object`` and every other spelling numpy may accept) is in doubt, and the data is walked as a pickle.
_PLAIN_DESCR = re.compile(r"[<>|=]?(b1|[iu][1248]|f(2|4|8|16)|c(8|16|32)|[SUV]\d+|[Mm]8(\[\d*\w+\])?)")


def _descr_has_objects(descr: object, depth: int = 0) -> bool:
    """True unless the descr is, field by field, one of the plain forms numpy writes (objects or in doubt)."""
    if isinstance(descr, str):
        return _PLAIN_DESCR.fullmatch(descr) is None
    if isinstance(descr, list) and descr and depth < 8:
        for field in descr:
            if not isinstance(field, tuple) or len(field) not in (2, 3) or not isinstance(field[0], (str, tuple)):
                return True
            if len(field) == 3 and not (isinstance(field[2], tuple) and all(isinstance(d, int) for d in field[2])):
                return True
            if _descr_has_objects(field[1], depth + 1):
                return True
        return False
    return True


MAX_NPY_HEADER = 16 << 20


def npy_header_span(head: bytes) -> tuple[int, int]:
    """(start, length) of the header dict after the magic; numpy with ``allow_pickle=True`` takes any length."""
    if head[:6] != b"\x93NUMPY" or len(head) < 12:
        raise FormatError("not a NumPy .npy header")
    major = head[6]
    if major == 1:
        return 10, struct.unpack("<H", head[8:10])[0]
    if major in (2, 3):
        return 12, struct.unpack("<I", head[8:12])[0]
    raise FormatError(f"unknown .npy version {major}")


def parse_npy_header(head: bytes) -> NpyHeader:
    """Magic, version, and the header dict (read with ``ast.literal_eval``, never ``eval``); ``head`` holds the
    whole header (see :func:`npy_header_span`)."""
    start, hlen = npy_header_span(head)
    if start + hlen > len(head):
        raise FormatError(f".npy header of {hlen} bytes is truncated")
    text = head[start : start + hlen].decode("latin-1")
    text = re.sub(r"(\d+)L\b", r"\1", text)  # Python 2 headers write longs as 3L, as numpy's own reader accepts
    try:
        value = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        raise FormatError(".npy header is not a Python literal") from None
    if not isinstance(value, dict) or "descr" not in value or "shape" not in value:
        raise FormatError(".npy header lacks descr or shape")
    shape = value["shape"]
    if not isinstance(shape, tuple) or not all(isinstance(d, int) for d in shape):
        raise FormatError(".npy header has an invalid shape")
    return NpyHeader(str(value["descr"]), _descr_has_objects(value["descr"]), shape, start + hlen)


# --------------------------------------------------------------------------- ONNX (protobuf)
class _Proto:
    """Minimal protobuf field walker over a seekable stream, skipping length-delimited payloads by seeking."""

    def __init__(self, fh: BinaryIO, end: int) -> None:
        self.fh = fh
        self.end = end

    def varint(self) -> int:
        shift = 0
        result = 0
        while True:
            b = self.fh.read(1)
            if not b:
                raise FormatError("truncated varint")
            result |= (b[0] & 0x7F) << shift
            if not b[0] & 0x80:
                return result
            shift += 7
            if shift > 63:
                raise FormatError("varint too long")

    def fields(self, end: int) -> list[tuple[int, int, int, int]]:
        """(field number, wire type, value or length, payload start) of every field up to ``end``."""
        out = []
        while self.fh.tell() < end:
            key = self.varint()
            field, wire = key >> 3, key & 7
            if field == 0:
                raise FormatError("field number 0")
            if wire == 0:
                out.append((field, wire, self.varint(), 0))
            elif wire == 1:
                self.fh.seek(8, 1)
                out.append((field, wire, 0, 0))
            elif wire == 5:
                self.fh.seek(4, 1)
                out.append((field, wire, 0, 0))
            elif wire == 2:
                n = self.varint()
                start = self.fh.tell()
                if start + n > end:
                    raise FormatError(f"field {field} runs past its message")
                out.append((field, wire, n, start))
                self.fh.seek(n, 1)
            else:
                raise FormatError(f"unsupported wire type {wire}")
            if len(out) > 5_000_000:
                raise FormatError("too many protobuf fields")
        if self.fh.tell() != end:
            raise FormatError("message overruns its length")
        return out

    def read_at(self, start: int, n: int) -> bytes:
        self.fh.seek(start)
        return self.fh.read(n)


def looks_like_onnx(head: bytes) -> bool:
    """ModelProto starts with ir_version (field 1, varint) in practice, followed by another known field."""
    if len(head) < 4 or head[0] != 0x08 or not 1 <= head[1] <= 20:
        return False
    return head[2] in (0x12, 0x1A, 0x22, 0x28, 0x32, 0x3A, 0x42)


@dataclass(frozen=True)
class OnnxInfo:
    """What the ONNX walk found: initializer count and every external-data location."""

    initializers: int
    external_locations: tuple[str, ...]


MODEL_GRAPH = 7
GRAPH_INITIALIZER = 5
GRAPH_SPARSE_INITIALIZER = 15
TENSOR_EXTERNAL_DATA = 13
ENTRY_KEY = 1
ENTRY_VALUE = 2


def parse_onnx(fh: BinaryIO, size: int) -> OnnxInfo:
    """Walk ModelProto -> graph -> initializers -> external_data entries with key ``location``."""
    p = _Proto(fh, size)
    fh.seek(0)
    top = p.fields(size)
    graphs = [f for f in top if f[0] == MODEL_GRAPH and f[1] == 2]
    if not graphs:
        raise FormatError("no graph in the model")
    locations: list[str] = []
    count = 0
    for _f, _w, n, start in graphs:
        fh.seek(start)
        for field, wire, length, tstart in p.fields(start + n):
            if wire != 2 or field not in (GRAPH_INITIALIZER, GRAPH_SPARSE_INITIALIZER):
                continue
            count += 1
            fh.seek(tstart)
            for tf, tw, tlen, tdata in p.fields(tstart + length):
                if tf != TENSOR_EXTERNAL_DATA or tw != 2 or tlen > 1 << 16:
                    continue
                fh.seek(tdata)
                entry = {ef: p.read_at(es, el) for ef, ew, el, es in p.fields(tdata + tlen) if ew == 2}
                if entry.get(ENTRY_KEY) == b"location" and ENTRY_VALUE in entry:
                    locations.append(entry[ENTRY_VALUE].decode("utf-8", "replace"))
                fh.seek(tdata + tlen)
            fh.seek(tstart + length)
    return OnnxInfo(count, tuple(dict.fromkeys(locations)))


# --------------------------------------------------------------------------- Keras
@dataclass(frozen=True)
class KerasRef:
    """A Lambda layer or a function reference in a Keras configuration."""

    kind: str  # "Lambda", "__lambda__", "function"
    name: str
    module: str | None = None


KERAS_MARKERS = (b"model_config", b"keras_version")


def overlapping_chunks(fh: BinaryIO, limit: int, overlap: int, size: int = 4 << 20) -> Iterator[tuple[int, bytes]]:
    """``(offset, bytes)`` windows over the first ``limit`` bytes, each starting with the previous window's last
    ``overlap`` bytes, so a pattern shorter than ``overlap`` is never split between two windows. Constant memory."""
    base = 0
    tail = b""
    fh.seek(0)
    while base < limit:
        chunk = fh.read(size)
        if not chunk:
            return
        data = tail + chunk
        yield base - len(tail), data
        tail = data[-overlap:]
        base += len(chunk)


_OBJECT_START = re.compile(rb"\{\s*\"")
MAX_JSON_CANDIDATES = 100_000


def scan_hdf5(fh: BinaryIO, limit: int, deadline: float | None = None) -> tuple[bool, list[tuple[int, KerasRef]]]:
    """Is this HDF5 (or protobuf) file a Keras model, and which Lambda layers and outside functions does its
    configuration hold.

    What is parsed, exactly: Keras stores ``model_config`` as a string attribute holding JSON, and HDF5 keeps an
    attribute value (inline in the object header, or in the global or fractal heap) as contiguous bytes. Every
    JSON object in the file (every ``{"`` that the JSON parser reads as a complete object; ``\\u`` escapes and
    key order are the parser's business) is decoded whole with :func:`json.JSONDecoder.raw_decode`, objects
    nested in one already decoded are not decoded again, and the layers are walked as data
    (:func:`keras_config_refs`). The HDF5 structures themselves (superblock, object headers, B-trees)
    are not interpreted; h5py is not a runtime dependency. Constant memory but for one configuration (16 MiB).
    """
    import time

    found: list[tuple[int, KerasRef]] = []
    keras = False
    decoder = json.JSONDecoder()
    parsed_until = 0
    candidates = 0
    starts: list[int] = []
    for start, data in overlapping_chunks(fh, limit, 512):
        if not keras and any(m in data for m in KERAS_MARKERS):
            keras = True
        for m in _OBJECT_START.finditer(data):
            pos = start + m.start()
            if pos < parsed_until or (starts and starts[-1] >= pos):
                continue
            starts.append(pos)
            candidates += 1
            if candidates > MAX_JSON_CANDIDATES or (deadline is not None and time.monotonic() > deadline):
                raise HeaderTooLarge("too many JSON configuration candidates for the time budget")
            doc, length = _json_at(fh, pos, min(limit - pos, MAX_KERAS_JSON), decoder)
            if doc is None:
                continue
            parsed_until = pos + length
            for ref in keras_config_refs(doc):
                found.append((pos, ref))
            if len(found) > 1000:
                return keras, found
    return keras, found


MAX_KERAS_JSON = 16 << 20


def _json_at(fh: BinaryIO, pos: int, most: int, decoder: json.JSONDecoder) -> tuple[object, int]:
    """The JSON object starting at ``pos`` and its length in bytes, or (None, 0)."""
    here = fh.tell()
    try:
        size = 1 << 16
        while True:
            fh.seek(pos)
            raw = fh.read(min(size, most))
            text = raw.decode("utf-8", "surrogateescape")
            try:
                doc, end = decoder.raw_decode(text)
            except json.JSONDecodeError as exc:
                if size >= most or len(raw) < min(size, most) or exc.pos < len(text) - 64:
                    return None, 0  # not JSON (the error is not the window's end), or longer than we parse
                size *= 8
                continue
            except RecursionError:
                return None, 0
            return doc, len(text[:end].encode("utf-8", "surrogateescape"))
    finally:
        fh.seek(here)


TF_UNSAFE_OPS = {
    # NodeDef.op (field 2) as protobuf writes it: tag 0x12, length, name. Ops that touch files or run Python.
    b"\x12\x08ReadFile": "ReadFile",
    b"\x12\x09WriteFile": "WriteFile",
    b"\x12\x0dMatchingFiles": "MatchingFiles",
    b"\x12\x06PyFunc": "PyFunc",
    b"\x12\x0bEagerPyFunc": "EagerPyFunc",
    b"\x12\x15PyFuncStateless": "PyFuncStateless",
}


def looks_like_savedmodel(head: bytes) -> bool:
    """``saved_model.pb`` (SavedModel: schema version 1, then MetaGraphDefs) or Keras's ``keras_metadata.pb``."""
    if head[:3] == b"\x08\x01\x12" and (b"tensorflow" in head or b"serve" in head):
        i = 3
        while i < min(len(head), 13) and head[i] & 0x80:  # the MetaGraphDef's length varint
            i += 1
        return i + 1 < len(head) and head[i + 1] == 0x0A  # which starts with its meta_info_def
    if head[:3] == b"\x08\x01\x12":
        return False
    return head[:1] == b"\x0a" and b"_tf_keras_" in head


def find_tf_unsafe_ops(fh: BinaryIO, limit: int) -> list[tuple[int, str]]:
    """Offsets of graph nodes whose op reads or writes files or calls back into Python (streaming byte search)."""
    found: list[tuple[int, str]] = []
    pattern = re.compile(b"|".join(re.escape(k) for k in TF_UNSAFE_OPS))
    for start, data in overlapping_chunks(fh, limit, 32):
        for m in pattern.finditer(data):
            pos = start + m.start()
            if not any(p == pos for p, _ in found[-4:]):
                found.append((pos, TF_UNSAFE_OPS[m.group(0)]))
            if len(found) > 1000:
                return found
    return found


SAFE_FUNCTION_MODULES = ("keras", "tensorflow", "tf_keras")


def keras_config_refs(config: object, depth: int = 0) -> list[KerasRef]:
    """Lambda layers, ``__lambda__`` objects and functions from outside Keras in a Keras 3 ``config.json``."""
    out: list[KerasRef] = []
    if depth > 200:
        return out
    if isinstance(config, dict):
        cls = config.get("class_name")
        inner = config.get("config")
        name = inner.get("name") if isinstance(inner, dict) else None
        if cls in ("Lambda", "TFOpLambda", "__lambda__"):
            out.append(KerasRef(str(cls), str(name or config.get("name") or "?")))
            return out  # the layer's own function config is part of this finding
        elif cls == "function":
            module = config.get("module")
            if not isinstance(module, str) or not module.startswith(SAFE_FUNCTION_MODULES):
                out.append(KerasRef("function", str(inner if isinstance(inner, str) else name or "?"),
                                    module if isinstance(module, str) else None))
        for value in config.values():
            out.extend(keras_config_refs(value, depth + 1))
    elif isinstance(config, list):
        for value in config:
            out.extend(keras_config_refs(value, depth + 1))
    return out
