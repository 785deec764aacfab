"""Differential test: every import CPython's own unpickler would make must be among those the scanner reports.

Thousands of pickles are generated (every protocol, frames, memo, EXT codes, nested containers, reducers, dotted
names, several pickles in a row) and mutated (bytes flipped, inserted, deleted, spliced); each is read by the
recording unpickler of ``oracle.py`` (imports return an inert stub) and walked by the scanner. Seeded and bounded:
a few seconds.
"""

from __future__ import annotations

import copyreg
import io
import pickle
import random
from typing import ClassVar

from mlposture.probes.serialization.pickle_reader import scan_stream
from tests.probes.serialization.ser_oracle import imports_bounded

MODULES = ["os", "posix", "builtins", "collections", "numpy.core.multiarray", "torch._utils", "sklearn.tree._tree",
           "mypackage.models", "a.b.c"]
NAMES = ["system", "OrderedDict", "_reconstruct", "_rebuild_tensor_v2", "Tree", "Net", "Outer.Inner", "getattr"]
EXT_CODES = {240: ("os", "system"), 241: ("collections", "OrderedDict"), 70000: ("builtins", "eval"),
             1 << 30: ("subprocess", "Popen")}


def reported(data: bytes) -> tuple[set[tuple[str, str]], bool]:
    """The imports the scanner reports, and whether the stream blocks whatever they are: an import it cannot
    resolve (judged dangerous) or a walk it could not finish (a blocking "not fully analysed")."""
    facts = scan_stream(io.BytesIO(data), len(data), budget=5.0)
    blocks = bool(facts.unresolved) or facts.incomplete is not None
    blocks = blocks or any(f.unresolved for _l, _o, f in facts.loader_payloads)
    if facts.plain_facts is not None:
        blocks = blocks or bool(facts.plain_facts.unresolved)
    return {(g.module, g.name) for g in facts.all_globals}, blocks


class _Global:
    """Pickles as an import of (module, name): by reference, so the pickler writes GLOBAL or STACK_GLOBAL."""

    def __init__(self, module: str, name: str, args: tuple[object, ...] = ()) -> None:
        self.module, self.name, self.args = module, name, args

    def __reduce__(self) -> tuple[object, ...]:
        return (_Ref(self.module, self.name), self.args)


class _Ref:
    def __init__(self, module: str, name: str) -> None:
        self.module, self.name = module, name

    def __call__(self) -> None:  # the pickler checks that a reducer's function is callable
        return None

    def __reduce__(self) -> str:
        return self.name


def _ref_pickler(proto: int) -> type[pickle.Pickler]:
    class P(pickle._Pickler):  # type: ignore[name-defined,misc]
        def save_global(self, obj: object, name: str | None = None) -> None:
            if isinstance(obj, _Ref):
                module, qual = obj.module, obj.name
                if self.proto >= 4:
                    self.save(module)
                    self.save(qual)
                    self.write(pickle.STACK_GLOBAL)
                elif (module, qual) in copyreg._inverted_registry and self.proto >= 2:  # type: ignore[attr-defined]
                    code = copyreg._inverted_registry[(module, qual)]  # type: ignore[attr-defined]
                    if code <= 0xFF:
                        self.write(pickle.EXT1 + code.to_bytes(1, "little"))
                    elif code <= 0xFFFF:
                        self.write(pickle.EXT2 + code.to_bytes(2, "little"))
                    else:
                        self.write(pickle.EXT4 + code.to_bytes(4, "little"))
                else:
                    self.write(pickle.GLOBAL + f"{module}\n{qual}\n".encode())
                self.memoize(obj)
                return
            super().save_global(obj, name)

        dispatch: ClassVar[dict[type, object]] = dict(pickle._Pickler.dispatch)  # type: ignore[attr-defined]

    P.dispatch[_Ref] = lambda self, obj: self.save_global(obj)
    return P


def _value(rng: random.Random, depth: int) -> object:
    kind = rng.randrange(12 if depth < 4 else 6)
    if kind == 0:
        return rng.randrange(-(1 << 40), 1 << 40)
    if kind == 1:
        return rng.choice(["", "x", "os", "system", "é" * rng.randrange(3), "a" * rng.randrange(300)])
    if kind == 2:
        return rng.choice([None, True, False, 1.5])
    if kind == 3:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(40)))
    if kind == 4:
        return rng.choice(MODULES)  # the same strings again: memo hits
    if kind == 5:
        return bytearray(b"ab")
    if kind == 6:
        return [_value(rng, depth + 1) for _ in range(rng.randrange(6))]
    if kind == 7:
        return tuple(_value(rng, depth + 1) for _ in range(rng.randrange(6)))
    if kind == 8:
        return {str(i): _value(rng, depth + 1) for i in range(rng.randrange(5))}
    if kind == 9:
        return {rng.randrange(100) for _ in range(rng.randrange(4))} | frozenset({1})
    if kind == 10:
        return _Global(rng.choice(MODULES), rng.choice(NAMES), tuple(_value(rng, depth + 1) for _ in range(2)))
    shared = _value(rng, depth + 1)
    return [shared, shared, {"k": shared}]  # memo references


def _generated(rng: random.Random) -> bytes:
    proto = rng.randrange(6)
    out = io.BytesIO()
    for _ in range(1 + (rng.random() < 0.2) * rng.randrange(1, 4)):  # sometimes several pickles in a row
        _ref_pickler(proto)(out, protocol=proto).dump(_value(rng, 0))
    return out.getvalue()


def _mutated(rng: random.Random, data: bytes) -> bytes:
    b = bytearray(data)
    for _ in range(rng.randrange(1, 4)):
        op = rng.randrange(5)
        i = rng.randrange(len(b) + 1)
        if op == 0 and b:
            b[min(i, len(b) - 1)] = rng.randrange(256)
        elif op == 1:
            b[i:i] = bytes([rng.choice(b"(tl]}d)0120.\x93\x94\x85\x86\x87Rbcq\x95\x8c\x82hjgpaeus")])
        elif op == 2 and b:
            del b[i : i + rng.randrange(1, 4)]
        elif op == 3:
            b[i:i] = rng.choice([b"\x8c\x02os\x8c\x06system\x93", b"cos\nsystem\n", b"\x82\xf0", b"\x8c\x02os\x94",
                                 b"h\x00\x8c\x06system\x93", b"(\x8c\x02os\x8c\x06system\x930"])
        else:
            j = rng.randrange(len(b) + 1)
            b[i:i] = b[j : j + rng.randrange(1, 12)]
    return bytes(b)


def test_every_import_the_unpickler_makes_is_reported() -> None:
    rng = random.Random(12)
    samples: list[bytes] = []
    for _ in range(1500):
        data = _generated(rng)
        samples += [data, _mutated(rng, data), _mutated(rng, data)]
    for code, (module, name) in EXT_CODES.items():
        copyreg.add_extension(module, name, code)
    try:
        real_imports = imports_bounded(samples)
    finally:
        for code, (module, name) in EXT_CODES.items():
            copyreg.remove_extension(module, name, code)
    missed = []
    with_imports = 0
    for sample, real in zip(samples, real_imports, strict=True):
        if not real:
            continue
        with_imports += 1
        found, blocks = reported(sample)
        if not (real <= found or blocks):
            missed.append((sample, real - found))
    assert with_imports >= 1000  # the generator does produce imports, of every kind
    assert missed == [], missed[:3]
