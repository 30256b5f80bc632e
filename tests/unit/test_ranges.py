"""core.ranges: a raw audit log cut into ranges of whole lines, each read and skimmed on its own, gives every line
once, at its number, as a document or counted in a skimmed run, whatever the range size."""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson
import pytest

from bench.traffic import SCENARIOS, _events
from core.pipeline import Pipeline
from core.ranges import FileRange, file_ranges, range_pieces, ranged_head
from core.rules.loader import load_rules
from core.sources.documents import iter_pieces
from core.sources.limits import MAX_DOCUMENT_BYTES
from core.sources.skim import ReadLines, SkimmedRun, Skimmer
from core.state.memory import MemoryStore

SKIMMER = Skimmer.for_prefilter(Pipeline(load_rules(), MemoryStore(), []).prefilter, "auto")
EVENTS = [orjson.dumps(event) for _, event in _events(SCENARIOS[0], 300, seed=5)]


def raw_log(tmp_path: Path, lines: list[bytes], name: str = "audit.log") -> Path:
    path = tmp_path / name
    path.write_bytes(b"".join(lines))
    return path


def read_in_ranges(path: Path, size: int) -> tuple[dict[int, bytes], int, int]:
    """(documents by line number, lines skimmed, the number of the last line ended by a newline) over all of
    `path`'s ranges after its head."""
    assert SKIMMER is not None
    head = ranged_head(str(path), path.stat().st_size, SKIMMER)
    assert head is not None
    documents = {head.number: head.document}
    skimmed, first = 0, head.number + 1
    for span in file_ranges(str(path), head.end, path.stat().st_size, size):
        with path.open("rb") as file:
            file.seek(span.start)
            pieces = range_pieces(file, span.size, SKIMMER)
            while True:
                try:
                    piece = next(pieces)
                except StopIteration as done:
                    first += done.value
                    break
                if isinstance(piece, SkimmedRun):
                    skimmed += piece.lines
                elif isinstance(piece, ReadLines):  # a block of Events read in one typed pass: each by its auditID
                    documents.update((first + number, event.audit_id.encode()) for number, event in piece.events)
                else:
                    documents[first + piece[0]] = piece[1]
    return documents, skimmed, first - 1


def same_line(document: bytes, line: bytes) -> bool:
    """Whether a document read is the line written: the line itself, or its auditID (read typed)."""
    return document == line or (line.startswith(b"{") and orjson.loads(line).get("auditID", "").encode() == document)


def edgy_lines() -> list[bytes]:
    """Events with CRLF ends, blank and white lines, malformed lines, and a last line without its newline."""
    lines = [b"\xef\xbb\xbf\n", b"  \n"]
    for number, event in enumerate(EVENTS):
        lines.append(event + (b"\r\n" if number % 7 == 3 else b"\n"))
        if number % 11 == 5:
            lines.append(b"\n" if number % 2 else b" \t \n")
        if number % 13 == 8:
            lines.append(b'{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":\n')
    return [*lines, b"I1105 12:00:00.000 klog text"]


@pytest.mark.parametrize("size", [1, 97, 1000, 4096, 1 << 20])
def test_every_line_is_given_once_at_its_number_whatever_the_range_size(tmp_path: Path, size: int) -> None:
    lines = edgy_lines()
    path = raw_log(tmp_path, lines)

    documents, skimmed, counted = read_in_ranges(path, size)

    read = [lines[0].removeprefix(b"\xef\xbb\xbf"), *lines[1:]]
    written = {number: line.strip() for number, line in enumerate(read, start=1) if line.strip()}
    assert set(documents) <= set(written)
    assert all(same_line(documents[number], written[number]) for number in documents)
    assert len(documents) + skimmed == len(written)
    assert counted == len(lines) - 1  # the lines ended by a newline: the last has none
    assert skimmed  # ranges are skimmed, not only split line by line


def test_ranges_skim_as_many_lines_as_reading_the_whole_stream(tmp_path: Path) -> None:
    path = raw_log(tmp_path, [event + b"\n" for event in EVENTS])
    with path.open("rb") as stream:
        whole = sum(piece.lines for piece in iter_pieces(stream, SKIMMER) if isinstance(piece, SkimmedRun))

    documents, skimmed, _ = read_in_ranges(path, 20_000)

    assert len(documents) + skimmed == len(EVENTS)
    assert skimmed >= whole > len(EVENTS) / 2


def test_ranges_cover_the_file_and_end_just_past_a_newline(tmp_path: Path) -> None:
    path = raw_log(tmp_path, [event + b"\n" for event in EVENTS])
    text = path.read_bytes()

    spans = list(file_ranges(str(path), 0, len(text), 5000))

    assert [span.start for span in spans[1:]] == [span.end for span in spans[:-1]]
    assert (spans[0].start, spans[-1].end) == (0, len(text))
    assert all(text[span.end - 1 : span.end] == b"\n" for span in spans)
    assert all(span.size >= 5000 for span in spans[:-1])
    assert all(span.size < 5000 + max(map(len, EVENTS)) + 1 for span in spans)


def test_a_range_starting_just_past_a_newline_starts_there(tmp_path: Path) -> None:
    path = raw_log(tmp_path, [b"{}\n", b"{}\n", b"{}\n"])

    assert list(file_ranges(str(path), 0, 9, 3)) == [
        FileRange(str(path), 0, 3),
        FileRange(str(path), 3, 6),
        FileRange(str(path), 6, 9),
    ]


def test_a_line_over_the_document_cap_is_cut_past_it_where_a_range_boundary_falls_inside_it(tmp_path: Path) -> None:
    long = b'{"kind":"Event","apiVersion":"audit.k8s.io/v1","padding":"' + b"x" * (MAX_DOCUMENT_BYTES + 10) + b'"}'
    path = raw_log(tmp_path, [EVENTS[0] + b"\n", EVENTS[1] + b"\n", long + b"\n", EVENTS[2] + b"\n", b"[1,2\n"])

    documents, skimmed, counted = read_in_ranges(path, 1000)

    assert documents[3] == long[: MAX_DOCUMENT_BYTES + 1]
    assert documents[5] == b"[1,2"
    assert len(documents) + skimmed == 5
    assert counted == 5


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("klog.log", b"I1105 12:00:00.000 klog text\n" + EVENTS[0] + b"\n"),  # a first line that is not JSON
        ("pretty.json", b"{\n" + b'  "kind": "Event"\n}\n'),  # one whole-file document
        ("panther.jsonl", b'{"p_log_type":"Amazon.EKS.Audit"}\n' + EVENTS[0] + b"\n"),  # not skimmed
        ("empty.jsonl", b"\n\n"),
    ],
)
def test_files_that_are_not_skimmed_raw_lines_are_read_as_a_stream(tmp_path: Path, name: str, text: bytes) -> None:
    path = raw_log(tmp_path, [text], name)
    assert ranged_head(str(path), path.stat().st_size, SKIMMER) is None


def test_gzip_stdin_exports_and_runs_without_a_skimmer_are_read_as_a_stream(tmp_path: Path) -> None:
    text = EVENTS[0] + b"\n" + EVENTS[1] + b"\n"
    plain = raw_log(tmp_path, [text])
    (tmp_path / "audit.log.gz").write_bytes(gzip.compress(text))
    export = tmp_path / "kube-apiserver-audit-0123456789abcdef" / "000000"
    export.parent.mkdir()
    export.write_bytes(text)

    assert ranged_head(str(plain), len(text), SKIMMER) is not None
    assert ranged_head(str(plain), len(text), None) is None  # --format eks, or the pre-filter off
    assert ranged_head(str(tmp_path / "audit.log.gz"), 0, SKIMMER) is None  # core.inputs sizes gzip as 0
    assert ranged_head("<stdin>", 0, SKIMMER) is None
    assert ranged_head("s3://bucket/audit.log", len(text), SKIMMER) is None
    assert ranged_head(str(export), len(text), SKIMMER) is None


def test_the_head_is_the_first_non_blank_line_after_a_bom(tmp_path: Path) -> None:
    path = raw_log(tmp_path, [b"\xef\xbb\xbf\n", b" \r\n", EVENTS[0] + b"\r\n", EVENTS[1] + b"\n"])

    head = ranged_head(str(path), path.stat().st_size, SKIMMER)

    assert head is not None
    assert (head.number, head.document) == (3, EVENTS[0])
    assert path.read_bytes()[head.end :] == EVENTS[1] + b"\n"
