"""new_terms: alert the first time a combination of field values (a term) is seen within the history window.

A term is new when the store holds no sighting of it within `history_window` before the event. One alert
per new term; the alert belongs to the earliest event of the batch that used it. The stored last sighting
is rewritten only when it is older than `refresh`, so steady traffic costs almost no writes; absence is
therefore measured with `refresh` precision, erring towards alerting. During the learning period terms
are recorded and never alerted. An event older than the stored first sighting is not new (it belongs to an
episode that already alerted).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from operator import attrgetter
from typing import Any

from core.engine.alerting import Pending, dedup_key, pending_alert
from core.engine.commit import Outcome
from core.engine.windows import later
from core.model import AuditEvent
from core.rules.schema import NewTermsSpec, Rule
from core.timeutil import isoformat, parse_time


def term_reader(spec: NewTermsSpec) -> Callable[[AuditEvent], tuple[str, ...] | None]:
    """A function giving an event's term: its values, or None when any is missing (such events form none)."""
    read = attrgetter(*spec.fields)
    single = len(spec.fields) == 1

    def term_of(event: AuditEvent) -> tuple[str, ...] | None:
        values = (read(event),) if single else read(event)
        if None in values or "" in values:
            return None
        return tuple(map(str, values))

    return term_of


def state_key(rule: Rule, term: Sequence[str]) -> str:
    digest = hashlib.sha256("\x1f".join(term).encode()).hexdigest()[:40]
    return f"nt|{rule.id}|{digest}"


def applier(
    rule: Rule,
    term: tuple[str, ...],
    events: Sequence[AuditEvent],
    now: datetime,
    learning_until: datetime | None,
) -> Callable[[Mapping[str, Any] | None], Outcome[list[Pending]]]:
    def apply(value: Mapping[str, Any] | None) -> Outcome[list[Pending]]:
        return _step(rule, term, events, value, now=now, learning_until=learning_until)

    return apply


def _step(
    rule: Rule,
    term: tuple[str, ...],
    events: Sequence[AuditEvent],
    value: Mapping[str, Any] | None,
    *,
    now: datetime,
    learning_until: datetime | None,
) -> Outcome[list[Pending]]:
    spec = rule.new_terms
    assert spec is not None
    state = dict(value) if value else None
    dirty, alerts = False, []
    # `last` is state["last"] as a time: an event's own timestamp once it is written (isoformat reads back the same).
    last = parse_time(state["last"]) if state else None
    expired, stale = _deadlines(last, spec)
    for event in events:
        if state is None or expired is None or event.timestamp > expired:
            alerted = learning_until is None or event.timestamp >= learning_until
            stamp = isoformat(event.timestamp)
            state = {"first": stamp, "last": stamp, "trigger": event.audit_id, "alerted": alerted, "term": list(term)}
            last = event.timestamp
            expired, stale = _deadlines(last, spec)
            dirty = True
            if alerted:
                alerts.append(_alert(rule, term, event, state))
        elif state["trigger"] == event.audit_id and state["first"] == isoformat(event.timestamp):
            if state["alerted"]:
                alerts.append(_alert(rule, term, event, state))
        elif stale is not None and event.timestamp > stale:
            state["last"] = isoformat(event.timestamp)
            last = event.timestamp
            expired, stale = _deadlines(last, spec)
            dirty = True
    if not dirty or state is None:
        return Outcome(None, None, alerts)
    expires = later(last or now, spec.history_window + spec.refresh)
    return Outcome(state, max(expires, now + spec.history_window + spec.refresh), alerts)


def _deadlines(last: datetime | None, spec: NewTermsSpec) -> tuple[datetime | None, datetime | None]:
    """After these, a sighting is a new term again, and the stored last sighting is worth refreshing."""
    return (None, None) if last is None else (later(last, spec.history_window), later(last, spec.refresh))


def _alert(rule: Rule, term: tuple[str, ...], event: AuditEvent, state: Mapping[str, Any]) -> Pending:
    key = dedup_key(term)
    return pending_alert(
        rule,
        event,
        key=key,
        id_parts=(key, state["first"]),
        count=1,
        first_seen=event.timestamp,
        last_seen=event.timestamp,
        audit_ids=[event.audit_id],
    )


def learning_key(rule: Rule) -> str:
    return f"learn|{rule.id}"


LEARNING_RECORD_TTL = timedelta(days=3650)
