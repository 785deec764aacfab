"""Bounded stream adapters: windows into a file, capped decompressors, a peekable wrapper.

Every decompression in the probe goes through :class:`Capped`, so a zip, gzip or joblib bomb costs at most the cap
in time and nothing in memory (the readers stream).
"""

from __future__ import annotations

import io
import zlib
from typing import BinaryIO


class CapExceeded(OSError):
    """A decompressed stream grew past its cap (a decompression bomb or a file too large to scan)."""


class Window(io.RawIOBase):
    """A seekable read-only view of ``length`` bytes at ``start`` of a seekable stream."""

    def __init__(self, fh: BinaryIO, start: int, length: int) -> None:
        super().__init__()
        self._fh = fh
        self._start = start
        self._length = length
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = 0) -> int:
        if whence == 0:
            self._pos = offset
        elif whence == 1:
            self._pos += offset
        else:
            self._pos = self._length + offset
        self._pos = max(0, self._pos)
        return self._pos

    def read(self, n: int = -1) -> bytes:
        left = self._length - self._pos
        if left <= 0:
            return b""
        if n is None or n < 0 or n > left:
            n = left
        self._fh.seek(self._start + self._pos)
        data = self._fh.read(n)
        self._pos += len(data)
        return data

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)


class Capped(io.RawIOBase):
    """Forward-only reader over a decompressing file object, raising :class:`CapExceeded` past ``cap`` bytes."""

    def __init__(self, inner: BinaryIO | io.RawIOBase, cap: int) -> None:
        super().__init__()
        self._inner = inner
        self._cap = cap
        self._count = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def tell(self) -> int:
        return self._count

    def read(self, n: int = -1) -> bytes:
        want = (1 << 20) if n is None or n < 0 else n
        data = self._inner.read(want) or b""
        self._count += len(data)
        if self._count > self._cap:
            raise CapExceeded(f"decompressed data exceeds the {self._cap >> 20} MiB cap")
        return data

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)


class Inflate(io.RawIOBase):
    """Raw deflate (zip method 8) or zlib stream decompressed on the fly, forward only."""

    def __init__(self, fh: BinaryIO | io.RawIOBase, wbits: int) -> None:
        super().__init__()
        self._fh = fh
        self._d = zlib.decompressobj(wbits)
        self._pending = b""
        self._eof = False

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def read(self, n: int = -1) -> bytes:
        want = (1 << 20) if n is None or n < 0 else n
        while len(self._pending) < want and not self._eof:
            data = self._d.unconsumed_tail  # input already read: drained in bounded steps first
            if not data:
                data = self._fh.read(1 << 18)
                if not data:  # nothing left unconsumed, so flush() only returns what zlib buffered
                    self._pending += self._d.flush()
                    self._eof = True
                    break
            self._pending += self._d.decompress(data, max(want, 1 << 18))
            if self._d.eof:
                self._eof = True
        out, self._pending = self._pending[:want], self._pending[want:]
        return out

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)


class Prefixed(io.RawIOBase):
    """A forward-only stream whose first bytes were already read (for sniffing) and are replayed."""

    def __init__(self, head: bytes, rest: BinaryIO | io.RawIOBase) -> None:
        super().__init__()
        self._head = head
        self._rest = rest
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def tell(self) -> int:
        return self._pos

    def read(self, n: int = -1) -> bytes:
        want = (1 << 20) if n is None or n < 0 else n
        out = b""
        if self._head:
            out, self._head = self._head[:want], self._head[want:]
        if len(out) < want:
            out += self._rest.read(want - len(out)) or b""
        self._pos += len(out)
        return out

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)


def read_exact_head(fh: BinaryIO | io.RawIOBase, n: int) -> bytes:
    """Up to ``n`` bytes, looping over short reads of decompressors."""
    out = b""
    while len(out) < n:
        chunk = fh.read(n - len(out))
        if not chunk:
            break
        out += chunk
    return out
