"""Seeded choices: which activity happens next, and the details of the request it makes."""

from __future__ import annotations

import random
from bisect import bisect_right
from collections.abc import Sequence
from itertools import accumulate

from core.demo.cast import Activity
from core.demo.events import Request

_MUTATING = frozenset({"update", "patch"})


class Table:
    """Activities picked in proportion to their weights."""

    __slots__ = ("_cumulative", "activities")

    def __init__(self, activities: Sequence[Activity]) -> None:
        if not activities:
            raise ValueError("an activity table needs at least one activity")
        self.activities = tuple(activities)
        self._cumulative = list(accumulate(activity.weight for activity in self.activities))

    def pick(self, rng: random.Random) -> Activity:
        index = bisect_right(self._cumulative, rng.random() * self._cumulative[-1])
        return self.activities[min(index, len(self.activities) - 1)]


class Draw:
    """Everything the demo makes up (ids, names, latencies, watch lengths) comes from this one generator."""

    __slots__ = ("rng",)

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def audit_id(self) -> str:
        """A version-4 UUID (uuid.UUID is needlessly slow for this)."""
        digits = f"{self.rng.getrandbits(128):032x}"
        variant = "89ab"[int(digits[16], 16) & 3]
        return f"{digits[:8]}-{digits[8:12]}-4{digits[13:16]}-{variant}{digits[17:20]}-{digits[20:]}"

    def between(self, low: int, high: int) -> int:
        """An integer in [low, high]; Random.randint costs ten times more and this runs per event."""
        return low + int(self.rng.random() * (high - low + 1))

    def request(self, activity: Activity, completed_us: int) -> Request:
        """A request of `activity` at one of its targets, completing at `completed_us`."""
        targets = activity.targets
        namespace, name = targets[int(self.rng.random() * len(targets))]
        if name and "{" in name:
            name = self._fill_name(name)
        query, duration_us = activity.query, self._latency(activity)
        if "{" in query:
            seconds = self.between(300, 599)
            query = query.format(rv=self._resource_version(), timeout=f"{seconds // 60}m{seconds % 60}s",
                                 seconds=seconds, name=name)
            if activity.verb == "watch":  # a watch's ResponseComplete comes when its timeout ends it
                duration_us = seconds * 1_000_000 + self.between(200, 5000)
        version = self._resource_version() if activity.verb in _MUTATING else None
        return Request(activity, namespace, name, self.audit_id(), completed_us - duration_us, completed_us,
                       query, version)

    def _fill_name(self, name: str) -> str:
        """`{hex}`: an event's random suffix; `{n}`: a Helm release revision."""
        if "{hex}" in name:
            return name.replace("{hex}", f"{self.rng.getrandbits(64):016x}")
        return name.replace("{n}", str(self.between(2, 60)))

    def _resource_version(self) -> int:
        return self.between(40_000_000, 48_000_000)

    def _latency(self, activity: Activity) -> int:
        latency = self.between(700, 9000)
        if activity.verb == "list":
            latency += self.between(2000, 60000)
        elif activity.verb in ("create", "update", "patch"):
            latency += self.between(1000, 15000)
        return latency
