"""`secretwatch scan --jobs N`: decoding in N worker processes changes nothing the user sees but the time.

Each run is the real command in a fresh interpreter, over a folder mixing raw audit JSON Lines (malformed lines,
duplicates, a .gz file), EKS, GKE and AKS wire documents, and the shared corpus where it is present. The 20
denied reads the secret-access-denied threshold counts are spread one per megabyte of traffic, so they reach the
counting process in 20 different chunks of documents (core.parallel.CHUNK_BYTES). Plain raw audit logs, which the
workers read themselves in ranges of whole lines (core.ranges), are also scanned in this process with tiny ranges,
so that range edges fall inside lines, on CRLF and blank lines, and inside a line over MAX_DOCUMENT_BYTES.
"""

from __future__ import annotations

import gzip
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, closing
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from bench.traffic import SCENARIOS, _events, wire_documents
from core import commands, parallel
from core.alerts.memory import MemorySink
from core.cli import build_parser
from core.inputs import Input, open_inputs, read_documents
from core.parallel import CHUNK_BYTES
from core.pipeline import Pipeline, Skimmed
from core.ranges import FileRange, ranged_head
from core.report import SkippedRecords
from core.rules.loader import load_rules
from core.scenarios import build_documents
from core.sources import Prefiltered, documents
from core.sources.limits import MAX_DOCUMENT_BYTES
from core.sources.skim import ReadLines, Skimmer
from core.state.memory import MemoryStore
from core.terminal import Progress
from tests.conftest import REPO, SHARED
from tests.unit.engine_helpers import DENIED

MIX, ALL_SECRETS = SCENARIOS
DENIALS = build_documents(DENIED.scenarios[1])  # the 20th denied get within 15 minutes alerts
MALFORMED = [b'{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":', b"I1105 12:00:00.000 klog text", b"[1,2"]


def scan(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    command = [sys.executable, "-m", "core.cli", "scan", "--state", "memory", "--output", "jsonl", "-v", *args]
    return subprocess.run(command, cwd=REPO, input=stdin, capture_output=True, timeout=60, check=False)


def raw_lines(scenario_index: int, events: int, seed: int) -> list[bytes]:
    scenario = SCENARIOS[scenario_index]
    return [orjson.dumps(event) for _, event in _events(scenario, events, seed)]


def with_denials_spread(lines: list[bytes]) -> Iterator[bytes]:
    """`lines` with the denied reads, duplicates and malformed lines put in; one denial past each megabyte."""
    denials = iter(DENIALS)
    held = 0
    for number, line in enumerate(lines):
        yield line
        held += len(line) + 1
        if held > CHUNK_BYTES and (denial := next(denials, None)) is not None:
            yield orjson.dumps(denial)
            held = 0
        if number % 997 == 0:
            yield lines[number // 2]  # an audit event seen before: a duplicate
        if number % 1999 == 0:
            yield MALFORMED[number % len(MALFORMED)]
    assert next(denials, None) is None, "too few lines to spread every denial a chunk apart"


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("mixed")
    (folder / "a_raw.jsonl").write_bytes(b"\n".join(with_denials_spread(raw_lines(0, 22_000, seed=3))) + b"\n")
    rotated = b"\n".join(raw_lines(1, 1500, seed=4)[:1000] + MALFORMED) + b"\n"
    (folder / "b_rotated.jsonl.gz").write_bytes(gzip.compress(rotated))
    for fmt, scenario in (("eks", MIX), ("gke", ALL_SECRETS), ("aks", MIX)):
        documents = wire_documents(scenario, fmt, events=2000, seed=5)
        (folder / f"c_{fmt}.jsonl").write_bytes(b"\n".join(documents) + b"\n")
    return folder


def corpus_folders() -> list[str]:
    if not SHARED.is_dir():
        return []
    return sorted(str(path) for path in (SHARED / "corpus").iterdir() if path.is_dir())


def comparable(alerts: bytes, since: str) -> tuple[list[dict[str, Any]], list[str]]:
    """The alerts in order, apart from those on events without a timestamp (the corpus has some), which take
    their time, id, links and order among themselves from when each run read them: those, without it, sorted."""
    parsed = [orjson.loads(line) for line in alerts.splitlines()]
    timed = [alert for alert in parsed if alert["first_seen"] < since]
    received = {"alert_id": "", "first_seen": "", "last_seen": "", "links": ""}
    at_receipt = sorted(
        orjson.dumps(alert | received, option=orjson.OPT_SORT_KEYS).decode()
        for alert in parsed
        if alert["first_seen"] >= since
    )
    return timed, at_receipt


def test_alerts_summary_listing_and_exit_code_are_those_of_one_job(mixed: Path) -> None:
    inputs = [str(mixed), *corpus_folders()]
    since = datetime.now(UTC).isoformat()
    one = scan("--jobs", "1", *inputs)

    alerts = [orjson.loads(line) for line in one.stdout.splitlines()]
    assert one.returncode == 0, one.stderr
    assert "secret-access-denied" in {alert["rule_id"] for alert in alerts}
    assert b" 0 duplicates" not in one.stderr
    assert b"  skipped records (" in one.stderr  # "the first 20 of N" with the corpus, "all N" without
    assert b"a_raw.jsonl:3: invalid_json" in one.stderr
    assert b"b_rotated.jsonl.gz:1001: invalid_json" in one.stderr
    for jobs in ("2", "3"):
        many = scan("--jobs", jobs, *inputs)
        assert (many.returncode, many.stderr.decode()) == (one.returncode, one.stderr.decode())
        assert comparable(many.stdout, since) == comparable(one.stdout, since)  # same alerts, same order


def test_inputs_left_at_a_fault_are_those_one_job_leaves_and_the_rest_is_scanned(tmp_path: Path) -> None:
    """A corrupt gzip file and a cut one among raw logs: the same alerts, summary, lines naming the two, and exit
    code 1, with any number of jobs."""
    denials = b"".join(orjson.dumps(denial) + b"\n" for denial in DENIALS)
    (tmp_path / "a.jsonl").write_bytes(denials[: len(denials) // 2].rsplit(b"\n", 1)[0] + b"\n")
    (tmp_path / "b_corrupt.jsonl.gz").write_bytes(b"\x1f\x8b but no gzip stream")
    (tmp_path / "c_cut.jsonl.gz").write_bytes(gzip.compress(b"".join(raw_lines(0, 3000, seed=60)) + denials)[:-50])
    (tmp_path / "d.jsonl").write_bytes(denials)

    runs = [scan("--jobs", jobs, str(tmp_path)) for jobs in ("1", "2")]

    assert [run.returncode for run in runs] == [1, 1]
    assert runs[0].stderr == runs[1].stderr
    assert runs[0].stdout == runs[1].stdout != b""
    left = [line for line in runs[1].stderr.decode().splitlines() if "cannot read" in line]
    assert [line.split(": ")[1].rsplit("/", 1)[-1] for line in left] == ["b_corrupt.jsonl.gz", "c_cut.jsonl.gz"]


def test_input_without_an_audit_event_exits_3_with_any_number_of_jobs(tmp_path: Path) -> None:
    path = tmp_path / "pods.jsonl"
    path.write_bytes(b'{"kind":"Pod","apiVersion":"v1"}\n' * 3000 + MALFORMED[1] + b"\n")

    runs = [scan("--jobs", jobs, str(path)) for jobs in ("1", "2")]

    assert [run.returncode for run in runs] == [3, 3]
    assert runs[0].stderr == runs[1].stderr
    assert b"none of the 3,001 documents read held an audit event" in runs[1].stderr


def test_stdin_is_decoded_in_workers_too() -> None:
    lines = b"".join(orjson.dumps(denial) + b"\n" for denial in DENIALS)

    one, two = scan("--jobs", "1", stdin=lines), scan("--jobs", "2", "-", stdin=lines)

    assert two.stdout == one.stdout != b""
    assert two.stderr == one.stderr


@pytest.mark.parametrize("value", ["-1", "two", "1.5"])
def test_jobs_takes_a_count_or_auto(value: str) -> None:
    run = scan("--jobs", value)
    assert run.returncode == 2
    assert b"--jobs: expected a number of processes or auto" in run.stderr


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="counts the CPUs this process may run on")
def test_auto_runs_one_job_per_cpu_this_process_may_run_on() -> None:
    from core.cli import build_parser

    cpus = len(os.sched_getaffinity(0))
    assert build_parser().parse_args(["scan", "--jobs", "auto"]).jobs == cpus
    assert build_parser().parse_args(["scan", "--jobs", "0"]).jobs == cpus
    assert build_parser().parse_args(["scan", "--jobs", "3"]).jobs == 3


needs_proc = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds the workers in /proc")


def workers_of(pid: int) -> list[int]:
    """The worker processes of `pid` (not multiprocessing's resource tracker, which spawned workers need)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes()
        except (OSError, ValueError, IndexError):
            continue
        if parent == pid and b"resource_tracker" not in command:
            found.append(int(entry.name))
    return found


def _interruptible() -> None:
    """In the child: Ctrl-C as a terminal's shell gives it. A suite run as a background job of a script inherits
    SIGINT ignored, and so would the CLI, rightly: a background job is not to be interrupted by Ctrl-C."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def started_reading_stdin(lines: bytes) -> tuple[subprocess.Popen[bytes], list[int]]:
    """A `scan --jobs 2 -` whose workers have started, its stdin still open."""
    command = [sys.executable, "-m", "core.cli", "scan", "--state", "memory", "--output", "jsonl", "--jobs", "2", "-"]
    process = subprocess.Popen(  # its own process group, as a shell gives a pipeline
        command,
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        preexec_fn=_interruptible,  # noqa: PLW1509 - it only sets a signal disposition, importing nothing
    )
    assert process.stdin is not None
    deadline = time.monotonic() + 30
    while len(workers := workers_of(process.pid)) < 2:
        assert time.monotonic() < deadline, "no workers started"
        process.stdin.write(lines)
        process.stdin.flush()
        time.sleep(0.05)
    return process, workers


@pytest.fixture(scope="module")
def traffic_lines() -> bytes:
    return b"\n".join(raw_lines(0, 3000, seed=9)) + b"\n"


@needs_proc
def test_ctrl_c_ends_the_run_and_its_workers_without_a_traceback(traffic_lines: bytes) -> None:
    process, workers = started_reading_stdin(traffic_lines)

    os.killpg(process.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
    _, err = process.communicate(timeout=30)

    assert process.returncode == 130
    assert err.decode().strip().splitlines()[-1] == "secretwatch: interrupted; the input was not read to its end"
    assert b"Traceback" not in err
    assert not [pid for pid in workers if Path(f"/proc/{pid}").exists()]


@needs_proc
def test_a_worker_that_dies_ends_the_run_with_one_line(traffic_lines: bytes) -> None:
    process, workers = started_reading_stdin(traffic_lines)

    os.kill(workers[0], signal.SIGKILL)
    _, err = process.communicate(traffic_lines * 3, timeout=30)

    assert process.returncode == 1
    assert err.decode().strip() == (
        "secretwatch: a --jobs worker process died (killed, or out of memory?); run again, with fewer --jobs"
    )


def test_while_another_thread_runs_workers_are_spawned_and_decode_the_same() -> None:
    decoder = Pipeline(load_rules(), MemoryStore(), []).decoder()
    documents = [orjson.dumps(denial) for denial in DENIALS] + raw_lines(0, 200, seed=11) + MALFORMED
    expected = [tuple(decoder(document)) for document in documents]
    other = threading.Event()
    thread = threading.Thread(target=other.wait)  # as a store's or sink's client may start
    thread.start()
    try:
        assert parallel._start_method() == "spawn"
        with closing(parallel.decoded_in_workers([("where", documents)], decoder, jobs=2)) as chunks:
            [(tag, decoded)] = list(chunks)
    finally:
        other.set()
        thread.join()

    assert tag == "where"
    told = [index for index, items in enumerate(expected) if items != (Prefiltered("k8s"),)]
    assert decoded.indexes == tuple(told)
    assert list(decoded.items) == [expected[index] for index in told]
    assert decoded.skimmed == (Skimmed("k8s", documents=len(documents) - len(told), events=len(documents) - len(told)),)


def test_workers_start_before_the_first_document_is_read() -> None:
    """So a fork copies no thread a remote input's SDK starts as it reads."""
    decoder = Pipeline(load_rules(), MemoryStore(), []).decoder()
    children_when_read = []

    def chunks() -> Iterator[tuple[str, list[bytes]]]:
        children_when_read.append(len(multiprocessing.active_children()))
        yield "where", [orjson.dumps(DENIALS[0])]

    with closing(parallel.decoded_in_workers(chunks(), decoder, jobs=2)) as decoded:
        assert len(list(decoded)) == 1

    assert children_when_read[0] >= 1


# Raw audit logs read by the workers themselves, in ranges of whole lines (core.ranges): the ranges are made tiny
# here so that their edges fall everywhere, and each run is the scan command's own _run, in this process, with one
# time of receipt, so that even alerts on events without a timestamp are byte for byte the same.

RECEIVED = datetime(2026, 11, 5, 12, tzinfo=UTC)
RAW_EDGES = [  # a line each: an event in CRLF, blank and white lines, malformed ones, a non-audit object
    orjson.dumps(DENIALS[0]) + b"\r",
    b"",
    b" \t ",
    MALFORMED[0],
    b'{"kind":"Pod","apiVersion":"v1"}',
    MALFORMED[2],
]
AROUND_LONG = raw_lines(0, 40, seed=22)  # the lines around one over MAX_DOCUMENT_BYTES


def scanned(paths: list[str], jobs: int, range_bytes: int | None = None) -> tuple[Any, ...]:
    """What `scan --jobs N PATHS` ends with: summary, every skipped record where -v lists it, and the alerts."""
    args = build_parser().parse_args(["scan", "--state", "memory", "--jobs", str(jobs), *paths])
    sink = MemorySink()
    pipeline = Pipeline(load_rules(), MemoryStore(), [sink], clock=lambda: RECEIVED)
    skipped = SkippedRecords(limit=100_000)
    with ExitStack() as stack:
        inputs = list(open_inputs(args.paths, stack))
        summary = commands._run(pipeline, inputs, args, Progress(0), skipped, range_bytes=range_bytes)
    return summary.as_dict(), skipped.listed, sink.alerts


def edgy_raw_log(events: int, seed: int) -> bytes:
    """Raw audit lines with the denials spread through them and RAW_EDGES every 37 lines, no final newline."""
    lines = raw_lines(0, events, seed=seed)
    denials = iter(DENIALS[1:])
    text = []
    for number, line in enumerate(lines):
        text.append(line + (b"\r" if number % 5 == 1 else b""))
        if number % 37 == 20:
            text.append(RAW_EDGES[number % len(RAW_EDGES)])
        if number % 40 == 0 and (denial := next(denials, None)) is not None:
            text.append(orjson.dumps(denial))
    return b"\n".join(text)


@pytest.fixture(scope="module")
def raw_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("raw")
    (folder / "a_edges.jsonl").write_bytes(b"\xef\xbb\xbf\n \n" + edgy_raw_log(900, seed=21))
    long = b'{"kind":"Event","apiVersion":"audit.k8s.io/v1","padding":"' + b"x" * MAX_DOCUMENT_BYTES + b'"}'
    lines = AROUND_LONG
    (folder / "b_long.jsonl").write_bytes(b"\n".join([*lines[:20], long, MALFORMED[1], *lines[20:], b"[1,2"]))
    (folder / "c_klog_first.log").write_bytes(b"\n".join([MALFORMED[1], *raw_lines(0, 50, seed=23)]) + b"\n")
    (folder / "d_small.jsonl").write_bytes(b"\n".join([*raw_lines(0, 2, seed=24), MALFORMED[0]]) + b"\n")
    for number in range(12):
        (folder / f"e_many_{number:02}.jsonl").write_bytes(edgy_raw_log(40, seed=30 + number) + b"\n")
    dense = raw_lines(1, 600, seed=50)  # every line on secrets: its blocks are read in one typed pass
    dense[400:400] = [MALFORMED[1], dense[10]]  # but for the block holding a malformed line (and a duplicate)
    (folder / "f_dense.jsonl").write_bytes(b"\n".join(dense) + b"\n")
    return folder


def test_the_dense_raw_log_is_read_in_typed_passes_and_line_by_line(
    raw_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    skimmer = Skimmer.for_prefilter(Pipeline(load_rules(), MemoryStore(), []).prefilter, "auto")
    path = raw_folder / "f_dense.jsonl"
    monkeypatch.setattr(documents, "_CHUNK", 64 * 1024)
    with path.open("rb") as stream:
        pieces = list(read_documents(Input(str(path), stream, 0), skimmer))

    assert any(isinstance(piece, ReadLines) for piece in pieces)
    assert any(isinstance(piece, tuple) for piece in pieces[1:])  # the block with the malformed line


def test_raw_logs_the_workers_read_in_ranges_are_those_the_test_means(raw_folder: Path) -> None:
    skimmer = Skimmer.for_prefilter(Pipeline(load_rules(), MemoryStore(), []).prefilter, "auto")
    ranged = {path.name for path in raw_folder.iterdir() if ranged_head(str(path), path.stat().st_size, skimmer)}
    assert ranged == {path.name for path in raw_folder.iterdir()} - {"c_klog_first.log"}


@pytest.mark.parametrize("range_bytes", [1, 700, 20_000, None])
def test_raw_logs_read_in_ranges_by_the_workers_give_what_one_job_gives(raw_folder: Path, range_bytes: int) -> None:
    one = scanned([str(raw_folder)], jobs=1)
    summary, listed, alerts = one
    assert len(alerts) == sum(summary["alerts"].values())

    assert "secret-access-denied" in summary["alerts"]
    assert summary["malformed"]["too_large"] == 1
    assert (str(raw_folder / "b_long.jsonl"), 22, "invalid_json") in listed  # the line after the long one
    last = len(AROUND_LONG) + 3  # the last line, without its newline
    assert (str(raw_folder / "b_long.jsonl"), last, "invalid_json") in listed
    edges = (raw_folder / "a_edges.jsonl").read_bytes().count(b"\n")
    assert max(line for name, line, _ in listed if name.endswith("a_edges.jsonl")) > edges / 2
    for jobs in (2, 3):
        assert scanned([str(raw_folder)], jobs, range_bytes) == one


def test_a_raw_log_that_is_one_range_gives_what_one_job_gives(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    path.write_bytes(edgy_raw_log(60, seed=40) + b"\n")

    assert scanned([str(path)], jobs=2, range_bytes=1 << 30) == scanned([str(path)], jobs=1)


def test_a_range_whose_file_is_gone_when_its_worker_reads_it_comes_back_saying_so(tmp_path: Path) -> None:
    decoder = Pipeline(load_rules(), MemoryStore(), []).decoder()
    gone = FileRange(str(tmp_path / "rotated-away.log"), 0, 1000)

    with closing(parallel.decoded_in_workers([("where", gone)], decoder, jobs=2)) as chunks:
        [(tag, decoded)] = list(chunks)

    assert (tag, decoded.indexes, decoded.skimmed) == ("where", (), ())
    assert decoded.unread == f"cannot read {gone.path}: read failed (FileNotFoundError)"


def test_a_file_left_at_a_range_gives_that_ranges_documents_and_none_of_its_later_ranges() -> None:
    """As reading the file in this process would: the documents before the fault, then nothing more of it."""
    decoded = parallel.Decoded.of((), [(Prefiltered("k8s"),), (Prefiltered("k8s"),)], [0, 3])
    faulted = replace(decoded, unread="cannot read f: read failed (OSError)")
    chunks = [
        (commands._Span("f", 1, 10), replace(decoded, lines=5)),
        (commands._Span("f", 0, 10), faulted),
        (commands._Span("f", 0, 10), replace(decoded, lines=5)),
        (commands._Span("g", 1, 10), replace(decoded, lines=5)),
    ]
    skipped = SkippedRecords()

    for _ in commands._in_order(chunks, Progress(0), skipped):
        skipped.skipped("given")  # listed where the reader said the document came from

    where = [(name, line) for name, line, _ in skipped.listed]
    assert where == [("f", 1), ("f", 4), ("f", 6), ("f", 9), ("g", 1), ("g", 4)]
    assert skipped.unreadable == {"f": "cannot read f: read failed (OSError)"}


def test_inputs_left_at_a_fault_are_listed_in_input_order_whichever_process_met_it_first() -> None:
    """The reading process meets a bad gzip file before the evaluating one hears of an earlier range's fault."""
    skipped = SkippedRecords()
    skipped.unread("b.jsonl.gz", "cannot read b.jsonl.gz: its gzip stream is corrupt")
    skipped.unread("a.log", "cannot read a.log: read failed (FileNotFoundError)")
    skipped.unread("a.log", "cannot read a.log: read failed (OSError)")  # its first fault is the one kept

    lines = skipped.format_unreadable(["a.log", "b.jsonl.gz", "c.log"]).splitlines()

    assert lines == [
        "secretwatch: cannot read a.log: read failed (FileNotFoundError); its records before that were scanned, "
        "and every other input",
        "secretwatch: cannot read b.jsonl.gz: its gzip stream is corrupt; its records before that were scanned, "
        "and every other input",
    ]


def test_decoded_items_travel_to_the_evaluating_process_as_they_were_decoded() -> None:
    """Events cross as one msgpack array beside each document's shape; every field must come back the same."""
    import pickle

    from core.model import AuditEvent
    from core.sources.items import Skip

    full = AuditEvent(
        "gcp", datetime(2026, 11, 2, 0, 0, 1, 328603, tzinfo=UTC), "id-1", "ResponseComplete", "prod", "get",
        "secrets", None, "payments", "db", "", "v1", "eve@example.com", "admin", ("system:authenticated",),
        ("203.0.113.7", "10.0.0.1"), "curl/8.5.0", "/api/v1/namespaces/payments/secrets/db", 403, "forbidden",
        True, "forbid", "pod-1", "node-1", frozenset({"audit_id"}), "project-1",
    )  # fmt: skip
    early = AuditEvent("k8s", datetime(1969, 12, 31, 23, 59, 59, 1, tzinfo=UTC), "id-2")
    other = Skip("other_category", malformed=False, cloud="azure")
    documents = [(full,), (Skip("invalid_json", malformed=True),), (early, other), (full, full)]

    decoded = pickle.loads(pickle.dumps(parallel.Decoded.of((), documents, [0, 3, 4, 9], lines=12)))

    assert list(decoded.items) == documents
    assert [items[0].timestamp.tzinfo for items in decoded.items if isinstance(items[0], AuditEvent)] == [UTC] * 3
    assert (decoded.indexes, decoded.lines) == ((0, 3, 4, 9), 12)
