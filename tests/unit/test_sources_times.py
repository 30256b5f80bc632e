"""No time in any record or envelope makes decoding raise: an out-of-range time reads as an invalid one.

An invalid or absent time falls back, as it always has, to the next time the record or its envelope carries and
then to the time of receipt (marked inferred). Times at the edges of `datetime` (year 1 at +14:00, year 9999 at
-05:00) used to raise OverflowError while converting to UTC.
"""

from __future__ import annotations

import base64
import os
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.model import AuditEvent
from core.timeutil import from_epoch_ms, isoformat, parse_time
from tests.unit.sources_wire import RECEIVED_AT, awslogs_event, decode_all, fixture, pubsub_push_body

PROPERTY = settings(
    max_examples=int(os.environ.get("SECRETWATCH_FUZZ_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
#: Every UTC offset ISO 8601 can write, -23:59 to +23:59.
OFFSETS = st.integers(-(24 * 60 - 1), 24 * 60 - 1).map(lambda minutes: timezone(timedelta(minutes=minutes)))
#: Wall-clock moments, each given every offset below (their UTC zone is replaced).
EDGES = st.sampled_from(
    [
        datetime.min.replace(tzinfo=UTC),
        datetime.max.replace(tzinfo=UTC),
        datetime(1, 1, 1, 12, tzinfo=UTC),
        datetime(9999, 12, 31, 12, tzinfo=UTC),
        datetime(2024, 5, 14, 9, tzinfo=UTC),
    ]
)
EXTREME = st.builds(lambda moment, zone: moment.replace(tzinfo=zone).isoformat(), EDGES | st.datetimes(), OFFSETS)
NAIVE = EDGES.map(lambda moment: moment.replace(tzinfo=None).isoformat())
TIME_TEXT = EXTREME | EXTREME.map(lambda text: text[:19] + "Z") | NAIVE | st.text(max_size=40)
#: JSON numbers as orjson writes them: integers beyond 64 bits are written (and read back) as floats.
INTEGERS = st.integers(-(2**63), 2**64 - 1)
TIME_VALUE = TIME_TEXT | st.none() | INTEGERS | st.floats() | st.booleans()
EPOCH_MS = INTEGERS | st.floats() | st.none() | TIME_TEXT | st.sampled_from([1e30, -1e30, 2**63, 2**64 - 1])


@pytest.mark.parametrize(
    "text",
    [
        "0001-01-01T00:00:00+14:00",
        "0001-01-01T00:00:00.000001+00:01",
        "9999-12-31T23:00:00-05:00",
        "9999-12-31T23:59:59.999999-00:01",
        "not a time",
        "",
        "2024-13-01T00:00:00Z",
    ],
)
def test_a_time_outside_datetime_or_unreadable_parses_as_none(text: str) -> None:
    assert parse_time(text) is None


def test_the_edges_that_convert_are_kept() -> None:
    assert parse_time("0001-01-01T00:00:00-14:00") == datetime(1, 1, 1, 14, tzinfo=UTC)
    assert parse_time("9999-12-31T23:59:59Z") == datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)


@pytest.mark.parametrize("value", [10**30, -(10**30), 2**63, float("inf"), float("nan"), 1e300, True, "1"])
def test_an_epoch_outside_datetime_reads_as_none(value: object) -> None:
    assert from_epoch_ms(value) is None


@pytest.mark.parametrize("moment", [datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC)])
def test_isoformat_writes_four_digit_years_that_parse_back(moment: datetime) -> None:
    assert parse_time(isoformat(moment)) == moment


@PROPERTY
@given(text=TIME_TEXT)
def test_parse_time_never_raises_and_gives_utc_or_none(text: str) -> None:
    parsed = parse_time(text)

    assert parsed is None or parsed.utcoffset() == timedelta(0)


def k8s_event(times: tuple[Any, Any, Any], audit_id: str) -> dict[str, Any]:
    event = fixture("k8s/secret_get_denied.json")
    event["auditID"] = audit_id
    event["stageTimestamp"], event["requestReceivedTimestamp"], event["timestamp"] = times
    return event


def gke_entry(times: tuple[Any, Any]) -> dict[str, Any]:
    entry = fixture("gke/secret_get_denied.json")
    entry["timestamp"], entry["receiveTimestamp"] = times
    return entry


EVENT_TIMES = st.tuples(TIME_VALUE, TIME_VALUE, TIME_VALUE)


def assert_one_event_each(document: Any, records: int) -> None:
    items = decode_all(document)

    assert len(items) == records, items
    for item in items:
        assert isinstance(item, AuditEvent), item
        assert item.timestamp.utcoffset() == timedelta(0)


@PROPERTY
@given(times=EVENT_TIMES, as_text=st.booleans())
def test_raw_k8s_events(times: tuple[Any, Any, Any], as_text: bool) -> None:
    event = k8s_event(times, "a")
    assert_one_event_each(orjson.dumps(event) if as_text else event, 1)


@PROPERTY
@given(first=EVENT_TIMES, second=EVENT_TIMES, stamps=st.tuples(EPOCH_MS, EPOCH_MS))
def test_eks_lambda_events(first: tuple[Any, ...], second: tuple[Any, ...], stamps: tuple[Any, Any]) -> None:
    log_events = [
        {"id": str(index), "timestamp": stamp, "message": orjson.dumps(k8s_event(times, f"e{index}")).decode()}
        for index, (times, stamp) in enumerate(zip((first, second), stamps, strict=True))
    ]
    message = {"messageType": "DATA_MESSAGE", "logGroup": "/aws/eks/prod/cluster", "logEvents": log_events}

    assert_one_event_each(awslogs_event(message), 2)


@PROPERTY
@given(first=EVENT_TIMES, second=EVENT_TIMES, record_times=st.tuples(TIME_VALUE, TIME_VALUE), as_text=st.booleans())
def test_aks_event_hub_bodies(
    first: tuple[Any, ...], second: tuple[Any, ...], record_times: tuple[Any, Any], as_text: bool
) -> None:
    records = [
        {
            "category": "kube-audit",
            "resourceId": "/SUBSCRIPTIONS/X/MANAGEDCLUSTERS/PROD",
            "time": time,
            "properties": {"log": orjson.dumps(k8s_event(times, f"a{index}")).decode() + "\n"},
        }
        for index, (times, time) in enumerate(zip((first, second), record_times, strict=True))
    ]
    body = {"records": records}

    assert_one_event_each(orjson.dumps(body) if as_text else body, 2)


@PROPERTY
@given(
    times=st.tuples(TIME_VALUE, TIME_VALUE),
    envelope_times=st.tuples(TIME_VALUE, TIME_VALUE),
    as_text=st.booleans(),
)
def test_gke_log_entries_in_pubsub_push_bodies(
    times: tuple[Any, Any], envelope_times: tuple[Any, Any], as_text: bool
) -> None:
    body = pubsub_push_body(gke_entry(times))
    message = body["message"]
    message["attributes"]["logging.googleapis.com/timestamp"] = envelope_times[0]
    message["publishTime"] = message["publish_time"] = envelope_times[1]

    assert_one_event_each(orjson.dumps(body) if as_text else body, 1)


@PROPERTY
@given(times=st.tuples(TIME_VALUE, TIME_VALUE), cloud_event_time=TIME_VALUE)
def test_gke_log_entries_in_cloudevents(times: tuple[Any, Any], cloud_event_time: Any) -> None:
    entry = gke_entry(times)
    cloud_event = {
        "specversion": "1.0",
        "id": "1",
        "type": "google.cloud.pubsub.topic.v1.messagePublished",
        "time": cloud_event_time,
        "data_base64": base64.b64encode(orjson.dumps(entry)).decode(),
    }

    assert_one_event_each(cloud_event, 1)


def test_an_event_whose_only_time_overflows_takes_the_time_of_receipt() -> None:
    event = k8s_event(("0001-01-01T00:00:00+14:00", "9999-12-31T23:00:00-05:00", None), "a")

    (item,) = decode_all(event)

    assert isinstance(item, AuditEvent)
    assert (item.timestamp, item.inferred) == (RECEIVED_AT, frozenset({"timestamp"}))
