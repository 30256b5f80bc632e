"""Engine semantics beyond the rule scenarios: sliding windows, several containers, state cost, caps."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import msgspec
import pytest

from core.alerts.memory import MemorySink
from core.delivery import Delivery
from core.engine import Engine
from core.engine.alerting import render_title
from core.engine.new_terms import term_reader
from core.errors import DeliveryError, StateError
from core.model import Alert
from core.state.counting import CountingStore
from core.state.memory import MemoryStore
from tests.unit.engine_helpers import DENIED, UNUSUAL, denied, read, sliding

MINUTE = timedelta(minutes=1)


def test_sliding_mode_catches_19_plus_19_across_a_fixed_window_boundary() -> None:
    # the fixed window opens at 0 and holds 19; the 19 after 15m open a new window
    burst = [denied(0)] + [denied(i, 14 * MINUTE + i * timedelta(seconds=2)) for i in range(1, 19)]
    burst += [denied(100 + i, 15 * MINUTE + i * timedelta(seconds=2)) for i in range(19)]
    fixed = Engine([DENIED], MemoryStore()).evaluate(burst).alerts
    moving = Engine([sliding()], MemoryStore()).evaluate(burst).alerts
    assert fixed == []
    assert len(moving) == 1
    assert moving[0].event_count == 20


def test_sliding_mode_alerts_once_per_window_for_a_sustained_burst() -> None:
    burst = [denied(i, i * timedelta(seconds=10)) for i in range(6 * 30)]  # 30 minutes, 6 per minute
    alerts = Engine([sliding()], MemoryStore()).evaluate(burst).alerts
    assert [a.first_seen for a in alerts] == sorted(a.first_seen for a in alerts)
    assert len(alerts) == 2


def test_two_containers_sharing_a_store_count_one_group_together() -> None:
    store = MemoryStore()
    first, second = Engine([DENIED], store), Engine([DENIED], store)
    assert first.evaluate([denied(i, i * MINUTE / 4) for i in range(10)]).alerts == []
    alerts = second.evaluate([denied(i, i * MINUTE / 4) for i in range(10, 20)]).alerts
    assert len(alerts) == 1
    assert alerts[0].event_count == 20


def test_a_stale_term_cache_in_one_container_does_not_cause_a_second_alert() -> None:
    store = MemoryStore()
    a, b = Engine([UNUSUAL], store), Engine([UNUSUAL], store)
    assert len(a.evaluate([read(1)]).alerts) == 1
    assert b.evaluate([read(2, timedelta(hours=2))]).alerts == []
    # 8 days later container b sees the term first (new again), then container a, whose cache is stale
    assert len(b.evaluate([read(3, timedelta(days=8))]).alerts) == 1
    assert a.evaluate([read(4, timedelta(days=8, hours=1))]).alerts == []


def test_steady_traffic_of_known_terms_costs_almost_no_store_requests() -> None:
    store = CountingStore(MemoryStore())
    engine = Engine([UNUSUAL], store)
    engine.evaluate([read(0)])
    before = store.requests
    for batch in range(10):  # 1000 events over 10 minutes, same term
        engine.evaluate([read(1000 + batch * 100 + i, timedelta(minutes=batch, seconds=i)) for i in range(100)])
    assert store.requests - before == 0


def test_known_terms_refresh_their_last_sighting_at_most_once_per_refresh_interval() -> None:
    store = CountingStore(MemoryStore())
    engine = Engine([UNUSUAL], store)
    engine.evaluate([read(0)])
    before = store.writes
    for i in range(1, 19):  # 3 hours of sightings, one batch every 10 minutes
        engine.evaluate([read(i, timedelta(minutes=10 * i))])
    assert store.writes - before == 2  # refreshed after 1h10m and 2h20m


def test_one_batch_writes_a_known_term_at_most_once() -> None:
    store = CountingStore(MemoryStore())
    engine = Engine([UNUSUAL], store)
    engine.evaluate([read(0)])
    before = store.writes
    engine.evaluate([read(i, timedelta(minutes=10 * i)) for i in range(1, 19)])
    assert store.writes - before == 1


def test_threshold_writes_each_group_at_most_once_per_batch() -> None:
    store = CountingStore(MemoryStore())
    Engine([DENIED], store).evaluate([denied(i, i * timedelta(seconds=5), user=f"user{i % 3}") for i in range(30)])
    assert store.reads == 1
    assert store.writes == 3


def test_learning_period_starts_at_the_first_event_the_store_saw() -> None:
    store = MemoryStore()
    engine = Engine([UNUSUAL], store, learning_period=timedelta(days=1))
    assert engine.evaluate([read(1), read(2, timedelta(hours=5), agent="python-requests/2.31")]).alerts == []
    later = Engine([UNUSUAL], store, learning_period=timedelta(days=1))  # a new container, same store
    alerts = later.evaluate([read(3, timedelta(days=1, hours=1), agent="Go-http-client/2.0")]).alerts
    assert [a.context.user_agent for a in alerts] == ["Go-http-client/2.0"]


def test_events_missing_a_term_field_are_counted_not_alerted() -> None:
    evaluation = Engine([UNUSUAL], MemoryStore()).evaluate([read(1, ip="")])
    assert evaluation.alerts == []
    assert evaluation.without_term["secret-access-unusual-user-agent"] == 1


def test_alert_ids_are_deterministic_across_fresh_stores() -> None:
    one = Engine([UNUSUAL], MemoryStore()).evaluate([read(1)]).alerts
    two = Engine([UNUSUAL], MemoryStore()).evaluate([read(1)]).alerts
    assert [a.alert_id for a in one] == [a.alert_id for a in two]


class _FailingStore(MemoryStore):
    def put(self, *args: object, **kwargs: object) -> bool:
        raise StateError("simulated outage")


def test_a_store_outage_raises_out_of_the_engine() -> None:
    with pytest.raises(StateError):
        Engine([UNUSUAL], _FailingStore()).evaluate([read(1)])


class _FlakySink(MemorySink):
    label = "flaky"

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    def send(self, alerts: object) -> None:
        if self.failures:
            self.failures -= 1
            raise DeliveryError(self.label, "simulated outage")
        super().send(alerts)  # type: ignore[arg-type]


def _alerts(n: int) -> list[Alert]:
    return Engine([UNUSUAL], MemoryStore()).evaluate([read(i, agent=f"tool/{i}") for i in range(n)]).alerts


def test_an_alert_whose_delivery_failed_is_sent_on_the_retry_and_only_once() -> None:
    store, sink = MemoryStore(), _FlakySink(failures=1)
    delivery = Delivery(store, [sink])
    alerts = _alerts(3)
    with pytest.raises(DeliveryError):
        delivery.deliver(alerts)
    assert len(delivery.deliver(alerts)) == 3
    assert delivery.deliver(alerts) == []
    assert len(sink.alerts) == 3


def test_more_than_100_alerts_of_one_rule_fold_the_rest_into_one_summary_alert() -> None:
    sink = MemorySink()
    sent = Delivery(MemoryStore(), [sink]).deliver(_alerts(130))
    assert len(sent) == 101
    overflow = sent[-1]
    assert overflow.dedup_key == "overflow"
    assert "30 more" in overflow.title
    assert len(overflow.audit_ids) == 30


def test_every_failing_sink_is_named_once_after_all_sinks_were_tried() -> None:
    good, bad_a, bad_b = MemorySink(), _FlakySink(failures=1), _FlakySink(failures=1)
    bad_b.label = "other"
    with pytest.raises(DeliveryError) as caught:
        Delivery(MemoryStore(), [bad_a, good, bad_b]).deliver(_alerts(1))
    assert str(caught.value) == "sink flaky, other: flaky: simulated outage; other: simulated outage"
    assert len(good.alerts) == 1


def test_a_new_term_costs_one_read_and_one_write_of_state_plus_a_claim_and_a_mark_in_the_ledger() -> None:
    store = CountingStore(MemoryStore())
    engine, delivery = Engine([UNUSUAL], store), Delivery(store, [MemorySink()])
    delivery.deliver(engine.evaluate([read(1)]).alerts)
    assert (store.reads, store.writes) == (2, 3)  # term read + write; ledger read, claim, done-and-release


def test_a_term_of_one_field_is_read_like_a_term_of_several() -> None:
    assert UNUSUAL.new_terms is not None
    term_of = term_reader(dataclasses.replace(UNUSUAL.new_terms, fields=("username",)))
    event = read(1, user="alice@example.com")

    assert term_of(event) == ("alice@example.com",)
    assert term_reader(UNUSUAL.new_terms)(event) == ("198.51.100.23", "alice@example.com", "curl/8.5.0")
    assert term_of(msgspec.structs.replace(event, username="")) is None


def test_a_title_shows_its_named_fields_and_a_template_built_without_the_loader_still_renders() -> None:
    event = msgspec.structs.replace(read(1), user_agent="", groups=("system:authenticated", "ops"))
    rule = dataclasses.replace(UNUSUAL, alert_title="{username} from {source_ip} with {user_agent} in {groups}")
    unchecked = dataclasses.replace(UNUSUAL, alert_title="{count:>3}|{verb!r}")  # the loader refuses these

    assert render_title(rule, event, 1) == (
        "system:serviceaccount:payments:api from 198.51.100.23 with - in system:authenticated,ops"
    )
    assert render_title(unchecked, event, 7) == "  7|'get'"


def test_alerts_folded_into_a_summary_are_marked_with_one_read_of_their_records() -> None:
    store, raised = CountingStore(MemoryStore()), _alerts(130)
    Delivery(store, [MemorySink()]).deliver(raised)
    reads = store.reads

    marked = store.get_many([f"sent|{alert.alert_id}" for alert in raised])
    assert len(marked) == 130
    assert all(item.value["done"] == ["memory"] for item in marked.values())
    assert reads == 3  # the ledger of all 130, the summary's, then the 30 folded ones' (not one read each)
