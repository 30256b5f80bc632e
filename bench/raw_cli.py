"""The real CLI on raw audit JSON Lines (what the API server's --audit-log-path writes) against the parse limit.

    python -m bench.raw_cli [--events N] [--rounds R] [--rss]

Each shape is written to a temporary file, one audit.k8s.io/v1 Event per line, and scanned by a child process
running the real command, `secretwatch scan --state memory --output jsonl FILE` (core.cli's main; alerts to a
file), on one pinned core (the child inherits this process's affinity). Its time is the CPU time the child
spends inside Pipeline.consume, which it measures around that call (reading and splitting the file, decoding,
evaluating, delivering): interpreter start-up, imports, rule loading and the closing summary are left out.
(Subtracting a one-event run's CPU time instead proved too noisy: start-up costs more than scanning 50 MB.)
The parse limit is `orjson.loads` of each line of the same file in this process, in CPU time. Each round times
both back to back; ratio = parse-only seconds / CLI seconds, the median of the rounds' (1.0: the CLI keeps pace
with parsing alone), beside the fastest round of each.

Shapes: `mix` (3 % of events touch secrets, bench.traffic's scenario), `all-secrets`, and `distinct-clients`
(all-secrets with every event from its own source address, user and user agent, so every sighting is a new
term and raises an alert). With `--rss`, the peak resident set (the child's own VmHWM, which exec resets) of the
mix at 50 MB, 500 MB and 2 GB, made by repeating the day with fresh audit ids, one day later each time.

Each round also runs the CLI with evaluation switched off (Engine.evaluate finds nothing): reading, skimming,
decoding, the field test, building, deduplicating and batching events, everything but the rules and the alerts.
Its ratio is the most the CLI could reach with an engine that cost nothing, so the table tells how much of a
shape's time its reading takes and how much its evaluating.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import orjson

from bench.machine import pin_to_one_core
from bench.traffic import SCENARIOS, Scenario, _events

REPOSITORY = Path(__file__).resolve().parents[1]
SHAPES = ("mix", "all-secrets", "distinct-clients")
#: Runs the CLI's main in a fresh interpreter, timing the CPU spent inside Pipeline.consume (which pulls the
#: documents through reading and decoding, then evaluates and delivers: everything per record, with or without
#: --jobs), then writes "VmHWM_kB consume_seconds" to argv[1]. VmHWM is
#: the process's own peak: exec resets it, where getrusage's would carry the parent's across fork and exec.
#: argv[2] is "read-only" to switch evaluation off (no rule runs, so nothing is delivered), else "whole".
_CHILD = """
import sys, time
from core import pipeline
from core.cli import main
if sys.argv[2] == "read-only":
    from core.engine import evaluate
    evaluate.Engine.evaluate = lambda self, events: evaluate.Evaluation()
spent = [0.0]
consume = pipeline.Pipeline.consume
def timed(self, *args, **kwargs):
    started = time.process_time()
    try:
        return consume(self, *args, **kwargs)
    finally:
        spent[0] += time.process_time() - started
pipeline.Pipeline.consume = timed
try:
    code = main(sys.argv[3:])
finally:
    status = open("/proc/self/status").read()
    peak = next((line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")), "0")
    open(sys.argv[1], "w").write(f"{peak} {spent[0]}")
sys.exit(code)
"""
_DAY = re.compile(rb'(Timestamp":")(\d{4}-\d\d-\d\d)T')
_AUDIT_ID = re.compile(rb'"auditID":"[0-9a-f]{8}')


@dataclass(frozen=True, slots=True)
class RawCliCost:
    shape: str
    events: int
    megabytes: float
    parse_s: float  # orjson.loads of every line, CPU seconds (the fastest round)
    cli_s: float  # the CLI's CPU seconds, start-up excluded (the fastest round)
    ratio: float  # parse-only seconds / CLI seconds, the median of the rounds'
    alerts: int
    peak_mb: float = 0.0  # the CLI's peak RSS (the first round's): what the store and caches hold at the end
    read_s: float = 0.0  # the CLI's CPU seconds with evaluation off (the fastest round)
    read_ratio: float = 0.0  # parse-only seconds / those, the median of the rounds'


@dataclass(frozen=True, slots=True)
class Run:
    cpu_s: float  # the whole child, start-up included
    scan_s: float  # inside Pipeline.consume
    peak_mb: float
    alerts: int


def measure(events: int = 50_000, rounds: int = 5, shapes: Sequence[str] = SHAPES) -> list[RawCliCost]:
    """One row per shape; pins this process (and so the CLI child) to one core.

    Each round times, back to back, orjson over the file and the CLI on it, so a round's ratio compares like
    with like when other work slows the machine down; the row gives the fastest of each and the median of the
    rounds' ratios.
    """
    pin_to_one_core()
    with tempfile.TemporaryDirectory(prefix="raw-cli-") as folder:
        rows = []
        for shape in shapes:
            path = Path(folder, f"{shape}.jsonl")
            count = write_lines(path, shape_lines(shape, events))
            lines = path.read_bytes().splitlines()
            timed = [(_parse_seconds(lines), run_cli(path), run_cli(path, read_only=True)) for _ in range(rounds)]
            del lines
            parses = [parse for parse, _, _ in timed]
            clis = [whole.scan_s for _, whole, _ in timed]
            reads = [read.scan_s for _, _, read in timed]
            first = timed[0][1]
            megabytes = path.stat().st_size / 1e6
            rows.append(
                RawCliCost(
                    shape,
                    count,
                    megabytes,
                    parse_s=min(parses),
                    cli_s=min(clis),
                    ratio=_median_ratio(parses, clis),
                    alerts=first.alerts,
                    peak_mb=first.peak_mb,
                    read_s=min(reads),
                    read_ratio=_median_ratio(parses, reads),
                )
            )
            path.unlink()
    return rows


def measure_rss(sizes_mb: Sequence[int] = (50, 500, 2000), base_events: int = 20_000) -> list[tuple[int, float]]:
    """(file MB, the CLI's peak RSS MB) for the mix repeated to each size; each file is deleted after its run."""
    pin_to_one_core()
    base = list(raw_lines(SCENARIOS[0], base_events))
    found = []
    with tempfile.TemporaryDirectory(prefix="raw-cli-rss-") as folder:
        for size in sizes_mb:
            path = Path(folder, f"mix-{size}mb.jsonl")
            write_lines(path, repeated(base, size * 1_000_000))
            found.append((round(path.stat().st_size / 1e6), run_cli(path).peak_mb))
            path.unlink()
    return found


def run_cli(path: Path, *extra: str, read_only: bool = False) -> Run:
    """`secretwatch scan --state memory --output jsonl PATH` in a child: its CPU time, peak RSS and alerts; with
    `read_only`, evaluation switched off (see the module)."""
    with (
        tempfile.NamedTemporaryFile(prefix="raw-cli-out-") as out,
        tempfile.NamedTemporaryFile(prefix="raw-cli-peak-") as peak,
    ):
        mode = "read-only" if read_only else "whole"
        command = [sys.executable, "-c", _CHILD, peak.name, mode, "scan", "--state", "memory", "--output", "jsonl",
                   *extra, str(path)]  # fmt: skip
        child = subprocess.Popen(command, cwd=REPOSITORY, stdout=out, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode != 0:
            raise RuntimeError(f"secretwatch scan {path.name} exited {child.returncode}")
        alerts = Path(out.name).read_bytes().count(b"\n")
        peak_kb, scan_s = Path(peak.name).read_text().split()
    return Run(usage.ru_utime + usage.ru_stime, float(scan_s), int(peak_kb) / 1024, alerts)


def _median_ratio(parses: Sequence[float], others: Sequence[float]) -> float:
    """The median of the rounds' parse-only seconds / the other's."""
    return statistics.median(parse / other for parse, other in zip(parses, others, strict=True))


def _parse_seconds(lines: Sequence[bytes]) -> float:
    loads = orjson.loads
    started = time.process_time()
    for line in lines:
        loads(line)
    return time.process_time() - started


# --- the files --------------------------------------------------------------------------------------------------


def shape_lines(shape: str, events: int) -> Iterator[bytes]:
    if shape == "mix":
        return raw_lines(SCENARIOS[0], events)
    if shape == "all-secrets":
        return raw_lines(SCENARIOS[1], events)
    if shape == "distinct-clients":
        return raw_lines(SCENARIOS[1], events, distinct=True)
    raise ValueError(f"unknown shape {shape!r}: one of {', '.join(SHAPES)}")


def raw_lines(scenario: Scenario, events: int, *, distinct: bool = False) -> Iterator[bytes]:
    """The scenario's day of audit Events, each as the API server's log backend writes it (one JSON line)."""
    for number, (_, event) in enumerate(_events(scenario, events, seed=7)):
        yield orjson.dumps(_distinct(event, number) if distinct else event)


def _distinct(event: dict[str, Any], number: int) -> dict[str, Any]:
    """The event as sent by a client of its own: its own source address, user and user agent."""
    event["sourceIPs"] = [f"10.{number >> 16 & 255}.{number >> 8 & 255}.{number & 255}"]
    user = event.setdefault("user", {})
    user["username"] = f"{user.get('username', 'user')}-{number}"
    event["userAgent"] = f"client-{number}/1.0 {event.get('userAgent', '')}".strip()
    return event


def repeated(base: Sequence[bytes], size: int) -> Iterator[bytes]:
    """`base` again and again, up to `size` bytes: each copy with fresh audit ids, one day after the last."""
    written, copy = 0, 0
    while written < size:
        for line in base:
            fresh = _copy_of(line, copy)
            written += len(fresh) + 1
            yield fresh
            if written >= size:
                return
        copy += 1


def _copy_of(line: bytes, copy: int) -> bytes:
    if copy == 0:
        return line
    line = _AUDIT_ID.sub(b'"auditID":"%08x' % copy, line, count=1)
    return _DAY.sub(lambda found: found[1] + _later(found[2], copy) + b"T", line)


def _later(day: bytes, days: int) -> bytes:
    return (date.fromisoformat(day.decode()) + timedelta(days=days)).isoformat().encode()


def write_lines(path: Path, lines: Iterator[bytes]) -> int:
    count = 0
    with path.open("wb") as file:
        for line in lines:
            file.write(line + b"\n")
            count += 1
    return count


# --- the table ----------------------------------------------------------------------------------------------


def table(rows: Sequence[RawCliCost], rss: Sequence[tuple[int, float]] = ()) -> str:
    lines = [
        "Raw audit JSON Lines through the real CLI (scan --state memory --output jsonl), one pinned core, "
        "start-up excluded",
        f"{'shape':<17} {'events':>8} {'MB':>7} {'orjson s':>9} {'CLI s':>8} {'ratio':>6} {'alerts':>7} {'peak MB':>8}"
        f" {'read-only s':>12} {'ratio':>6}",
    ]
    for row in rows:
        lines.append(
            f"{row.shape:<17} {row.events:>8,} {row.megabytes:>7.1f} {row.parse_s:>9.3f} {row.cli_s:>8.3f} "
            f"{row.ratio:>5.2f}x {row.alerts:>7,} {row.peak_mb:>8.0f} {row.read_s:>12.3f} {row.read_ratio:>5.2f}x"
        )
    lines.append("ratio = orjson.loads of each line / the CLI's CPU time (targets: mix >= 1.0x, all-secrets >= 0.5x)")
    lines.append("read-only = the CLI with evaluation off: the ratio it could reach if the rules cost nothing")
    lines.extend(f"peak RSS, mix at {size} MB: {peak:.0f} MB" for size, peak in rss)
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.raw_cli", description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50_000, help="events per shape (default 50000)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds, each timing all three (default 5)")
    parser.add_argument("--shape", action="append", choices=SHAPES, help="only these shapes (repeatable)")
    parser.add_argument("--rss", action="store_true", help="also the peak RSS at 50 MB, 500 MB and 2 GB")
    options = parser.parse_args(argv)
    rows = measure(options.events, options.rounds, options.shape or SHAPES)
    print(table(rows, measure_rss() if options.rss else ()))


if __name__ == "__main__":
    main()
