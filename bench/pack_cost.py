"""What the credential-access pack costs per event next to the two seed rules alone.

Both rule sets run over the same wire documents, the pipeline with the memory store, timed as bench.speed times
it (process CPU time, best of the rounds); the parse-only limit of the same run is shown beside them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bench import speed
from bench.traffic import CLOUDS, SCENARIOS, wire_documents
from core.rules.schema import Rule

SEEDS = frozenset({"secret-access-unusual-user-agent", "secret-access-denied"})


@dataclass(frozen=True, slots=True)
class PackCost:
    scenario: str
    fmt: str
    parse_us: float
    seeds_us: float
    pack_us: float
    pack_rules: int


def measure(rules: Sequence[Rule], *, events: int, rounds: int, chunk_events: int) -> list[PackCost]:
    seeds = [rule for rule in rules if rule.id in SEEDS]
    enabled = [rule for rule in rules if rule.enabled]
    costs = []
    for scenario in SCENARIOS:
        for fmt in CLOUDS:
            documents = list(wire_documents(scenario, fmt, events=events))
            alone = speed.measure(fmt, documents, seeds, rounds=rounds, chunk_events=chunk_events)
            pack = speed.measure(fmt, documents, enabled, rounds=rounds, chunk_events=chunk_events)
            costs.append(PackCost(scenario.name, fmt, min(alone.per_event_us("parse"), pack.per_event_us("parse")),
                                  alone.per_event_us("memory"), pack.per_event_us("memory"), len(enabled)))
    return costs


def table(costs: Sequence[PackCost]) -> str:
    pack = costs[0].pack_rules if costs else 0
    lines = [
        f"Cost per event, µs (pipeline, memory store): the 2 seed rules vs the {pack} enabled rules of the pack",
        f"{'scenario':<12} {'format':<6} {'parse-only':>10} {'2 seeds':>9} {'pack':>9} {'pack/seeds':>10}",
    ]
    for cost in costs:
        lines.append(
            f"{cost.scenario:<12} {cost.fmt:<6} {cost.parse_us:>10.2f} {cost.seeds_us:>9.2f} {cost.pack_us:>9.2f} "
            f"{cost.pack_us / cost.seeds_us:>10.2f}"
        )
    return "\n".join(lines)
