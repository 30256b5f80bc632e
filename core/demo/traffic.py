"""A day of audit traffic across one EKS, one GKE and one AKS cluster, with two attacks planted in it.

The benign cast is stable: every client that reads secrets with an agent the unusual-user-agent rule watches
reads one within the first half of the learning period and never changes address or agent afterwards, and no
benign user collects more than a handful of denials in any 15 minutes. So a run that learns for
`learning_hours` raises exactly the planted alerts. Everything is drawn from `random.Random(seed)`.
"""

from __future__ import annotations

import heapq
import random
from bisect import bisect_right
from collections import defaultdict, deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from itertools import accumulate
from operator import itemgetter
from typing import Any

from core.demo.attacks import PlantedAttack, Timed, enumeration, stolen_token
from core.demo.cast import Activity, Actor, Cluster
from core.demo.clusters import demo_clusters
from core.demo.delivery import deliver
from core.demo.draw import Draw, Table
from core.demo.events import audit_event
from core.errors import ConfigError

__all__ = ["PlantedAttack", "Traffic", "audit_events", "generate_day"]

FORMAT_AGENT_SUFFIX = "kubernetes/$Format"
#: Benign denials allowed per (cluster, user) in any 15 minutes: far below the denied-secrets rule's 20.
DENIAL_CAP = 8
DENIAL_WINDOW_US = 15 * 60 * 1_000_000
#: Share of EKS and AKS requests also logged at stage RequestReceived (same auditID).
REQUEST_RECEIVED_SHARE = 0.01
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_HOUR_US = 3600 * 1_000_000


@dataclass(frozen=True, slots=True)
class Traffic:
    """Wire documents in delivery order: (format "eks" | "gke" | "aks", one JSON document)."""

    documents: tuple[tuple[str, bytes], ...]
    attacks: tuple[PlantedAttack, ...]
    #: Audit events inside all documents, counting each stage of a request.
    event_count: int
    #: Of those, the ones whose objectRef.resource is secrets.
    secret_event_count: int


@dataclass(frozen=True, slots=True)
class _Plan:
    clusters: tuple[Cluster, ...]
    attacks: tuple[PlantedAttack, ...]
    events: Iterator[tuple[str, dict[str, Any]]]


def audit_events(
    *, start: datetime, hours: float, events: int, seed: int, secret_share: float = 0.03,
    denied_share: float = 0.03, attacks: bool = True, learning_hours: float = 6.0,
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Raw audit Events as (cloud "aws" | "gcp" | "azure", event), ordered by stageTimestamp, made lazily.

    A naive `start` is taken as UTC. Attacks come after `learning_hours`; raises ConfigError on bad settings.
    """
    return _plan(start=start, hours=hours, events=events, seed=seed, secret_share=secret_share,
                 denied_share=denied_share, attacks=attacks, learning_hours=learning_hours).events


def generate_day(
    *, day: date = date(2026, 11, 2), events: int = 30_000, seed: int = 7, secret_share: float = 0.03,
    denied_share: float = 0.03, attacks: bool = True, learning_hours: int = 6,
) -> Traffic:
    """One UTC day of traffic wrapped in the clouds' wire formats."""
    plan = _plan(start=datetime.combine(day, time(), tzinfo=UTC), hours=24, events=events, seed=seed,
                 secret_share=secret_share, denied_share=denied_share, attacks=attacks,
                 learning_hours=learning_hours)
    tally = _Tally()
    by_cloud = {cluster.cloud: cluster for cluster in plan.clusters}
    documents = tuple(deliver(tally.count(plan.events), by_cloud, random.Random(f"{seed}/delivery")))
    return Traffic(documents, plan.attacks, tally.events, tally.secrets)


def _plan(
    *, start: datetime, hours: float, events: int, seed: int, secret_share: float, denied_share: float,
    attacks: bool, learning_hours: float,
) -> _Plan:
    _check(hours=hours, events=events, shares=(secret_share, denied_share), attacks=attacks,
           learning_hours=learning_hours)
    draw = Draw(random.Random(seed))
    clusters = demo_clusters()
    begin = ((start if start.tzinfo else start.replace(tzinfo=UTC)) - _EPOCH) // timedelta(microseconds=1)
    end, learned = begin + int(hours * _HOUR_US), begin + int(min(learning_hours, hours) * _HOUR_US)
    planted, scheduled = _attacks(draw, learned, end) if attacks else ((), [])
    if secret_share > 0:
        scheduled += _warmup(draw, clusters, begin, (learned - begin) // 2)
    scheduled.sort(key=itemgetter(0))
    remaining = max(0, events - len(scheduled))
    # The scheduled events all touch secrets: the background makes up the rest of the share.
    secret_p = min(1.0, max(0.0, secret_share * events - len(scheduled)) / remaining) if remaining else 0.0
    background = _Background(draw, clusters, secret_p=secret_p, denied_p=denied_share)
    merged = heapq.merge(scheduled, background.events(begin, end, remaining), key=itemgetter(0))
    return _Plan(clusters, planted, ((cloud, event) for _, cloud, event in merged))


def _check(*, hours: float, events: int, shares: tuple[float, float], attacks: bool,
           learning_hours: float) -> None:
    if hours <= 0 or events < 0 or learning_hours < 0:
        raise ConfigError("demo traffic needs hours > 0, events >= 0 and learning_hours >= 0")
    if not all(0 <= share <= 1 for share in shares):
        raise ConfigError("secret_share and denied_share are fractions: use values from 0 to 1")
    if attacks and hours <= learning_hours:
        raise ConfigError(f"attacks are planted after the {learning_hours} h learning period: "
                          f"make hours ({hours}) longer or pass attacks=False")


def _attacks(draw: Draw, learned: int, end: int) -> tuple[tuple[PlantedAttack, ...], list[Timed]]:
    rest = end - learned
    token, token_events = stolen_token(draw, learned + int(rest * draw.rng.uniform(0.15, 0.4)))
    burst, burst_events = enumeration(draw, learned + int(rest * draw.rng.uniform(0.55, 0.8)))
    return (token, burst), token_events + burst_events


def _warmup(draw: Draw, clusters: Sequence[Cluster], begin: int, window: int) -> list[Timed]:
    """One secret read by each watched client early in the learning period, so its term is known."""
    found: list[Timed] = []
    for cluster in clusters:
        for activity in _learnable(cluster).values():
            completed = begin + draw.between(0, max(0, window - 1))
            found.append((completed, cluster.cloud, audit_event(draw.request(activity, completed))))
    return found


def _learnable(cluster: Cluster) -> dict[Actor, Activity]:
    """Secret-touching actors whose agent does not end in kubernetes/$Format, each with its likeliest read."""
    found: dict[Actor, Activity] = {}
    for activity in sorted((*cluster.secret_reads, *cluster.secret_denials), key=_preference):
        if not activity.actor.user_agent.endswith(FORMAT_AGENT_SUFFIX):
            found.setdefault(activity.actor, activity)
    return found


def _preference(activity: Activity) -> tuple[bool, bool]:
    """Allowed gets and lists first: those are what the unusual-user-agent rule learns from."""
    return activity.verb not in ("get", "list"), activity.status >= 400


@dataclass(frozen=True, slots=True)
class _Tables:
    routine: Table
    reads: Table
    denials: Table

    @classmethod
    def of(cls, cluster: Cluster) -> _Tables:
        return cls(Table(cluster.routine), Table(cluster.secret_reads), Table(cluster.secret_denials))


class _Background:
    """The everyday traffic: each event picks a cluster by share, then routine work or a secret read."""

    __slots__ = ("_clusters", "_denied_p", "_draw", "_guard", "_secret_p", "_shares", "_tables")

    def __init__(self, draw: Draw, clusters: Sequence[Cluster], *, secret_p: float, denied_p: float) -> None:
        self._draw, self._clusters = draw, clusters
        self._secret_p, self._denied_p = secret_p, denied_p
        self._tables = [_Tables.of(cluster) for cluster in clusters]
        self._shares = list(accumulate(cluster.share for cluster in clusters))
        self._guard = _DenialGuard()

    def events(self, begin: int, end: int, count: int) -> Iterator[Timed]:
        """`count` events at sorted uniform times, drawn one at a time (order statistics, no list)."""
        rng, position, previous = self._draw.rng, 0.0, begin
        while count > 0:
            position += (1.0 - position) * (1.0 - rng.random() ** (1.0 / count))
            now = begin + int(position * (end - begin))
            index = min(bisect_right(self._shares, rng.random() * self._shares[-1]), len(self._clusters) - 1)
            cloud = self._clusters[index].cloud
            request = self._draw.request(self._choose(index, cloud, now), now)
            if count > 1 and self._logs_request_received(cloud, request.activity):
                request = replace(request, received_us=max(request.received_us, previous))
                yield request.received_us, cloud, audit_event(request, stage="RequestReceived")
                count -= 1
            yield now, cloud, audit_event(request)
            previous, count = now, count - 1

    def _choose(self, index: int, cloud: str, now: int) -> Activity:
        rng, tables = self._draw.rng, self._tables[index]
        if rng.random() >= self._secret_p:
            return tables.routine.pick(rng)
        if rng.random() < self._denied_p:
            denial = tables.denials.pick(rng)
            if self._guard.admit((cloud, denial.actor.username), now):
                return denial
        return tables.reads.pick(rng)

    def _logs_request_received(self, cloud: str, activity: Activity) -> bool:
        """A few EKS and AKS requests are logged at RequestReceived too (GKE has no stages)."""
        if cloud == "gcp" or activity.verb == "watch":
            return False
        return self._draw.rng.random() < REQUEST_RECEIVED_SHARE


class _DenialGuard:
    """Keeps each benign user's denials under DENIAL_CAP in any DENIAL_WINDOW_US."""

    __slots__ = ("_recent",)

    def __init__(self) -> None:
        self._recent: defaultdict[tuple[str, str], deque[int]] = defaultdict(deque)

    def admit(self, key: tuple[str, str], now: int) -> bool:
        recent = self._recent[key]
        while recent and recent[0] <= now - DENIAL_WINDOW_US:
            recent.popleft()
        if len(recent) >= DENIAL_CAP:
            return False
        recent.append(now)
        return True


class _Tally:
    __slots__ = ("events", "secrets")

    def __init__(self) -> None:
        self.events = 0
        self.secrets = 0

    def count(self, stream: Iterable[tuple[str, dict[str, Any]]]) -> Iterator[tuple[str, dict[str, Any]]]:
        for cloud, event in stream:
            self.events += 1
            if event.get("objectRef", {}).get("resource") == "secrets":
                self.secrets += 1
            yield cloud, event
