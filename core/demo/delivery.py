"""Wrap a time-ordered stream of audit events into wire documents, batched the way each cloud delivers them.

EKS: one Lambda event per 50-200 log events of one audit stream. GKE: one Pub/Sub push per LogEntry.
AKS: one Event Hub body per 20-100 records.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from core.demo.cast import Cluster
from core.demo.envelopes import (
    aks_eventhub_body,
    aks_record,
    eks_audit_stream,
    eks_lambda_event,
    gke_log_entry,
    pubsub_push_body,
)
from core.jsontext import kept_json

#: Wire format of each cloud's documents.
FORMATS = {"aws": "eks", "gcp": "gke", "azure": "aks"}
BATCH_SIZES = {"aws": (50, 200), "azure": (20, 100)}
PUBSUB_SUBSCRIPTION = "secretwatch-audit"
Document = tuple[str, bytes]


def deliver(stream: Iterable[tuple[str, dict[str, Any]]], clusters: Mapping[str, Cluster],
            rng: random.Random) -> Iterator[Document]:
    """The documents, in the order their batches fill up; partial batches are sent at the end."""
    batches = _Batches(clusters, rng)
    for cloud, event in stream:
        yield from batches.add(cloud, event)
    yield from batches.flush()


class _Batches:
    __slots__ = ("_clusters", "_message_id", "_pending", "_rng", "_targets")

    def __init__(self, clusters: Mapping[str, Cluster], rng: random.Random) -> None:
        self._clusters = clusters
        self._rng = rng
        self._pending: dict[str, list[dict[str, Any]]] = {cloud: [] for cloud in BATCH_SIZES}
        self._targets = {cloud: rng.randint(*sizes) for cloud, sizes in BATCH_SIZES.items()}
        self._message_id = 11_482_305_000_000_000 + rng.randrange(10**9)

    def add(self, cloud: str, event: dict[str, Any]) -> Iterator[Document]:
        if cloud == "gcp":
            yield "gke", self._pubsub(event)
            return
        pending = self._pending[cloud]
        pending.append(event)
        if len(pending) >= self._targets[cloud]:
            yield self._send(cloud)

    def flush(self) -> Iterator[Document]:
        for cloud, pending in self._pending.items():
            if pending:
                yield self._send(cloud)

    def _send(self, cloud: str) -> Document:
        events, self._pending[cloud] = self._pending[cloud], []
        self._targets[cloud] = self._rng.randint(*BATCH_SIZES[cloud])
        cluster = self._clusters[cloud]
        if cloud == "aws":
            stream = eks_audit_stream(cluster.name, instance=self._rng.randrange(2))
            body = eks_lambda_event(events, cluster=cluster.name, account=cluster.account, stream=stream)
        else:
            body = aks_eventhub_body([
                aks_record(event, cluster=cluster.name, subscription_id=cluster.account,
                           resource_group=cluster.resource_group) for event in events
            ])
        return FORMATS[cloud], _wire(body)

    def _pubsub(self, event: dict[str, Any]) -> bytes:
        cluster = self._clusters["gcp"]
        entry = gke_log_entry(event, cluster=cluster.name, project=cluster.account, location=cluster.location)
        self._message_id += 1 + int(self._rng.random() * 40)
        subscription = f"projects/{cluster.account}/subscriptions/{PUBSUB_SUBSCRIPTION}"
        body = pubsub_push_body(entry, subscription=subscription, message_id=str(self._message_id))
        return _wire(body)


def _wire(body: dict[str, Any]) -> bytes:
    """The document as JSON bytes (a day holds tens of thousands)."""
    return kept_json(body)
