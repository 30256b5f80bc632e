"""`python -m bench`: run every measurement, print the tables, write bench/results.json."""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench import cold_start, cost, hostile, jobs, machine, memory, pack_cost, raw_cli, speed, state_cost
from bench.report import Row, cold_start_table, memory_line, speed_table, state_table
from bench.traffic import CLOUDS, SCENARIOS, wire_documents
from core.rules.loader import load_rules

RESULTS = Path(__file__).resolve().parent / "results.json"


def main() -> None:
    options = _options()
    started = time.perf_counter()
    core = machine.pin_to_one_core()
    results: dict[str, Any] = {"machine": machine.describe()}
    rules = load_rules()
    seeds = [rule for rule in rules if rule.id in pack_cost.SEEDS]  # the speed targets were set on the two seeds
    print(_header(results["machine"], core))
    peak = memory.measure(events=options.memory_events)  # first: the child starts with this process's peak

    rows = []
    for scenario in SCENARIOS:
        for fmt in CLOUDS:
            documents = list(wire_documents(scenario, fmt, events=options.events))
            timings = speed.measure(fmt, documents, seeds, rounds=options.rounds, chunk_events=options.chunk)
            rows.append(Row(scenario.name, fmt, timings))
            print(f"  measured {scenario.name} {fmt}", flush=True)
    print("\n" + speed_table(rows, rounds=options.rounds))
    results["speed"] = {
        "settings": {"events": options.events, "rounds": options.rounds, "chunk_events": options.chunk,
                     "clock": "process CPU time on one pinned core, best of the rounds"},
        "rows": [row.as_dict() for row in rows],
    }  # fmt: skip

    packs = pack_cost.measure(rules, events=options.events // 4, rounds=3, chunk_events=options.chunk)
    print("\n" + pack_cost.table(packs))
    results["pack_cost"] = [asdict(cost) for cost in packs]

    for label, measured in (("the two seed rules", seeds), ("the pack, every enabled rule", rules)):
        costs = state_cost.measure(measured)
        print(f"\n[{label}] " + state_table(costs))
        results["state_cost" if measured is seeds else "state_cost_pack"] = [
            {**asdict(cost), "requests": cost.requests, "per_1000": round(cost.per_1000(), 2)} for cost in costs
        ]

    starts = cold_start.measure()
    print("\n" + cold_start_table(starts))
    results["cold_start"] = [{**asdict(start), "target_ms": cold_start.TARGET_MS, "met": start.ok} for start in starts]
    pack_ms = cold_start.pack_load_ms()
    print(f"  and loading the built-in rule pack, once per instance: {pack_ms:.0f} ms (fresh interpreter, best of 3)")
    results["rule_pack_load_ms"] = round(pack_ms, 1)

    print("\n" + memory_line(peak))
    results["memory"] = {**asdict(peak), "target_mb": memory.TARGET_MB, "met": peak.ok}

    print("\nHostile deliveries, each in a fresh process:", flush=True)
    runs = hostile.measure()
    print("\n" + hostile.table(runs))
    results["hostile_memory"] = hostile.as_json(runs)

    print("\nRaw audit JSON Lines through the real CLI:", flush=True)
    raw = raw_cli.measure(rounds=options.rounds)
    rss = raw_cli.measure_rss()
    print("\n" + raw_cli.table(raw, rss))
    results["raw_cli"] = {"rows": [asdict(row) for row in raw], "peak_rss_mb": dict(rss)}

    if hasattr(os, "sched_setaffinity"):  # --jobs needs every core: unpin
        os.sched_setaffinity(0, range(os.cpu_count() or 1))
    runs, megabytes = jobs.measure()
    print("\n" + jobs.table(runs, events=200_000, megabytes=megabytes))
    results["jobs"] = {"megabytes": megabytes, "runs": [asdict(run) for run in runs]}

    results["machine"]["load_average_after"] = machine.describe()["load_average"]
    results["seconds"] = round(time.perf_counter() - started, 1)
    options.output.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nWrote {options.output} in {results['seconds']:.0f} s.")
    print("\nWhat it costs (from the figures just written):", flush=True)
    cost.main([])  # reads bench/results.json


def _options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--events", type=int, default=40_000, help="events per scenario and format")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per measurement; the best is kept")
    parser.add_argument("--chunk", type=int, default=2_000, help="events per process() call")
    parser.add_argument("--memory-events", type=int, default=100_000, help="events in the memory probe's batch")
    parser.add_argument("--output", type=Path, default=RESULTS, help="where to write the results (JSON)")
    return parser.parse_args()


def _header(described: dict[str, Any], core: int | None) -> str:
    pinned = f"pinned to core {core}" if core is not None else "not pinned"
    load = " ".join(str(value) for value in described["load_average"])
    return (
        f"secretwatch bench: {described['cpu_model']}, {described['cores']} cores ({pinned}), "
        f"Python {described['python']}, load average {load}"
    )


if __name__ == "__main__":
    main()
