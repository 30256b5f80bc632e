"""Skim raw audit JSON Lines a block at a time: whole runs of lines no rule can match are counted, never split.

The kube-apiserver's log backend writes one compact `audit.k8s.io/v1` Event a line, and on real traffic almost
none of them can match a rule (3 % of a realistic mix touch secrets). Splitting a block into lines and testing
each costs Python work per line; this module instead searches the block for strings the rules need
(core.prefilter: a line lacking them cannot match any rule) and takes the lines holding one as documents. The
lines between are a run, counted at C speed as audit records the pre-filter skipped when every one of them is
shaped like an Event as the API server writes it: it starts with RAW_EVENT_START and ends with `}`. Counting
shows it: a newline followed by RAW_EVENT_START only starts a line (JSON escapes newlines in strings), so a run
of L lines qualifies when its first line starts so, its last ends with `}`, and `}`, newline, RAW_EVENT_START
occurs L - 1 times. Otherwise its lines go through one at a time as documents, as without skimming. Lines may
end with a carriage return before the newline (a file written on Windows): the first line of each block tells
which, and the counts look for that ending. A file whose first line carries Panther's `p_log_type` (its
records name their cloud) is not skimmed.

Any clause every rule needs will do as the strings to search for, or one clause of each rule together, and each
block is searched for the one that costs least on its first lines (Skimmer.hunt): on a file where every line
names secrets, get and list, which most of those lines lack. Where even that would hit most lines, testing each
line costs less, and the block is split into lines, each one an Event no rule can match skimmed. Either way the
lines holding a needle (or all of them) that the whole pre-filter still skips join the runs beside them.

A CloudWatch Logs export of an EKS audit stream (core.archives.cloudwatch) is skimmed the same way: each line is
`<time> <message>`, the message an Event as above, and a run qualifies when EXPORTED_EVENT (the time's `Z`, a
space, RAW_EVENT_START, which no JSON text holds) and `}`, newline each occur once a line; its events count as
`aws`, as the export's lines do when decoded.

A block dense with lines that may match (a share of at least _TYPED of its first lines hit) is read instead in
one typed pass (k8s_text.read_lines, msgspec's decode_lines), when every line is an Event as the API server
writes it: the pre-filter's field test on the fields read keeps the events a rule may match (ReadLines, decoded
as each line alone would be), and the rest are counted as the field test would count them in the pipeline. A
block the pass cannot read so (a blank, malformed, non-ASCII or Panther line, say) is skimmed as above.

Like the pre-filter on EKS messages and AKS logs, a skimmed line is not parsed, so a broken line that looks like
an Event in that way is counted as a prefiltered event rather than as invalid JSON; a line that can match a rule
is never skimmed. Skimming applies where a raw Event is decoded as one (`--format auto` or `k8s`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, replace
from functools import partial
from itertools import chain
from typing import Protocol

from core.model import AuditEvent
from core.prefilter import Prefilter
from core.sources import k8s_text

#: The cloud a raw audit Event counts under (as core.sources.k8s gives one without Panther's p_log_type).
RAW_CLOUD = "k8s"
#: How the API server's log backend starts each line (encoding/json keeps the struct's field order).
RAW_EVENT_START = b'{"kind":"Event","apiVersion":"audit.k8s.io/v1",'
#: How a line ends, by the end of a block's first line: a file written on Windows, or through a tool that
#: converts line ends, ends each with a carriage return too. Per line end: how an Event's line ends, and that
#: followed by the next Event's start, both as the API server writes them.
_LF, _CRLF = b"\n", b"\r\n"
_EVENT_END = {_LF: b"}\n", _CRLF: b"}\r\n"}
_BETWEEN_EVENTS = {newline: end + RAW_EVENT_START for newline, end in _EVENT_END.items()}
_CARRIAGE_RETURN = ord("\r")
#: How an export writes an Event after its time; the export's own lines, `<time> <message>`.
EXPORTED_EVENT = b"Z " + RAW_EVENT_START
_EXPORT_LINE = re.compile(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?Z ")
#: The cloud an exported EKS event counts under.
EXPORT_CLOUD = "aws"
#: In a file's first line, what makes it a Panther export (whose records name their cloud): not skimmed.
PANTHER_MARK = b"p_log_type"
#: How much of a block's start (whole lines) is searched for each clause to choose which to hunt (a search of
#: the whole block, with bytes.count, costs as much as hunting there).
_SAMPLE = 16 * 1024
#: Searching a block for one needle costs about as much as handling this share of its lines as hits (measured
#: on bench.raw_cli's shapes: a needle costs 0.6 to 0.9 ns a byte, a hit about 4 µs with its test).
_SEARCH_COST = 0.2
#: When the cheapest hunt still hits more than this share of the lines, testing each line costs less (measured:
#: the two cost the same at 40 % to 50 % of the lines, hunting a fifth less at 5 %, testing each a fifth less at 70 %).
_DENSE = 0.45
#: When the cheapest hunt hits at least this share of a block's first lines, reading the whole block in one typed
#: pass (k8s_text.read_lines) costs less than hunting and then reading each line hit. Measured on the mix with
#: all-secrets lines put in at random: with 7 % of lines able to match (sampled shares 0.13 to 0.31) hunting
#: costs a fifth less; with 13 % (0.06 to 0.5) the typed pass does; at 40 % (all secrets, 0.33 to 0.71) it
#: costs 0.43 where hunting cost 0.53 s.
_TYPED = 0.25


@dataclass(frozen=True, slots=True)
class SkimmedRun:
    """Consecutive lines of raw audit Events no rule can match, counted: `lines` of them, `size` bytes in all."""

    lines: int
    size: int
    cloud: str = RAW_CLOUD


@dataclass(frozen=True, slots=True)
class ReadLines:
    """Whole lines of raw audit Events read in one typed pass: the events a rule may match, each with its line's
    number, and how many lines held an event no rule can match (counted, as a SkimmedRun's are); `size` bytes."""

    events: list[tuple[int, AuditEvent]]
    skimmed: int
    size: int
    cloud: str = RAW_CLOUD


Piece = tuple[int, bytes] | SkimmedRun | ReadLines


class LinesReader(Protocol):
    """Reads the whole lines of raw audit Events in block[start:end] in one pass (k8s_text.read_lines with a
    field test), or None."""

    def __call__(self, block: bytes, *, start: int, end: int) -> tuple[list[tuple[int, AuditEvent]], int] | None: ...


@dataclass(frozen=True, slots=True)
class Skimmer:
    """Splits a block of whole lines into documents (line number, line) and SkimmedRuns; see the module."""

    #: Per rule, the clauses (strings, one of which a line must hold) it needs, or one group of the clauses every
    #: rule needs: a line that can match some rule holds every clause of some group, so the lines holding one
    #: clause of each group, whichever, are all the lines that can match.
    groups: tuple[tuple[tuple[bytes, ...], ...], ...]
    #: The whole pre-filter's test (core.prefilter), for the lines holding one.
    admits: Callable[[bytes], bool]
    #: Lines are a CloudWatch Logs export's, `<time> <message>`, rather than raw Events.
    export: bool = False
    #: Reads a dense block's lines in one typed pass, the events no rule can match counted by their fields; None:
    #: never (where the documents are decoded elsewhere, as `--jobs` workers decode a stream's).
    read_lines: LinesReader | None = None

    @classmethod
    def for_prefilter(cls, prefilter: Prefilter | None, fmt: str) -> Skimmer | None:
        """The skimmer for a run's pre-filter and --format, or None where nothing may be skimmed."""
        if prefilter is None or fmt not in ("auto", "k8s"):
            return None
        search = prefilter.raw
        reader = partial(k8s_text.read_lines, may_match=prefilter.subjects(k8s_text.LINE_SUBJECTS).test)
        if search.rest:
            return cls(tuple(search.shared + clauses for clauses in search.rest), search.admits, read_lines=reader)
        if search.shared:
            return cls((search.shared,), search.admits, read_lines=reader)
        return None

    def for_export(self) -> Skimmer:
        """This skimmer for the lines of a CloudWatch Logs export of an audit stream (never read typed: they are
        not JSON)."""
        return replace(self, export=True, read_lines=None)

    def without_reading(self) -> Skimmer:
        """This skimmer, giving every line that may match as a document, never events read here."""
        return replace(self, read_lines=None)

    def applies_to(self, first_line: bytes) -> bool:
        """Whether a file starting with `first_line` may be skimmed: not a Panther export, and an export's line when
        this skims exports."""
        return PANTHER_MARK not in first_line and (not self.export or _EXPORT_LINE.match(first_line) is not None)

    def pieces(self, block: bytes, start: int, end: int, number: int) -> Generator[Piece, None, int]:
        """The pieces of block[start:end], whole lines numbered from `number` (block[start - 1] is a newline and
        block[end - 1] the last line's); returns the number after the last line. Skimmed lines next to each other
        (runs, and lines holding a needle that the whole pre-filter still skips) come as one SkimmedRun."""
        hunt, share = self.hunt(block, start, end)
        newline = _line_end(block, start, end)
        read = self._read(block, start, end, number, newline) if share >= _TYPED else None
        if read is not None or share > _DENSE:  # dense: read in one typed pass, else tested line by line
            dense = _typed(read, number) if read is not None else self._each_line(block, start, end, number)
            return (yield from dense)
        skimmed = 0  # lines skimmed since `since`, not yet yielded
        since = run_start = start
        events, cloud = (_exported_events, EXPORT_CLOUD) if self.export else (_raw_events, RAW_CLOUD)
        for line_start, line_end in chain(_hits(block, start, end, hunt), ((end, end),)):  # then the last run
            if line_start > run_start:  # the lines before it, holding no needle
                lines = _lines(block, run_start, line_start)
                if events(block, run_start, line_start, lines, newline):
                    skimmed += lines
                else:
                    if skimmed:
                        yield SkimmedRun(skimmed, run_start - since, cloud)
                        skimmed = 0
                    yield from _line_by_line(block, run_start, line_start, number)
                    since = line_start
                number += lines
            if line_start == end:
                break
            line = block[line_start:line_end]
            if self._skips(line):
                skimmed += 1
            else:
                if skimmed:
                    yield SkimmedRun(skimmed, line_start - since, cloud)
                    skimmed = 0
                if line := line.strip():
                    yield number, line
                since = line_end + 1
            number += 1
            run_start = line_end + 1
        if skimmed:
            yield SkimmedRun(skimmed, end - since, cloud)
        return number

    def hunt(self, block: bytes, start: int, end: int) -> tuple[tuple[bytes, ...], float]:
        """The needles to search block[start:end] for: of each group, the clause costing least to search for in
        the block's first lines (_SAMPLE bytes); and the share of those lines they hit (over _DENSE: testing each
        line costs less than hunting)."""
        stop = block.find(b"\n", min(start + _SAMPLE, end - 1), end) + 1
        lines = _lines(block, start, stop)
        needles: dict[bytes, None] = {}
        hits = 0
        for group in self.groups:
            clause, found = _cheapest(group, block, start, stop, lines)
            needles.update(dict.fromkeys(clause))
            hits += found
        return tuple(needles), hits / lines

    def _read(self, block: bytes, start: int, end: int, number: int, newline: bytes) -> ReadLines | None:
        """block[start:end] read in one typed pass, when every line is an Event as the API server writes it (so
        none is blank, and the pass reads each line as one document) that the pass reads; else None."""
        if self.read_lines is None:
            return None
        read = self.read_lines(block, start=start, end=end)
        if read is None or not _raw_events(block, start, end, read[1], newline):
            return None
        events, lines = read
        return ReadLines([(number + index, event) for index, event in events], lines - len(events), end - start)

    def _each_line(self, block: bytes, start: int, end: int, number: int) -> Generator[Piece, None, int]:
        """pieces(), testing each line as _skips does."""
        cloud = EXPORT_CLOUD if self.export else RAW_CLOUD
        lines = block[start : end - 1].split(b"\n")
        admits, skips = self.admits, self._skips
        run = 0  # the index of the first line not yet yielded
        for index, line in enumerate(lines):
            if skips(line) if self.export else not admits(line) and line.startswith(RAW_EVENT_START):
                continue
            if index > run:
                yield SkimmedRun(index - run, sum(map(len, lines[run:index])) + index - run, cloud)
            if line := line.strip():
                yield number + index, line
            run = index + 1
        if len(lines) > run:
            yield SkimmedRun(len(lines) - run, sum(map(len, lines[run:])) + len(lines) - run, cloud)
        return number + len(lines)

    def _skips(self, line: bytes) -> bool:
        """Whether a line is an Event (an exported one, for exports) no rule can match."""
        if self.export:
            found = _EXPORT_LINE.match(line)
            if found is None:
                return False
            line = line[found.end() :]
        return not self.admits(line) and line.startswith(RAW_EVENT_START)  # not admitted: it ends with `}`


def _typed(read: ReadLines, number: int) -> Generator[Piece, None, int]:
    """The pieces of lines read typed from `number` on: those counted (the count alone), then those read."""
    if read.skimmed:
        yield SkimmedRun(read.skimmed, 0, read.cloud)
    yield read
    return number + read.skimmed + len(read.events)


def _hits(block: bytes, start: int, end: int, needles: tuple[bytes, ...]) -> Iterator[tuple[int, int]]:
    """(start, end) of each line of block[start:end] holding one of `needles`, in order; `end` is its newline."""
    if len(needles) == 1:
        needle = needles[0]
        while (at := block.find(needle, start, end)) >= 0:
            line_end = block.find(b"\n", at, end)
            yield block.rfind(b"\n", start, at) + 1 or start, line_end
            start = line_end + 1
        return
    found = [at if (at := block.find(needle, start, end)) >= 0 else end for needle in needles]
    while (at := min(found)) < end:
        line_end = block.find(b"\n", at, end)
        yield block.rfind(b"\n", start, at) + 1 or start, line_end
        start = line_end + 1
        for index, where in enumerate(found):
            if where < start:
                found[index] = at if (at := block.find(needles[index], start, end)) >= 0 else end


def _cheapest(
    group: tuple[tuple[bytes, ...], ...], block: bytes, start: int, stop: int, lines: int
) -> tuple[tuple[bytes, ...], int]:
    """The clause of `group` costing least to search block[start:stop] (`lines` lines) for, and the lines it hits
    there: each of its needles costs a search of the whole text, each line it hits the work on that line."""
    cheapest, fewest, least = group[0], lines, float("inf")
    for clause in group:
        search = len(clause) * lines * _SEARCH_COST
        if search < least:
            hits = _count(_hits(block, start, stop, clause), least - search)  # no further than it may win
            if search + hits < least:
                cheapest, fewest, least = clause, hits, search + hits
    return cheapest, fewest


def _count(hits: Iterator[tuple[int, int]], bound: float) -> int:
    """How many hits there are, counted up to the first at or past `bound`."""
    count = 0
    for _ in hits:
        count += 1
        if count >= bound:
            break
    return count


def _lines(block: bytes, start: int, end: int) -> int:
    """How many lines block[start:end] holds (block[end - 1] is a newline): found one at a time, as bytes.find
    finds a byte several times faster than bytes.count counts them, on lines over a few hundred bytes."""
    lines = 0
    find = block.find
    while (start := find(b"\n", start, end) + 1) > 0:
        lines += 1
    return lines


def _line_end(block: bytes, start: int, end: int) -> bytes:
    """How the first of the whole lines of block[start:end] ends (the counts below take every line to end so)."""
    first = block.find(b"\n", start, end)
    return _CRLF if first > start and block[first - 1] == _CARRIAGE_RETURN else _LF


def _raw_events(block: bytes, start: int, end: int, lines: int, newline: bytes) -> bool:
    """Whether the `lines` whole lines of block[start:end] are each an Event as the API server writes it, each
    line ending with `newline`."""
    return (
        block.startswith(RAW_EVENT_START, start)
        and block.endswith(_EVENT_END[newline], start, end)
        and block.count(_BETWEEN_EVENTS[newline], start, end) == lines - 1
    )


def _exported_events(block: bytes, start: int, end: int, lines: int, newline: bytes) -> bool:
    """Whether the `lines` whole lines of block[start:end] are each `<time> <Event>` as an export writes them,
    each line ending with `newline`."""
    return (
        block[start : start + 1].isdigit()
        and block.count(EXPORTED_EVENT, start, end) == lines
        and block.count(_EVENT_END[newline], start, end) == lines
    )


def _line_by_line(block: bytes, start: int, end: int, number: int) -> Iterator[Piece]:
    """The non-blank whole lines of block[start:end] as documents, numbered from `number`."""
    for offset, line in enumerate(block[start:end].split(b"\n")[:-1]):
        if line := line.strip():
            yield number + offset, line
