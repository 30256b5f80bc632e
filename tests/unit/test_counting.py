"""Cardinality and deduplicated match rules: distinct values per group in event-time windows, alerted once.

Rules are written as rule files, as an operator would write them; events are built in code.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import msgspec
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.engine import Engine, counting
from core.engine.windows import Windows
from core.model import AuditEvent
from core.rules.loader import load_rule
from core.rules.schema import Rule
from core.state.memory import MemoryStore
from tests.unit.engine_helpers import T0, read

SECOND = timedelta(seconds=1)
HEADER = """
title: t
description: d
severity: high
risk_score: 50
mitre: ["TA0006:T1552.007"]
runbook: r
alert_title: "{count} by {username}"
match:
  all:
    - {field: resource, equals: secrets}
    - {field: verb, in: [get, list, watch]}
"""


def rule_file(tmp_path: Path, body: str) -> Rule:
    path = tmp_path / "rule.yml"
    path.write_text(HEADER + body)
    return load_rule(path)


@pytest.fixture
def burst(tmp_path: Path) -> Rule:
    return rule_file(
        tmp_path,
        """
id: burst
type: cardinality
cardinality: {group_by: [username, source_ip, user_agent], distinct: name, count: 3, window: 5m}
""",
    )


@pytest.fixture
def once_an_hour(tmp_path: Path) -> Rule:
    return rule_file(
        tmp_path,
        """
id: once-an-hour
type: match
dedup: {group_by: [username], window: 60m}
""",
    )


def named(n: int, at: timedelta, name: str) -> AuditEvent:
    return msgspec.structs.replace(read(n, at), name=name)


def test_three_distinct_names_within_the_window_alert_once(burst: Rule) -> None:
    events = [named(i, i * 100 * SECOND, f"s{i}") for i in range(3)] + [named(9, 290 * SECOND, "s9")]

    alerts = Engine([burst], MemoryStore()).evaluate(events).alerts

    assert [(a.event_count, a.first_seen) for a in alerts] == [(3, T0)]


def test_three_names_across_more_than_the_window_never_alert(burst: Rule) -> None:
    events = [named(i, i * 200 * SECOND, f"s{i}") for i in range(3)]  # the third is 400 s after the first

    assert Engine([burst], MemoryStore()).evaluate(events).alerts == []


def test_the_same_name_read_many_times_counts_once(burst: Rule) -> None:
    events = [named(i, i * SECOND, "stripe") for i in range(10)] + [named(10, 11 * SECOND, "db")]

    assert Engine([burst], MemoryStore()).evaluate(events).alerts == []


def test_a_redelivered_burst_raises_the_same_alert_and_counts_nothing_twice(burst: Rule) -> None:
    engine = Engine([burst], MemoryStore())
    events = [named(i, i * SECOND, f"s{i}") for i in range(3)]
    first = engine.evaluate(events).alerts
    again = engine.evaluate(events).alerts

    assert [a.alert_id for a in again] == [a.alert_id for a in first]
    assert len(first) == 1


def test_events_without_the_distinct_field_are_counted_as_missing_it(burst: Rule) -> None:
    evaluation = Engine([burst], MemoryStore()).evaluate([named(1, SECOND, "")])

    assert evaluation.without_term == {"burst": 1}


def test_a_deduplicated_match_alerts_on_the_first_event_of_each_window(once_an_hour: Rule) -> None:
    events = [read(i, i * timedelta(minutes=20)) for i in range(6)]  # 0, 20, ..., 100 minutes

    alerts = Engine([once_an_hour], MemoryStore()).evaluate(events).alerts

    assert [a.first_seen - T0 for a in alerts] == [timedelta(0), timedelta(minutes=60)]


def test_a_deduplicated_match_redelivered_after_its_window_raises_the_same_alert(once_an_hour: Rule) -> None:
    engine = Engine([once_an_hour], MemoryStore())
    first = engine.evaluate([read(0)]).alerts
    engine.evaluate([read(1, timedelta(hours=2))])

    assert [a.alert_id for a in engine.evaluate([read(0)]).alerts] == [a.alert_id for a in first]


def test_a_disabled_rule_is_loaded_but_never_evaluated(tmp_path: Path) -> None:
    rule = rule_file(
        tmp_path,
        """
id: disabled-rule
type: match
enabled: false
""",
    )

    assert Engine([rule], MemoryStore()).evaluate([read(0)]).alerts == []


# -- a warm engine keeps its groups' parsed windows: it must count, alert and store as a cold one does ------------

USERS = ("alice", "bob", "system:serviceaccount:ci:deployer")
SIGHTINGS = st.lists(
    st.lists(st.tuples(st.sampled_from(USERS), st.integers(0, 9 * 24 * 3600), st.integers(0, 5)), max_size=12),
    min_size=1,
    max_size=6,
)


def sighting(user: str, second: int, name: int) -> AuditEvent:
    event = msgspec.structs.replace(read(0, second * SECOND, user=user), name=f"s{name}")
    return msgspec.structs.replace(event, audit_id=f"{user}/{second}/{name}")  # a redelivery has the same id


def stored(store: MemoryStore, rules: list[Rule]) -> dict[str, object]:
    keys = []
    for rule in rules:
        spec = counting.counting_of(rule)
        assert spec is not None
        keys += [counting.state_key(rule, spec, counting.group_values(spec, sighting(u, 0, 0))) for u in USERS]
    return {key: item.value for key, item in store.get_many(keys).items()}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=SIGHTINGS)
def test_an_engine_reusing_its_parsed_windows_counts_alerts_and_stores_as_one_reading_every_record(
    burst: Rule, once_an_hour: Rule, batches: list[list[tuple[str, int, int]]]
) -> None:
    rules, clock = [burst, once_an_hour], lambda: T0
    warm_store, cold_store = MemoryStore(clock), MemoryStore(clock)
    warm = Engine(rules, warm_store, clock=clock)
    for batch in batches:
        events = [sighting(*seen) for seen in batch]
        cold = Engine(rules, cold_store, clock=clock)  # a fresh container: every record read from the store
        warm_alerts, cold_alerts = warm.evaluate(events).alerts, cold.evaluate(events).alerts

        assert warm_alerts == cold_alerts
        assert stored(warm_store, rules) == stored(cold_store, rules)


def test_a_record_once_written_is_not_changed_by_the_windows_it_was_written_from() -> None:
    windows = Windows(timedelta(minutes=5), timedelta(days=7))
    windows.add(T0, "a", "s1", count=3)
    first = windows.to_record()
    written = orjson.dumps(first)
    windows.add(T0 + SECOND, "b", "s2", count=3)
    windows.add(T0 + 10 * timedelta(minutes=1), "c", "s1", count=3)  # opens a second window
    second = windows.to_record()

    assert orjson.dumps(first) == written
    assert second["w"][0] is not first["w"][0]  # the changed window got a new entry
    assert Windows.from_record(second, length=timedelta(minutes=5), lateness=timedelta(days=7)).to_record() == second
    windows.add(T0 + 11 * timedelta(minutes=1), "d", "s3", count=3)
    assert windows.to_record()["w"][0] is second["w"][0]  # the untouched window's entry is reused
