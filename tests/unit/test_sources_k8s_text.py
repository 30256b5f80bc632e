"""The typed reader gives exactly what parsing and normalizing gives, or steps aside (None)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.demo.traffic import audit_events
from core.model import AuditEvent
from core.sources import detect, k8s, k8s_text
from core.sources.documents import iter_documents
from core.sources.items import Origin
from tests.unit.sources_wire import FIXTURES, RECEIVED_AT, fixture

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
ORIGINS = (
    Origin(RECEIVED_AT),
    Origin(RECEIVED_AT, "aws", "prod", datetime(2024, 5, 14, 9, 0, tzinfo=UTC)),
    Origin(RECEIVED_AT, "azure", None, None),
)


def general_way(text: str, origin: Origin) -> object:
    return k8s.decoded(orjson.loads(text), origin)


def assert_read_agrees(text: str) -> AuditEvent | None:
    for origin in ORIGINS:
        event = k8s_text.read(text, origin)
        assert event is None or event == general_way(text, origin), text
    return k8s_text.read(text, ORIGINS[0])


def audit_records(path: Path) -> list[dict[str, Any]]:
    """The audit Events in a file: bare, in EventLists, in EKS messages and in AKS logs."""
    found: list[dict[str, Any]] = []
    with path.open("rb") as stream:
        for document in iter_documents(stream):
            try:
                parsed = orjson.loads(document)
            except orjson.JSONDecodeError:
                continue
            found.extend(_records_in(parsed))
    return found


def _records_in(parsed: Any) -> list[dict[str, Any]]:
    if isinstance(parsed, list):
        return [record for item in parsed for record in _records_in(item)]
    kind = detect(parsed)
    if kind == "k8s":
        return [parsed]
    if kind == "k8s_list":
        return [item for item in parsed["items"] if isinstance(item, dict)]
    texts: list[str] = []
    if kind == "eks_data":
        texts = [item.get("message") for item in parsed.get("logEvents", []) if isinstance(item, dict)]
    elif kind == "aks":
        texts = [item.get("properties", {}).get("log") for item in parsed["records"] if isinstance(item, dict)]
    return [record for text in texts if isinstance(text, str) for record in _records_in(_loads(text))]


def _loads(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return None


def test_every_audit_event_in_the_fixtures_and_the_corpus_reads_the_same() -> None:
    paths = sorted(FIXTURES.rglob("*.json*")) + (sorted(CORPUS.rglob("*.json")) if CORPUS.is_dir() else [])
    records = [record for path in paths for record in audit_records(path)]
    assert len(records) > 10
    read = [assert_read_agrees(orjson.dumps(record).decode()) for record in records]
    assert sum(event is not None for event in read) > 10


def test_generated_traffic_is_read_the_fast_way() -> None:
    start = datetime(2026, 11, 2, tzinfo=UTC)
    for _, event in audit_events(start=start, hours=24, events=1500, seed=5, secret_share=0.5):
        assert assert_read_agrees(orjson.dumps(event).decode()) is not None


@pytest.mark.parametrize(
    ("change", "fast"),
    [
        ({}, True),
        ({"responseStatus": {"code": 9223372036854775808}}, True),
        ({"responseStatus": {"code": 200.0}}, False),
        ({"responseStatus": {"code": True}}, False),
        ({"responseStatus": None}, True),
        ({"auditID": ""}, False),  # the id becomes a hash of the record
        ({"kind": "EventList"}, False),
        ({"verb": 7}, False),
        ({"verb": ""}, True),
        ({"user": {"username": "", "groups": ["", "system:masters"]}}, True),
        ({"user": {"groups": ["a", 1]}}, False),
        ({"sourceIPs": None}, True),
        ({"impersonatedUser": {"username": "alice"}}, True),
        ({"impersonatedUser": "alice"}, False),
        ({"annotations": {"authorization.k8s.io/decision": "allow", "other": 3}}, True),
        ({"annotations": ["x"]}, False),
        ({"stageTimestamp": "not a time"}, True),
        ({"stageTimestamp": None, "timestamp": "2024-05-14T09:12:44Z"}, True),
        ({"stageTimestamp": "not a time", "requestReceivedTimestamp": None}, False),  # the envelope's time is used
        ({"stageTimestamp": None, "requestReceivedTimestamp": None, "timestamp": None}, False),
        ({"p_log_type": "Azure.MonitorActivity", "p_source_label": "prod-aks"}, True),
        ({"objectRef": {}}, True),
        ({"objectRef": []}, False),
        ({"user": {"extra": {"authentication.kubernetes.io/pod-name": ["api-0"], "arn": [1]}}}, True),
        ({"user": {"extra": {"authentication.kubernetes.io/node-name": ["", "node-a"]}}}, True),
        ({"user": {"extra": {"authentication.kubernetes.io/pod-name": "api-0"}}}, False),
        ({"user": {"extra": ["api-0"]}}, False),
    ],
)
def test_edge_cases_read_the_same_or_step_aside(change: dict[str, Any], fast: bool) -> None:
    record = {**fixture("k8s/secret_get_denied.json"), **change}
    event = assert_read_agrees(orjson.dumps(record).decode())
    assert (event is not None) is fast


def test_a_response_code_orjson_reads_as_a_float_steps_aside() -> None:
    denied = orjson.dumps(fixture("k8s/secret_get_denied.json")).decode()
    text = denied.replace('"code":403', '"code":18446744073709551616')
    assert k8s_text.read(text, ORIGINS[0]) is None
    assert assert_read_agrees(text.replace("18446744073709551616", "-9223372036854775808")) is not None


@pytest.mark.parametrize(
    "text",
    ["", "[]", '"x"', '{"verb": "get"', "I0109 klog text", '  {"auditID": "a", "verb": "get"}\n', "null"],
)
def test_text_that_is_not_one_object_steps_aside_or_reads_the_same(text: str) -> None:
    event = k8s_text.read(text, ORIGINS[0])
    assert event is None or event == general_way(text, ORIGINS[0])


INTEGERS = st.integers(min_value=-(2**63), max_value=2**64 - 1)  # what orjson.dumps can write
SCALARS = st.none() | st.booleans() | INTEGERS | st.floats(allow_nan=False) | st.text(max_size=8)
FIELDS = ("kind", "auditID", "stage", "requestURI", "verb", "userAgent", "stageTimestamp",
          "requestReceivedTimestamp", "timestamp", "p_log_type", "p_source_label")  # fmt: skip
NESTED = {
    "objectRef": ("resource", "subresource", "namespace", "name", "apiGroup", "apiVersion"),
    "user": ("username", "groups", "extra"),
    "impersonatedUser": ("username",),
    "responseStatus": ("code", "message"),
    "annotations": ("authorization.k8s.io/decision",),
}
VALUES = SCALARS | st.lists(SCALARS, max_size=3)
EXTRA_KEYS = ("authentication.kubernetes.io/pod-name", "authentication.kubernetes.io/node-name",
              "authentication_kubernetes_io_slash_pod-name", "authentication_kubernetes_io_slash_node-name", "arn")
EXTRA = st.dictionaries(st.sampled_from(EXTRA_KEYS), VALUES, max_size=3)


def records() -> st.SearchStrategy[dict[str, Any]]:
    def values(key: str) -> st.SearchStrategy[Any]:
        return EXTRA | VALUES if key == "extra" else VALUES

    nested = {key: st.fixed_dictionaries({}, optional={name: values(name) for name in keys}) | VALUES
              for key, keys in NESTED.items()}  # fmt: skip
    return st.fixed_dictionaries({}, optional={**dict.fromkeys(FIELDS, VALUES), **nested})


@settings(max_examples=300, deadline=None)
@given(records())
def test_any_record_reads_the_same_or_steps_aside(record: dict[str, Any]) -> None:
    assert_read_agrees(orjson.dumps(record).decode())
