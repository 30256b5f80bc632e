"""counting.apply passes over runs of in-order events at once (Windows.settled, Windows.fill): whatever the order,
redeliveries, lateness and batch splits, it must give exactly what one Windows.add per event gives."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from core.engine import counting
from core.engine.commit import Outcome
from core.engine.counting import Counting, Raised
from core.engine.windows import Placed, Windows, later
from core.model import AuditEvent
from tests.unit.engine_helpers import DENIED, T0, read

MINUTE = timedelta(minutes=1)
NOW = T0 + timedelta(days=1)
SPECS = {
    "dedup": Counting("dedup", ("username",), 1, 10 * MINUTE),
    "threshold": Counting("thr", ("username",), 3, 5 * MINUTE),
    "cardinality": Counting("card", ("username",), 3, 5 * MINUTE, "name"),
}
LATENESS = (timedelta(0), 7 * MINUTE, timedelta(hours=1), timedelta(days=7))


def one_at_a_time(
    spec: Counting, events: Sequence[AuditEvent], value: Mapping[str, Any] | None, lateness: timedelta
) -> Outcome[Raised]:
    """counting.apply as the windows' docstring defines it: one Windows.add per event, in the order given."""
    windows = Windows.from_record(value, length=spec.window, lateness=lateness)
    raised, dirty = Raised(), False
    for event in events:
        counted = None if spec.distinct is None else event.get(spec.distinct)
        if counted == "" or (spec.distinct is not None and counted is None):
            raised.without_value += 1
            continue
        placed, window = windows.add(event.timestamp, event.audit_id, counted, count=spec.count)
        if placed is Placed.TOO_LATE:
            raised.too_late += 1
        elif window is not None and placed in (Placed.COMPLETED, Placed.TRIGGER_AGAIN):
            raised.alerts.append(counting._alert(DENIED, spec, event, window))
        dirty = dirty or placed in (Placed.COUNTED, Placed.COMPLETED)
    if not dirty:
        return Outcome(None, None, raised)
    windows.prune()
    return Outcome(windows.to_record(), max(windows.horizon_end(), later(NOW, lateness)), raised)


def seen(raised: Raised) -> tuple[object, ...]:
    alerts = [
        (a.alert_id, a.event_count, a.first_seen, a.last_seen, a.audit_ids, a.trigger.audit_id) for a in raised.alerts
    ]
    return alerts, raised.too_late, raised.without_value


#: (audit id, minute, second, name): few ids, so one id often comes back (a redelivery, or the same request at
#: another stage, with another time or name); "" is a missing name.
#: Whole minutes mostly, so that events often fall exactly on a window's end (windows open at event times).
EVENTS = st.tuples(
    st.integers(0, 12),
    st.integers(0, 30) | st.integers(0, 400),
    st.sampled_from([0, 0, 0, 1, 30]),
    st.sampled_from(["a", "b", "c", "d", ""]),
)


def event(audit: int, minute: int, second: int, name: str) -> AuditEvent:
    return msgspec.structs.replace(
        read(0, minute * MINUTE + second * timedelta(seconds=1)), audit_id=f"e{audit}", name=name
    )


@settings(max_examples=500, deadline=None)
@given(
    lateness=st.sampled_from(LATENESS),
    batches=st.lists(
        st.tuples(st.sampled_from(sorted(SPECS)), st.lists(EVENTS, max_size=25), st.booleans()), min_size=1, max_size=6
    ),
)
def test_passing_over_runs_places_every_event_as_one_add_each_would(
    lateness: timedelta, batches: list[tuple[str, list[tuple[int, int, int, str]], bool]]
) -> None:
    """Each batch is counted by a rule of a kind drawn for it: usually one kind throughout, but a record written by
    another kind (a rule id reused) is read as it is, windows of ids or of values."""
    fast: Mapping[str, Any] | None = None
    slow: Mapping[str, Any] | None = None
    for kind, drawn, in_order in batches:
        spec, events = SPECS[kind], [event(*drawn_event) for drawn_event in drawn]
        if in_order:  # as the engine gives them; otherwise in the order drawn
            events.sort(key=lambda e: (e.timestamp, e.audit_id))
        got = counting.apply(DENIED, spec, events, fast, now=NOW, lateness=lateness)
        want = one_at_a_time(spec, events, slow, lateness)

        assert seen(got.result) == seen(want.result)
        assert (got.value, got.expires_at) == (want.value, want.expires_at)
        fast, slow = got.value or fast, want.value or slow


@settings(max_examples=100, deadline=None)
@given(
    kind=st.sampled_from(sorted(SPECS)),
    drawn=st.lists(st.lists(EVENTS, max_size=25), min_size=1, max_size=6),
)
def test_a_warm_engine_reusing_parsed_windows_places_as_one_add_each(
    kind: str, drawn: list[list[tuple[int, int, int, str]]]
) -> None:
    spec, parsed = SPECS[kind], counting.Parsed(10)
    fast: Mapping[str, Any] | None = None
    slow: Mapping[str, Any] | None = None
    for batch in drawn:
        events = sorted((event(*e) for e in batch), key=lambda e: (e.timestamp, e.audit_id))
        got = counting.apply(DENIED, spec, events, fast, now=NOW, lateness=timedelta(days=7), parsed=parsed)
        want = one_at_a_time(spec, events, slow, timedelta(days=7))

        assert seen(got.result) == seen(want.result)
        assert got.value == want.value
        fast, slow = got.value or fast, want.value or slow


def test_a_long_in_order_run_fills_a_window_then_passes_over_the_rest_raising_only_the_trigger_again() -> None:
    spec = SPECS["cardinality"]
    burst = [event(n, 0, n, "abcd"[n % 4]) for n in range(40)]
    first = counting.apply(DENIED, spec, burst, None, now=NOW, lateness=timedelta(days=7))
    again = counting.apply(DENIED, spec, burst, first.value, now=NOW, lateness=timedelta(days=7))

    assert [(a.event_count, a.audit_ids) for a in first.result.alerts] == [(3, ("e0", "e1", "e2"))]
    assert [a.alert_id for a in again.result.alerts] == [a.alert_id for a in first.result.alerts]
    assert again.value is None  # nothing changed: nothing to write


def test_events_at_the_same_instant_as_a_window_end_open_the_next_window() -> None:
    spec = SPECS["dedup"]
    at_end = [event(1, 0, 0, "a"), event(2, 5, 0, "a"), event(3, 10, 0, "a"), event(4, 10, 0, "a")]

    raised = counting.apply(DENIED, spec, at_end, None, now=NOW, lateness=timedelta(days=7)).result

    assert [(a.first_seen - T0, a.audit_ids) for a in raised.alerts] == [
        (timedelta(0), ("e1",)),
        (10 * MINUTE, ("e3",)),
    ]


def test_an_in_order_run_behind_the_floor_is_too_late_and_changes_nothing() -> None:
    spec = SPECS["threshold"]
    newest = counting.apply(DENIED, spec, [event(1, 100, 0, "a")], None, now=NOW, lateness=10 * MINUTE)
    stale = [event(n, 10, n, "a") for n in range(2, 6)]

    outcome = counting.apply(DENIED, spec, stale, newest.value, now=NOW, lateness=10 * MINUTE)

    assert (outcome.value, outcome.result.too_late, outcome.result.alerts) == (None, 4, [])


def test_an_event_in_the_alerted_newest_window_but_behind_the_floor_is_too_late() -> None:
    spec, lateness = SPECS["threshold"], timedelta(0)  # the floor is the newest event itself
    completed = counting.apply(DENIED, spec, [event(n, n, 0, "a") for n in range(3)], None, now=NOW, lateness=lateness)
    behind = [event(7, 1, 0, "a"), event(8, 1, 30, "a"), event(9, 2, 0, "a")]

    outcome = counting.apply(DENIED, spec, behind, completed.value, now=NOW, lateness=lateness)

    assert (outcome.result.too_late, outcome.result.alerts, outcome.value) == (2, [], None)


def test_a_window_of_audit_ids_read_by_a_cardinality_rule_counts_ids_as_add_does() -> None:
    """A record written by a threshold rule, read by a cardinality rule of the same id: its open window counts audit
    ids, so the same name in two events counts twice there, as Windows.add has it."""
    ids_window = counting.apply(DENIED, SPECS["threshold"], [event(1, 0, 0, "a")], None, now=NOW, lateness=MINUTE)
    same_name = [event(2, 1, 0, "a"), event(3, 2, 0, "a")]

    got = counting.apply(DENIED, SPECS["cardinality"], same_name, ids_window.value, now=NOW, lateness=MINUTE)
    want = one_at_a_time(SPECS["cardinality"], same_name, ids_window.value, MINUTE)

    assert seen(got.result) == seen(want.result)
    assert got.value == want.value
    assert [alert.audit_ids for alert in got.result.alerts] == [("e1", "e2", "e3")]


def test_group_values_that_join_to_one_state_key_are_one_group_in_the_order_given() -> None:
    spec = Counting("thr", ("username", "user_agent"), 3, 5 * MINUTE)
    first = msgspec.structs.replace(read(1), username="a|b", user_agent="c")
    second = msgspec.structs.replace(read(2, MINUTE), username="a", user_agent="b|c")
    third = msgspec.structs.replace(read(3, 2 * MINUTE), username="a|b", user_agent="c")
    other = msgspec.structs.replace(read(4, 3 * MINUTE), username="z", user_agent=None)

    groups = counting.groups(DENIED, spec, [first, second, third, other])

    assert groups == {f"thr|{DENIED.id}|a|b|c": [first, second, third], f"thr|{DENIED.id}|z|": [other]}
