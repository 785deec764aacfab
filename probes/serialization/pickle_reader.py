"""A streaming pickle opcode reader that never unpickles.

Why our own reader: ``pickletools.genops`` materialises every argument (a 1 GiB ``BINBYTES`` becomes a 1 GiB
``bytes``) and peers built on it lose track of imports laundered through the memo. This reader walks the opcodes
over a buffered stream, seeks past large byte and string arguments, and evaluates the stack *symbolically*: just
enough to know, for every import, which module and name it resolves to (literal operands or memo look-ups), to
follow joblib's in-stream array data, to see what ``builtins.getattr`` is applied to, and to find pickles passed as
literal bytes to a nested loader. Memory is proportional to the opcodes' structure, not to the data.

The result is a :class:`PickleFacts` value: raw facts only; :mod:`probes.serialization.policy` judges them.
"""

from __future__ import annotations

import codecs
import io
import time
from dataclasses import dataclass, field
from typing import BinaryIO

CHUNK = 1 << 20
MAX_LINE = 1 << 16  # a text-protocol argument longer than this is not a real pickle
KEEP_STR = 1024  # strings longer than this are not kept as values (no module or attribute name is this long)
KEEP_BYTES = 1 << 20  # literal bytes kept (to scan nested pickles) only when they look like a pickle and are small
MAX_STACK = 1 << 20
MAX_KEPT_MEMO = 500_000
MAX_DEPTH = 4
MAX_CONTAINER = 32  # tuples and dicts larger than this are opaque


class _Truncated(Exception):
    """The stream ended inside an opcode or its argument."""


class _Malformed(Exception):
    """An opcode the unpickler would reject (unknown byte, bad argument, stack underflow...)."""


class _Limit(Exception):
    """A resource limit stopped the analysis (time budget, stack size, nesting)."""


# --------------------------------------------------------------------------- symbolic values
class Val:
    """A value on the symbolic stack; the base class stands for 'something we do not track'."""

    __slots__ = ()


OPAQUE = Val()


class Str(Val):
    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value


class Int(Val):
    __slots__ = ("value",)

    def __init__(self, value: int) -> None:
        self.value = value


class Const(Val):
    __slots__ = ("value",)

    def __init__(self, value: object) -> None:
        self.value = value


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

    def __init__(self, items: list[Val]) -> None:
        self.items = items


class DictV(Val):
    __slots__ = ("items",)

    def __init__(self) -> None:
        self.items: dict[str, Val] | None = {}


class Call(Val):
    """The result of calling (REDUCE, NEWOBJ, OBJ, INST) a callable; BUILD sets its state."""

    __slots__ = ("args", "func", "offset", "state")

    def __init__(self, func: Val, args: Val, offset: int) -> None:
        self.func = func
        self.args = args
        self.offset = offset
        self.state: Val = OPAQUE


_TRUE = Const(True)
_FALSE = Const(False)
_NONE = Const(None)


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
    notes: tuple[str, ...] = field(default=())

    @property
    def all_globals(self) -> tuple[GlobalRef, ...]:
        """Imports of this stream and of the pickles embedded in it."""
        out = list(self.globals)
        for _loader, _off, facts in self.loader_payloads:
            out.extend(facts.all_globals)
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
}
_JOBLIB_WRAPPERS = {
    ("joblib.numpy_pickle", "NumpyArrayWrapper"),
    ("sklearn.externals.joblib.numpy_pickle", "NumpyArrayWrapper"),
}
_MARK = object()


def _dtype_itemsize(dtype: Val) -> tuple[int, bool] | None:
    """(item size, has objects) of a pickled ``numpy.dtype`` value, or None when it cannot be known."""
    if not isinstance(dtype, Call) or not isinstance(dtype.args, Tup) or not dtype.args.items:
        return None
    first = dtype.args.items[0]
    if not isinstance(first, Str):
        return None
    code = first.value
    if code.startswith("O"):
        return 0, True
    state = dtype.state
    if isinstance(state, Tup) and len(state.items) > 5:
        elsize = state.items[5]
        if isinstance(elsize, Int) and elsize.value > 0:
            return elsize.value, False
    digits = "".join(ch for ch in code if ch.isdigit())
    if not digits:
        return None
    size = int(digits)
    if code[:1] == "U":
        size *= 4
    return size, False


class _Reader:
    """Walks the opcodes of one stream; ``run`` returns its facts."""

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
        self.notes: list[str] = []

    # ---------------------------------------------------------------- helpers
    def _global(self, module: str, name: str, offset: int, opcode: str) -> Glob:
        key = (module, name)
        if key not in self.globals and len(self.globals) < 10_000:
            self.globals[key] = GlobalRef(module, name, offset, opcode)
        if module in ("builtins", "__builtin__") and name == "getattr":
            self.getattr_pushes += 1
        return Glob(module, name, offset)

    def _unresolved(self, offset: int, opcode: str, detail: str) -> Val:
        if len(self.unresolved) < 1000:
            self.unresolved.append(Unresolved(offset, opcode, detail))
        return OPAQUE

    def _after_call(self, func: Val, args: Val, offset: int) -> Call:
        if isinstance(func, Glob):
            if func.module in ("builtins", "__builtin__") and func.name == "getattr":
                target: str | None = None
                attribute: str | None = None
                if isinstance(args, Tup) and len(args.items) == 2:
                    t, a = args.items
                    if isinstance(t, Glob):
                        target = f"{t.module}.{t.name}"
                    if isinstance(a, Str):
                        attribute = a.value
                self.getattr_calls.append(GetattrCall(offset, target, attribute))
            elif (func.module, func.name) in _LOADERS and isinstance(args, Tup):
                for item in args.items:
                    if isinstance(item, Bytes) and item.data is not None and self.depth < MAX_DEPTH:
                        inner = scan_stream(
                            io.BytesIO(item.data),
                            len(item.data),
                            budget=max(0.1, self.deadline - time.monotonic()),
                            depth=self.depth + 1,
                            base_offset=item.offset,
                        )
                        self.payloads.append((f"{func.module}.{func.name}", offset, inner))
        return Call(func, args, offset)

    def _check_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise _Limit("time budget for this file exhausted")

    # ---------------------------------------------------------------- one pickle
    def run_one(self) -> None:
        """Read opcodes up to and including STOP (one dispatch loop: the fast way in CPython)."""
        b = self.b
        stack: list[object] = []
        memo: dict[int, Val] = {}
        memo_next = 0
        count = 0
        push = stack.append
        pop = stack.pop

        def pop_mark() -> list[object]:
            for i in range(len(stack) - 1, -1, -1):
                if stack[i] is _MARK:
                    items = stack[i + 1 :]
                    del stack[i:]
                    return items
            raise _Malformed("no MARK on the stack")

        def top() -> Val:
            if not stack:
                raise _Malformed("empty stack")
            v = stack[-1]
            if v is _MARK:
                raise _Malformed("MARK where a value was expected")
            return v  # type: ignore[return-value]

        def popv() -> Val:
            if not stack:
                raise _Malformed("stack underflow")
            v = pop()
            if v is _MARK:
                raise _Malformed("MARK where a value was expected")
            return v  # type: ignore[return-value]

        def remember(idx: int, v: Val) -> None:
            if v is OPAQUE or (len(memo) >= MAX_KEPT_MEMO and not isinstance(v, (Str, Glob))):
                memo.pop(idx, None)
            else:
                memo[idx] = v

        def recall(idx: int) -> Val:
            v = memo.get(idx, OPAQUE)
            if isinstance(v, Glob) and v.module in ("builtins", "__builtin__") and v.name == "getattr":
                self.getattr_pushes += 1
            return v

        while True:
            count += 1
            if not count & 0xFFFF:
                self._check_time()
                if len(stack) > MAX_STACK:
                    raise _Limit("symbolic stack larger than 1M entries")
            if b.pos >= len(b.buf) and not b.fill(1):
                raise _Truncated("stream ends before STOP")
            op = b.buf[b.pos]
            off = b.start + b.pos
            b.pos += 1
            self.opcodes += 1
            # ---- most frequent opcodes first
            if op == 0x71:  # BINPUT
                idx = b.read(1)[0]
                remember(idx, top())
            elif op == 0x94:  # MEMOIZE
                remember(memo_next, top())
                memo_next += 1
            elif op == 0x68:  # BINGET
                push(recall(b.read(1)[0]))
            elif op == 0x28:  # MARK
                push(_MARK)
            elif op == 0x4B:  # BININT1
                push(Int(b.read(1)[0]))
            elif op == 0x8C:  # SHORT_BINUNICODE
                n = b.read(1)[0]
                push(Str(b.read(n).decode("utf-8", "surrogatepass")))
            elif op == 0x58 or op == 0x8D:  # BINUNICODE / BINUNICODE8
                n = int.from_bytes(b.read(4 if op == 0x58 else 8), "little")
                if n <= KEEP_STR:
                    push(Str(b.read(n).decode("utf-8", "surrogatepass")))
                else:
                    b.skip(n)
                    push(OPAQUE)
            elif op == 0x85:  # TUPLE1
                push(Tup([popv()]))
            elif op == 0x86:  # TUPLE2
                y = popv()
                push(Tup([popv(), y]))
            elif op == 0x87:  # TUPLE3
                z = popv()
                y = popv()
                push(Tup([popv(), y, z]))
            elif op == 0x52:  # REDUCE
                args = popv()
                func = popv()
                push(self._after_call(func, args, off))
            elif op == 0x62:  # BUILD
                state = popv()
                obj = top()
                if isinstance(obj, Call):
                    obj.state = state
                    f = obj.func
                    if isinstance(f, Glob) and (f.module, f.name) in _JOBLIB_WRAPPERS:
                        self._skip_joblib_array(state)
            elif op == 0x29:  # EMPTY_TUPLE
                push(Tup([]))
            elif op == 0x7D:  # EMPTY_DICT
                push(DictV())
            elif op == 0x5D:  # EMPTY_LIST
                push(OPAQUE)
            elif op == 0x4A:  # BININT
                push(Int(int.from_bytes(b.read(4), "little", signed=True)))
            elif op == 0x4D:  # BININT2
                push(Int(int.from_bytes(b.read(2), "little")))
            elif op == 0x65:  # APPENDS
                pop_mark()
                top()
            elif op == 0x61:  # APPEND
                popv()
                top()
            elif op == 0x75:  # SETITEMS
                items = pop_mark()
                d = top()
                if isinstance(d, DictV) and d.items is not None:
                    if len(items) % 2:
                        raise _Malformed("SETITEMS with an odd number of items")
                    for i in range(0, len(items), 2):
                        k = items[i]
                        if isinstance(k, Str) and len(d.items) < MAX_CONTAINER:
                            d.items[k.value] = items[i + 1]  # type: ignore[assignment]
                        else:
                            d.items = None
                            break
            elif op == 0x73:  # SETITEM
                v = popv()
                k = popv()
                d = top()
                if isinstance(d, DictV) and d.items is not None:
                    if isinstance(k, Str) and len(d.items) < MAX_CONTAINER:
                        d.items[k.value] = v
                    else:
                        d.items = None
            elif op == 0x88:  # NEWTRUE
                push(_TRUE)
            elif op == 0x89:  # NEWFALSE
                push(_FALSE)
            elif op == 0x4E:  # NONE
                push(_NONE)
            elif op == 0x93:  # STACK_GLOBAL
                name = popv()
                module = popv()
                if isinstance(module, Str) and isinstance(name, Str):
                    push(self._global(module.value, name.value, off, "STACK_GLOBAL"))
                else:
                    what = "module" if not isinstance(module, Str) else "name"
                    push(self._unresolved(off, "STACK_GLOBAL", f"{what} operand is not a literal string"))
            elif op == 0x81:  # NEWOBJ
                args = popv()
                cls = popv()
                push(Call(cls, args, off))
            elif op == 0x92:  # NEWOBJ_EX
                popv()
                args = popv()
                cls = popv()
                push(Call(cls, args, off))
            elif op == 0x51:  # BINPERSID
                popv()
                self.persistent += 1
                push(OPAQUE)
            elif op == 0x47:  # BINFLOAT
                b.skip(8)
                push(OPAQUE)
            elif op == 0x42 or op == 0x8E or op == 0x96:  # BINBYTES / BINBYTES8 / BYTEARRAY8
                n = int.from_bytes(b.read(4 if op == 0x42 else 8), "little")
                self._push_bytes(push, n)
            elif op == 0x43:  # SHORT_BINBYTES
                n = b.read(1)[0]
                self._push_bytes(push, n)
            elif op == 0x6A:  # LONG_BINGET
                push(recall(int.from_bytes(b.read(4), "little")))
            elif op == 0x72:  # LONG_BINPUT
                remember(int.from_bytes(b.read(4), "little"), top())
            elif op == 0x95:  # FRAME
                b.read(8)
            elif op == 0x80:  # PROTO
                proto = b.read(1)[0]
                if proto > 5:
                    raise _Malformed(f"unsupported pickle protocol {proto}")
                self.protocol = max(self.protocol, proto)
            elif op == 0x2E:  # STOP
                popv()
                self.pickles += 1
                return
            elif op == 0x63:  # GLOBAL
                module_b = b.readline()
                name_b = b.readline()
                push(self._global(module_b.decode("utf-8", "replace"), name_b.decode("utf-8", "replace"),
                                  off, "GLOBAL"))
            elif op == 0x69:  # INST
                module_b = b.readline()
                name_b = b.readline()
                g = self._global(module_b.decode("utf-8", "replace"), name_b.decode("utf-8", "replace"),
                                 off, "INST")
                args_l = pop_mark()
                push(Call(g, Tup(args_l) if len(args_l) <= MAX_CONTAINER else OPAQUE, off))  # type: ignore[arg-type]
            elif op == 0x6F:  # OBJ
                items = pop_mark()
                if not items:
                    raise _Malformed("OBJ without a class")
                cls_v: Val = items[0]  # type: ignore[assignment]
                rest: list[Val] = items[1:]  # type: ignore[assignment]
                push(self._after_call(cls_v, Tup(rest) if len(rest) <= MAX_CONTAINER else OPAQUE, off))
            elif op in (0x82, 0x83, 0x84):  # EXT1 / EXT2 / EXT4
                code = int.from_bytes(b.read({0x82: 1, 0x83: 2, 0x84: 4}[op]), "little")
                push(self._unresolved(off, _NAMES[op], f"extension registry code {code}"))
            elif op == 0x74:  # TUPLE
                items = pop_mark()
                push(Tup(items) if len(items) <= MAX_CONTAINER else OPAQUE)  # type: ignore[arg-type]
            elif op == 0x6C or op == 0x91:  # LIST / FROZENSET
                pop_mark()
                push(OPAQUE)
            elif op == 0x64:  # DICT
                items = pop_mark()
                d = DictV()
                for i in range(0, len(items) - 1, 2):
                    k = items[i]
                    if isinstance(k, Str) and len(d.items or {}) < MAX_CONTAINER and d.items is not None:
                        d.items[k.value] = items[i + 1]  # type: ignore[assignment]
                    else:
                        d.items = None
                push(d)
            elif op == 0x8F:  # EMPTY_SET
                push(OPAQUE)
            elif op == 0x90:  # ADDITEMS
                pop_mark()
                top()
            elif op == 0x30:  # POP
                if stack and stack[-1] is _MARK:
                    pop()
                else:
                    popv()
            elif op == 0x31:  # POP_MARK
                pop_mark()
            elif op == 0x32:  # DUP
                v = top()
                if isinstance(v, Glob) and v.module in ("builtins", "__builtin__") and v.name == "getattr":
                    self.getattr_pushes += 1
                push(v)
            elif op == 0x8A:  # LONG1
                n = b.read(1)[0]
                push(Int(int.from_bytes(b.read(n), "little", signed=True)))
            elif op == 0x8B:  # LONG4
                n = int.from_bytes(b.read(4), "little", signed=True)
                if n < 0:
                    raise _Malformed("LONG4 with a negative length")
                b.skip(n)
                push(OPAQUE)
            elif op == 0x55:  # SHORT_BINSTRING
                n = b.read(1)[0]
                push(Str(b.read(n).decode("latin-1")))
            elif op == 0x54:  # BINSTRING
                n = int.from_bytes(b.read(4), "little", signed=True)
                if n < 0:
                    raise _Malformed("BINSTRING with a negative length")
                if n <= KEEP_STR:
                    push(Str(b.read(n).decode("latin-1")))
                else:
                    b.skip(n)
                    push(OPAQUE)
            elif op == 0x53:  # STRING
                push(self._quoted(b.readline()))
            elif op == 0x56:  # UNICODE
                line = b.readline()
                push(Str(line.decode("raw-unicode-escape")) if len(line) <= KEEP_STR else OPAQUE)
            elif op == 0x49:  # INT (also encodes booleans as I00/I01)
                line = b.readline()
                try:
                    push(Int(int(line)) if line not in (b"00", b"01") else (_TRUE if line == b"01" else _FALSE))
                except ValueError:
                    raise _Malformed("INT argument is not a number") from None
            elif op == 0x4C:  # LONG
                line = b.readline()
                try:
                    push(Int(int(line.rstrip(b"L"))))
                except ValueError:
                    raise _Malformed("LONG argument is not a number") from None
            elif op == 0x46:  # FLOAT
                b.readline()
                push(OPAQUE)
            elif op == 0x70:  # PUT
                line = b.readline()
                try:
                    remember(int(line), top())
                except ValueError:
                    raise _Malformed("PUT argument is not a number") from None
            elif op == 0x67:  # GET
                line = b.readline()
                try:
                    push(recall(int(line)))
                except ValueError:
                    raise _Malformed("GET argument is not a number") from None
            elif op == 0x50:  # PERSID
                b.readline()
                self.persistent += 1
                push(OPAQUE)
            elif op == 0x97:  # NEXT_BUFFER
                push(OPAQUE)
            elif op == 0x98:  # READONLY_BUFFER
                top()
            else:
                raise _Malformed(f"unknown opcode 0x{op:02x}")

    def _push_bytes(self, push: object, n: int) -> None:
        b = self.b
        keep = n <= KEEP_BYTES and b.fill(min(n, 2)) and b.buf[b.pos : b.pos + 1] == b"\x80"
        data_offset = b.offset()
        if keep:
            data = b.read(n)
            push(Bytes(n, data_offset, data))  # type: ignore[operator]
        else:
            b.skip(n)
            push(Bytes(n, data_offset, None))  # type: ignore[operator]

    @staticmethod
    def _quoted(line: bytes) -> Val:
        if len(line) >= 2 and line[:1] == line[-1:] and line[:1] in (b"'", b'"'):
            body = line[1:-1]
            if len(body) > KEEP_STR:
                return OPAQUE
            try:
                return Str(codecs.escape_decode(body)[0].decode("latin-1"))
            except (ValueError, UnicodeDecodeError):
                raise _Malformed("STRING argument with bad escapes") from None
        raise _Malformed("STRING argument is not quoted")

    def _skip_joblib_array(self, state: Val) -> None:
        """joblib writes array bytes (or a nested pickle for object arrays) right after the wrapper's BUILD."""
        if not isinstance(state, DictV) or state.items is None:
            raise _Malformed("joblib NumpyArrayWrapper state is not a readable dict")
        shape = state.items.get("shape")
        dtype = state.items.get("dtype", OPAQUE)
        info = _dtype_itemsize(dtype)
        if info is None or not isinstance(shape, Tup):
            raise _Malformed("joblib NumpyArrayWrapper with an unreadable shape or dtype")
        self.joblib_arrays += 1
        itemsize, has_objects = info
        if has_objects:
            if self.depth + 1 > MAX_DEPTH:
                raise _Limit("joblib object arrays nested too deeply")
            self.depth += 1
            try:
                self.run_one()
            finally:
                self.depth -= 1
            return
        count = 1
        for dim in shape.items:
            if not isinstance(dim, Int) or dim.value < 0:
                raise _Malformed("joblib NumpyArrayWrapper with a non-integer shape")
            count *= dim.value
        align = state.items.get("numpy_array_alignment_bytes")
        if isinstance(align, Int):
            pad = self.b.read(1)[0]
            self.b.skip(pad)
        self.b.skip(count * itemsize)


def _looks_like_pickle_start(b: _Buf) -> bool:
    """After a STOP: does what follows plausibly start another pickle the loader could read?"""
    if not b.fill(2):
        return False
    first = b.buf[b.pos]
    second = b.buf[b.pos + 1]
    if first == 0x80:
        return 2 <= second <= 5
    # protocol 0/1 pickles start with these opcodes in practice
    return first in b"(cdl]}NSVIJKUX)" and second != 0


def scan_stream(
    fh: BinaryIO,
    size: int | None,
    *,
    budget: float = 60.0,
    depth: int = 0,
    base_offset: int = 0,
    max_pickles: int = 4096,
) -> PickleFacts:
    """Walk every pickle in ``fh`` from its current position; never raises for bad input."""
    b = _Buf(fh, size)
    b.start += base_offset
    r = _Reader(b, time.monotonic() + budget, depth)
    error: str | None = None
    error_offset: int | None = None
    incomplete: str | None = None
    trailing = 0
    while True:
        first = r.pickles == 0
        globals_before = len(r.globals) + len(r.unresolved)
        start = b.offset()
        try:
            r.run_one()
        except (_Truncated, _Malformed, UnicodeDecodeError) as exc:
            if first or len(r.globals) + len(r.unresolved) > globals_before:
                error = str(exc)
                error_offset = b.offset()
            else:
                trailing = max(0, (size or b.offset()) - start)
            break
        except _Limit as exc:
            incomplete = str(exc)
            break
        except (OSError, EOFError, ValueError) as exc:  # decompressor or I/O errors under the stream
            error = f"stream error: {exc}"
            error_offset = b.offset()
            break
        if b.at_eof():
            break
        if r.pickles >= max_pickles:
            incomplete = f"more than {max_pickles} pickles in a row; the rest of the stream was not read"
            break
        if not _looks_like_pickle_start(b):
            trailing = max(0, (size - b.offset()) if size is not None else 1)
            break
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
        notes=tuple(r.notes),
    )
