"""The exactly-once promise as a model-based test: a small event universe, instances, destinations, faults.

The universe is built so that which alerts exist does not depend on the order events arrive in: every burst of
failed reads shares one timestamp (so it falls in one window whatever opens it), bursts of one group are an
hour apart, and each new term's sightings share one timestamp. The reference model is then simply a fresh,
fault-free pipeline run over every distinct event delivered at least once.

Faults injected, all through the public protocols:
- sinks (`Destination`) that fail a send outright, or deliver the first half of a batch and then fail,
  reporting what they delivered, as the SNS sink does;
- a store wrapper (`Interfering`) that, before some conditional writes, lets a competing writer rewrite the
  key with the same value, so the write genuinely loses its race and the engine or delivery must re-read;
- redelivery of earlier batches, the same batch on two instances at once (threads), and the platform's retry
  of every batch that raised, until it succeeds.
No real peer can stand for a sink that fails on command, so `Destination` is a test double of the Sink
protocol; the stores are the real backends.
"""

from __future__ import annotations

import dataclasses
import random
import threading
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from core.alerts.memory import MemorySink
from core.errors import DeliveryError, SecretwatchError
from core.model import Alert
from core.pipeline import Pipeline
from core.rules.loader import load_rules
from core.rules.schema import Rule
from core.state.base import Item, JSONValue, Store
from core.state.memory import MemoryStore
from core.timeutil import isoformat

T0 = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
_RULES = {rule.id: rule for rule in load_rules()}


def rules() -> list[Rule]:
    """The two seed rules, the threshold lowered to 3 so a small universe raises alerts."""
    denied = _RULES["secret-access-denied"]
    assert denied.threshold is not None
    small = dataclasses.replace(denied, threshold=dataclasses.replace(denied.threshold, count=3))
    return [small, _RULES["secret-access-unusual-user-agent"]]


def _event(audit_id: str, when: datetime, *, user: str, agent: str, code: int, ip: str) -> bytes:
    stamp = isoformat(when)
    return orjson.dumps({
        "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata", "auditID": audit_id,
        "stage": "ResponseComplete", "requestURI": "/api/v1/namespaces/payments/secrets/db", "verb": "get",
        "user": {"username": user}, "sourceIPs": [ip], "userAgent": agent,
        "objectRef": {"resource": "secrets", "namespace": "payments", "name": "db", "apiVersion": "v1"},
        "responseStatus": {"metadata": {}, "code": code}, "requestReceivedTimestamp": stamp, "stageTimestamp": stamp,
    })  # fmt: skip


#: The denials' agent is one the unusual-agent rule ignores, so they raise threshold alerts only.
KUBECTL = "kubectl/v1.30.2 (linux/amd64) kubernetes/$Format"


def universe() -> tuple[bytes, ...]:
    """24 audit events: 4 bursts of 4 denials (2 users x 2 hours) and 4 terms seen twice each."""
    events = []
    for user in ("mallory@example.com", "eve@example.com"):
        for hour in range(2):
            when = T0 + timedelta(hours=hour)
            events += [
                _event(f"deny-{user[:3]}-{hour}-{n}", when, user=user, agent=KUBECTL, code=403,
                       ip="203.0.113.7")
                for n in range(4)
            ]
    for term in range(4):
        when = T0 + timedelta(minutes=7 * term)
        events += [
            _event(f"read-{term}-{n}", when, user=f"system:serviceaccount:app:sa{term % 2}", agent=f"curl/8.{term}",
                   code=200, ip="198.51.100.9")
            for n in range(2)
        ]
    return tuple(events)


class Destination:
    """Where one sink's alerts land, shared by every instance's copy of that sink; fails on command."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.received: Counter[str] = Counter()
        self.mode = "ok"  # "ok" | "fail" | "half"
        self._lock = threading.Lock()

    def sink(self) -> DestinationSink:
        return DestinationSink(self)


class DestinationSink:
    def __init__(self, destination: Destination) -> None:
        self.destination = destination
        self.label = destination.label

    def send(self, alerts: Sequence[Alert]) -> None:
        destination = self.destination
        if destination.mode == "fail":
            raise DeliveryError(self.label, "injected outage")
        cut = len(alerts) // 2 if destination.mode == "half" and len(alerts) > 1 else len(alerts)
        with destination._lock:
            destination.received.update(alert.alert_id for alert in alerts[:cut])
        if cut < len(alerts):
            delivered = frozenset(alert.alert_id for alert in alerts[:cut])
            raise DeliveryError(self.label, "injected failure half-way", delivered=delivered)

    def close(self) -> None:
        """Nothing to release."""


class Interfering:
    """A Store whose conditional writes sometimes lose a genuine race: a competing writer rewrites the key first."""

    def __init__(self, inner: Store, chance: Callable[[], bool]) -> None:
        self.inner = inner
        self.label = inner.label
        self.chance = chance

    def get_many(self, keys: Sequence[str]) -> dict[str, Item]:
        return self.inner.get_many(keys)

    def put(self, key: str, value: Mapping[str, JSONValue], *, expires_at: datetime, version: int | None) -> bool:
        if self.chance():
            current = self.inner.get_many([key]).get(key)
            if current is not None:
                self.inner.put(key, current.value, expires_at=current.expires_at, version=current.version)
        return self.inner.put(key, value, expires_at=expires_at, version=version)

    def close(self) -> None:
        self.inner.close()


def expected_alert_ids(documents: Sequence[bytes], pack: Sequence[Rule] | None = None) -> set[str]:
    """The reference model: a fresh, fault-free pipeline over the distinct events delivered at least once."""
    sink = MemorySink()
    Pipeline(rules() if pack is None else pack, MemoryStore(), [sink]).process(sorted(set(documents)))
    return {alert.alert_id for alert in sink.alerts}


@dataclasses.dataclass
class World:
    """Instances sharing one store (each with its own pipeline, as containers do) and the destinations."""

    open_store: Callable[[], Store]
    seed: int
    destinations: tuple[Destination, ...] = (Destination("pager"), Destination("mail"))
    delivered: list[bytes] = dataclasses.field(default_factory=list)
    failed: list[tuple[bytes, ...]] = dataclasses.field(default_factory=list)
    interference: float = 0.0

    def __post_init__(self) -> None:
        self.destinations = (Destination("pager"), Destination("mail"))
        self._random = random.Random(self.seed)
        self._random_lock = threading.Lock()
        self.instances = [self._instance() for _ in range(2)]

    def _chance(self) -> bool:
        with self._random_lock:
            return self._random.random() < self.interference

    def _instance(self) -> Pipeline:
        store = Interfering(self.open_store(), self._chance)
        sinks = [destination.sink() for destination in self.destinations]
        pipeline = Pipeline(rules(), store, sinks)
        pipeline.delivery.wait = timedelta(seconds=2)
        return pipeline

    def process(self, instance: int, batch: tuple[bytes, ...]) -> None:
        """One invocation; a batch that raised is kept for the platform's retry, as every platform here does."""
        self.delivered.extend(batch)
        try:
            self.instances[instance].process(list(batch))
        except SecretwatchError:
            with self._random_lock:
                self.failed.append(batch)

    def concurrently(self, batches: Sequence[tuple[bytes, ...]]) -> None:
        threads = [
            threading.Thread(target=self.process, args=(index % len(self.instances), batch))
            for index, batch in enumerate(batches)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def settle(self) -> None:
        """Faults end; the platform retries every failed batch until it succeeds (bounded here)."""
        for destination in self.destinations:
            destination.mode = "ok"
        self.interference = 0.0
        for _ in range(20):
            if not self.failed:
                return
            pending, self.failed = self.failed, []
            for batch in pending:
                self.process(0, batch)
        raise AssertionError(f"{len(self.failed)} batches still fail with every fault removed")

    def check(self) -> dict[str, Any]:
        """Every alert the reference model computes reached every destination exactly once, and nothing else."""
        expected = expected_alert_ids(self.delivered)
        report = {}
        for destination in self.destinations:
            received = destination.received
            duplicates = {aid: n for aid, n in received.items() if n > 1}
            assert not duplicates, f"{destination.label} received alerts more than once: {duplicates}"
            assert set(received) == expected, (
                f"{destination.label}: missing {expected - set(received)}, unexpected {set(received) - expected}"
            )
            report[destination.label] = len(received)
        return report

    def close(self) -> None:
        for instance in self.instances:
            instance.store.close()
