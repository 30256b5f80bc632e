"""The bench's printed tables and its results.json."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bench.cold_start import TARGET_MS, ColdStart
from bench.memory import TARGET_MB, Memory
from bench.speed import Timings
from bench.state_cost import Cost
from bench.traffic import FORMAT_NAMES

#: b/a each scenario must reach (the pipeline with the memory store against the parse-only limit).
TARGET_RATIO = {"mix": 1.0, "all-secrets": 0.5}
STEADY_TARGET = 5.0  # store requests per 1000 events


@dataclass(frozen=True, slots=True)
class Row:
    scenario: str
    fmt: str
    timings: Timings

    def rate(self, measure: str) -> float:
        return self.timings.events / self.timings.best[measure]

    def ratio(self, measure: str) -> float:
        return self.timings.best["parse"] / self.timings.best[measure]

    @property
    def met(self) -> bool:
        return self.ratio("memory") >= TARGET_RATIO[self.scenario]

    def as_dict(self) -> dict[str, Any]:
        memory = self.timings.totals["memory"]
        return {
            "scenario": self.scenario,
            "format": self.fmt,
            "events": self.timings.events,
            **{
                measure: {
                    "events_per_s": round(self.rate(measure)),
                    "us_per_event": round(self.timings.per_event_us(measure), 3),
                    **({} if measure == "parse" else {"ratio_to_parse": round(self.ratio(measure), 3)}),
                }
                for measure in ("parse", "memory", "sqlite")
            },
            "target_b_over_a": TARGET_RATIO[self.scenario],
            "target_met": self.met,
            "prefiltered": memory.prefiltered,
            "matches": dict(memory.matches),
            "alerts": dict(memory.alerts),
        }


def speed_table(rows: Sequence[Row], *, rounds: int) -> str:
    events = {row.timings.events for row in rows}
    lines = [
        f"Speed on one core: CPU time, best of {rounds} rounds; "
        f"{min(events):,}-{max(events):,} events per row",
        f"{'scenario':<12} {'format':<21} {'(a) parse-only':>18} {'(b) pipeline, memory':>27} "
        f"{'(c) pipeline, SQLite':>27} {'skipped':>8}  target",
        f"{'':<12} {'':<21} {'events/s':>10} {'µs/ev':>7} {'events/s':>10} {'µs/ev':>7} {'b/a':>8} "
        f"{'events/s':>10} {'µs/ev':>7} {'c/a':>8} {'unparsed':>8}",
    ]
    for row in rows:
        total = row.timings.totals["memory"]
        skipped = total.prefiltered / row.timings.events if row.timings.events else 0.0
        lines.append(
            f"{row.scenario:<12} {FORMAT_NAMES[row.fmt]:<21} "
            f"{row.rate('parse'):>10,.0f} {row.timings.per_event_us('parse'):>7.2f} "
            f"{row.rate('memory'):>10,.0f} {row.timings.per_event_us('memory'):>7.2f} {row.ratio('memory'):>8.2f} "
            f"{row.rate('sqlite'):>10,.0f} {row.timings.per_event_us('sqlite'):>7.2f} {row.ratio('sqlite'):>8.2f} "
            f"{skipped:>8.1%}  b/a >= {TARGET_RATIO[row.scenario]:.1f} {'met' if row.met else 'NOT met'}"
        )
    return "\n".join(lines)


def state_table(costs: Sequence[Cost]) -> str:
    lines = ["State cost: DynamoDB requests (under moto), by operation and key kind"]
    for cost in costs:
        calls = ", ".join(f"{call} {count}" for call, count in cost.calls.items()) or "none"
        lines.append(f"  {cost.name}: {cost.requests} requests for {cost.events:,} events ({calls})")
    steady = costs[0]
    lines.append(
        f"  steady state: {steady.per_1000():.2f} requests per 1000 events (target <= {STEADY_TARGET:.0f}: "
        f"{'met' if steady.per_1000() <= STEADY_TARGET else 'NOT met'}); a new term: {costs[2].writes('nt|')} "
        f"conditional write; threshold groups: {costs[3].writes('thr|')} writes for 2 groups in one batch"
    )
    return "\n".join(lines)


def cold_start_table(starts: Sequence[ColdStart]) -> str:
    lines = [f"Cold start: python -X importtime, cumulative, best of 3 (target <= {TARGET_MS:.0f} ms)"]
    for start in starts:
        if start.import_ms is None:
            lines.append(f"  {start.module:<30} not installed")
            continue
        foreign = f"; imports {', '.join(start.foreign_sdks)}" if start.foreign_sdks else "; no other cloud's SDK"
        lines.append(f"  {start.module:<30} {start.import_ms:>6.0f} ms{foreign}  {'met' if start.ok else 'NOT met'}")
    return "\n".join(lines)


def memory_line(memory: Memory) -> str:
    return (
        f"Memory: one process() call over {memory.events:,} events ({memory.scenario}, {FORMAT_NAMES[memory.fmt]}): "
        f"peak RSS {memory.peak_mb:.0f} MB (after imports {memory.baseline_mb:.0f} MB; VmHWM "
        f"{memory.vm_hwm_mb or 0:.0f} MB; target <= {TARGET_MB:.0f} MB: {'met' if memory.ok else 'NOT met'})"
    )
