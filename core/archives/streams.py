"""Opening an archive for reading: when its turn comes, decompressed when it is gzip, closed when read to its end.

Gzip is told by its two magic bytes as well as by a `.gz` name: CloudWatch Logs exports are gzip, and tools
that copy them may drop the extension. A file named `.gz` that is not gzip is still opened as gzip, so reading
it fails with core.inputs' one-line "not a gzip file, though its name ends in .gz".

Each archive is opened at its first read and closed at its end, so a folder of thousands of rotated logs, or a
bucket of thousands of objects, holds one file or one download open at a time.
"""

from __future__ import annotations

import gzip
import io
from collections.abc import Callable
from typing import BinaryIO, cast

GZIP_MAGIC = b"\x1f\x8b"
_BUFFER = 256 * 1024


def open_archive(opener: Callable[[], BinaryIO], *, gzip_name: bool) -> BinaryIO:
    """A buffered stream over what `opener` opens, gunzipped when it is gzip (by name or by magic bytes)."""
    return cast(BinaryIO, io.BufferedReader(_Lazy(lambda: _decoded(opener(), gzip_name=gzip_name)), _BUFFER))


def is_gzip_file(path: str) -> bool:
    """Whether the file at `path` starts with gzip's magic bytes."""
    with open(path, "rb") as file:
        return file.read(len(GZIP_MAGIC)) == GZIP_MAGIC


def _decoded(stream: BinaryIO, *, gzip_name: bool) -> BinaryIO:
    head = _read_exactly(stream, len(GZIP_MAGIC))
    if getattr(stream, "seekable", bool)():  # a local file: read on from its start, no copy through _Prefixed
        stream.seek(0)
        whole = stream
    else:
        whole = cast(BinaryIO, io.BufferedReader(_Prefixed(head, stream)))
    if gzip_name or head == GZIP_MAGIC:
        return cast(BinaryIO, _Gunzipped(whole))
    return whole


class _Gunzipped(gzip.GzipFile):
    """A GzipFile that closes the stream it reads (GzipFile leaves a stream it was given open)."""

    def __init__(self, stream: BinaryIO) -> None:
        super().__init__(fileobj=stream, mode="rb")
        self._source = stream

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._source.close()


def _read_exactly(stream: BinaryIO, size: int) -> bytes:
    """The first `size` bytes (fewer at the end): a network stream may return less than asked."""
    head = b""
    while len(head) < size and (more := stream.read(size - len(head))):
        head += more
    return head


class _Prefixed(io.RawIOBase):
    """`head`, then the rest of `stream`: the bytes read to sniff the format, given back."""

    def __init__(self, head: bytes, stream: BinaryIO) -> None:
        self._head = head
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        if self._head:
            size = min(len(buffer), len(self._head))
            buffer[:size] = self._head[:size]
            self._head = self._head[size:]
            return size
        data = self._stream.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._stream.close()
        super().close()


class _Lazy(io.RawIOBase):
    """A stream opened at its first read and closed as soon as it is read to its end."""

    def __init__(self, opener: Callable[[], BinaryIO]) -> None:
        self._opener: Callable[[], BinaryIO] | None = opener
        self._stream: BinaryIO | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        if self._stream is None:
            if self._opener is None:
                return 0
            self._stream, self._opener = self._opener(), None
        size = _read_into(self._stream, buffer)
        if not size:
            self._release()
        return size

    def close(self) -> None:
        self._opener = None
        self._release()
        super().close()

    def _release(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None


def _read_into(stream: BinaryIO, buffer: bytearray | memoryview) -> int:
    """Fill `buffer` from `stream`: straight into it when the stream can (files, gzip), else through a copy (the
    download streams of core.remote read only)."""
    if (read_into := getattr(stream, "readinto", None)) is not None:
        return int(read_into(buffer) or 0)
    data = stream.read(len(buffer))
    buffer[: len(data)] = data
    return len(data)
