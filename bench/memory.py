"""Peak memory while one `process` call takes a large batch, measured in a child process.

The child streams the batch (documents are generated lazily and never all held), runs it through the
pipeline with the memory store, and reports its peak resident set size from `resource.getrusage`. Linux
carries a process's peak across fork and exec, so the bench runs this first, while it is itself small.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

TARGET_MB = 256.0


@dataclass(frozen=True, slots=True)
class Memory:
    events: int
    fmt: str
    scenario: str
    baseline_mb: float  # after imports, before the batch
    peak_mb: float  # resource.getrusage ru_maxrss
    vm_hwm_mb: float | None  # the kernel's own peak for this process image (Linux), as a cross-check

    @property
    def ok(self) -> bool:
        return self.peak_mb <= TARGET_MB


def measure(events: int = 100_000, fmt: str = "eks", scenario: str = "all-secrets") -> Memory:
    code = f"from bench.memory import probe; probe({events}, {fmt!r}, {scenario!r})"
    repository = Path(__file__).resolve().parents[1]
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=repository)
    found = json.loads(result.stdout.strip().splitlines()[-1])
    return Memory(events, fmt, scenario, found["baseline_mb"], found["peak_mb"], found["vm_hwm_mb"])


def probe(events: int, fmt: str, scenario: str) -> None:
    """Run in the child: one process() call over `events` events, then print the figures as JSON."""
    from datetime import timedelta

    from bench.speed import DiscardSink
    from bench.traffic import LEARNING_HOURS, SCENARIOS, wire_documents
    from core.pipeline import Pipeline
    from core.rules.loader import load_rules
    from core.state.memory import MemoryStore

    chosen = next(item for item in SCENARIOS if item.name == scenario)
    pipeline = Pipeline(load_rules(), MemoryStore(), [DiscardSink()], learning_period=timedelta(hours=LEARNING_HOURS))
    baseline = _peak_mb()
    summary = pipeline.process(wire_documents(chosen, fmt, events=events))
    assert summary.event_total >= events * 0.99, summary.as_dict()
    print(json.dumps({"baseline_mb": baseline, "peak_mb": _peak_mb(), "vm_hwm_mb": _vm_hwm_mb()}))


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


def _vm_hwm_mb() -> float | None:
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return None
    line = next((line for line in status.splitlines() if line.startswith("VmHWM:")), None)
    return int(line.split()[1]) / 1024 if line else None
