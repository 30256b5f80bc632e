"""Delivery is exactly once per sink: claims with a lease, a mark per sink, retries only where a sink lacks an alert."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError
from moto import mock_aws

from core.alerts.memory import MemorySink
from core.alerts.sns import SnsSink
from core.delivery import Delivery
from core.engine import Engine, alerting
from core.errors import DeliveryError, DeliveryInProgressError
from core.model import Alert, Link
from core.state.memory import MemoryStore
from core.state.sqlite import SqliteStore
from tests.unit.engine_helpers import UNUSUAL, read

REGION = "us-east-1"


def alerts(n: int) -> list[Alert]:
    return Engine([UNUSUAL], MemoryStore()).evaluate([read(i, agent=f"tool/{i}") for i in range(n)]).alerts


class DownSink(MemorySink):
    """A sink that fails every send while `down`: stands for an outage; no local peer is needed for that."""

    def __init__(self, label: str, *, down: bool = True) -> None:
        super().__init__()
        self.label = label
        self.down = down
        self.attempts = 0

    def send(self, batch: Sequence[Alert]) -> None:
        self.attempts += 1
        if self.down:
            raise DeliveryError(self.label, "simulated outage")
        super().send(batch)


class ManualClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def test_a_healthy_sink_beside_one_that_keeps_failing_gets_each_alert_once() -> None:
    store, healthy, failing = MemoryStore(), MemorySink(), DownSink("pager")
    raised = alerts(3)
    for _ in range(4):  # the first delivery and three platform retries
        with pytest.raises(DeliveryError, match="pager"):
            Delivery(store, [healthy, failing]).deliver(raised)
    failing.down = False
    Delivery(store, [healthy, failing]).deliver(raised)
    Delivery(store, [healthy, failing]).deliver(raised)

    assert sorted(a.alert_id for a in healthy.alerts) == sorted(a.alert_id for a in raised)
    assert sorted(a.alert_id for a in failing.alerts) == sorted(a.alert_id for a in raised)


def test_a_sink_added_later_receives_only_what_it_lacks_and_the_others_nothing_again() -> None:
    store, first, added = MemoryStore(), MemorySink(), MemorySink()
    added.label = "added"
    raised = alerts(2)
    Delivery(store, [first]).deliver(raised)
    Delivery(store, [first, added]).deliver(raised)

    assert len(first.alerts) == 2
    assert len(added.alerts) == 2


@pytest.fixture
def sns_topic(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        yield boto3.client("sns", region_name=REGION).create_topic(Name="alerts")["TopicArn"]


def test_an_sns_batch_that_fails_half_way_resends_only_the_half_that_did_not_go_out(sns_topic: str) -> None:
    client = boto3.client("sns", region_name=REGION)
    published: list[int] = []
    calls = {"n": 0}

    def fail_the_second_request(params: dict[str, object], **_: object) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise EndpointConnectionError(endpoint_url="https://sns.us-east-1.amazonaws.com")
        published.append(len(params["PublishBatchRequestEntries"]))  # type: ignore[arg-type]

    client.meta.events.register("provide-client-params.sns.PublishBatch", fail_the_second_request)
    store, raised = MemoryStore(), alerts(15)  # two PublishBatch requests: 10 and 5

    with pytest.raises(DeliveryError):
        Delivery(store, [SnsSink(sns_topic, client=client)]).deliver(raised)
    Delivery(store, [SnsSink(sns_topic, client=client)]).deliver(raised)

    assert published == [10, 5]


def test_a_crash_between_claim_and_send_is_taken_over_once_the_lease_expires() -> None:
    store, clock, sink = MemoryStore(), ManualClock(), MemorySink()
    raised = alerts(2)
    crashed = Delivery(store, [sink], clock=clock, wait=timedelta(0))
    crashed._claim_round(raised, {})  # claimed, then the instance died before sending

    with pytest.raises(DeliveryInProgressError):
        Delivery(store, [sink], clock=clock, wait=timedelta(0)).deliver(raised)  # the claim is still live
    assert sink.alerts == []

    clock.now += timedelta(minutes=6)  # past the 5-minute lease: the platform's next retry takes over
    sent = Delivery(store, [sink], clock=clock, wait=timedelta(0)).deliver(raised)

    assert len(sent) == 2
    assert len(sink.alerts) == 2


def test_a_live_claim_of_another_instance_is_waited_for_and_then_skipped() -> None:
    store, sink = MemoryStore(), MemorySink()
    raised = alerts(1)
    other = Delivery(store, [sink])
    other._claim_round(raised, {})
    finish = threading.Timer(0.2, lambda: other.deliver(raised))  # the other instance finishes its send
    finish.start()

    sent = Delivery(store, [sink], wait=timedelta(seconds=5)).deliver(raised)
    finish.join()

    assert sent == []
    assert len(sink.alerts) == 1


def test_instances_racing_on_one_sqlite_file_send_each_alert_once(tmp_path: Path) -> None:
    path, raised, sink = tmp_path / "state.db", alerts(5), MemorySink()
    lock = threading.Lock()

    class SharedSink(MemorySink):
        def send(self, batch: Sequence[Alert]) -> None:
            with lock:
                sink.send(batch)

    barrier = threading.Barrier(6)

    def instance() -> None:
        store = SqliteStore(path)
        barrier.wait()
        Delivery(store, [SharedSink()]).deliver(raised)
        store.close()

    threads = [threading.Thread(target=instance) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(a.alert_id for a in sink.alerts) == sorted(a.alert_id for a in raised)


def test_a_ledger_record_written_before_per_sink_marks_still_counts_as_sent_everywhere() -> None:
    store, sink = MemoryStore(), MemorySink()
    (alert,) = alerts(1)
    store.put(
        f"sent|{alert.alert_id}",
        {"sent": "2026-12-01T09:00:00.000000Z"},
        expires_at=datetime(2099, 1, 1, tzinfo=UTC),
        version=None,
    )

    assert Delivery(store, [sink]).deliver([alert]) == []
    assert sink.alerts == []


def test_alerts_folded_into_an_overflow_summary_are_not_sent_again_on_a_retry() -> None:
    store, sink = MemoryStore(), MemorySink()
    raised = alerts(130)
    Delivery(store, [sink]).deliver(raised)
    Delivery(store, [sink]).deliver(raised)

    assert len(sink.alerts) == 101


def test_a_sink_raising_something_unexpected_releases_the_claims_so_the_retry_is_not_blocked() -> None:
    store, sink = MemoryStore(), MemorySink()
    raised = alerts(2)

    class Broken(MemorySink):
        label = "broken"

        def send(self, batch: Sequence[Alert]) -> None:
            raise RuntimeError("a bug in a sink")

    with pytest.raises(RuntimeError):
        Delivery(store, [sink, Broken()]).deliver(raised)
    Delivery(store, [sink], wait=timedelta(0)).deliver(raised)  # no DeliveryInProgressError

    assert len(sink.alerts) == 2


def test_an_overflow_summary_that_one_sink_missed_reaches_it_on_the_retry_and_only_it() -> None:
    store, healthy, failing = MemoryStore(), MemorySink(), DownSink("pager")
    raised = alerts(130)
    with pytest.raises(DeliveryError):
        Delivery(store, [healthy, failing]).deliver(raised)
    failing.down = False
    Delivery(store, [healthy, failing]).deliver(raised)

    assert len(healthy.alerts) == 101
    assert len(failing.alerts) == 101
    assert [a.dedup_key for a in failing.alerts].count("overflow") == 1


def test_pending_alerts_deliver_as_built_ones_do_and_only_those_sent_are_built(monkeypatch: pytest.MonkeyPatch) -> None:
    evaluation = Engine([UNUSUAL], MemoryStore()).evaluate([read(i, agent=f"tool/{i}") for i in range(130)])
    link = (Link("Cloud Logging", "https://console.cloud.google.com/logs/query"),)
    eager_sink, lazy_sink = MemorySink(), MemorySink()
    eager = Delivery(MemoryStore(), [eager_sink]).deliver([replace(a, links=link) for a in evaluation.alerts])
    builds: list[alerting.Pending] = []
    build = alerting._build

    def counted(pending: alerting.Pending) -> Alert:
        builds.append(pending)
        return build(pending)

    monkeypatch.setattr(alerting, "_build", counted)
    lazy = Delivery(MemoryStore(), [lazy_sink]).deliver(evaluation.pending, prepare=lambda a: replace(a, links=link))

    assert lazy == eager
    assert lazy_sink.alerts == eager_sink.alerts
    assert [a.links for a in lazy].count(link) == 100  # the overflow summary has none, as before
    assert len(builds) == 101  # the 100 sent and the first folded one, which the summary copies its context from
