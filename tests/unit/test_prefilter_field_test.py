"""The pre-filter's field test: an event whose fields show that no rule can match it is counted, not evaluated.

It tests the same clauses as the text test (core.prefilter), on the decoded event's values: every clause, on any
field, with its whole text. It must be sound, never false for an event some rule matches: shown for random
conditions over random events, and for the lines the typed pass over a block of raw lines reads (core.sources.
k8s_text.read_lines), whose own test on the undecoded fields must never be false where the event's is true.
"""

from __future__ import annotations

import pickle
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from core.alerts.memory import MemorySink
from core.model import AuditEvent
from core.pipeline import Pipeline
from core.prefilter import EVENT_SUBJECTS, FieldTest, Prefilter
from core.rules.conditions import compile_condition
from core.rules.loader import load_rules
from core.sources import k8s, k8s_text
from core.sources.items import Origin
from core.state.memory import MemoryStore
from tests.unit.sources_wire import RECEIVED_AT, fixture
from tests.unit.test_prefilter import rule

RULES = [replace(each, enabled=True) for each in load_rules()]
#: The rules on by default, none of which reads a watch.
ON = [each for each in load_rules() if each.enabled]
WORDS = ("secrets", "get", "list", "", "sec", "system:node:a", "kube-system", "curl/8", "10.0.0.1", "budget")
TEXT_FIELDS = ("verb", "resource", "namespace", "name", "username", "user_agent", "stage", "request_uri",
               "subresource", "api_group", "decision", "response_message", "cluster", "audit_id")  # fmt: skip
TUPLE_FIELDS = ("groups", "source_ips")


def leaves() -> st.SearchStrategy[dict[str, Any]]:
    word = st.sampled_from([w for w in WORDS if w])
    field = st.sampled_from(TEXT_FIELDS + TUPLE_FIELDS + ("source_ip",))
    return st.one_of(
        st.builds(lambda f, w: {"field": f, "equals": w}, field, word),
        st.builds(lambda f, ws: {"field": f, "in": ws}, field, st.lists(word, min_size=1, max_size=3)),
        st.builds(lambda f, w: {"field": f, "prefix": w}, field, word),
        st.builds(lambda f, w: {"field": f, "contains": w}, field, word),
        st.builds(lambda f, w: {"field": f, "glob": f"*{w}*"}, field, word),
        st.builds(lambda f: {"field": f, "exists": True}, field),
    )


CONDITIONS = st.recursive(
    leaves(),
    lambda inner: st.one_of(
        st.builds(lambda parts: {"all": parts}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda parts: {"any": parts}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda part: {"not": part}, inner),
    ),
    max_leaves=6,
)


def audit_events() -> st.SearchStrategy[AuditEvent]:
    word = st.sampled_from(WORDS).map(lambda w: w or None)
    texts = {name: word for name in TEXT_FIELDS if name != "audit_id"}
    tuples = {name: st.lists(st.sampled_from(WORDS), max_size=3).map(tuple) for name in TUPLE_FIELDS}
    return st.builds(AuditEvent, cloud=st.just("k8s"), timestamp=st.just(RECEIVED_AT), audit_id=st.just("a"),
                     **texts, **tuples)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(conditions=st.lists(CONDITIONS, min_size=1, max_size=3), event=audit_events())
def test_no_event_a_rule_matches_fails_the_field_test(conditions: list[Any], event: AuditEvent) -> None:
    compiled = [compile_condition(condition) for condition in conditions]
    test = FieldTest(tuple(each.requires for each in compiled), EVENT_SUBJECTS).test

    if any(each.predicate(event) for each in compiled):
        assert test(event)


def test_a_watch_of_a_secret_holding_get_in_its_text_is_counted_not_evaluated() -> None:
    """The text test admits it ("get" is in "budget"); its verb shows that no rule on by default can match it."""
    record = fixture("k8s/secret_get_denied.json")
    watch = {**record, "verb": "watch", "auditID": "w1", "objectRef": {**record["objectRef"], "namespace": "budget"}}
    text = orjson.dumps(watch)
    prefilter = Prefilter.for_rules(ON)
    assert prefilter is not None
    assert prefilter.raw.admits(text)
    pipeline = Pipeline(ON, MemoryStore(), [MemorySink()], clock=lambda: RECEIVED_AT)

    summary = pipeline.process([text, orjson.dumps(record)])

    assert summary.prefiltered == 1
    assert summary.event_total == 2
    assert sum(summary.matches.values()) >= 1  # the denied get is evaluated


def test_the_field_test_is_sent_to_workers_as_its_clauses() -> None:
    prefilter = Prefilter.for_rules(RULES)
    assert prefilter is not None

    copy = pickle.loads(pickle.dumps(prefilter))

    assert copy.fields.per_rule == prefilter.fields.per_rule
    event = k8s.decoded(fixture("k8s/secret_get_denied.json"), Origin(RECEIVED_AT))
    assert isinstance(event, AuditEvent)
    assert copy.fields.test(event)
    assert prefilter.fields.test(event)


# --- the typed pass over a block of raw lines --------------------------------------------------------------

#: Rules with clauses on every field the typed pass reads before decoding the user, and on the user's (each rule
#: with one the text test can use, or there would be no pre-filter).
WIDE = [
    rule({"all": [{"field": "namespace", "contains": "budget"}, {"field": "verb", "in": ["get", "list"]}]}),
    rule({"field": "user_agent", "prefix": "curl/"}),
    rule({"field": "source_ip", "equals": "10.0.0.1"}),
    rule({"any": [{"field": "username", "prefix": "system:node:"}, {"field": "groups", "in": ["sec"]}]}),
    rule({"all": [{"field": "request_uri", "contains": "sec"}, {"field": "stage", "equals": "get"}]}),
    rule({"all": [{"field": "name", "equals": "list"}, {"field": "subresource", "exists": True}]}),
    rule({"all": [{"field": "decision", "equals": "secrets"}, {"field": "verb", "equals": "list"}]}),
    rule({"field": "response_message", "contains": "get"}),
]
WORD = st.sampled_from(WORDS)


def raw_events() -> st.SearchStrategy[dict[str, Any]]:
    """Events of the audit API as the API server writes them, with values the rules above test, empty ones too."""
    ref = st.fixed_dictionaries({}, optional=dict.fromkeys(("resource", "subresource", "namespace", "name"), WORD))
    user = st.fixed_dictionaries({}, optional={"username": WORD, "groups": st.lists(WORD, max_size=2)})
    optional = {
        "verb": WORD, "stage": WORD, "requestURI": WORD, "userAgent": WORD, "sourceIPs": st.lists(WORD, max_size=2),
        "objectRef": ref, "user": user, "responseStatus": st.fixed_dictionaries({"code": st.just(403)},
                                                                               optional={"message": WORD}),
        "annotations": st.fixed_dictionaries({"authorization.k8s.io/decision": WORD}),
    }  # fmt: skip
    required = {"kind": st.just("Event"), "apiVersion": st.just("audit.k8s.io/v1"),
                "auditID": st.uuids().map(str), "stageTimestamp": st.just("2026-11-20T09:00:00.000000Z")}  # fmt: skip
    return st.fixed_dictionaries(required, optional=optional)


@settings(max_examples=300, deadline=None)
@given(records=st.lists(raw_events(), min_size=1, max_size=12), wide=st.booleans())
def test_the_typed_pass_keeps_every_event_whose_fields_pass_and_reads_it_the_same_way(
    records: list[dict[str, Any]], wide: bool
) -> None:
    prefilter = Prefilter.for_rules(WIDE if wide else RULES)
    assert prefilter is not None
    lines = [orjson.dumps(record) for record in records]

    read = k8s_text.read_lines(b"\n".join(lines) + b"\n", prefilter.subjects(k8s_text.LINE_SUBJECTS).test)

    assert read is not None
    kept, count = read
    general = [k8s.decoded(orjson.loads(line), Origin(RECEIVED_AT)) for line in lines]
    assert all(isinstance(event, AuditEvent) for event in general)
    # Every kept event is read as the general way reads it. The pass tests no field of the user, so it may keep
    # events the field test then counts; but it never drops one the field test would keep.
    assert all(event == general[index] for index, event in kept)
    passing = [(index, event) for index, event in enumerate(general) if prefilter.fields.test(event)]
    assert [(index, event) for index, event in kept if prefilter.fields.test(event)] == passing
    assert count == len(lines)


def test_the_typed_pass_steps_aside_for_a_block_holding_anything_but_such_events() -> None:
    record = fixture("k8s/secret_get_denied.json")
    good = orjson.dumps({**record, "kind": "Event", "apiVersion": "audit.k8s.io/v1"})
    test = Prefilter.for_rules(RULES).subjects(k8s_text.LINE_SUBJECTS).test  # type: ignore[union-attr]
    others = {
        "not JSON": b"I1120 09:00:00 not json",
        "not ASCII": good.replace(b'"verb"', b'"note":"\xc3\xbc","verb"'),
        "an EventList": orjson.dumps({"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "items": [record]}),
        "another API": good.replace(b"audit.k8s.io/v1", b"audit.k8s.io/v1beta1"),
        "no auditID": orjson.dumps({key: value for key, value in orjson.loads(good).items() if key != "auditID"}),
        "a Panther record": orjson.dumps({**orjson.loads(good), "p_log_type": "Amazon.EKS.Audit"}),
        "a verb of the wrong type": good.replace(b'"verb":"get"', b'"verb":7'),
        "too long a name": orjson.dumps({**record, "objectRef": {**record["objectRef"], "name": "n" * 600}}),
        "a kept event without a time": good.replace(b'"stageTimestamp"', b'"stage_time"').replace(
            b'"requestReceivedTimestamp"', b'"received"'),
    }  # fmt: skip

    assert k8s_text.read_lines(good + b"\n" + good + b"\n", test) is not None
    for what, line in others.items():
        assert k8s_text.read_lines(good + b"\n" + line + b"\n", test) is None, what


def test_generated_days_of_api_server_lines_are_read_typed_with_no_line_stepping_aside() -> None:
    from core.demo.traffic import audit_events as day

    start = datetime(2026, 11, 2, tzinfo=UTC)
    lines = [orjson.dumps(event) for _, event in day(start=start, hours=24, events=400, seed=5, secret_share=0.5)]
    prefilter = Prefilter.for_rules(RULES)
    assert prefilter is not None

    read = k8s_text.read_lines(b"\n".join(lines) + b"\n", prefilter.subjects(k8s_text.LINE_SUBJECTS).test)

    assert read is not None
    kept, count = read
    assert count == len(lines)
    assert kept
