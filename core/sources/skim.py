"""Skim raw audit JSON Lines a block at a time: whole runs of lines no rule can match are counted, never split.

The kube-apiserver's log backend writes one compact `audit.k8s.io/v1` Event a line, and on real traffic almost
none of them can match a rule (3 % of a realistic mix touch secrets). Splitting a block into lines and testing
each costs Python work per line; this module instead searches the block for the strings the rules need
(core.prefilter: a line lacking them cannot match any rule) and takes the lines holding one as documents. The
lines between are a run, counted at C speed as audit records the pre-filter skipped when every one of them is
shaped like an Event as the API server writes it: it starts with RAW_EVENT_START and ends with `}`. Counting
shows it: a newline followed by RAW_EVENT_START only starts a line (JSON escapes newlines in strings), so a run
of L lines qualifies when its first line starts so, its last ends with `}`, and `}`, newline, RAW_EVENT_START
occurs L - 1 times. Otherwise its lines go through one at a time as documents, as without skimming. A file whose
first line carries Panther's `p_log_type` (its records name their cloud) is not skimmed.

A CloudWatch Logs export of an EKS audit stream (core.archives.cloudwatch) is skimmed the same way: each line is
`<time> <message>`, the message an Event as above, and a run qualifies when EXPORTED_EVENT (the time's `Z`, a
space, RAW_EVENT_START, which no JSON text holds) and `}`, newline each occur once a line; its events count as
`aws`, as the export's lines do when decoded.

Like the pre-filter on EKS messages and AKS logs, a skimmed line is not parsed, so a broken line that looks like
an Event in that way is counted as a prefiltered event rather than as invalid JSON; a line that can match a rule
is never skimmed. Skimming applies where a raw Event is decoded as one (`--format auto` or `k8s`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, replace
from itertools import chain

from core.prefilter import Prefilter

#: The cloud a raw audit Event counts under (as core.sources.k8s gives one without Panther's p_log_type).
RAW_CLOUD = "k8s"
#: How the API server's log backend starts each line (encoding/json keeps the struct's field order).
RAW_EVENT_START = b'{"kind":"Event","apiVersion":"audit.k8s.io/v1",'
#: One line's end and the next one's start, both as the API server writes them.
_BETWEEN_EVENTS = b"}\n" + RAW_EVENT_START
_CLOSING = ord("}")
_LINE_END = b"}\n"
#: How an export writes an Event after its time; the export's own lines, `<time> <message>`.
EXPORTED_EVENT = b"Z " + RAW_EVENT_START
_EXPORT_LINE = re.compile(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?Z ")
#: The cloud an exported EKS event counts under.
EXPORT_CLOUD = "aws"
#: In a file's first line, what makes it a Panther export (whose records name their cloud): not skimmed.
PANTHER_MARK = b"p_log_type"


@dataclass(frozen=True, slots=True)
class SkimmedRun:
    """Consecutive lines of raw audit Events no rule can match, counted: `lines` of them, `size` bytes in all."""

    lines: int
    size: int
    cloud: str = RAW_CLOUD


Piece = tuple[int, bytes] | SkimmedRun


@dataclass(frozen=True, slots=True)
class Skimmer:
    """Splits a block of whole lines into documents (line number, line) and SkimmedRuns; see the module."""

    #: A line can match some rule only if it holds one of these (one clause every rule needs, or one per rule).
    needles: tuple[bytes, ...]
    #: The whole pre-filter's test (core.prefilter), for the lines holding a needle.
    admits: Callable[[bytes], bool]
    #: Lines are a CloudWatch Logs export's, `<time> <message>`, rather than raw Events.
    export: bool = False

    @classmethod
    def for_prefilter(cls, prefilter: Prefilter | None, fmt: str) -> Skimmer | None:
        """The skimmer for a run's pre-filter and --format, or None where nothing may be skimmed."""
        if prefilter is None or fmt not in ("auto", "k8s"):
            return None
        search = prefilter.raw
        if search.shared:
            return cls(search.shared[0], search.admits)
        if not search.rest:
            return None
        return cls(tuple(dict.fromkeys(needle for clauses in search.rest for needle in clauses[0])), search.admits)

    def for_export(self) -> Skimmer:
        """This skimmer for the lines of a CloudWatch Logs export of an audit stream."""
        return replace(self, export=True)

    def applies_to(self, first_line: bytes) -> bool:
        """Whether a file starting with `first_line` may be skimmed: not a Panther export, and an export's line when
        this skims exports."""
        return PANTHER_MARK not in first_line and (not self.export or _EXPORT_LINE.match(first_line) is not None)

    def pieces(self, block: bytes, start: int, end: int, number: int) -> Generator[Piece, None, int]:
        """The pieces of block[start:end], whole lines numbered from `number` (block[start - 1] is a newline and
        block[end - 1] the last line's); returns the number after the last line. Skimmed lines next to each other
        (runs, and lines holding a needle that the whole pre-filter still skips) come as one SkimmedRun."""
        skimmed = 0  # lines skimmed since `since`, not yet yielded
        since = run_start = start
        events, cloud = (_exported_events, EXPORT_CLOUD) if self.export else (_raw_events, RAW_CLOUD)
        for line_start, line_end in chain(self._hits(block, start, end), ((end, end),)):  # then the last run
            lines = block.count(b"\n", run_start, line_start)
            if lines and events(block, run_start, line_start, lines):
                skimmed += lines
            elif lines:
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

    def _skips(self, line: bytes) -> bool:
        """Whether a line holding a needle is an Event (an exported one, for exports) no rule can match."""
        if self.export:
            found = _EXPORT_LINE.match(line)
            if found is None:
                return False
            line = line[found.end() :]
        return line.startswith(RAW_EVENT_START) and line.endswith(b"}") and not self.admits(line)

    def _hits(self, block: bytes, start: int, end: int) -> Generator[tuple[int, int], None, None]:
        """(start, end) of each line holding a needle, in order; `end` is its newline."""
        found = {needle: block.find(needle, start, end) for needle in self.needles}
        while found:
            needle, at = min(found.items(), key=lambda item: item[1]) if len(found) > 1 else next(iter(found.items()))
            if at < 0:
                del found[needle]
                continue
            line_start = block.rfind(b"\n", start, at) + 1 or start
            line_end = block.find(b"\n", at, end)
            yield line_start, line_end
            start = line_end + 1
            for other, where in list(found.items()):
                if 0 <= where < start:
                    found[other] = block.find(other, start, end)


def _raw_events(block: bytes, start: int, end: int, lines: int) -> bool:
    """Whether the `lines` whole lines of block[start:end] are each an Event as the API server writes it."""
    return (
        block.startswith(RAW_EVENT_START, start)
        and block[end - 2] == _CLOSING
        and block.count(_BETWEEN_EVENTS, start, end) == lines - 1
    )


def _exported_events(block: bytes, start: int, end: int, lines: int) -> bool:
    """Whether the `lines` whole lines of block[start:end] are each `<time> <Event>` as an export writes them."""
    return (
        block[start : start + 1].isdigit()
        and block.count(EXPORTED_EVENT, start, end) == lines
        and block.count(_LINE_END, start, end) == lines
    )


def _line_by_line(block: bytes, start: int, end: int, number: int) -> Iterator[Piece]:
    """The non-blank whole lines of block[start:end] as documents, numbered from `number`."""
    for offset, line in enumerate(block[start:end].split(b"\n")[:-1]):
        if line := line.strip():
            yield number + offset, line
