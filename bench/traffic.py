"""Benchmark traffic: the demo generator's audit events, wrapped in one cloud's wire format at a time."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from core.demo.clusters import demo_clusters
from core.demo.delivery import deliver
from core.demo.traffic import audit_events

START = datetime(2026, 11, 2, tzinfo=UTC)
LEARNING_HOURS = 6
#: The wire format each bench format name stands for, and the cloud whose envelopes carry it.
CLOUDS = {"eks": "aws", "gke": "gcp", "aks": "azure"}
FORMAT_NAMES = {
    "eks": "EKS Lambda events",
    "gke": "GKE Pub/Sub pushes",
    "aks": "AKS Event Hub bodies",
}


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    description: str
    secret_share: float
    denied_share: float


SCENARIOS = (
    Scenario("mix", "realistic mix: 3% of events touch secrets, 3% of those denied", 0.03, 0.03),
    Scenario("all-secrets", "worst case: every event touches secrets, 3% denied", 1.0, 0.03),
)


def wire_documents(scenario: Scenario, fmt: str, *, events: int, seed: int = 7) -> Iterator[bytes]:
    """A day of `events` audit events, all delivered as `fmt` (EKS: 50-200 events per Lambda event; GKE: one
    LogEntry per Pub/Sub push; AKS: 20-100 records per Event Hub body), made lazily.

    GKE logs no request stages, so RequestReceived events are left out of GKE traffic.
    """
    cloud = CLOUDS[fmt]
    stream = (
        (cloud, event)
        for _, event in _events(scenario, events, seed)
        if cloud != "gcp" or event.get("stage") != "RequestReceived"
    )
    clusters = {cluster.cloud: cluster for cluster in demo_clusters()}
    return (document for _, document in deliver(stream, clusters, random.Random(f"{seed}/bench/{fmt}")))


def _events(scenario: Scenario, events: int, seed: int) -> Iterator[tuple[str, dict[str, Any]]]:
    return audit_events(
        start=START, hours=24, events=events, seed=seed, secret_share=scenario.secret_share,
        denied_share=scenario.denied_share, learning_hours=LEARNING_HOURS,
    )
