"""`scan --jobs`: the real CLI on audit JSON Lines, decoding in one process and in several, on the wall clock.

    python -m bench.jobs [--events N] [--rounds R] [--jobs N ...] [--shape mix|all-secrets|eks]

The file holds bench.traffic's realistic mix (3 % of events touch secrets): `mix`, one audit.k8s.io/v1 Event per
line as the API server's log backend writes it, where skimming the lines no rule can match is most of the work
(--jobs workers read and skim such a file in ranges, core.ranges); `all-secrets`, the same lines for a scenario
where every event touches secrets, so every line is decoded and evaluated; `eks`, one EKS Lambda event (a
CloudWatch Logs subscription's gzipped, base64 batch of 50-200 events) per line, where decoding is most of the
work. Each run is the installed
command in a child process, `secretwatch scan --state memory --output jsonl --jobs N FILE`, not pinned: it may
use every core this process may. Its time is the wall clock from start to exit (start-up included: what a user
waits), and its CPU time (user + system, from wait4, its workers included), best of the rounds.
speed-up = the --jobs 1 wall time / this one; identical: the alerts on stdout and the summary on stderr are
byte for byte those of --jobs 1.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.raw_cli import shape_lines
from bench.traffic import SCENARIOS, wire_documents

REPOSITORY = Path(__file__).resolve().parents[1]
#: The installed command beside this interpreter, else the module it runs.
COMMAND = (
    [str(Path(sys.executable).with_name("secretwatch"))]
    if Path(sys.executable).with_name("secretwatch").exists()
    else [sys.executable, "-m", "core.cli"]
)


SHAPES = {
    "mix": "raw audit JSON Lines, the mix",
    "all-secrets": "raw audit JSON Lines, all secrets",
    "eks": "EKS Lambda events, the mix",
}


@dataclass(frozen=True, slots=True)
class JobsRun:
    jobs: int
    wall_s: float
    cpu_s: float
    speedup: float
    identical: bool


@dataclass(frozen=True, slots=True)
class Output:
    wall_s: float
    cpu_s: float
    stdout: bytes
    stderr: bytes


def measure(
    events: int = 200_000, rounds: int = 3, jobs: Sequence[int] = (1, 2), shape: str = "mix"
) -> tuple[list[JobsRun], float]:
    """One row per --jobs value (the first is the baseline), and the file's size in MB."""
    with tempfile.TemporaryDirectory(prefix="bench-jobs-") as folder:
        path = Path(folder, f"{shape}.jsonl")
        with path.open("wb") as file:
            file.writelines(line + b"\n" for line in _lines(shape, events))
        outputs = {count: _best([_run(path, count) for _ in range(rounds)]) for count in jobs}
        megabytes = path.stat().st_size / 1e6
    base = outputs[jobs[0]]
    rows = [
        JobsRun(count, out.wall_s, out.cpu_s, base.wall_s / out.wall_s, _same(out, base))
        for count, out in outputs.items()
    ]
    return rows, megabytes


def _lines(shape: str, events: int) -> Iterator[bytes]:
    if shape == "eks":
        return wire_documents(SCENARIOS[0], "eks", events=events, seed=7)
    return shape_lines(shape, events)  # as bench.raw_cli writes them


def _run(path: Path, jobs: int) -> Output:
    command = [*COMMAND, "scan", "--state", "memory", "--output", "jsonl", "--jobs", str(jobs), str(path)]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        child = subprocess.Popen(command, cwd=REPOSITORY, stdout=out, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if child.returncode != 0:
        raise RuntimeError(f"secretwatch scan --jobs {jobs} exited {child.returncode}: {stderr.decode()[-500:]}")
    return Output(wall, usage.ru_utime + usage.ru_stime, stdout, stderr)


def _best(outputs: list[Output]) -> Output:
    best = min(outputs, key=lambda output: output.wall_s)
    if any(not _same(output, best) for output in outputs):
        raise RuntimeError("two runs of the same command gave different output")
    return best


def _same(one: Output, other: Output) -> bool:
    return (one.stdout, one.stderr) == (other.stdout, other.stderr)


def table(rows: Sequence[JobsRun], *, shape: str = "mix", events: int = 0, megabytes: float = 0.0) -> str:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    lines = [
        f"scan --jobs on {SHAPES[shape]} ({events:,} events, {megabytes:.0f} MB), the CLI's wall time with "
        f"start-up, {cores} cores, not pinned",
        f"{'jobs':>4} {'wall s':>7} {'CPU s':>7} {'speed-up':>9} {'identical':>10}",
    ]
    lines += [
        f"{row.jobs:>4} {row.wall_s:>7.2f} {row.cpu_s:>7.2f} {row.speedup:>8.2f}x {_yes(row.identical):>10}"
        for row in rows
    ]
    lines.append("identical: alerts (stdout) and summary (stderr) byte for byte those of the first row")
    return "\n".join(lines)


def _yes(flag: bool) -> str:
    return "yes" if flag else "NO"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.jobs", description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000, help="events in the file (default 200000)")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each, the fastest kept (default 3)")
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2], help="--jobs values, the first the baseline")
    parser.add_argument("--shape", choices=SHAPES, default="mix", help="the file's lines (default mix)")
    options = parser.parse_args(argv)
    rows, megabytes = measure(options.events, options.rounds, options.jobs, options.shape)
    print(table(rows, shape=options.shape, events=options.events, megabytes=megabytes))


if __name__ == "__main__":
    main()
