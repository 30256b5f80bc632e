"""A plain local file of JSON Lines cut into byte ranges of whole lines, for `scan --jobs` workers to read, skim
and decode each on its own (core.parallel), so the reading process neither reads nor skims the file.

A file qualifies where core.sources.documents would skim it: its first non-blank line is one JSON value that the
skimmer applies to (core.sources.skim), and it is neither gzip, nor remote, nor stdin, nor a CloudWatch Logs
export. That first line is read here and decoded as a document, as documents.iter_pieces does; the rest is cut
into ranges of about a given size, each ending just past a newline (or at the file's end), so no line is split.
A worker reads its range in blocks, as documents reads a stream (skimmed_blocks): the whole lines of each block are
skimmed, and a line running past a block is joined up and cut at MAX_DOCUMENT_BYTES + 1 bytes, the rest dropped.
Lines are numbered from 0 in a range; its reader adds the number of the range's first line, which it knows once
the ranges before it are counted (each reports its lines).
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from core.archives.cloudwatch import is_audit_export
from core.errors import InputError
from core.remote import is_remote
from core.sources.documents import first_line, is_json, skimmed_blocks
from core.sources.skim import Piece, Skimmer

#: Bytes read at a time while looking for the newline a range ends at.
_PROBE = 64 * 1024


@dataclass(frozen=True, slots=True)
class FileRange:
    """Bytes [start, end) of the file at `path`: whole lines (the last may lack its newline at the file's end)."""

    path: str
    start: int
    end: int

    @property
    def size(self) -> int:
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class Head:
    """A file's first non-blank line as a document, the number of its line, and the offset just past it."""

    number: int
    document: bytes
    end: int


def ranged_head(name: str, size: int, skimmer: Skimmer | None) -> Head | None:
    """The head of input `name` (`size` bytes, 0 when gzip or stdin) when its lines after the head may be read in
    ranges (see the module), else None: then it is read as a stream."""
    if skimmer is None or not size or is_remote(name) or is_audit_export(name) or not Path(name).is_file():
        return None
    try:
        with open(name, "rb") as file:
            first, number = first_line(file)
            if first is None or not is_json(first) or not skimmer.applies_to(first):
                return None
            return Head(number, first.strip(), file.tell())
    except OSError:  # read as a stream, which says why it cannot be read
        return None


def file_ranges(path: str, start: int, end: int, size: int) -> Iterator[FileRange]:
    """Bytes [start, end) of the file at `path`, `start` at a line's start, in ranges of whole lines, each `size`
    bytes or a little more (up to the end of the line it would have cut)."""
    try:
        with open(path, "rb") as file:
            while start < end:
                stop = _line_start(file, start + size, end)
                yield FileRange(path, start, stop)
                start = stop
    except OSError as exc:
        raise unreadable(path, exc) from None


def unreadable(path: str, exc: OSError) -> InputError:
    """The one line saying a file could not be read, as core.inputs says it."""
    return InputError(f"cannot read {path}: read failed ({type(exc).__name__})")


def _line_start(file: BinaryIO, at: int, end: int) -> int:
    """The first offset from `at` on that starts a line (just past a newline), or `end`."""
    if at >= end:
        return end
    position = at - 1  # a newline there makes `at` itself a line's start
    file.seek(position)
    while position < end and (block := file.read(min(_PROBE, end - position))):
        if (found := block.find(b"\n")) >= 0:
            return position + found + 1
        position += len(block)
    return end


def range_pieces(file: BinaryIO, size: int, skimmer: Skimmer) -> Generator[Piece, None, int]:
    """The pieces (core.sources.skim) of the next `size` bytes of `file`, whole lines numbered from 0, read and
    skimmed as documents reads a stream; returns the number of newlines read."""
    return skimmed_blocks(file.read, skimmer, number=0, size=size)
