"""A push body read the fast way (pubsub_text) decodes exactly as the general way decodes its parsed JSON."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.traffic import SCENARIOS, wire_documents
from core.model import AuditEvent
from core.prefilter import Prefilter
from core.rules.loader import load_rules
from core.sources import decode, pubsub_text
from core.sources.items import Origin
from tests.unit.sources_wire import FIXTURES, RECEIVED_AT, fixture, pubsub_push_body, without

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "gke_logentry"
PREFILTER = Prefilter.for_rules(load_rules())
DENIED = "gke/secret_get_denied.json"
EARLY_KEYS = ("kind", "verb", "awslogs", "logEvents", "messageType", "specversion")


def fast_way(text: bytes, fmt: Any = "auto", prefilter: Prefilter | None = None) -> list[object]:
    return list(decode(text, fmt=fmt, received_at=RECEIVED_AT, prefilter=prefilter))


def general_way(text: bytes, fmt: Any = "auto", prefilter: Prefilter | None = None) -> list[object]:
    """A parsed document never takes the fast way, which only reads bytes."""
    return list(decode(orjson.loads(text), fmt=fmt, received_at=RECEIVED_AT, prefilter=prefilter))


def assert_ways_agree(text: bytes) -> list[object]:
    for fmt in ("auto", "gke"):
        for prefilter in (None, PREFILTER):
            assert fast_way(text, fmt, prefilter) == general_way(text, fmt, prefilter), text[:300]
    return fast_way(text)


def log_entries() -> list[Any]:
    paths = sorted((FIXTURES / "gke").glob("*.json"))
    if CORPUS.is_dir():
        paths += sorted(CORPUS.glob("*.json"))
    entries = []
    for path in paths:
        parsed = orjson.loads(path.read_bytes())
        entries.extend(parsed if isinstance(parsed, list) else [parsed])
    return entries


def body_text(document: Any) -> bytes:
    return orjson.dumps(document)


@pytest.mark.parametrize("entry", log_entries(), ids=lambda entry: str(entry.get("insertId", "entry"))[:40])
def test_every_fixture_and_corpus_entry_in_a_push_body_decodes_alike_both_ways(entry: Any) -> None:
    text = body_text(pubsub_push_body(entry))

    assert pubsub_text.read(text) is not None
    assert_ways_agree(text)


def test_the_corpus_was_read_when_present() -> None:
    if not CORPUS.is_dir():
        pytest.skip("../shared/corpus is absent")
    assert len(log_entries()) > 20


def test_generated_push_bodies_decode_alike_both_ways_with_events_alerts_and_skips() -> None:
    kinds: set[str] = set()
    for scenario in SCENARIOS:
        for text in list(wire_documents(scenario, "gke", events=600)):
            assert pubsub_text.read(text) is not None
            items = assert_ways_agree(text)
            kinds.update(type(item).__name__ for item in fast_way(text, prefilter=PREFILTER) + items)
    assert kinds == {"AuditEvent", "Prefiltered"}


def test_the_payload_is_the_base64_data_decoded() -> None:
    body = pubsub_push_body(fixture(DENIED))

    message = pubsub_text.read(body_text(body))

    assert message is not None
    assert message.data == base64.b64decode(body["message"]["data"])


@pytest.mark.parametrize(
    ("attribute_time", "publish_time", "snake_publish_time", "expected"),
    [
        ("2024-05-14T09:12:44.121090Z", None, None, datetime(2024, 5, 14, 9, 12, 44, 121090, tzinfo=UTC)),
        ("not a time", "2024-05-14T09:13:00Z", None, datetime(2024, 5, 14, 9, 13, tzinfo=UTC)),
        (None, "not a time", "2024-05-14T09:14:00Z", datetime(2024, 5, 14, 9, 14, tzinfo=UTC)),
        (None, None, None, RECEIVED_AT),
    ],
)
def test_the_envelope_times_stand_in_for_an_entry_without_its_own(
    attribute_time: str | None, publish_time: str | None, snake_publish_time: str | None, expected: datetime
) -> None:
    entry = without(fixture(DENIED), "timestamp", "receiveTimestamp")
    body = pubsub_push_body(entry)
    body["message"]["attributes"]["logging.googleapis.com/timestamp"] = attribute_time
    body["message"]["publishTime"] = publish_time
    body["message"]["publish_time"] = snake_publish_time

    (event,) = assert_ways_agree(body_text(body))

    assert isinstance(event, AuditEvent)
    assert event.timestamp == expected
    assert ("timestamp" in event.inferred) == (expected == RECEIVED_AT)


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (lambda body: body["message"].pop("data"), "no data"),
        (lambda body: body["message"].update(data=""), "empty data"),
        (lambda body: body["message"].update(data=None), "null data"),
        (lambda body: body["message"].update(data="aGVsbG8"), "unpadded base64"),
        (lambda body: body["message"].update(data="a-_b"), "url-safe base64"),
        (lambda body: body["message"].update(data="%%% not base64 %%%"), "not base64"),
        (lambda body: body["message"].update(data=["list"]), "data not a string"),
        (lambda body: body.update(message="text"), "message not an object"),
        (lambda body: body.update(message={}), "empty message"),
        (lambda body: body["message"].update(attributes=["x"]), "attributes not an object"),
        (lambda body: body["message"]["attributes"].update({"logging.googleapis.com/timestamp": 5}), "time type"),
        (lambda body: body["message"].update(publishTime=7), "publishTime not a string"),
    ],
)
def test_what_the_fast_way_cannot_promise_goes_the_general_way(change: Any, why: str) -> None:
    body = pubsub_push_body(fixture(DENIED))
    change(body)
    text = body_text(body)

    assert pubsub_text.read(text) is None, why
    assert fast_way(text) == general_way(text)


@pytest.mark.parametrize("key", EARLY_KEYS)
def test_a_body_that_detect_may_name_otherwise_goes_the_general_way(key: str) -> None:
    body = pubsub_push_body(fixture(DENIED))
    body[key] = "Event" if key == "kind" else None

    assert pubsub_text.read(body_text(body)) is None
    assert fast_way(body_text(body)) == general_way(body_text(body))


def test_text_with_invalid_utf8_is_refused_as_the_general_way_refuses_it() -> None:
    text = body_text(pubsub_push_body(fixture(DENIED))).replace(b'"subscription":"', b'"subscription":"\xff')

    assert pubsub_text.read(text) is None
    (skip,) = fast_way(text)
    assert skip.reason == "invalid_json"  # type: ignore[attr-defined]


def test_non_ascii_text_is_left_to_the_general_way_and_still_decoded() -> None:
    body = pubsub_push_body(fixture(DENIED))
    body["subscription"] = "projects/acme/subscriptions/prüfung"
    text = body_text(body)

    assert pubsub_text.read(text) is None
    assert fast_way(text) == general_way(text) != []


def test_duplicate_keys_take_the_last_value_as_orjson_does() -> None:
    first = body_text(pubsub_push_body(fixture(DENIED)))
    second = body_text(pubsub_push_body(fixture("gke/secret_list_allowed_status_empty.json")))
    text = first[:-1] + b"," + second[1:]

    assert fast_way(text) == general_way(text) == fast_way(second)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)
MESSAGE_KEYS = st.sampled_from(["data", "attributes", "publishTime", "publish_time", "messageId", "other"])
BODY_KEYS = st.sampled_from([*EARLY_KEYS, "subscription", "data", "message"])


@settings(max_examples=300, deadline=None)
@given(
    entry=st.sampled_from(log_entries()),
    message_changes=st.dictionaries(MESSAGE_KEYS, JSON_VALUES, max_size=2),
    body_changes=st.dictionaries(BODY_KEYS, JSON_VALUES, max_size=2),
)
def test_mutated_push_bodies_decode_alike_both_ways(
    entry: Any, message_changes: dict[str, Any], body_changes: dict[str, Any]
) -> None:
    body = pubsub_push_body(entry)
    body["message"].update(message_changes)
    body.update(body_changes)

    assert_ways_agree(body_text(body))


def test_the_reader_takes_the_origin_cluster_and_prefilter_from_the_outer_origin() -> None:
    message = pubsub_text.read(body_text(pubsub_push_body(fixture(DENIED))))
    assert message is not None
    outer = Origin(RECEIVED_AT, "gcp", "prod", None, PREFILTER)

    inner = pubsub_text.payload_origin(message, outer)

    assert (inner.cloud, inner.cluster, inner.prefilter, inner.time is not None) == ("gcp", "prod", PREFILTER, True)


def test_a_body_naming_message_late_is_decoded_the_general_way_alike() -> None:
    body = pubsub_push_body(fixture(DENIED))
    late = {"subscription": body["subscription"], "padding": "x" * 64, "message": body["message"]}

    assert pubsub_text.read(body_text(late)) is None
    assert fast_way(body_text(late)) == fast_way(body_text(body)) != []
