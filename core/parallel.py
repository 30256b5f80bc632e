"""`scan --jobs N`: decode documents in N worker processes, handed back in input order to the one that evaluates.

Decoding (parsing, the pre-filter, normalizing) is most of a scan's work and needs nothing but the document, so
workers do it; counting, deduplication, windows and alerts stay in the calling process, which takes each
document's items in input order (core.pipeline's `consume`), so alerts and counts are those of `--jobs 1`.

Documents travel in chunks of about CHUNK_BYTES (pickling one line at a time would cost more than it saves),
and at most IN_FLIGHT chunks per worker are out at once, so memory stays flat however large the input. Each
document's tag (where it came from) stays in this process, in order beside its chunk.

Workers are spawned, not forked: a fork copies whatever locks other threads (sink or store clients) hold at
that instant, and spawn behaves the same on every platform. They start with SIGINT blocked, so Ctrl-C, which
a terminal sends to the whole process group, reaches only this process: it stops reading, and the workers
finish their chunk and exit. A worker that dies (killed, out of memory) ends the run with a SecretwatchError.
"""

from __future__ import annotations

import copyreg
import multiprocessing
import signal
from collections import deque
from collections.abc import Generator, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from typing import TypeVar

from core.errors import SecretwatchError
from core.model import AuditEvent
from core.pipeline import Decoder, Item
from core.prefilter import Search

T = TypeVar("T")
Decoded = tuple[tuple[Item, ...], ...]

#: Bytes of documents sent to a worker at a time (about a thousand audit events).
CHUNK_BYTES = 1 << 20
#: Chunks out per worker at most: one being decoded, one waiting, so no worker idles while results are taken.
IN_FLIGHT = 2


def _search_args(search: Search[str] | Search[bytes]) -> tuple[type[Search[str]], tuple[object, ...]]:
    """A Search pickles as its strings; its compiled test is built again where it is unpickled."""
    fields = (search.shared, search.rest, search.payload_key, search.audit_mark, search.opening, search.closings)
    return Search, fields


copyreg.pickle(Search, _search_args)  # so a Decoder, which holds the Prefilter, can be sent to the workers


def decoded_in_workers(
    documents: Iterable[tuple[T, bytes]], decoder: Decoder, *, jobs: int, chunk_bytes: int = CHUNK_BYTES
) -> Generator[tuple[T, Sequence[Item]], None, None]:
    """(tag, items) for each (tag, document), in order, each decoded by `decoder` in one of `jobs` workers.

    Close it (contextlib.closing) to stop early: the workers finish the chunk they hold and exit.
    """
    executor = ProcessPoolExecutor(
        jobs, mp_context=multiprocessing.get_context("spawn"), initializer=_start, initargs=(decoder,)
    )
    pending: deque[tuple[list[T], Future[Decoded]]] = deque()
    try:
        for tags, chunk in _chunks(documents, chunk_bytes):
            with _sigint_blocked():  # a submit may spawn a worker, which keeps the mask
                pending.append((tags, executor.submit(_decode, chunk)))
            if len(pending) >= IN_FLIGHT * jobs:
                yield from _taken(pending.popleft())
        while pending:
            yield from _taken(pending.popleft())
    except BrokenProcessPool:
        raise SecretwatchError(
            "a --jobs worker process died (killed, or out of memory?); run again, with fewer --jobs"
        ) from None
    finally:
        executor.shutdown(wait=True, cancel_futures=True)


def _chunks(documents: Iterable[tuple[T, bytes]], size: int) -> Iterator[tuple[list[T], list[bytes]]]:
    tags: list[T] = []
    chunk: list[bytes] = []
    held = 0
    for tag, document in documents:
        tags.append(tag)
        chunk.append(document)
        held += len(document)
        if held >= size:
            yield tags, chunk
            tags, chunk, held = [], [], 0
    if chunk:
        yield tags, chunk


def _taken(sent: tuple[list[T], Future[Decoded]]) -> Iterator[tuple[T, Sequence[Item]]]:
    tags, future = sent
    return zip(tags, future.result(), strict=True)


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


def _start(decoder: Decoder) -> None:
    """In each worker, once: keep the run's decoder (its pre-filter compiled again as it was unpickled)."""
    global _decoder  # noqa: PLW0603 - one decoder per worker process, set before any chunk arrives
    _decoder = decoder


def _decode(chunk: list[bytes]) -> Decoded:
    """Each document's items. Equal items-tuples without an AuditEvent (one Prefiltered count, one Skip: most
    documents) are sent as one object, which pickle writes once and then refers back to: a fiftieth of the cost."""
    assert _decoder is not None, "the pool's initializer sets the decoder"
    shared: dict[tuple[Item, ...], tuple[Item, ...]] = {}
    decoded = []
    for document in chunk:
        items = tuple(_decoder(document))
        if len(items) == 1 and not isinstance(items[0], AuditEvent):
            items = shared.setdefault(items, items)
        decoded.append(items)
    return tuple(decoded)
