"""Threshold: count distinct audit ids per group in a time window and alert once when the count is reached.

fixed (default, Panther's semantics): the window opens at the group's first matching event and lasts
`window`; the alert fires when the count reaches `count`; later events in that window raise nothing; the
first event at or after the window's end opens a new one. Events are taken in event-time order within a
batch; an event older than the open window's start (a late delivery) is counted in the open window.
sliding: alert when any `count` distinct events fall within `window`; after an alert the group stays quiet
for one window, so a sustained burst raises one alert per window, not one per event.
Redelivered events (an audit id already counted) never count twice; when the redelivered event is the one
that triggered the alert, the same alert (same id) is derived again and the delivery ledger drops it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from core.engine.alerting import build_alert, dedup_key
from core.engine.commit import Outcome
from core.model import Alert, AuditEvent
from core.rules.schema import Rule, ThresholdSpec
from core.timeutil import isoformat, parse_time

#: sliding mode keeps at most this many ids per count, so one record stays small on every backend
SLIDING_CAP = 10


def group_values(spec: ThresholdSpec, event: AuditEvent) -> tuple[object, ...]:
    return tuple(event.get(name) for name in spec.group_by)


def state_key(rule: Rule, values: Sequence[object]) -> str:
    return f"thr|{rule.id}|{dedup_key(values)}"


def applier(
    rule: Rule, events: Sequence[AuditEvent], now: datetime
) -> Callable[[Mapping[str, Any] | None], Outcome[list[Alert]]]:
    spec = rule.threshold
    assert spec is not None
    step = _fixed if spec.mode == "fixed" else _sliding

    def apply(value: Mapping[str, Any] | None) -> Outcome[list[Alert]]:
        return step(rule, spec, events, value, now)

    return apply


def _fixed(
    rule: Rule,
    spec: ThresholdSpec,
    events: Sequence[AuditEvent],
    value: Mapping[str, Any] | None,
    now: datetime,
) -> Outcome[list[Alert]]:
    state = dict(value) if value else None
    ids: list[str] = list(state["ids"]) if state else []
    dirty, alerts = False, []
    for event in events:
        start = parse_time(state["start"]) if state else None
        if state is None or start is None or event.timestamp >= start + spec.window:
            state = {
                "start": isoformat(event.timestamp),
                "last": isoformat(event.timestamp),
                "alerted": False,
                "trigger": None,
            }
            ids = []
        if event.audit_id in ids:
            if state["alerted"] and state["trigger"] == event.audit_id:
                alerts.append(_alert(rule, spec, event, state, ids))
            continue
        if state["alerted"]:
            continue
        ids.append(event.audit_id)
        state["last"] = isoformat(max(event.timestamp, parse_time(state["last"]) or event.timestamp))
        dirty = True
        if len(ids) >= spec.count:
            state.update(alerted=True, trigger=event.audit_id)
            alerts.append(_alert(rule, spec, event, state, ids))
    if not dirty or state is None:
        return Outcome(None, None, alerts)
    state["ids"] = ids
    window_end = (parse_time(state["start"]) or now) + spec.window
    return Outcome(state, max(window_end, now + spec.window), alerts)


def _sliding(
    rule: Rule,
    spec: ThresholdSpec,
    events: Sequence[AuditEvent],
    value: Mapping[str, Any] | None,
    now: datetime,
) -> Outcome[list[Alert]]:
    seen: dict[str, str] = dict(value["seen"]) if value else {}
    quiet_until = parse_time(value.get("quiet_until")) if value else None
    trigger = value.get("trigger") if value else None
    dirty, alerts, latest = False, [], None
    for event in events:
        if event.audit_id in seen:
            if trigger == event.audit_id:
                alerts.append(_sliding_alert(rule, spec, event, seen))
            continue
        seen[event.audit_id] = isoformat(event.timestamp)
        dirty, latest = True, max(latest or event.timestamp, event.timestamp)
        seen = _prune(seen, latest - spec.window, spec.count * SLIDING_CAP)
        in_window = [
            ts for ts in seen.values() if (parse_time(ts) or event.timestamp) > event.timestamp - spec.window
        ]
        if len(in_window) >= spec.count and (quiet_until is None or event.timestamp >= quiet_until):
            quiet_until, trigger = event.timestamp + spec.window, event.audit_id
            alerts.append(_sliding_alert(rule, spec, event, seen))
    if not dirty or latest is None:
        return Outcome(None, None, alerts)
    record = {
        "seen": seen,
        "quiet_until": isoformat(quiet_until) if quiet_until else None,
        "trigger": trigger,
    }
    return Outcome(record, max(latest, now) + spec.window, alerts)


def _prune(seen: dict[str, str], oldest: datetime, cap: int) -> dict[str, str]:
    kept = sorted(((ts, audit_id) for audit_id, ts in seen.items() if ts >= isoformat(oldest)), reverse=True)
    return {audit_id: ts for ts, audit_id in kept[:cap]}


def _alert(
    rule: Rule, spec: ThresholdSpec, event: AuditEvent, state: Mapping[str, Any], ids: Sequence[str]
) -> Alert:
    values = group_values(spec, event)
    start = parse_time(state["start"]) or event.timestamp
    return build_alert(
        rule,
        event,
        key=dedup_key(values),
        id_parts=(dedup_key(values), state["start"]),
        count=len(ids),
        first_seen=start,
        last_seen=parse_time(state["last"]) or event.timestamp,
        audit_ids=ids,
    )


def _sliding_alert(rule: Rule, spec: ThresholdSpec, event: AuditEvent, seen: Mapping[str, str]) -> Alert:
    values = group_values(spec, event)
    window = sorted(
        (ts, audit_id)
        for audit_id, ts in seen.items()
        if timedelta(0) <= event.timestamp - (parse_time(ts) or event.timestamp) < spec.window
    )
    first = parse_time(window[0][0]) if window else event.timestamp
    return build_alert(
        rule,
        event,
        key=dedup_key(values),
        id_parts=(dedup_key(values), event.audit_id),
        count=len(window),
        first_seen=first or event.timestamp,
        last_seen=event.timestamp,
        audit_ids=[audit_id for _, audit_id in window],
    )
