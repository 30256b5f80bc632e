"""The engine's matcher: each rule's matches, its conditions run once per distinct tuple of what they read.

It must give exactly what running every condition on every event gives, whatever the conditions, the events,
the order of the batches and the size of its memory; and a condition that tuning has wrapped (its exceptions
read the clock and other fields) must be run afresh on every event.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from msgspec.structs import replace as with_fields

from core.engine.matching import REST, Matcher
from core.model import FIELDS, AuditEvent
from core.rules.loader import load_rules
from core.rules.schema import Rule
from core.rules.tuning import load_tuning
from tests.unit.test_prefilter import rule
from tests.unit.test_prefilter_field_test import CONDITIONS, TEXT_FIELDS, TUPLE_FIELDS, WORDS

#: Leaves on the fields the field-test conditions leave out: the outcome, the code and the cloud.
OUTCOMES = st.one_of(
    st.builds(lambda value: {"failed": value}, st.booleans()),
    st.builds(lambda codes: {"field": "response_code", "in": codes}, st.lists(st.sampled_from([7, 200, 403]),
                                                                              min_size=1, max_size=2)),
    st.builds(lambda cloud: {"field": "cloud", "equals": cloud}, st.sampled_from(["gcp", "k8s"])),
)  # fmt: skip
MATCHES = st.one_of(
    CONDITIONS,
    OUTCOMES,
    st.builds(lambda a, b: {"all": [a, b]}, CONDITIONS, OUTCOMES),
    st.builds(lambda a, b: {"any": [a, {"not": b}]}, CONDITIONS, OUTCOMES),
)
START = datetime(2026, 11, 20, 9, tzinfo=UTC)


WORD = st.sampled_from(WORDS).map(lambda w: w or None)
#: What each field an event is built with may hold.
VALUES: dict[str, st.SearchStrategy[Any]] = {
    **{name: WORD for name in TEXT_FIELDS if name != "audit_id"},
    **{name: st.lists(st.sampled_from(WORDS), max_size=2).map(tuple) for name in TUPLE_FIELDS},
    "cloud": st.sampled_from(["gcp", "k8s"]),
    "response_code": st.sampled_from([7, 200, 403, None]),
    "failed": st.sampled_from([True, False, None]),  # independent of the code, as GKE's gRPC codes make it
    "pod_name": WORD,
}
ONE_CHANGE = st.sampled_from(sorted(VALUES)).flatmap(lambda name: st.tuples(st.just(name), VALUES[name]))


def shapes() -> st.SearchStrategy[list[AuditEvent]]:
    """An event and others differing from it in one field each: a condition that does not say it reads a field
    it reads is caught by two events alike in all but that field."""
    base = st.fixed_dictionaries(VALUES).map(lambda values: AuditEvent(timestamp=START, audit_id="a", **values))
    return st.builds(
        lambda event, changes: [event] + [with_fields(event, **{name: value}) for name, value in changes],
        base,
        st.lists(ONE_CHANGE, max_size=5),
    )


@settings(max_examples=300, deadline=None)
@given(
    matches=st.lists(MATCHES, min_size=1, max_size=4),
    shapes=shapes(),
    picks=st.lists(st.lists(st.integers(min_value=0, max_value=5), max_size=12), min_size=1, max_size=4),
    size=st.integers(min_value=1, max_value=8),
)
def test_gives_what_running_every_condition_on_every_event_gives(
    matches: list[Any], shapes: list[AuditEvent], picks: list[list[int]], size: int
) -> None:
    rules = [rule(match) for match in matches]
    matcher = Matcher(rules, size=size, rest=0)  # always remembering, however few events repeat
    serial = iter(range(10_000))

    for batch_picks in picks:  # batches drawn from the same few shapes, each event with its own id and time
        batch = [
            with_fields(shapes[pick % len(shapes)], audit_id=str(number), timestamp=START + timedelta(seconds=number))
            for pick in batch_picks
            for number in [next(serial)]
        ]

        assert matcher.matched(batch) == [list(filter(each.condition.predicate, batch)) for each in rules]


#: For each field a condition may name: a value the condition `equals` accepts, and two events' fields, the first
#: holding that value, the second not.
TWO_VALUES: dict[str, tuple[object, dict[str, Any], dict[str, Any]]] = {
    **{name: ("x", {name: "x"}, {name: "y"}) for name in FIELDS},
    **{name: ("x", {name: ("x",)}, {name: ("y",)}) for name in TUPLE_FIELDS},
    "source_ip": ("x", {"source_ips": ("x", "z")}, {"source_ips": ("y", "z")}),
    "access_target": ("x", {"name": "x"}, {"name": "y"}),
    "cloud": ("gcp", {"cloud": "gcp"}, {"cloud": "k8s"}),
    "response_code": (403, {"response_code": 403}, {"response_code": 200}),
}


@pytest.mark.parametrize("name", [*FIELDS, "failed"])
def test_two_events_differing_only_in_the_field_a_condition_reads_are_told_apart(name: str) -> None:
    if name == "failed":
        leaf, accepted, refused = {"failed": True}, {"failed": True}, {"failed": False}
    else:
        value, accepted, refused = TWO_VALUES[name]
        leaf = {"field": name, "equals": value}
    # beside a clause on another field, so that the condition reads something even if the leaf failed to say so
    match = {"all": [{"field": "verb" if name == "resource" else "resource", "exists": True}, leaf]}
    base = AuditEvent("k8s", START, "a", verb="get", resource="secrets")
    first, second = with_fields(base, **accepted), with_fields(base, **{"audit_id": "b", **refused})

    assert Matcher([rule(match)]).matched([first, second, first]) == [[first, first]]
    assert Matcher([rule(match)]).matched([second, first]) == [[first]]


def test_runs_each_condition_once_per_distinct_tuple_of_what_it_reads() -> None:
    kept, calls = counting({"field": "verb", "equals": "get"})
    events = [AuditEvent("k8s", START, str(number), verb=verb, name=f"s{number}")
              for number, verb in enumerate(["get", "list"] * 5)]  # fmt: skip

    assert Matcher([kept]).matched(events) == [events[::2]]
    assert calls == ["0", "1"]  # the names differ, but the condition reads only the verb


def test_a_condition_with_tuning_exceptions_is_run_on_every_event(tmp_path: Path) -> None:
    """Expiry is judged on the clock at each match: the same event is excepted one day and matched the next."""
    tuning = tmp_path / "tuning.yml"
    tuning.write_text(
        "exceptions:\n"
        "  - rule: secret-get-burst\n"
        "    reason: the backup job\n"
        "    expires: 2026-11-20\n"
        '    when: {field: username, equals: "system:serviceaccount:backup:velero"}\n'
    )
    rules = [each for each in load_rules() if each.id == "secret-get-burst"]
    today = [datetime(2026, 11, 20, 23, tzinfo=UTC)]
    tuned = load_tuning(tuning, rules).apply(rules, clock=lambda: today[0])
    assert tuned[0].condition.pure_reads() is None
    velero = AuditEvent("k8s", START, "1", verb="get", resource="secrets", name="s3-keys",
                        username="system:serviceaccount:backup:velero", source_ips=("10.0.0.9",),
                        user_agent="velero/v1.13")  # fmt: skip
    matcher = Matcher(tuned)

    assert matcher.matched([velero]) == [[]]
    today[0] += timedelta(hours=2)  # the exception lapsed at midnight
    again = with_fields(velero, audit_id="2")
    assert matcher.matched([again]) == [[again]]


def counting(match: object) -> tuple[Rule, list[str]]:
    """A rule around `match` whose condition notes the audit id of each event it is run on."""
    calls: list[str] = []
    plain = rule(match)

    def counted(event: AuditEvent) -> bool:
        calls.append(event.audit_id)
        return plain.condition.predicate(event)

    return replace(plain, condition=replace(plain.condition, predicate=counted, own=counted)), calls


def test_after_a_batch_of_mostly_new_tuples_conditions_run_on_every_event_for_a_few_batches() -> None:
    """Traffic whose every event differs in what the conditions read gains nothing from remembering them."""
    kept, calls = counting({"field": "username", "prefix": "user-"})
    matcher = Matcher([kept])
    distinct = [AuditEvent("k8s", START, str(number), username=f"user-{number}") for number in range(100)]
    repeated = [AuditEvent("k8s", START, f"r{number}", username="user-1") for number in range(10)]

    assert matcher.matched(distinct) == [distinct]
    per_batch = []
    for _ in range(8):
        calls.clear()
        assert matcher.matched(repeated) == [repeated]
        per_batch.append(len(calls))

    assert per_batch[:REST] == [10] * REST
    assert per_batch[REST:] == [0, 0, 0, 0]  # then none: "user-1" is remembered from the first batch
