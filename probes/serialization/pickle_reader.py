"""A streaming pickle opcode reader that never unpickles.

Over 600 lines: one symbolic interpreter of the pickle opcodes; its parts share the stack and memo state, so
it stays one module.

Why our own reader: ``pickletools.genops`` materialises every argument (a 1 GiB ``BINBYTES`` becomes a 1 GiB
``bytes``) and peers built on it lose track of imports laundered through the memo. This reader walks the opcodes
over a buffered stream, seeks past large byte and string arguments, and evaluates the stack *symbolically*: just
enough to know, for every import, which module and name it resolves to (literal operands or memo look-ups), to
follow joblib's in-stream array data, to see what ``builtins.getattr`` is applied to, and to find pickles passed as
literal bytes to a nested loader. Memory is proportional to the opcodes' structure, not to the data.

The result is a :class:`PickleFacts` value: raw facts only; :mod:`mlposture.probes.serialization.policy` judges them.
"""

from __future__ import annotations

import codecs
import io
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from itertools import repeat
from typing import BinaryIO

from mlposture.probes.serialization.streams import CapExceeded

CHUNK = 1 << 20
MAX_LINE = 1 << 16  # a text-protocol argument longer than this is not a real pickle
KEEP_STR = 1024  # strings longer than this are not kept as values (no module or attribute name is this long)
KEEP_BYTES = 1 << 20  # literal bytes kept (to scan nested pickles) only when they look like a pickle and are small
MAX_ENTRIES = 40_000_000  # stack slots + marks + memo slots: 8 bytes each, so at most ~320 MB whatever the file
COMPACT_FROM = 1 << 20  # a stack deeper than this has its deep part compacted (see _Reader._compact)
COMPACT_KEEP_TOP = 1 << 16  # the top of the stack is never compacted
MAX_INTERNED_CHARS = 32 << 20  # distinct strings kept by compaction; beyond, deep strings become unknown
MAX_GLOBALS = 100_000  # distinct imports recorded; more is a limit (blocking), never a silent drop
MAX_CALLS = 100_000  # getattr calls, nested loader payloads, storage keys: same rule
MAX_KEPT_MEMO = 500_000
MAX_DEPTH = 4
MAX_CONTAINER = 32  # tuples and dicts larger than this are opaque


class _Truncated(Exception):
    """The stream ended inside an opcode or its argument."""


class _Malformed(Exception):
    """An opcode the unpickler would reject (unknown byte, bad argument, stack underflow...)."""


class _Limit(Exception):
    """A resource limit stopped the analysis (time budget, counts, nesting): a blocking finding, never a pass."""


# --------------------------------------------------------------------------- symbolic values
# Literal strings, ints, booleans and None sit on the symbolic stack as plain Python values (cheap); what the
# policy needs to follow is wrapped: imports, calls, small tuples and dicts, literal bytes.
class Val:
    """A tracked value on the symbolic stack; the bare instance ``OPAQUE`` stands for 'something untracked'."""

    __slots__ = ()


OPAQUE = Val()


class Bytes(Val):
    __slots__ = ("data", "length", "offset")

    def __init__(self, length: int, offset: int, data: bytes | None) -> None:
        self.length = length
        self.offset = offset
        self.data = data


class Glob(Val):
    __slots__ = ("module", "name", "offset")

    def __init__(self, module: str, name: str, offset: int) -> None:
        self.module = module
        self.name = name
        self.offset = offset


class Tup(Val):
    __slots__ = ("items",)

    def __init__(self, items: list[object]) -> None:
        self.items = items


class DictV(Val):
    """A dict; its items are tracked only where the reader needs them (joblib wrapper states, protocol 0)."""

    __slots__ = ("items",)

    def __init__(self, items: dict[str, object] | None = None) -> None:
        self.items = items


class Call(Val):
    """The result of calling (REDUCE, NEWOBJ, OBJ, INST) a callable; BUILD sets its state."""

    __slots__ = ("args", "func", "offset", "state")

    def __init__(self, func: object, args: object, offset: int) -> None:
        self.func = func
        self.args = args
        self.offset = offset
        self.state: object = OPAQUE


# --------------------------------------------------------------------------- facts
@dataclass(frozen=True)
class GlobalRef:
    """One import the unpickler would perform: ``module.name`` at the opcode's absolute offset."""

    module: str
    name: str
    offset: int
    opcode: str

    @property
    def dotted(self) -> str:
        return f"{self.module}.{self.name}"


@dataclass(frozen=True)
class Unresolved:
    """An import whose target cannot be known without running the pickle (or an extension-registry code)."""

    offset: int
    opcode: str
    detail: str


@dataclass(frozen=True)
class GetattrCall:
    """``builtins.getattr(target, name)``: target is an import (``dotted``) or something computed (``None``)."""

    offset: int
    target: str | None
    attribute: str | None


@dataclass(frozen=True)
class PickleFacts:
    """What the opcode walk established about one pickle stream (one or several pickles in a row)."""

    protocol: int
    pickles: int
    globals: tuple[GlobalRef, ...]
    unresolved: tuple[Unresolved, ...]
    getattr_calls: tuple[GetattrCall, ...]
    getattr_pushes: int
    loader_payloads: tuple[tuple[str, int, PickleFacts], ...]  # (loader, offset, facts of the embedded pickle)
    opcodes: int
    end_offset: int
    error: str | None = None
    error_offset: int | None = None
    incomplete: str | None = None
    trailing_bytes: int = 0
    persistent_ids: int = 0
    joblib_arrays: int = 0
    storage_keys: frozenset[str] = frozenset()  # torch storages named by persistent ids ('storage', type, key, ...)
    plain_facts: PickleFacts | None = None  # a joblib stream walked again as a plain unpickler reads it
    truncated: bool = False  # the walk ended because the stream ended (a longer stream could go on)

    @property
    def all_globals(self) -> tuple[GlobalRef, ...]:
        """Imports of this stream and of the pickles embedded in it (and of its plain-unpickler reading)."""
        out = list(self.globals)
        for _loader, _off, facts in self.loader_payloads:
            out.extend(facts.all_globals)
        if self.plain_facts is not None:
            out.extend(self.plain_facts.all_globals)
        return tuple(out)


# --------------------------------------------------------------------------- buffered stream
class _Buf:
    """Own buffering over a binary stream: byte-level access without a method call per byte read."""

    def __init__(self, fh: BinaryIO, size: int | None) -> None:
        self.fh = fh
        self.size = size
        try:
            self.seekable = fh.seekable() and size is not None
            self.start = fh.tell() if self.seekable else 0
        except (OSError, ValueError):
            self.seekable = False
            self.start = 0
        self.buf = b""
        self.pos = 0

    def offset(self) -> int:
        return self.start + self.pos

    def fill(self, need: int) -> bool:
        """Make ``need`` bytes available at ``pos``; False at end of stream."""
        avail = len(self.buf) - self.pos
        if avail >= need:
            return True
        rest = self.buf[self.pos :]
        self.start += self.pos
        want = max(CHUNK, need - avail)
        chunk = self.fh.read(want)
        self.buf = rest + chunk if rest else chunk
        self.pos = 0
        while len(self.buf) < need and chunk:
            chunk = self.fh.read(max(CHUNK, need - len(self.buf)))
            self.buf += chunk
        return len(self.buf) >= need

    def read(self, n: int) -> bytes:
        if not self.fill(n):
            raise _Truncated(f"stream ends inside a {n}-byte argument")
        p = self.pos
        self.pos = p + n
        return self.buf[p : p + n]

    def readline(self) -> bytes:
        while True:
            i = self.buf.find(b"\n", self.pos)
            if i >= 0:
                line = self.buf[self.pos : i]
                self.pos = i + 1
                return line
            if len(self.buf) - self.pos > MAX_LINE:
                raise _Malformed("text argument longer than 64 KiB without a newline")
            if not self.fill(len(self.buf) - self.pos + 1):
                raise _Truncated("stream ends inside a text argument")

    def skip(self, n: int) -> None:
        avail = len(self.buf) - self.pos
        if n <= avail:
            self.pos += n
            return
        left = n - avail
        here = self.start + len(self.buf)
        self.buf = b""
        self.pos = 0
        if self.seekable and self.size is not None:
            if here + left > self.size:
                self.start = self.size
                raise _Truncated(f"stream ends inside a {n}-byte argument")
            self.fh.seek(left, 1)
            self.start = here + left
            return
        self.start = here
        while left > 0:
            chunk = self.fh.read(min(left, CHUNK))
            if not chunk:
                raise _Truncated(f"stream ends inside a {n}-byte argument")
            left -= len(chunk)
            self.start += len(chunk)

    def at_eof(self) -> bool:
        return not self.fill(1)


# --------------------------------------------------------------------------- opcode names (for messages)
_NAMES = {
    0x63: "GLOBAL",
    0x69: "INST",
    0x93: "STACK_GLOBAL",
    0x82: "EXT1",
    0x83: "EXT2",
    0x84: "EXT4",
}
_LOADERS = {
    ("pickle", "loads"),
    ("_pickle", "loads"),
    ("pickle", "_loads"),
    ("dill", "loads"),
    ("dill._dill", "loads"),
    ("cloudpickle", "loads"),
    ("joblib", "loads"),
    ("torch.serialization", "_load"),
    ("numpy.core.numeric", "loads"),
    ("numpy", "loads"),
    ("torch.storage", "_load_from_bytes"),
    ("marshal", "loads"),
}
_JOBLIB_WRAPPERS = {
    ("joblib.numpy_pickle", "NumpyArrayWrapper"),
    ("sklearn.externals.joblib.numpy_pickle", "NumpyArrayWrapper"),
}
_MARK = object()
_GETATTR = ("builtins", "__builtin__")


_MEMO_ALWAYS = frozenset({str, Glob})  # what STACK_GLOBAL and getattr resolution need, whatever the count
_MEMO_BOUNDED = frozenset({Call, Tup, Bytes, int})  # dtype objects, argument tuples, payloads: up to a cap


_HOLE = object()  # a memo index never written
_NO_FRAME = 1 << 62
_FLOAT_RUN = re.compile(rb"(?:G.{8})*", re.DOTALL)  # BINFLOAT opcodes back to back: read as one
# CPython's C unpickler reading a file drops what is left of a frame when a read runs past its end (and file
# readers start the next pickle after the whole frame), while ``pickle.loads`` and the pure-Python unpickler read
# on or fail: such a stream means different things to different loaders. Picklers never write one.
_FRAME_CROSSED = ("an opcode runs past the end of its frame, or a pickle ends inside one: loaders read such a "
                  "stream differently (never written by a pickler)")


def importable_name(text: str) -> bool:
    """Could an unpickler import this at all? Names that fail strict UTF-8 decoding, are empty or hold control
    characters make the import fail before anything runs; such bytes are junk (text or data read as opcodes)."""
    return bool(text) and "\ufffd" not in text and not any(ord(c) < 0x20 or ord(c) == 0x7F for c in text)
_PICKLE_FIRST_BYTES = {bytes([c]) for c in b"\x80(cdl]}SVIJKUX)"}


def _memo_put(memo: list[object], sparse: dict[int, object], idx: int, v: object) -> int:
    """Write memo entry ``idx``; 1 when the key is new (the C unpickler's memo length grows), else 0."""
    n = len(memo)
    if idx < 0:
        raise _Malformed("negative memo index")
    if idx < n:
        new = memo[idx] is _HOLE
        memo[idx] = v
        return int(new)
    if idx - n <= 65536:
        memo.extend([_HOLE] * (idx - n))
        memo.append(v)
        return 1
    new = idx not in sparse
    sparse[idx] = v
    return int(new)


def _is_wrapper(v: object) -> bool:
    """A joblib array wrapper awaiting its state: the only dict whose items the reader needs."""
    return isinstance(v, Call) and isinstance(v.func, Glob) and (v.func.module, v.func.name) in _JOBLIB_WRAPPERS


def _is_getattr(v: object) -> bool:
    return isinstance(v, Glob) and v.name == "getattr" and v.module in _GETATTR


# The dtype codes ``numpy.dtype.__reduce__`` writes for plain numbers, with their item size. Anything else (object
# in any spelling, structured, unknown) is in doubt, and joblib's data is then walked as a pickle, never skipped.
_NUMERIC_CODES = {"b1": 1, "i1": 1, "i2": 2, "i4": 4, "i8": 8, "u1": 1, "u2": 2, "u4": 4, "u8": 8, "f2": 2, "f4": 4,
                  "f8": 8, "f16": 16, "c8": 8, "c16": 16, "c32": 32, "M8": 8, "m8": 8}
_FLEXIBLE_CODES = ("S", "U", "V")


def _dtype_itemsize(dtype: object, depth: int = 0) -> int | None:
    """Item size of a pickled ``numpy.dtype`` of plain numbers or fixed strings, or None (objects or in doubt).

    numpy pickles a dtype as ``numpy.dtype(code, False, True)`` then ``BUILD`` with a state tuple ``(version,
    byteorder, subarray, names, fields, elsize, alignment, flags[, metadata])``; only a dtype without subarray,
    names or fields, whose code is one of the exact codes numpy writes, is trusted to hold no objects.
    """
    if not isinstance(dtype, Call) or not isinstance(dtype.func, Glob) or not isinstance(dtype.args, Tup):
        return None
    if dtype.func.name != "dtype" or dtype.func.module not in ("numpy", "numpy.core.multiarray",
                                                               "numpy._core.multiarray"):
        return None
    if not dtype.args.items or not isinstance(dtype.args.items[0], str):
        return None
    code = dtype.args.items[0]
    state = dtype.state
    if not isinstance(state, Tup) or len(state.items) < 8:
        return None
    version, _order, subarray, names, fields, elsize = state.items[:6]
    if version not in (3, 4) or subarray is not None:
        return None
    if names is not None or fields is not None:  # structured: every field must be plain numbers itself
        if depth > 4 or not isinstance(names, Tup) or not isinstance(fields, DictV) or fields.items is None:
            return None
        if code[:1] != "V" or set(fields.items) != set(names.items) or not isinstance(elsize, int):
            return None
        for field in fields.items.values():
            if not isinstance(field, Tup) or not field.items or _dtype_itemsize(field.items[0], depth + 1) is None:
                return None
        return elsize if elsize > 0 and not isinstance(elsize, bool) else None
    if code in _NUMERIC_CODES:
        return _NUMERIC_CODES[code]
    flexible = code[:1] in _FLEXIBLE_CODES and (code[1:].isdigit() or code[1:] == "")
    if flexible and isinstance(elsize, int) and not isinstance(elsize, bool) and elsize >= 0:
        return elsize
    return None


def _c_int(line: bytes, base: int) -> int | None:
    """A text-protocol number as the C unpickler parses it: up to the first NUL (it parses a C string), spaces
    around it allowed; None when it would reject it."""
    text = line.split(b"\x00", 1)[0]
    if len(text) > 4300:
        return None
    try:
        return int(text, base)
    except ValueError:
        return None


def _quoted(line: bytes) -> object:
    """The value of a protocol-0 ``STRING`` argument (a quoted, escaped literal; trailing whitespace and control
    bytes are dropped first, as the C unpickler does)."""
    line = line.rstrip(bytes(range(33)))
    if len(line) >= 2 and line[:1] == line[-1:] and line[:1] in (b"'", b'"'):
        body = line[1:-1]
        if len(body) > KEEP_STR:
            return OPAQUE
        try:
            return codecs.escape_decode(body)[0].decode("latin-1")
        except (ValueError, UnicodeDecodeError):
            raise _Malformed("STRING argument with bad escapes") from None
    raise _Malformed("STRING argument is not quoted")


class _Reader:
    """Walks the opcodes of one stream; :func:`scan_stream` collects its facts."""

    def __init__(self, buf: _Buf, deadline: float, depth: int) -> None:
        self.b = buf
        self.deadline = deadline
        self.depth = depth
        self.protocol = 0
        self.pickles = 0
        self.globals: dict[tuple[str, str], GlobalRef] = {}
        self.unresolved: list[Unresolved] = []
        self.getattr_calls: list[GetattrCall] = []
        self.getattr_pushes = 0
        self.payloads: list[tuple[str, int, PickleFacts]] = []
        self.opcodes = 0
        self.persistent = 0
        self.joblib_arrays = 0
        self.storage_keys: set[str] = set()
        self.skip_joblib = True
        self.track_dicts = False  # set once a numpy dtype is imported: structured dtypes keep fields in a dict
        self.interned: dict[str, str] = {}
        self.interned_chars = 0

    # ---------------------------------------------------------------- helpers
    def _global(self, module: str, name: str, offset: int, opcode: str) -> Val:
        if not importable_name(module) or not importable_name(name):
            return OPAQUE  # the unpickler fails on this import before anything runs
        key = (module, name)
        if key not in self.globals:
            if len(self.globals) >= MAX_GLOBALS:
                raise _Limit(f"more than {MAX_GLOBALS} distinct imports")
            self.globals[key] = GlobalRef(module, name, offset, opcode)
        if name == "getattr" and module in _GETATTR:
            self.getattr_pushes += 1
        elif name == "dtype":
            self.track_dicts = True
        return Glob(module, name, offset)

    def _compact(self, stack: list[object], start: int) -> int:
        """Shrink what the deep part of a very deep stack holds, in place; returns where compaction stopped.

        Only the provenance of strings and imports matters to the walk. Below the top ``COMPACT_KEEP_TOP`` slots,
        strings are shared (one object per distinct value, within a character budget), and every other tracked
        value becomes the shared unknown. Losing a value can only make the verdict worse (an import computed from
        an unknown operand is judged dangerous), so compaction never lets a payload through; each slot then costs
        one pointer.
        """
        end = len(stack) - COMPACT_KEEP_TOP
        interned = self.interned
        for i in range(start, end):
            v = stack[i]
            t = type(v)
            if isinstance(v, str):
                got = interned.get(v)
                if got is None:
                    if self.interned_chars + len(v) > MAX_INTERNED_CHARS:
                        stack[i] = OPAQUE
                        continue
                    interned[v] = v
                    self.interned_chars += len(v)
                else:
                    stack[i] = got
            elif t is not Glob and v is not OPAQUE and v is not None and t is not bool:
                stack[i] = OPAQUE
        return max(start, end)

    def _unresolved(self, offset: int, opcode: str, detail: str) -> Val:
        if len(self.unresolved) < 1000:  # one is enough to make the stream dangerous
            self.unresolved.append(Unresolved(offset, opcode, detail))
        return OPAQUE

    def _after_call(self, func: object, args: object, offset: int) -> Call:
        if isinstance(func, Glob):
            if func.name == "getattr" and func.module in _GETATTR:
                target: str | None = None
                attribute: str | None = None
                if isinstance(args, Tup) and len(args.items) == 2:
                    t, a = args.items
                    if isinstance(t, Glob):
                        target = f"{t.module}.{t.name}"
                    if isinstance(a, str):
                        attribute = a
                if len(self.getattr_calls) >= MAX_CALLS:
                    raise _Limit(f"more than {MAX_CALLS} getattr calls")
                self.getattr_calls.append(GetattrCall(offset, target, attribute))
            elif (func.module, func.name) in _LOADERS and isinstance(args, Tup):
                for item in args.items:
                    if isinstance(item, Bytes) and item.data is not None and self.depth < MAX_DEPTH:
                        if len(self.payloads) >= MAX_CALLS:
                            raise _Limit(f"more than {MAX_CALLS} embedded pickles")
                        inner = scan_stream(
                            io.BytesIO(item.data),
                            len(item.data),
                            budget=max(0.1, self.deadline - time.monotonic()),
                            depth=self.depth + 1,
                            base_offset=item.offset,
                        )
                        self.payloads.append((f"{func.module}.{func.name}", offset, inner))
        return Call(func, args, offset)

    # ---------------------------------------------------------------- one pickle
    def run_one(self) -> None:
        """Read opcodes up to and including STOP.

        One dispatch loop over a local view of the buffer (``buf``/``pos``/``end``), synchronised with the
        :class:`_Buf` only when an argument crosses the end of the buffered chunk: in CPython this is what makes
        the walk cost about as much as reading the opcodes.
        """
        b = self.b
        stack: list[object] = []
        marks: list[int] = []  # stack lengths of the open MARKs, one entry per run of MARKs at the same length
        reps: list[int] = []  # how many MARKs each entry of ``marks`` stands for (a MARK flood costs nothing)
        compacted = 0  # stack slots below this index were compacted
        frame_end = _NO_FRAME  # absolute offset where the current FRAME ends
        fence = 0  # stack length at the innermost MARK: values below it belong to an outer frame
        memo: list[object] = []  # dense part of the memo (MEMOIZE and ordinary PUTs)
        sparse: dict[int, object] = {}  # PUT indices far beyond the dense part
        mlen = 0  # distinct memo keys written: where MEMOIZE stores, as in the C unpickler
        kept = 0
        strings: dict[str, str] = {}  # one object per distinct memoized string value
        push = stack.append
        pop = stack.pop
        buf = b.buf
        pos = b.pos
        end = len(buf)
        start = b.start
        count = 0
        check_at = 0x10000  # opcodes read when the time, depth and size limits are next checked
        from_bytes = int.from_bytes

        try:
            while True:
                if pos + 9 > end:
                    b.pos = pos
                    b.fill(9)
                    buf, pos, end, start = b.buf, b.pos, len(b.buf), b.start
                    if pos >= end:
                        raise _Truncated("stream ends before STOP")
                count += 1
                if count >= check_at:
                    check_at = count + 0x10000
                    if time.monotonic() > self.deadline:
                        raise _Limit("time budget for this file exhausted")
                    depth_now = len(stack)
                    compacted = min(compacted, depth_now)
                    if depth_now > COMPACT_FROM and depth_now - COMPACT_KEEP_TOP > compacted + (compacted >> 1):
                        compacted = self._compact(stack, compacted)
                    if depth_now + len(marks) + len(memo) + len(sparse) > MAX_ENTRIES:
                        raise _Limit(f"more than {MAX_ENTRIES} stack, mark and memo entries")
                op = buf[pos]
                off = start + pos
                if off >= frame_end:
                    if off > frame_end:
                        raise _Limit(_FRAME_CROSSED)
                    frame_end = _NO_FRAME
                pos += 1
                # ---- the most frequent opcodes first
                if op == 0x94:  # MEMOIZE
                    if len(stack) <= fence:
                        raise _Malformed("MEMOIZE on an empty stack")
                    v = stack[-1]
                    if type(v) is str:
                        v = strings.setdefault(v, v) if len(strings) < MAX_KEPT_MEMO else v
                    elif type(v) is not Glob:
                        if kept < MAX_KEPT_MEMO and type(v) in _MEMO_BOUNDED:
                            kept += 1
                        else:
                            v = OPAQUE
                    if mlen == len(memo):
                        memo.append(v)
                        mlen += 1
                    else:
                        mlen += _memo_put(memo, sparse, mlen, v)
                elif op == 0x71 or op == 0x72:  # BINPUT / LONG_BINPUT
                    if op == 0x71:
                        idx = buf[pos]
                        pos += 1
                    else:
                        idx = from_bytes(buf[pos : pos + 4], "little")
                        pos += 4
                    if len(stack) <= fence:
                        raise _Malformed("PUT on an empty stack")
                    v = stack[-1]
                    if type(v) not in _MEMO_ALWAYS:
                        if kept < MAX_KEPT_MEMO and type(v) in _MEMO_BOUNDED:
                            kept += 1
                        else:
                            v = OPAQUE
                    mlen += _memo_put(memo, sparse, idx, v)
                elif op == 0x68 or op == 0x6A:  # BINGET / LONG_BINGET
                    if op == 0x68:
                        idx = buf[pos]
                        pos += 1
                    else:
                        idx = from_bytes(buf[pos : pos + 4], "little")
                        pos += 4
                    v = memo[idx] if idx < len(memo) else sparse.get(idx, _HOLE)
                    if v is _HOLE:
                        raise _Malformed(f"memo entry {idx} read before it was written")
                    if v is not OPAQUE and _is_getattr(v):
                        self.getattr_pushes += 1
                    push(v)
                elif op == 0x8C:  # SHORT_BINUNICODE
                    n = buf[pos]
                    pos += 1
                    if pos + n > end:
                        b.pos = pos
                        if not b.fill(n):
                            raise _Truncated("stream ends inside a string")
                        buf, pos, end, start = b.buf, b.pos, len(b.buf), b.start
                    push(buf[pos : pos + n].decode("utf-8", "surrogatepass"))
                    pos += n
                elif op == 0x4B:  # BININT1
                    push(buf[pos])
                    pos += 1
                elif op == 0x4A:  # BININT
                    push(from_bytes(buf[pos : pos + 4], "little", signed=True))
                    pos += 4
                elif op == 0x4D:  # BININT2
                    push(from_bytes(buf[pos : pos + 2], "little"))
                    pos += 2
                elif op == 0x47:  # BINFLOAT, with the run of BINFLOATs after it (a list of floats) in one match
                    limit = end if frame_end == _NO_FRAME else min(end, frame_end - start)
                    more = _FLOAT_RUN.match(buf, pos + 8, limit) if pos + 8 < limit else None
                    run_end = more.end() if more else pos + 8
                    run = (run_end - pos + 1) // 9
                    stack.extend(repeat(OPAQUE, run))
                    count += run - 1
                    pos = run_end
                elif op == 0x28:  # MARK
                    fence = len(stack)
                    if marks and marks[-1] == fence:
                        reps[-1] += 1
                    else:
                        marks.append(fence)
                        reps.append(1)
                elif op == 0x75 or op == 0x65 or op == 0x90:  # SETITEMS / APPENDS / ADDITEMS
                    if not marks:
                        raise _Malformed("no MARK on the stack")
                    k = marks[-1]
                    if reps[-1] > 1:
                        reps[-1] -= 1
                    else:
                        marks.pop()
                        reps.pop()
                    fence = marks[-1] if marks else 0
                    if k <= fence:
                        raise _Malformed("nothing to add items to")
                    target = stack[k - 1]
                    if op == 0x75 and isinstance(target, DictV) and (self.track_dicts or (k >= 2
                                                                     and _is_wrapper(stack[k - 2]))):
                        if target.items is None:
                            target.items = {}
                        items = stack[k:]
                        if len(items) % 2:
                            raise _Malformed("SETITEMS with an odd number of items")
                        for i in range(0, len(items), 2):
                            key = items[i]
                            if isinstance(key, str) and len(target.items) < MAX_CONTAINER:
                                target.items[key] = items[i + 1]
                            else:
                                target.items = None
                                break
                    del stack[k:]
                elif op == 0x85:  # TUPLE1
                    if len(stack) - 1 < fence:
                        raise _Malformed("stack underflow")
                    stack[-1] = Tup([stack[-1]])
                elif op == 0x86:  # TUPLE2
                    if len(stack) - 2 < fence:
                        raise _Malformed("stack underflow")
                    items = stack[-2:]
                    del stack[-2:]
                    push(Tup(items))
                elif op == 0x87:  # TUPLE3
                    if len(stack) - 3 < fence:
                        raise _Malformed("stack underflow")
                    items = stack[-3:]
                    del stack[-3:]
                    push(Tup(items))
                elif op == 0x52:  # REDUCE
                    if len(stack) - 2 < fence:
                        raise _Malformed("stack underflow")
                    args = pop()
                    func = pop()
                    push(self._after_call(func, args, off))
                elif op == 0x62:  # BUILD
                    if len(stack) - 2 < fence:
                        raise _Malformed("stack underflow")
                    state = pop()
                    obj = stack[-1]
                    if isinstance(obj, Call):
                        obj.state = state
                        f = obj.func
                        if isinstance(f, Glob) and (f.module, f.name) in _JOBLIB_WRAPPERS and self.skip_joblib:
                            if frame_end != _NO_FRAME:  # joblib ends the frame before writing the array
                                if start + pos != frame_end:
                                    raise _Limit(_FRAME_CROSSED)
                                frame_end = _NO_FRAME
                            b.pos = pos
                            self._skip_joblib_array(state)
                            buf, pos, end, start = b.buf, b.pos, len(b.buf), b.start
                elif op == 0x7D:  # EMPTY_DICT
                    push(DictV())
                elif op == 0x5D or op == 0x8F:  # EMPTY_LIST / EMPTY_SET
                    push(OPAQUE)
                elif op == 0x29:  # EMPTY_TUPLE
                    push(Tup([]))
                elif op == 0x88:  # NEWTRUE
                    push(True)
                elif op == 0x89:  # NEWFALSE
                    push(False)
                elif op == 0x4E:  # NONE
                    push(None)
                elif op == 0x73:  # SETITEM
                    if len(stack) - 3 < fence:
                        raise _Malformed("stack underflow")
                    v = pop()
                    key = pop()
                    target = stack[-1]
                    if isinstance(target, DictV) and (self.track_dicts or (len(stack) >= 2 and _is_wrapper(stack[-2]))):
                        if target.items is None:
                            target.items = {}
                        if isinstance(key, str) and len(target.items) < MAX_CONTAINER:
                            target.items[key] = v
                        else:
                            target.items = None
                elif op == 0x61:  # APPEND
                    if len(stack) - 2 < fence:
                        raise _Malformed("stack underflow")
                    pop()
                elif op == 0x95:  # FRAME
                    new_end = start + pos + 8 + from_bytes(buf[pos : pos + 8], "little")
                    if frame_end != _NO_FRAME and new_end > frame_end:
                        raise _Limit(_FRAME_CROSSED)
                    frame_end = new_end
                    pos += 8
                elif op == 0x93:  # STACK_GLOBAL
                    if len(stack) - 2 < fence:
                        raise _Malformed("stack underflow")
                    name = pop()
                    module = pop()
                    if isinstance(module, str) and isinstance(name, str):
                        push(self._global(module, name, off, "STACK_GLOBAL"))
                    else:
                        what = "module" if not isinstance(module, str) else "name"
                        push(self._unresolved(off, "STACK_GLOBAL", f"{what} operand is not a literal string"))
                elif op == 0x81:  # NEWOBJ
                    if len(stack) - 2 < fence:
                        raise _Malformed("stack underflow")
                    args = pop()
                    cls = pop()
                    push(Call(cls, args, off))
                elif op == 0x92:  # NEWOBJ_EX
                    if len(stack) - 3 < fence:
                        raise _Malformed("stack underflow")
                    pop()
                    args = pop()
                    cls = pop()
                    push(Call(cls, args, off))
                elif op == 0x51:  # BINPERSID
                    if len(stack) - 1 < fence:
                        raise _Malformed("stack underflow")
                    self._persistent_id(stack[-1])
                    stack[-1] = OPAQUE
                elif op == 0x58 or op == 0x8D or op == 0x42 or op == 0x8E or op == 0x96 or op == 0x43:
                    # BINUNICODE / BINUNICODE8 / BINBYTES / BINBYTES8 / BYTEARRAY8 / SHORT_BINBYTES
                    if op == 0x43:
                        n = buf[pos]
                        pos += 1
                    elif op == 0x58 or op == 0x42:
                        n = from_bytes(buf[pos : pos + 4], "little")
                        pos += 4
                    else:
                        n = from_bytes(buf[pos : pos + 8], "little")
                        pos += 8
                    b.pos = pos
                    if op == 0x58 or op == 0x8D:
                        if n <= KEEP_STR:
                            push(b.read(n).decode("utf-8", "surrogatepass"))
                        else:
                            b.skip(n)
                            push(OPAQUE)
                    else:
                        push(self._bytes(n))
                    buf, pos, end, start = b.buf, b.pos, len(b.buf), b.start
                elif op == 0x80:  # PROTO
                    proto = buf[pos]
                    pos += 1
                    if proto > 5:
                        raise _Malformed(f"unsupported pickle protocol {proto}")
                    self.protocol = max(self.protocol, proto)
                elif op == 0x2E:  # STOP
                    if len(stack) - 1 < fence:
                        raise _Malformed("STOP with an empty stack")
                    if frame_end != _NO_FRAME and start + pos != frame_end:
                        raise _Limit(_FRAME_CROSSED)
                    b.pos = pos
                    self.pickles += 1
                    return
                else:
                    b.pos = pos
                    mlen += self._rare(op, off, stack, marks, reps, memo, sparse)
                    fence = marks[-1] if marks else 0
                    buf, pos, end, start = b.buf, b.pos, len(b.buf), b.start
        except (_Truncated, _Malformed, IndexError) as exc:
            if frame_end != _NO_FRAME and max(start + pos, b.offset()) > frame_end:
                raise _Limit(_FRAME_CROSSED) from exc  # the read that failed ran past the frame: see above
            raise
        finally:
            self.opcodes += count
            if b.buf is buf and pos > b.pos:
                b.pos = pos

    def _persistent_id(self, pid: object) -> None:
        """Count persistent ids; remember the storage keys torch's loader would read as raw tensor data."""
        self.persistent += 1
        if isinstance(pid, Tup) and len(pid.items) >= 3 and pid.items[0] == "storage":
            key = pid.items[2]
            if isinstance(key, str):
                if len(self.storage_keys) >= MAX_CALLS * 50:
                    raise _Limit("more than 5,000,000 tensor storages")
                self.storage_keys.add(key)

    def _rare(self, op: int, off: int, stack: list[object], marks: list[int], reps: list[int], memo: list[object],
              sparse: dict[int, object]) -> int:
        """Opcodes of the text protocols and the rare ones, through the slower :class:`_Buf` methods.

        Returns the number of new memo keys written (for MEMOIZE's index).
        """
        b = self.b
        fence = marks[-1] if marks else 0

        def pop_mark() -> list[object]:
            if not marks:
                raise _Malformed("no MARK on the stack")
            k = marks[-1]
            if reps[-1] > 1:
                reps[-1] -= 1
            else:
                marks.pop()
                reps.pop()
            items = stack[k:]
            del stack[k:]
            return items

        def need(n: int) -> None:
            if len(stack) - n < fence:
                raise _Malformed("stack underflow")

        if op == 0x63 or op == 0x69:  # GLOBAL / INST
            module = b.readline().decode("utf-8", "replace")
            name = b.readline().decode("utf-8", "replace")
            g = self._global(module, name, off, "GLOBAL" if op == 0x63 else "INST")
            if op == 0x63:
                stack.append(g)
            else:
                args = pop_mark()
                stack.append(Call(g, Tup(args) if len(args) <= MAX_CONTAINER else OPAQUE, off))
        elif op == 0x6F:  # OBJ
            items = pop_mark()
            if not items:
                raise _Malformed("OBJ without a class")
            rest = items[1:]
            stack.append(self._after_call(items[0], Tup(rest) if len(rest) <= MAX_CONTAINER else OPAQUE, off))
        elif op in (0x82, 0x83, 0x84):  # EXT1 / EXT2 / EXT4
            code = int.from_bytes(b.read({0x82: 1, 0x83: 2, 0x84: 4}[op]), "little")
            stack.append(self._unresolved(off, _NAMES[op], f"extension registry code {code}"))
        elif op == 0x74:  # TUPLE
            items = pop_mark()
            stack.append(Tup(items) if len(items) <= MAX_CONTAINER else OPAQUE)
        elif op == 0x6C or op == 0x91:  # LIST / FROZENSET
            pop_mark()
            stack.append(OPAQUE)
        elif op == 0x64:  # DICT
            items = pop_mark()
            d = DictV({})
            for i in range(0, len(items) - 1, 2):
                key = items[i]
                if isinstance(key, str) and d.items is not None and len(d.items) < MAX_CONTAINER:
                    d.items[key] = items[i + 1]
                else:
                    d.items = None
            stack.append(d)
        elif op == 0x30:  # POP
            if marks and len(stack) == marks[-1]:
                if reps[-1] > 1:
                    reps[-1] -= 1
                else:
                    marks.pop()
                    reps.pop()
            else:
                need(1)
                stack.pop()
        elif op == 0x31:  # POP_MARK
            pop_mark()
        elif op == 0x32:  # DUP
            need(1)
            v = stack[-1]
            if _is_getattr(v):
                self.getattr_pushes += 1
            stack.append(v)
        elif op == 0x8A:  # LONG1
            n = b.read(1)[0]
            stack.append(int.from_bytes(b.read(n), "little", signed=True))
        elif op == 0x8B:  # LONG4
            n = int.from_bytes(b.read(4), "little", signed=True)
            if n < 0:
                raise _Malformed("LONG4 with a negative length")
            b.skip(n)
            stack.append(OPAQUE)
        elif op == 0x55:  # SHORT_BINSTRING
            n = b.read(1)[0]
            stack.append(b.read(n).decode("latin-1"))
        elif op == 0x54:  # BINSTRING
            n = int.from_bytes(b.read(4), "little", signed=True)
            if n < 0:
                raise _Malformed("BINSTRING with a negative length")
            if n <= KEEP_STR:
                stack.append(b.read(n).decode("latin-1"))
            else:
                b.skip(n)
                stack.append(OPAQUE)
        elif op == 0x53:  # STRING
            stack.append(_quoted(b.readline()))
        elif op == 0x56:  # UNICODE
            line = b.readline()
            stack.append(line.decode("raw-unicode-escape") if len(line) <= KEEP_STR else OPAQUE)
        elif op == 0x49:  # INT (booleans are I00 / I01)
            line = b.readline()
            if line in (b"00", b"01"):
                stack.append(line == b"01")
            else:  # the C unpickler reads up to a NUL, in any base strtol takes: a value we need not know
                value = _c_int(line, 0)
                stack.append(OPAQUE if value is None else value)
        elif op == 0x4C:  # LONG
            line = b.readline()
            value = _c_int(line[:-1] if line.endswith(b"L") else line, 0)
            stack.append(OPAQUE if value is None else value)
        elif op == 0x46:  # FLOAT
            b.readline()
            stack.append(OPAQUE)
        elif op == 0x70:  # PUT
            idx = _c_int(b.readline(), 10)
            if idx is None:
                raise _Malformed("PUT argument is not a number")
            need(1)
            v = stack[-1]
            kept_v = v if type(v) in _MEMO_ALWAYS or type(v) in _MEMO_BOUNDED else OPAQUE
            return _memo_put(memo, sparse, idx, kept_v)
        elif op == 0x67:  # GET
            idx = _c_int(b.readline(), 10)
            if idx is None:
                raise _Malformed("GET argument is not a number")
            v = memo[idx] if 0 <= idx < len(memo) else sparse.get(idx, _HOLE)
            if v is _HOLE:
                raise _Malformed(f"memo entry {idx} read before it was written")
            if _is_getattr(v):
                self.getattr_pushes += 1
            stack.append(v)
        elif op == 0x50:  # PERSID
            self._persistent_id(b.readline().decode("ascii", "replace"))
            stack.append(OPAQUE)
        elif op == 0x97:  # NEXT_BUFFER
            stack.append(OPAQUE)
        elif op == 0x98:  # READONLY_BUFFER
            need(1)
        else:
            raise _Malformed(f"unknown opcode 0x{op:02x}")
        return 0

    def _bytes(self, n: int) -> Bytes:
        """Literal bytes: kept (for nested-pickle scanning) only when small and starting like a pickle."""
        b = self.b
        data_offset = b.offset()
        keep = n <= KEEP_BYTES and b.fill(min(n, 2)) and b.buf[b.pos : b.pos + 1] in _PICKLE_FIRST_BYTES
        if keep:
            return Bytes(n, data_offset, b.read(n))
        b.skip(n)
        return Bytes(n, data_offset, None)

    def _skip_joblib_array(self, state: object) -> None:
        """joblib writes array bytes (or a nested pickle for object arrays) right after the wrapper's BUILD."""
        if not isinstance(state, DictV) or state.items is None:
            raise _Malformed("joblib NumpyArrayWrapper state is not a readable dict")
        shape = state.items.get("shape")
        itemsize = _dtype_itemsize(state.items.get("dtype", OPAQUE))
        if not isinstance(shape, Tup):
            raise _Malformed("joblib NumpyArrayWrapper with an unreadable shape")
        self.joblib_arrays += 1
        if itemsize is None:  # objects, or a dtype we cannot vouch for: joblib may unpickle what follows
            if self.depth + 1 > MAX_DEPTH:
                raise _Limit("joblib object arrays nested too deeply")
            self.depth += 1
            try:
                self.run_one()
                self.pickles -= 1  # the array's pickle is part of the outer one
            finally:
                self.depth -= 1
            return
        count = 1
        for dim in shape.items:
            if not isinstance(dim, int) or isinstance(dim, bool) or dim < 0:
                raise _Malformed("joblib NumpyArrayWrapper with a non-integer shape")
            count *= dim
        if isinstance(state.items.get("numpy_array_alignment_bytes"), int):
            pad = self.b.read(1)[0]
            self.b.skip(pad)
        self.b.skip(count * itemsize)


def scan_stream(
    fh: BinaryIO,
    size: int | None,
    *,
    budget: float = 60.0,
    depth: int = 0,
    base_offset: int = 0,
    rewind: Callable[[], BinaryIO | None] | None = None,
    skip_joblib: bool = True,
) -> PickleFacts:
    """Walk every pickle in ``fh`` from its current position to the end; never raises for bad input.

    After each STOP the walk goes on with whatever follows (torch's legacy loader reads five pickles in a row, and
    a loop of ``pickle.load`` reads them all), until the end of the stream or bytes that no unpickler would get
    through; imports met before such a break are kept. A stream that skipped joblib array data is walked a second
    time as a plain unpickler reads it (array bytes as opcodes); ``rewind`` gives the stream again from its start
    when ``fh`` cannot seek. Limits end the walk with ``incomplete`` set, which the caller reports as blocking.
    """
    seek_start: int | None = None
    try:
        if fh.seekable():
            seek_start = fh.tell()
    except (OSError, ValueError):
        seek_start = None
    b = _Buf(fh, size)
    b.start += base_offset
    deadline = time.monotonic() + budget
    r = _Reader(b, deadline, depth)
    r.skip_joblib = skip_joblib
    error: str | None = None
    error_offset: int | None = None
    incomplete: str | None = None
    trailing = 0
    truncated = False
    while True:
        first = r.pickles == 0
        globals_before = len(r.globals) + len(r.unresolved) + len(r.getattr_calls)
        start = b.offset()
        try:
            r.run_one()
        except IndexError:
            error = "stream ends inside an opcode argument"
            error_offset = b.offset()
            truncated = True
            break
        except (_Truncated, _Malformed, UnicodeDecodeError) as exc:
            truncated = isinstance(exc, _Truncated)
            if first or len(r.globals) + len(r.unresolved) + len(r.getattr_calls) > globals_before:
                error = str(exc)
                error_offset = b.offset()
            else:
                trailing = max(0, (size or b.offset()) - start)
            break
        except _Limit as exc:
            incomplete = str(exc)
            break
        except CapExceeded:
            raise  # a decompression bomb: the artifact scanner reports it as a scan limit
        except (OSError, EOFError, ValueError) as exc:  # decompressor or I/O errors under the stream
            error = f"stream error: {exc}"
            error_offset = b.offset()
            break
        if b.at_eof():
            break
    plain: PickleFacts | None = None
    if r.joblib_arrays and skip_joblib and incomplete is None:
        again: BinaryIO | None = None
        if seek_start is not None:
            fh.seek(seek_start)
            again = fh
        elif rewind is not None:
            again = rewind()
        if again is None:
            incomplete = "joblib array data could not be re-read as a plain unpickler reads it"
        else:
            plain = scan_stream(again, size, budget=max(0.05, deadline - time.monotonic()), depth=depth,
                                base_offset=base_offset, skip_joblib=False)
            if plain.incomplete is not None:
                incomplete = f"{plain.incomplete} (reading joblib array data as opcodes)"
    return PickleFacts(
        protocol=r.protocol,
        pickles=r.pickles,
        globals=tuple(r.globals.values()),
        unresolved=tuple(r.unresolved),
        getattr_calls=tuple(r.getattr_calls),
        getattr_pushes=r.getattr_pushes,
        loader_payloads=tuple(r.payloads),
        opcodes=r.opcodes,
        end_offset=b.offset(),
        error=error,
        error_offset=error_offset,
        incomplete=incomplete,
        trailing_bytes=trailing,
        persistent_ids=r.persistent,
        joblib_arrays=r.joblib_arrays,
        storage_keys=frozenset(r.storage_keys),
        plain_facts=plain,
        truncated=truncated,
    )
