"""Split an input file into JSON documents: JSON Lines, or one whole-file (pretty-printed) document.

The first non-blank line decides, and a bad one never makes a file of good lines one bad document:
- a complete JSON value: JSON Lines;
- a lone `{` or `[`, as every pretty-printer writes (json.dumps, jq, kubectl -o json, gcloud --format=json):
  the whole file is one document (a broken one is one malformed document);
- anything else (a line CloudWatch cut with `[Truncated...]`, klog text, an array nested past any parser):
  the whole file is one document if it is valid JSON as a whole (a document spread over lines another way),
  else JSON Lines, that first line being one malformed record.

Lines are streamed, never read at once, and blank lines skipped. A line or document over MAX_DOCUMENT_BYTES is
cut just past it, for decode to refuse as too large unparsed, and the rest of it is read and dropped. After the
first line, JSON Lines are read a block at a time (`read1`, so a pipe's lines are taken as they come) and split
there: a readline per line costs a third of parsing one.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from io import BytesIO
from typing import BinaryIO

import msgspec

from core.sources.limits import MAX_DOCUMENT_BYTES
from core.sources.skim import Piece, Skimmer

_BOM = b"\xef\xbb\xbf"
_OPENERS = (b"{", b"[")
_CHUNK = 1024 * 1024


def iter_documents(stream: BinaryIO) -> Iterator[bytes]:
    """Yield each document of `stream`: its lines, or its whole text (see the module's rule)."""
    for _, document in iter_numbered_documents(stream):
        yield document


def iter_numbered_documents(stream: BinaryIO) -> Iterator[tuple[int, bytes]]:
    """Yield (line number, counted from 1, where it starts; document) for each document of `stream`."""
    for piece in iter_pieces(stream, None):
        assert isinstance(piece, tuple)  # only a skimmer makes runs and typed reads
        yield piece


def iter_pieces(stream: BinaryIO, skimmer: Skimmer | None) -> Iterator[Piece]:
    """What iter_numbered_documents yields, but with a `skimmer` the JSON Lines after the first come skimmed:
    runs of raw audit Events no rule can match come counted as SkimmedRuns (core.sources.skim). An export
    skimmer reads a CloudWatch Logs export's `<time> <message>` lines as JSON Lines too."""
    first, number = first_line(stream)
    if first is None:
        return
    if is_json(first) or (skimmer is not None and skimmer.export and skimmer.applies_to(first)):
        yield number, first.strip()
        if skimmer is None or not skimmer.applies_to(first):
            yield from _block_lines(stream, start=number + 1)
        else:
            yield from skimmed_blocks(getattr(stream, "read1", stream.read), skimmer, number=number + 1)
        return
    if first.strip() in _OPENERS:
        yield number, _whole(first, stream)
        return
    held = first + stream.read(max(MAX_DOCUMENT_BYTES + 1 - len(first), 0))
    if len(held) <= MAX_DOCUMENT_BYTES and is_json(held):
        yield number, held
        return
    yield from _lines(BytesIO(held), then=stream, start=number)


def first_line(stream: BinaryIO) -> tuple[bytes | None, int]:
    """The first non-blank line and its number."""
    line, number = _line(stream).removeprefix(_BOM), 1
    while line:
        if line.strip():
            return line, number
        line, number = _line(stream), number + 1
    return None, number


def _lines(stream: BinaryIO, then: BinaryIO | None = None, *, start: int) -> Iterator[tuple[int, bytes]]:
    """The non-blank lines of `stream`, numbered from `start`, continued by `then` (the rest of a line `stream`
    ends in comes first)."""
    number = start
    while line := _line(stream):
        if then is not None and not line.endswith(b"\n"):
            line += _line(then, MAX_DOCUMENT_BYTES + 1 - len(line))
        if document := line.strip():
            yield number, document
        number += 1
    if then is not None:
        yield from _block_lines(then, start=number)


def _block_lines(stream: BinaryIO, *, start: int) -> Iterator[tuple[int, bytes]]:
    """What _lines yields for `stream` alone, read in blocks: each line cut to its first MAX_DOCUMENT_BYTES + 1
    bytes, the rest of a longer one read and dropped (never held)."""
    read = getattr(stream, "read1", stream.read)
    limit = MAX_DOCUMENT_BYTES + 1
    number = start
    parts: list[bytes] = []  # the line being read: its start, up to `limit` bytes and one block
    size = 0
    while block := read(_CHUNK):
        lines = block.split(b"\n")
        if len(lines) == 1:  # no line ends in this block
            if size <= limit:
                parts.append(block)
                size += len(block)
            continue
        if parts:
            parts.append(lines[0])
            lines[0] = b"".join(parts)
        tail = lines.pop()
        for line in lines:
            if document := line[:limit].strip():  # the whole line (the same object) when it is short enough
                yield number, document
            number += 1
        parts, size = [tail], len(tail)
    if parts and (document := b"".join(parts)[:limit].strip()):
        yield number, document


def skimmed_blocks(
    read: Callable[[int], bytes], skimmer: Skimmer, *, number: int, size: int | None = None
) -> Generator[Piece, None, int]:
    """The pieces (core.sources.skim) of what `read` gives from the start of a line on (its next `size` bytes, or
    all), whole lines numbered from `number`; returns `number` plus the newlines read. Each block's whole lines
    are skimmed; a line running past a block is one document, cut at MAX_DOCUMENT_BYTES + 1 bytes (the rest read
    and dropped, never held). core.ranges reads a range of a file so."""
    limit = MAX_DOCUMENT_BYTES + 1
    left = -1 if size is None else size  # -1: to the end
    held: list[bytes] = []  # the start of a line that runs past the blocks read so far: at most `limit` bytes more
    kept = 0
    while left and (block := read(_CHUNK if left < 0 else min(_CHUNK, left))):
        left = left - len(block) if left > 0 else left
        last = block.rfind(b"\n")
        if last < 0:
            if kept <= limit:
                held.append(block)
                kept += len(block)
            continue
        start = 0
        if held:
            start = block.find(b"\n") + 1
            held.append(block[: start - 1])
            if document := b"".join(held)[:limit].strip():
                yield number, document
            number += 1
        if last >= start:
            number = yield from skimmer.pieces(block, start, last + 1, number)
        tail = block[last + 1 :]
        held, kept = ([tail], len(tail)) if tail else ([], 0)
    if held and (document := b"".join(held)[:limit].strip()):
        yield number, document
    return number


def _line(stream: BinaryIO, size: int | None = None) -> bytes:
    """The next line, or its first `size` bytes and a newline when it is longer (the rest of it is read and
    dropped); by default one byte more than a document may have, enough for decode to refuse it."""
    size = MAX_DOCUMENT_BYTES + 1 if size is None else size
    line = stream.readline(size)
    if len(line) < size or line.endswith(b"\n"):
        return line
    while (rest := stream.readline(_CHUNK)) and not rest.endswith(b"\n"):
        pass
    return line + b"\n"


def _whole(first: bytes, stream: BinaryIO) -> bytes:
    """The whole stream from `first` on, or its first MAX_DOCUMENT_BYTES + 1 bytes when it is longer."""
    document = first + stream.read(max(MAX_DOCUMENT_BYTES + 1 - len(first), 0))
    if len(document) > MAX_DOCUMENT_BYTES:
        while stream.read(_CHUNK):
            pass
    return document


def is_json(text: bytes) -> bool:
    """Whether `text` is one complete JSON value: checked by msgspec, which builds nothing while it checks."""
    try:
        msgspec.json.decode(text, type=msgspec.Raw)
    except (msgspec.DecodeError, RecursionError):
        return False
    return True
