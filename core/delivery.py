"""Deliver alerts at least once and, in the normal redelivery case, exactly once.

A ledger in the store remembers which alert ids were sent. A redelivered batch re-derives the same alerts
(same ids) and the ledger drops them; an alert whose sending failed is not marked, so the platform's retry
sends it. At most `max_per_rule` alerts of one rule go out per batch; the rest are folded into one
summary alert, never silently dropped.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from core.alerts.base import Sink
from core.engine.alerting import alert_id
from core.errors import DeliveryError
from core.model import Alert
from core.state.base import Store
from core.timeutil import isoformat, utcnow

SENT_TTL = timedelta(days=8)


class Delivery:
    def __init__(
        self,
        store: Store,
        sinks: Sequence[Sink],
        *,
        max_per_rule: int = 100,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = store
        self.sinks = tuple(sinks)
        self.max_per_rule = max_per_rule
        self._clock = clock

    def deliver(self, alerts: Sequence[Alert]) -> list[Alert]:
        """Send the alerts not sent before; returns what went out (including any overflow summary)."""
        unique = {alert.alert_id: alert for alert in alerts}
        if not unique:
            return []
        sent = self.store.get_many([_ledger_key(aid) for aid in unique])
        fresh = [alert for aid, alert in unique.items() if _ledger_key(aid) not in sent]
        outgoing = self._cap(fresh)
        if not outgoing:
            return []
        self._send(outgoing)
        now = self._clock()
        for aid in dict.fromkeys(alert.alert_id for alert in [*fresh, *outgoing]):  # folded ones too, once each
            self.store.put(_ledger_key(aid), {"sent": isoformat(now)}, expires_at=now + SENT_TTL, version=None)
        return outgoing

    def _cap(self, alerts: Sequence[Alert]) -> list[Alert]:
        by_rule: dict[str, list[Alert]] = defaultdict(list)
        for alert in sorted(alerts, key=lambda a: (a.first_seen, a.alert_id)):
            by_rule[alert.rule_id].append(alert)
        kept: list[Alert] = []
        for group in by_rule.values():
            kept.extend(group[: self.max_per_rule])
            if len(group) > self.max_per_rule:
                kept.append(overflow_alert(group[self.max_per_rule :]))
        return kept

    def _send(self, alerts: Sequence[Alert]) -> None:
        failures: list[DeliveryError] = []
        for sink in self.sinks:
            try:
                sink.send(alerts)
            except DeliveryError as exc:
                failures.append(exc)
        if len(failures) == 1:
            raise failures[0]
        if failures:
            reasons = "; ".join(f"{f.sink}: {f.reason}" for f in failures)
            raise DeliveryError(", ".join(f.sink for f in failures), reasons)


def overflow_alert(excess: Sequence[Alert]) -> Alert:
    """One alert standing for the alerts past the per-rule cap, with their count and audit ids."""
    first = excess[0]
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
