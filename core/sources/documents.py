"""Split an input file into JSON documents: JSON Lines, or one whole-file (pretty-printed) document."""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

import orjson

_BOM = b"\xef\xbb\xbf"


def iter_documents(stream: BinaryIO) -> Iterator[bytes]:
    """Yield one document per line when the first non-blank line is a complete JSON value, else the whole
    stream as one document. Lines are streamed, never read at once; blank lines are skipped and a bad line
    is still yielded (decode() counts it)."""
    first = _first_line(stream)
    if first is None:
        return
    if not _is_json(first):
        yield first + stream.read()
        return
    yield first.strip()
    for line in stream:
        document = line.strip()
        if document:
            yield document


def _first_line(stream: BinaryIO) -> bytes | None:
    line = stream.readline().removeprefix(_BOM)
    while line:
        if line.strip():
            return line
        line = stream.readline()
    return None


def _is_json(line: bytes) -> bool:
    try:
        orjson.loads(line)
    except orjson.JSONDecodeError:
        return False
    return True
