"""The differential oracle (tests only, never at scan time): CPython's own unpickler with ``find_class`` overridden
to record each (module, name) it would import and return an inert stub. Only ever run on pickles the tests
generate or mutate; the stub makes every call, state and item operation a no-op."""

from __future__ import annotations

import io
import pickle


class Stub:
    """Whatever an import resolves to: callable, constructible, accepts any state and any items."""

    def __new__(cls, *args: object, **kwargs: object) -> Stub:
        return object.__new__(Stub)

    def __init__(self, *args: object, **kwargs: object) -> None:
        pass

    def __call__(self, *args: object, **kwargs: object) -> Stub:
        return Stub()

    def __setstate__(self, state: object) -> None:
        pass

    def __setitem__(self, key: object, value: object) -> None:
        pass

    def append(self, item: object) -> None:
        pass

    def extend(self, items: object) -> None:
        pass

    def add(self, item: object) -> None:
        pass


class Source:
    """A file over the bytes that answers a read past its end with an error at once, as a short read would end
    the load anyway (without it the C unpickler first allocates the whole announced length: gigabytes)."""

    def __init__(self, data: bytes) -> None:
        self._fh = io.BytesIO(data)
        self._size = len(data)

    def read(self, n: int = -1) -> bytes:
        if n is not None and n > self._size - self._fh.tell():
            raise EOFError("read past the end")
        return self._fh.read(n)

    def readline(self, limit: int = -1) -> bytes:
        return self._fh.readline(limit)

    def tell(self) -> int:
        return self._fh.tell()


class Recorder(pickle.Unpickler):
    """Records every find_class call; persistent ids and imports resolve to the stub."""

    def __init__(self, fh: Source, seen: list[tuple[str, str]]) -> None:
        super().__init__(fh)
        self.seen = seen

    def find_class(self, module: str, name: str) -> type:
        self.seen.append((module, name))
        return Stub

    def persistent_load(self, pid: object) -> object:
        return Stub()


def imports_bounded(samples: list[bytes], memory: int = 1 << 30) -> list[set[tuple[str, str]]]:
    """:func:`imports` of each sample, in a forked child whose address space is capped: CPython's unpickler grows
    its memo to any index a mutated PUT names (gigabytes), which the cap turns into a quick MemoryError."""
    import concurrent.futures
    import multiprocessing

    with concurrent.futures.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork"),
                                                initializer=_cap_memory, initargs=(memory,)) as pool:
        return pool.submit(_all_imports, samples).result(timeout=120)


def _cap_memory(extra: int) -> None:
    import resource

    with open("/proc/self/statm") as fh:
        used = int(fh.read().split()[0]) * resource.getpagesize()
    resource.setrlimit(resource.RLIMIT_AS, (used + extra, used + extra))


def _all_imports(samples: list[bytes]) -> list[set[tuple[str, str]]]:
    return [imports(s) for s in samples]


def importable(text: str) -> bool:
    """The scanner's rule: names that cannot be imported at all (empty, control characters) are junk."""
    return bool(text) and "\ufffd" not in text and not any(ord(c) < 0x20 or ord(c) == 0x7F for c in text)


def imports(data: bytes, *, loop: bool = True) -> set[tuple[str, str]]:
    """Every (module, name) CPython's unpickler imports reading ``data``, pickle after pickle (as a loop of
    ``pickle.load`` or torch's legacy loader does) until the end or the first error."""
    seen: list[tuple[str, str]] = []
    fh = Source(data)
    while fh.tell() < len(data):
        try:
            Recorder(fh, seen).load()  # a new unpickler (and memo) per pickle, as each pickle.load call has
        except Exception:  # any rejection ends the read, as it would end a real load
            break
        if not loop:
            break
    return {(m, n) for m, n in seen if importable(m) and importable(n)}
