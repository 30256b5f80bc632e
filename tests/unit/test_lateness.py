"""Threshold windows by event time with allowed lateness: a redelivered or late event counts in its own window.

The issue's cases run through the Pipeline on SQLite with raw audit.k8s.io/v1 events, as a redelivery would
bring them; the finer points run on the engine.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import orjson
import pytest

from core.alerts.memory import MemorySink
from core.engine import Engine
from core.engine.windows import MAX_WINDOWS
from core.errors import DeliveryError
from core.model import Alert
from core.pipeline import Pipeline
from core.state.memory import MemoryStore
from core.state.sqlite import SqliteStore
from core.timeutil import isoformat
from tests.unit.engine_helpers import DENIED, T0, denied, sliding

MINUTE = timedelta(minutes=1)


def denial(n: int, at: timedelta) -> bytes:
    """One failed secret get by mallory in payments, as the API server's audit log writes it."""
    when = isoformat(T0 + at)
    return orjson.dumps({
        "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata", "auditID": f"late-{n:04d}",
        "stage": "ResponseComplete", "requestURI": f"/api/v1/namespaces/payments/secrets/guess-{n}", "verb": "get",
        "user": {"username": "mallory@example.com"}, "sourceIPs": ["203.0.113.7"], "userAgent": "kubectl/v1.30.2",
        "objectRef": {"resource": "secrets", "namespace": "payments", "name": f"guess-{n}", "apiVersion": "v1"},
        "responseStatus": {"metadata": {}, "code": 403}, "requestReceivedTimestamp": when, "stageTimestamp": when,
    })  # fmt: skip


def denials(numbers: range, *, start: timedelta) -> list[bytes]:
    return [denial(n, start + (n - numbers.start) * timedelta(seconds=10)) for n in numbers]


class FailingSink(MemorySink):
    """A sink that fails while `down` is set: no local peer is needed to stand for an outage of the Sink protocol."""

    label = "failing"

    def __init__(self) -> None:
        super().__init__()
        self.down = False

    def send(self, alerts: Sequence[Alert]) -> None:
        if self.down:
            raise DeliveryError(self.label, "simulated outage")
        super().send(alerts)


@pytest.fixture
def sqlite_path(tmp_path: Path) -> Path:
    return tmp_path / "state.db"


def run(path: Path, sink: MemorySink, documents: list[bytes]) -> None:
    """One invocation: a fresh pipeline on the shared SQLite file, as a new container would be."""
    store = SqliteStore(path)
    try:
        Pipeline([DENIED], store, [sink]).process(documents)
    finally:
        store.close()


def test_a_redelivered_batch_after_the_window_moved_on_raises_no_second_alert(sqlite_path: Path) -> None:
    sink = MemorySink()
    first = denials(range(20), start=timedelta(0))
    run(sqlite_path, sink, first)
    run(sqlite_path, sink, [denial(100, 16 * MINUTE)])  # opens the next window
    run(sqlite_path, sink, first)  # the platform redelivers the first batch

    assert [alert.event_count for alert in sink.alerts] == [20]


def test_ten_and_ten_in_two_windows_never_make_twenty_however_they_are_redelivered(sqlite_path: Path) -> None:
    sink = MemorySink()
    first = denials(range(10), start=timedelta(0))
    run(sqlite_path, sink, first)
    run(sqlite_path, sink, denials(range(10, 20), start=16 * MINUTE))
    run(sqlite_path, sink, first)

    assert sink.alerts == []


def test_a_failed_alert_is_sent_by_the_retry_after_its_window_has_closed(sqlite_path: Path) -> None:
    sink = FailingSink()
    first = denials(range(20), start=timedelta(0))
    sink.down = True
    with pytest.raises(DeliveryError):
        run(sqlite_path, sink, first)
    sink.down = False
    run(sqlite_path, sink, [denial(100, 16 * MINUTE)])
    run(sqlite_path, sink, first)  # the platform's retry of the failed batch

    assert [(alert.event_count, alert.first_seen) for alert in sink.alerts] == [(20, T0)]


def test_a_late_event_that_completes_a_closed_window_alerts_for_that_window() -> None:
    engine = Engine([DENIED], MemoryStore())
    assert engine.evaluate([denied(i, i * timedelta(seconds=10)) for i in range(19)]).alerts == []
    assert engine.evaluate([denied(50, 20 * MINUTE)]).alerts == []

    late = engine.evaluate([denied(19, 14 * MINUTE)]).alerts

    assert [(a.event_count, a.first_seen, a.last_seen) for a in late] == [(20, T0, T0 + 14 * MINUTE)]


def test_the_late_trigger_delivered_again_derives_the_same_alert() -> None:
    engine = Engine([DENIED], MemoryStore())
    engine.evaluate([denied(i, i * timedelta(seconds=10)) for i in range(19)] + [denied(50, 20 * MINUTE)])
    first = engine.evaluate([denied(19, 14 * MINUTE)]).alerts
    again = engine.evaluate([denied(19, 14 * MINUTE)]).alerts

    assert [a.alert_id for a in again] == [a.alert_id for a in first]


def test_an_event_older_than_the_allowed_lateness_is_counted_as_too_late_and_dropped() -> None:
    engine = Engine([DENIED], MemoryStore(), lateness=timedelta(hours=1))
    engine.evaluate([denied(0, timedelta(hours=2))])

    evaluation = engine.evaluate([denied(i, i * timedelta(seconds=1)) for i in range(1, 21)])

    assert evaluation.alerts == []
    assert evaluation.too_late == {"secret-access-denied": 20}


def test_within_the_lateness_old_events_still_count_in_their_own_window() -> None:
    engine = Engine([DENIED], MemoryStore(), lateness=timedelta(hours=3))
    engine.evaluate([denied(0, timedelta(hours=2))])

    evaluation = engine.evaluate([denied(i, i * timedelta(seconds=1)) for i in range(1, 21)])

    assert [a.event_count for a in evaluation.alerts] == [20]
    assert not evaluation.too_late


def test_a_late_event_in_a_gap_opens_a_window_that_ends_where_the_next_one_starts() -> None:
    engine = Engine([DENIED], MemoryStore())
    engine.evaluate([denied(i, 20 * MINUTE + i * timedelta(seconds=1)) for i in range(10)])
    # 10 late events 10 minutes before: their window is [10m, 20m), so the 10 at 20m.. are not in it
    late = engine.evaluate([denied(100 + i, 10 * MINUTE + i * timedelta(seconds=1)) for i in range(10)])
    assert late.alerts == []
    # ... and it fills up to 20 on its own
    fill = engine.evaluate([denied(200 + i, 15 * MINUTE + i * timedelta(seconds=1)) for i in range(10)])
    assert [(a.event_count, a.first_seen) for a in fill.alerts] == [(20, T0 + 10 * MINUTE)]


def test_a_group_record_stays_bounded_and_raises_its_floor_past_the_bound() -> None:
    store = MemoryStore()
    engine = Engine([DENIED], store)
    hourly = [denied(i, i * timedelta(hours=1)) for i in range(MAX_WINDOWS + 10)]  # one window an hour
    engine.evaluate(hourly)
    (record,) = [orjson.loads(text) for text, _, _ in store._items.values()]  # expired or not: the record's size

    assert len(record["w"]) == MAX_WINDOWS
    assert engine.evaluate([denied(999, timedelta(hours=1, minutes=5))]).too_late == {"secret-access-denied": 1}


def test_sliding_mode_counts_a_redelivered_batch_once() -> None:
    engine = Engine([sliding()], MemoryStore())
    burst = [denied(i, i * timedelta(seconds=10)) for i in range(20)]
    first = engine.evaluate(burst).alerts
    engine.evaluate([denied(100, 40 * MINUTE)])
    again = engine.evaluate(burst).alerts

    assert len(first) == 1
    assert [a.alert_id for a in again] == [a.alert_id for a in first]


def test_sliding_mode_ten_and_ten_apart_never_alert_when_redelivered() -> None:
    engine = Engine([sliding()], MemoryStore())
    first = [denied(i, i * timedelta(seconds=10)) for i in range(10)]
    engine.evaluate(first)
    engine.evaluate([denied(100 + i, 16 * MINUTE + i * timedelta(seconds=10)) for i in range(10)])

    assert engine.evaluate(first).alerts == []
