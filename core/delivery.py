"""Deliver every alert exactly once to every sink, whatever redelivery, retries and concurrency the platform adds.

A ledger record per alert id (in the store, through its conditional writes) holds the sinks that have the
alert and, while one instance sends it, that instance's claim, a lease:

1. claim: a conditional write naming this instance until now + lease. An alert that every sink has is
   skipped; one another instance holds under a live claim is waited for (it usually finishes in milliseconds)
   and, if the claim is still live after `wait`, left to it: the batch raises DeliveryInProgressError so the
   platform retries it later. An expired claim (a crashed instance) is taken over.
2. send: each sink gets the claimed alerts it does not have yet, as one batch.
3. mark: after each sink, the alerts it took (all, or those a half-failed batch reports as delivered) are
   recorded for it; the last write also releases the claim, so a retry can claim at once.

A retry therefore sends only to the sinks that have not succeeded. The one gap is a crash between a sink's
acceptance and its mark, within one send: that sink gets the alert again on the retry (at-least-once there).
At most `max_per_rule` alerts of one rule go out per batch; the rest are folded into one summary alert, never
silently dropped.
"""

from __future__ import annotations

import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from core.alerts.base import Sink
from core.engine.alerting import Pending, alert_id, built
from core.errors import DeliveryError, DeliveryInProgressError, StateConflictError
from core.model import Alert
from core.state.base import Item, Store, get_one
from core.timeutil import isoformat, parse_time, utcnow

#: How long after its last redelivery an alert id is remembered, beyond the allowed lateness.
RETENTION_MARGIN = timedelta(days=1)
#: How long a claim holds: longer than any sink's own retries, short enough that a crashed instance's alerts
#: are taken over by the platform's next retry (Lambda retries after 1 and 2 minutes; Pub/Sub backs off to 10).
DEFAULT_LEASE = timedelta(minutes=5)
#: How long to wait for another instance's live claim before leaving the batch to the platform's retry.
DEFAULT_WAIT = timedelta(seconds=20)
_MAX_ATTEMPTS = 8


@dataclass(frozen=True, slots=True)
class Ledger:
    """One alert's delivery record: the sinks that have it, and the live claim if any."""

    done: frozenset[str]
    owner: str | None
    until: datetime | None

    @classmethod
    def of(cls, item: Item | None) -> Ledger:
        if item is None:
            return cls(frozenset(), None, None)
        value = item.value
        done = value.get("done")
        if done is None and "sent" in value:  # a record from before per-sink marks: it went to every sink
            return cls(frozenset({"*"}), None, None)
        return cls(frozenset(done or ()), value.get("owner"), parse_time(value.get("until")))

    def has(self, sink: str) -> bool:
        return sink in self.done or "*" in self.done

    def live_claim(self, now: datetime) -> bool:
        return self.owner is not None and self.until is not None and self.until > now

    def record(self) -> dict[str, Any]:
        return {"done": sorted(self.done), "owner": self.owner, "until": isoformat(self.until) if self.until else None}


class Delivery:
    def __init__(
        self,
        store: Store,
        sinks: Sequence[Sink],
        *,
        max_per_rule: int = 100,
        retention: timedelta = timedelta(days=7) + RETENTION_MARGIN,
        lease: timedelta = DEFAULT_LEASE,
        wait: timedelta = DEFAULT_WAIT,
        clock: Callable[[], datetime] = utcnow,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.store = store
        self.sinks = tuple(sinks)
        self.max_per_rule = max_per_rule
        self.retention = retention
        self.lease = lease
        self.wait = wait
        self._clock = clock
        self._sleep = sleep
        self.owner = uuid.uuid4().hex
        self._labels = _labels(self.sinks)

    def deliver(
        self, alerts: Sequence[Alert | Pending], *, prepare: Callable[[Alert], Alert] | None = None
    ) -> list[Alert]:
        """Send what some sink lacks; returns the alerts that went to at least one sink in this call.

        Pending alerts are built only when they are sent, and then passed through `prepare` (e.g. adding console
        links); an overflow summary is not.
        """
        unique = {alert.alert_id: alert for alert in alerts}
        if not unique:
            return []
        current = self.store.get_many([_ledger_key(aid) for aid in unique])
        fresh = [alert for aid, alert in unique.items() if self._lacking(Ledger.of(current.get(_ledger_key(aid))))]
        outgoing, folded = self._cap(fresh, prepare)
        if not outgoing:
            return []
        known = {alert.alert_id: current.get(_ledger_key(alert.alert_id)) for alert in outgoing}
        sent, failures, busy = self._rounds(outgoing, known)
        self._mark_folded(folded)
        if busy:
            failures.append(
                DeliveryInProgressError(
                    "delivery", f"{len(busy)} alerts are being sent by another instance; the batch will be retried"
                )
            )
        _raise(failures)
        return [alert for alert in outgoing if alert.alert_id in sent]

    def _rounds(
        self, outgoing: Sequence[Alert], known: dict[str, Item | None]
    ) -> tuple[set[str], list[DeliveryError], set[str]]:
        """Claim, send and release what can be claimed; then wait, a bounded time, for what others hold.

        Nothing is held while waiting, so two instances each holding what the other waits for cannot deadlock.
        """
        sent: set[str] = set()
        failures: list[DeliveryError] = []
        deadline = time.monotonic() + self.wait.total_seconds()
        pause, pending = 0.01, list(outgoing)
        while True:
            claims, busy = self._claim_round(pending, known)
            round_sent, round_failures = self._send(claims)
            sent |= round_sent
            failures += round_failures
            if not busy or time.monotonic() >= deadline:
                return sent, failures, {alert.alert_id for alert in busy}
            self._sleep(pause)
            pause = min(pause * 2, 1.0)
            fetched = self.store.get_many([_ledger_key(alert.alert_id) for alert in busy])
            known.update({alert.alert_id: fetched.get(_ledger_key(alert.alert_id)) for alert in busy})
            pending = busy

    def _mark_folded(self, folded: Mapping[str, Sequence[str]]) -> None:
        """The alerts folded into a summary have reached the sinks that the summary reached."""
        if not folded:
            return
        summaries = self.store.get_many([_ledger_key(aid) for aid in folded])
        reached = {summary: set(Ledger.of(summaries.get(_ledger_key(summary))).done) for summary in folded}
        marked = [
            (member, reached[summary]) for summary, members in folded.items() if reached[summary] for member in members
        ]
        current = self.store.get_many([_ledger_key(member) for member, _ in marked]) if marked else {}
        for member, labels in marked:  # one read for all: a record changed since is re-read by _mark's retry
            self._mark(member, labels, release=True, item=current.get(_ledger_key(member)))

    def _lacking(self, ledger: Ledger) -> bool:
        return any(not ledger.has(label) for label in self._labels.values())

    def _cap(
        self, alerts: Sequence[Alert | Pending], prepare: Callable[[Alert], Alert] | None
    ) -> tuple[list[Alert], dict[str, list[str]]]:
        """The alerts to send, and for each overflow summary among them, the ids of the alerts it stands for."""
        by_rule: dict[str, list[Alert | Pending]] = defaultdict(list)
        for alert in sorted(alerts, key=lambda a: (a.first_seen, a.alert_id)):
            by_rule[alert.rule_id].append(alert)
        kept: list[Alert] = []
        folded: dict[str, list[str]] = {}
        for group in by_rule.values():
            for alert in map(built, group[: self.max_per_rule]):
                kept.append(prepare(alert) if prepare is not None else alert)
            if len(group) > self.max_per_rule:
                summary = overflow_alert(group[self.max_per_rule :])
                kept.append(summary)
                folded[summary.alert_id] = [alert.alert_id for alert in group[self.max_per_rule :]]
        return kept, folded

    # -- claims ------------------------------------------------------------------------------------------------

    def _claim_round(
        self, alerts: Sequence[Alert], known: Mapping[str, Item | None]
    ) -> tuple[dict[str, _Claim], list[Alert]]:
        """Claims on the alerts some sink lacks, and the alerts another live instance holds."""
        claims: dict[str, _Claim] = {}
        busy = []
        for alert in alerts:
            claim = self._claim(alert, known.get(alert.alert_id))
            if isinstance(claim, _Claim):
                claims[alert.alert_id] = claim
            elif claim == "busy":
                busy.append(alert)
        return claims, busy

    def _claim(self, alert: Alert, item: Item | None) -> _Claim | str:
        """A claim on the alert, or "done" when every sink has it, or "busy" under another live claim."""
        key = _ledger_key(alert.alert_id)
        for _ in range(_MAX_ATTEMPTS):
            ledger = Ledger.of(item)
            now = self._clock()
            if not self._lacking(ledger):
                return "done"
            if ledger.live_claim(now) and ledger.owner != self.owner:
                return "busy"
            mine = Ledger(ledger.done, self.owner, now + self.lease)
            version = item.version if item else None
            if self.store.put(key, mine.record(), expires_at=now + self.retention, version=version):
                return _Claim(alert, mine, (version or 0) + 1)
            item = get_one(self.store, key)
        raise StateConflictError(
            f"the delivery record of alert {alert.alert_id} kept changing; the batch will be retried"
        )

    # -- sending -----------------------------------------------------------------------------------------------

    def _send(self, claims: Mapping[str, _Claim]) -> tuple[set[str], list[DeliveryError]]:
        """Each sink gets the claimed alerts it lacks. Whatever happens, what went out is marked and claims released."""
        sent: set[str] = set()
        failures: list[DeliveryError] = []
        last_marks: dict[str, set[str]] = defaultdict(set)
        try:
            for index, sink in enumerate(self.sinks):
                label = self._labels[id(sink)]
                batch = [claim.alert for claim in claims.values() if not claim.ledger.has(label)]
                if not batch:
                    continue
                try:
                    sink.send(batch)
                    took = {alert.alert_id for alert in batch}
                except DeliveryError as exc:
                    took = {alert.alert_id for alert in batch} & exc.delivered
                    failures.append(exc)
                sent |= took
                if index == len(self.sinks) - 1:  # marked together with the release below: one write each
                    for aid in took:
                        last_marks[aid].add(label)
                    continue
                for aid in took:
                    claims[aid].ledger = self._mark(aid, {label}, release=False, claim=claims[aid])
        finally:
            for aid, claim in claims.items():
                claim.ledger = self._mark(aid, last_marks[aid], release=True, claim=claim)
        return sent, failures

    def _mark(
        self,
        aid: str,
        labels: set[str],
        *,
        release: bool,
        claim: _Claim | None = None,
        item: Item | Literal["read"] | None = "read",
    ) -> Ledger:
        """Add `labels` to the alert's done sinks (and release this instance's claim): a union, so never lost.
        The record is the claim's, else `item` when the caller has just read it, else read here."""
        key = _ledger_key(aid)
        if claim is not None:
            item = claim.item
        elif item == "read":
            item = get_one(self.store, key)
        for _ in range(_MAX_ATTEMPTS):
            ledger = Ledger.of(item)
            owner, until = ledger.owner, ledger.until
            if release and owner == self.owner:
                owner, until = None, None
            updated = Ledger(ledger.done | labels, owner, until)
            if updated == ledger:
                return ledger
            version = item.version if item else None
            now = self._clock()
            if self.store.put(key, updated.record(), expires_at=now + self.retention, version=version):
                if claim is not None:
                    claim.version = (version or 0) + 1
                return updated
            item = get_one(self.store, key)
            if claim is not None:
                claim.version = item.version if item else 0
        raise StateConflictError(f"the delivery record of alert {aid} kept changing; the batch will be retried")


@dataclass(slots=True)
class _Claim:
    alert: Alert
    ledger: Ledger
    version: int

    @property
    def item(self) -> Item:
        return Item(self.ledger.record(), self.version, datetime.max.replace(tzinfo=UTC))


def _labels(sinks: Sequence[Sink]) -> dict[int, str]:
    """Each sink's name in the ledger: its label, numbered when two sinks share one."""
    seen: dict[str, int] = defaultdict(int)
    labels: dict[int, str] = {}
    for sink in sinks:
        seen[sink.label] += 1
        labels[id(sink)] = sink.label if seen[sink.label] == 1 else f"{sink.label}#{seen[sink.label]}"
    return labels


def _raise(failures: Sequence[DeliveryError]) -> None:
    if len(failures) == 1:
        raise failures[0]
    if failures:
        reasons = "; ".join(f"{f.sink}: {f.reason}" for f in failures)
        raise DeliveryError(", ".join(f.sink for f in failures), reasons)


def overflow_alert(excess: Sequence[Alert | Pending]) -> Alert:
    """One alert standing for the alerts past the per-rule cap, with their count and audit ids."""
    first = built(excess[0])
    audit_ids = tuple(dict.fromkeys(aid for alert in excess for aid in alert.audit_ids))
    return Alert(
        alert_id=alert_id(first.rule_id, "overflow", *sorted(alert.alert_id for alert in excess)),
        rule_id=first.rule_id,
        title=f"{len(excess)} more '{first.rule_id}' alerts in this batch, folded into one",
        severity=first.severity,
        risk_score=first.risk_score,
        dedup_key="overflow",
        event_count=sum(alert.event_count for alert in excess),
        first_seen=min(alert.first_seen for alert in excess),
        last_seen=max(alert.last_seen for alert in excess),
        cloud=first.cloud,
        cluster=first.cluster,
        context=first.context,
        audit_ids=audit_ids[:100],
        mitre=first.mitre,
        runbook=first.runbook,
    )


def _ledger_key(aid: str) -> str:
    return f"sent|{aid}"
