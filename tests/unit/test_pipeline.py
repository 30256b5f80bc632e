"""Pipeline.process: one time of receipt per call, for the events that carry no time of their own."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import orjson

from core.alerts.memory import MemorySink
from core.pipeline import Pipeline
from core.rules.loader import load_rules
from core.state.memory import MemoryStore

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def curl_read_without_time(n: int) -> bytes:
    return orjson.dumps({
        "kind": "Event", "apiVersion": "audit.k8s.io/v1", "auditID": f"no-time-{n}", "stage": "ResponseComplete",
        "verb": "get", "requestURI": "/api/v1/namespaces/payments/secrets/api-key",
        "user": {"username": "system:serviceaccount:payments:api"}, "sourceIPs": [f"198.51.100.{n}"],
        "userAgent": "curl/8.5.0", "objectRef": {"resource": "secrets", "namespace": "payments", "name": "api-key"},
        "responseStatus": {"code": 200},
    })  # fmt: skip


def hourly_clock() -> Iterator[datetime]:
    moment = T0
    while True:
        yield moment
        moment += timedelta(hours=1)


def test_events_without_a_time_take_the_time_the_call_began() -> None:
    ticks = hourly_clock()
    sink = MemorySink()
    pipeline = Pipeline(load_rules(), MemoryStore(), [sink], clock=lambda: next(ticks))

    summary = pipeline.process([curl_read_without_time(1), curl_read_without_time(2)])

    assert summary.inferred_timestamps == 2
    assert sink.alerts  # every rule of the pack that alerts dates its alert at the call's start
    assert {alert.first_seen for alert in sink.alerts} == {T0}
