"""Peak memory of single hostile deliveries at every entry: `python -m bench.hostile` (also part of `make bench`).

Each delivery runs in a fresh interpreter (bench/entries.py) started for it alone, so its figure is that
process image's own peak resident set (VmHWM), imports included, as a function instance's memory would show.
A run is bounded: it is killed past KILL_SECONDS or once its resident set passes KILL_MB (watched every
10 ms, with an address-space limit behind that), and reported as failed rather than left to swap the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench import bombs
from bench.entries import REPO

TARGET_MB = 256.0
KILL_MB = 1536.0
KILL_SECONDS = 60.0
#: A backstop if memory grows faster than the watch can see: a MemoryError in the child, not a full machine.
ADDRESS_SPACE_LIMIT = 4 << 30
ENTRY_NAMES = {
    "lambda": "Lambda handler",
    "gcp": "Cloud Function",
    "azure": "Azure Function",
    "cli": "CLI scan",
}
NATIVE = {"lambda-event": "lambda", "pubsub-push": "gcp", "eventhub-body": "azure", "audit-lines": "cli"}


@dataclass(frozen=True, slots=True)
class Run:
    entry: str
    bomb: str
    claim: str
    seconds: float
    peak_mb: float | None
    baseline_mb: float | None
    #: what the entry did (returned, HTTP status, exit code, raised ...) or why the run was stopped
    outcome: str
    killed: bool
    events: int | None = None
    alerts: int | None = None
    skipped: dict[str, int] | None = None

    @property
    def met(self) -> bool:
        return not self.killed and self.peak_mb is not None and self.peak_mb <= TARGET_MB


def build_bombs(directory: Path) -> list[bombs.Bomb]:
    built = [
        bombs.gzip_zeros(directory),
        bombs.empty_log_events(directory),
        bombs.empty_log_events(directory, events=2_000_000),
        bombs.aks_empty_records(directory),
        bombs.pubsub_huge_data(directory),
        bombs.deep_first_line(directory),
    ]
    return built + [bombs.user_agent(directory, fmt) for fmt in bombs.FORMATS]


def plan(built: Sequence[bombs.Bomb]) -> Iterator[tuple[str, bombs.Bomb]]:
    """Each bomb at the entry its format is made for, then at the CLI (which reads every format)."""
    for bomb in built:
        yield NATIVE[bomb.fmt], bomb
    for bomb in built:
        if NATIVE[bomb.fmt] != "cli" and not bomb.name.startswith("user-agent"):
            yield "cli", bomb


def measure(*, progress: bool = True) -> list[Run]:
    with tempfile.TemporaryDirectory(prefix="secretwatch-bombs-") as temporary:
        directory = Path(temporary)
        built = build_bombs(directory)
        runs = []
        for entry, bomb in plan(built):
            runs.append(run(entry, bomb, directory))
            if progress:
                print(f"  {_line(runs[-1])}", flush=True)
        return runs


def run(entry: str, bomb: bombs.Bomb, directory: Path) -> Run:
    result, errors = directory / "result.json", directory / "stderr.txt"
    result.unlink(missing_ok=True)
    command = [sys.executable, "-m", "bench.entries", entry, str(bomb.path), str(result)]
    started = time.monotonic()
    with errors.open("wb") as stderr_file:  # a file, not a pipe: a chatty child must not block on a full pipe
        child = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=stderr_file, env=_environment())
        resource.prlimit(child.pid, resource.RLIMIT_AS, (ADDRESS_SPACE_LIMIT, ADDRESS_SPACE_LIMIT))
        stopped, watched_mb = _watch(child, started)
    stderr = errors.read_text(errors="replace")
    seconds = time.monotonic() - started
    if stopped:
        return Run(entry, bomb.name, bomb.claim, seconds, watched_mb, None, stopped, killed=True)
    if child.returncode != 0 or not result.exists():
        last = stderr.strip().splitlines()[-1:] or [f"exit {child.returncode}"]
        return Run(entry, bomb.name, bomb.claim, seconds, watched_mb, None, f"crashed: {last[0][:120]}", killed=True)
    found = json.loads(result.read_text())
    return Run(
        entry, bomb.name, bomb.claim, seconds, round(found["peak_mb"], 1), round(found["baseline_mb"], 1),
        found["outcome"], killed=False, events=found["events"], alerts=found["alerts"], skipped=found["skipped"],
    )  # fmt: skip


def _watch(child: subprocess.Popen[bytes], started: float) -> tuple[str, float | None]:
    """Wait for the child, killing it past the bounds; returns why it was stopped ("" if it was not) and the
    largest resident set seen."""
    largest: float | None = None
    while child.poll() is None:
        rss = _rss_mb(child.pid)
        largest = max(largest or 0.0, rss or 0.0)
        reason = ""
        if rss is not None and rss > KILL_MB:
            reason = f"killed: resident set passed {KILL_MB:,.0f} MB"
        elif time.monotonic() - started > KILL_SECONDS:
            reason = f"killed: still running after {KILL_SECONDS:.0f} s"
        if reason:
            child.kill()
            child.wait()
            return reason, largest
        time.sleep(0.01)
    return "", largest


def _rss_mb(pid: int) -> float | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    line = next((line for line in status.splitlines() if line.startswith("VmRSS:")), None)
    return int(line.split()[1]) / 1024 if line else None


def _environment() -> dict[str, str]:
    """This environment without any secretwatch or platform settings: the child sets its own."""
    prefixes = ("SECRETWATCH_", "AWS_", "K_SERVICE", "FUNCTION_", "FUNCTIONS_")
    return {name: value for name, value in os.environ.items() if not name.startswith(prefixes)}


def table(runs: Sequence[Run]) -> str:
    lines = [
        f"Memory under hostile input: peak RSS of one delivery in a fresh process (target <= {TARGET_MB:.0f} MB)",
        f"  {'entry':<15} {'bomb':<26} {'peak MB':>8} {'before':>7} {'s':>5}  outcome",
    ]
    lines += [f"  {_line(run)}" for run in runs]
    met = sum(run.met for run in runs)
    lines.append(f"  {met} of {len(runs)} within {TARGET_MB:.0f} MB")
    return "\n".join(lines)


def _line(run: Run) -> str:
    peak = f"{run.peak_mb:,.0f}" if run.peak_mb is not None else "-"
    before = f"{run.baseline_mb:,.0f}" if run.baseline_mb is not None else "-"
    verdict = "met" if run.met else "NOT met"
    return (
        f"{ENTRY_NAMES[run.entry]:<15} {run.bomb:<26} {peak:>8} {before:>7} {run.seconds:>5.1f}  "
        f"{verdict}; {run.outcome}{_counts(run)}"
    )


def _counts(run: Run) -> str:
    if run.events is None:
        return ""
    skipped = ", ".join(f"{reason} {count:,}" for reason, count in list((run.skipped or {}).items())[:3])
    return f"; {run.events:,} events, {run.alerts} alerts" + (f"; skipped {skipped}" if skipped else "")


def as_json(runs: Sequence[Run]) -> dict[str, Any]:
    return {
        "target_mb": TARGET_MB,
        "kill_mb": KILL_MB,
        "kill_seconds": KILL_SECONDS,
        "runs": [{**asdict(run), "met": run.met} for run in runs],
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.hostile", description=__doc__)
    parser.add_argument("--output", type=Path, help="also write the figures here as JSON")
    options = parser.parse_args()
    print("Building the hostile payloads and running each in a fresh process ...", flush=True)
    runs = measure()
    print("\n" + table(runs))
    if options.output:
        options.output.write_text(json.dumps(as_json(runs), indent=2) + "\n")


if __name__ == "__main__":
    main()
