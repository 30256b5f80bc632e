"""`scan --jobs N`: decode documents in N worker processes, handed back in input order to the one that evaluates.

Decoding (unwrapping envelopes, the pre-filter, parsing, normalizing) needs nothing but the document, so workers
do it; reading, deduplication, windows and alerts stay in the calling process, which takes each document's items
in input order (core.pipeline's `consume`), so alerts and counts are those of `--jobs 1`. Documents that were
only records the pre-filter skipped (most of them) come back counted per cloud (core.pipeline.Skimmed).

Documents travel in chunks of about CHUNK_BYTES (pickling one line at a time would cost more than it saves),
and at most IN_FLIGHT chunks per worker are out at once, so memory stays flat however large the input. Each
chunk's tag (where its documents came from) stays in this process, in order beside it. A plain local file of raw
audit JSON Lines is not read here at all: it goes out as ranges of about RANGE_BYTES of whole lines
(core.ranges), each read, skimmed and decoded by a worker, which says how many lines it read so that this
process can number them; skimming such a file is most of the work of scanning it.

Workers are forked on Linux when this process runs no other thread, as a scan does unless a store or sink
client started one (a fork copies whatever locks other threads hold at that instant): a forked worker starts at
once with everything imported, where a spawned one spends a quarter of a second importing. Elsewhere they are
spawned, which, like any spawn, runs the main script again in each worker: scripts calling core.cli.main need an
`if __name__ == "__main__"` guard, as the installed `secretwatch` has. Workers start with SIGINT blocked, so
Ctrl-C, which a terminal sends to the whole process group, reaches only this process: it stops reading, and the
workers finish their chunk and exit. A worker that dies (killed, out of memory) ends the run with a
SecretwatchError.
"""

from __future__ import annotations

import multiprocessing
import signal
import sys
import threading
from collections import deque
from collections.abc import Generator, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import TypeVar

import msgspec

from core.errors import SecretwatchError
from core.model import AuditEvent
from core.pipeline import Decoder, Item, Skimmed
from core.ranges import FileRange, range_pieces, unreadable
from core.sources import Prefiltered
from core.sources.skim import Piece, ReadLines, SkimmedRun, Skimmer

T = TypeVar("T")

#: Bytes of documents sent to a worker at a time (about a thousand audit events).
CHUNK_BYTES = 1 << 20
#: Chunks out per worker at most: one being decoded, one waiting, so no worker idles while results are taken.
IN_FLIGHT = 2
#: Bytes of a file a worker reads, skims and decodes at a time (core.ranges).
RANGE_BYTES = 4 << 20

#: What a worker is sent: a chunk of documents, or a range of a file to read.
Work = list[bytes] | FileRange


_PACK_EVENTS = msgspec.msgpack.Encoder()
_UNPACK_EVENTS = msgspec.msgpack.Decoder(list[AuditEvent])
#: The shape of a document that is one audit event (most admitted ones): one object, which pickle sends once.
_ONE_EVENT: tuple[None] = (None,)


@dataclass(frozen=True, slots=True)
class Decoded:
    """A chunk's documents decoded: those that were only prefiltered records counted per cloud (most documents,
    and their order does not matter), and the items of the rest with their indexes in the chunk, in order. For a
    range of a file, the indexes are the documents' lines counted from the range's first (0), and `lines` is the
    number of lines it ends. `unread` says why a range could not be read to its end (its documents before the
    fault are given).

    The events travel as one msgpack array (`events`) beside each document's shape (its items, None where an event
    stands): pickling an event costs about 9 µs each way, a sixth of that in msgpack, and the unpickling would fall
    on the process that evaluates.
    """

    skimmed: tuple[Skimmed, ...]
    events: bytes
    shapes: tuple[tuple[Item | None, ...], ...]
    indexes: tuple[int, ...]
    lines: int = 0
    unread: str | None = None

    @classmethod
    def of(
        cls, skimmed: tuple[Skimmed, ...], items: Sequence[tuple[Item, ...]], indexes: Sequence[int], lines: int = 0
    ) -> Decoded:
        events = [item for document in items for item in document if isinstance(item, AuditEvent)]
        shapes = tuple(_shape(document) for document in items)
        return cls(skimmed, _PACK_EVENTS.encode(events), shapes, tuple(indexes), lines)

    @property
    def items(self) -> Iterator[tuple[Item, ...]]:
        """Each document's items, as decoded."""
        events = iter(_UNPACK_EVENTS.decode(self.events))
        for shape in self.shapes:
            if shape == _ONE_EVENT:  # an equal tuple: unpickling makes its own
                yield (next(events),)
            else:
                yield tuple(next(events) if item is None else item for item in shape)


def _shape(document: tuple[Item, ...]) -> tuple[Item | None, ...]:
    if len(document) == 1 and isinstance(document[0], AuditEvent):
        return _ONE_EVENT
    return tuple(None if isinstance(item, AuditEvent) else item for item in document)


def decoded_in_workers(
    chunks: Iterable[tuple[T, Work]], decoder: Decoder, *, jobs: int
) -> Generator[tuple[T, Decoded], None, None]:
    """(tag, decoded) for each (tag, chunk of documents or range of a file), in order, each decoded by `decoder`
    in one of `jobs` workers, a range's lines skimmed by the skimmer of its pre-filter and format. Chunks of about
    CHUNK_BYTES pay for their trip; the tags stay in this process.

    Close it (contextlib.closing) to stop early: the workers finish the chunk they hold and exit.
    """
    context = multiprocessing.get_context(_start_method())
    executor = ProcessPoolExecutor(jobs, mp_context=context, initializer=_start, initargs=(decoder,))
    pending: deque[tuple[T, Future[Decoded]]] = deque()
    try:
        with _sigint_blocked():  # the first submit starts the workers (forks them all), before reading starts a
            executor.submit(int)  # thread (a remote input's SDK may) and before the pool starts its own
        for tag, chunk in chunks:
            with _sigint_blocked():  # a submit may spawn a worker, which keeps the mask
                pending.append((tag, executor.submit(_decode, chunk)))
            if len(pending) >= IN_FLIGHT * jobs:
                yield _taken(pending.popleft())
        while pending:
            yield _taken(pending.popleft())
    except BrokenProcessPool:
        raise SecretwatchError(
            "a --jobs worker process died (killed, or out of memory?); run again, with fewer --jobs"
        ) from None
    finally:
        executor.shutdown(wait=True, cancel_futures=True)


def _start_method() -> str:
    """fork where it is safe: on Linux, while this process runs one thread (so no lock can be held by a thread
    the child lacks, as a gRPC client's could be), before the pool starts its own; else spawn."""
    return "fork" if sys.platform == "linux" and threading.active_count() == 1 else "spawn"


def _taken(sent: tuple[T, Future[Decoded]]) -> tuple[T, Decoded]:
    tag, future = sent
    return tag, future.result()


@contextmanager
def _sigint_blocked() -> Iterator[None]:
    if not hasattr(signal, "pthread_sigmask"):  # Windows: no signal masks
        yield
        return
    before = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)


_decoder: Decoder | None = None
_skimmer: Skimmer | None = None


def _start(decoder: Decoder) -> None:
    """In each worker, once: keep the run's decoder (its pre-filter compiled again as it was unpickled), and the
    skimmer of its pre-filter and format (a compiled test does not pickle; the reading process has the same)."""
    global _decoder, _skimmer  # one of each per worker process, set before any chunk arrives
    _decoder, _skimmer = decoder, Skimmer.for_prefilter(decoder.prefilter, decoder.fmt)


def _decode(work: Work) -> Decoded:
    """In a worker: the chunk's documents, or the range's lines read and skimmed, decoded."""
    if isinstance(work, list):
        return _decoded(enumerate(work))
    assert _skimmer is not None, "ranges are sent with a skimmer"
    lines: list[int] = []
    fault: list[str] = []
    decoded = _decoded(_ending(_range(work, _skimmer, fault), lines))
    return replace(decoded, lines=lines[0], unread=fault[0] if fault else None)


def _range(work: FileRange, skimmer: Skimmer, fault: list[str]) -> Generator[Piece, None, int]:
    """The pieces of a range of a file (core.ranges), returning the number of lines it ends; when the file cannot
    be read to the range's end, the pieces before the fault, why in `fault`, and 0."""
    try:
        with open(work.path, "rb") as file:
            file.seek(work.start)
            return (yield from range_pieces(file, work.size, skimmer))
    except OSError as exc:
        fault.append(str(unreadable(work.path, exc)))
        return 0


def _ending(pieces: Generator[Piece, None, int], end: list[int]) -> Iterator[Piece]:
    """`pieces`, then what they return put in `end`."""
    end.append((yield from pieces))


def _decoded(pieces: Iterable[Piece]) -> Decoded:
    """Documents decoded, those that were only prefiltered records counted, and skimmed lines counted with them."""
    assert _decoder is not None, "the pool's initializer sets the decoder"
    skimmed: dict[str, list[int]] = {}
    items: list[tuple[Item, ...]] = []
    indexes: list[int] = []
    for piece in pieces:
        if isinstance(piece, SkimmedRun):
            counts = skimmed.setdefault(piece.cloud, [0, 0])
            counts[0] += piece.lines
            counts[1] += piece.lines
            continue
        if isinstance(piece, ReadLines):
            for index, event in piece.events:
                items.append((event,))
                indexes.append(index)
            continue
        index, document = piece
        decoded = tuple(_decoder(document))
        if len(decoded) == 1 and isinstance(only := decoded[0], Prefiltered):
            counts = skimmed.setdefault(only.cloud, [0, 0])
            counts[0] += 1
            counts[1] += only.count
        else:
            items.append(decoded)
            indexes.append(index)
    counted = tuple(Skimmed(cloud, documents, events) for cloud, (documents, events) in skimmed.items())
    return Decoded.of(counted, items, indexes)
