"""Threshold in sliding mode (fixed mode, the default, is core.engine.counting's).

sliding: alert when any `count` distinct events fall within `window`; after an alert the group stays quiet for
one window either side, so a sustained burst raises one alert per window, not one per event. Late events count
in the windows ending at their own time and at the group's later events within one window.
As in fixed mode, an event older than the allowed lateness (behind the group's newest event) is `too_late`, and the
event that triggered an alert derives the same alert (same id) again when it is delivered again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from core.engine.alerting import Pending, dedup_key, pending_alert
from core.engine.commit import Outcome
from core.engine.counting import Raised
from core.engine.windows import MAX_STORED_CHARS, earlier, later
from core.model import AuditEvent
from core.rules.schema import Rule, ThresholdSpec
from core.timeutil import isoformat, parse_time


def group_values(spec: ThresholdSpec, event: AuditEvent) -> tuple[object, ...]:
    return tuple(event.get(name) for name in spec.group_by)


def state_key(rule: Rule, values: Sequence[object]) -> str:
    return f"thr|{rule.id}|{dedup_key(values)}"


def apply(
    rule: Rule,
    spec: ThresholdSpec,
    events: Sequence[AuditEvent],
    value: Mapping[str, Any] | None,
    *,
    now: datetime,
    lateness: timedelta,
) -> Outcome[Raised]:
    state = _SlidingState.from_record(value)
    raised, dirty = Raised(), False
    for event in events:
        floor = state.floor(lateness)
        if floor is not None and event.timestamp < floor:
            raised.too_late += 1
            continue
        if event.audit_id in state.seen:
            at = state.alerts.get(event.audit_id)
            if at is not None:
                raised.alerts.append(_sliding_alert(rule, spec, event, state, at))
            continue
        state.seen[event.audit_id] = event.timestamp
        state.newest = max(state.newest, event.timestamp) if state.newest else event.timestamp
        dirty = True
        at = state.completed_by(event.timestamp, spec)
        if at is not None:
            state.alerts[event.audit_id] = at
            raised.alerts.append(_sliding_alert(rule, spec, event, state, at))
    if not dirty:
        return Outcome(None, None, raised)
    state.prune(lateness, spec.window)
    newest = state.newest or now
    return Outcome(state.to_record(), max(later(newest, spec.window + lateness), later(now, lateness)), raised)


@dataclass(slots=True)
class _SlidingState:
    seen: dict[str, datetime]
    #: trigger audit id -> the time of the window end its alert is for
    alerts: dict[str, datetime]
    newest: datetime | None
    raised_floor: datetime | None

    def floor(self, lateness: timedelta) -> datetime | None:
        if self.newest is None:
            return self.raised_floor
        floor = earlier(self.newest, lateness)
        return max(floor, self.raised_floor) if self.raised_floor else floor

    def completed_by(self, time: datetime, spec: ThresholdSpec) -> datetime | None:
        """The end of the first window that the event at `time` brings to the count, outside every quiet period."""
        ends = sorted(ts for ts in self.seen.values() if time <= ts < later(time, spec.window))
        for end in ends:
            if self._quiet(end, spec.window):
                continue
            if len(self.within(end, spec.window)) >= spec.count:
                return end
        return None

    def within(self, end: datetime, window: timedelta) -> list[tuple[datetime, str]]:
        start = earlier(end, window)
        return sorted((ts, audit_id) for audit_id, ts in self.seen.items() if start < ts <= end)

    def _quiet(self, end: datetime, window: timedelta) -> bool:
        return any(abs(end - at) < window for at in self.alerts.values())

    def prune(self, lateness: timedelta, window: timedelta) -> None:
        floor = self.floor(lateness)
        if floor is not None:
            self.seen = {aid: ts for aid, ts in self.seen.items() if ts >= earlier(floor, window)}
            self.alerts = {aid: at for aid, at in self.alerts.items() if at >= earlier(floor, window)}
        kept = sorted(((ts, aid) for aid, ts in self.seen.items()), reverse=True)
        size = 0
        for index, (ts, aid) in enumerate(kept):
            size += len(aid) + 32
            if size > MAX_STORED_CHARS:
                self.raised_floor = later(ts, timedelta(microseconds=1) + window)
                self.seen = {audit_id: when for when, audit_id in kept[:index]}
                break

    @classmethod
    def from_record(cls, record: Mapping[str, Any] | None) -> _SlidingState:
        record = record or {}
        seen = {aid: ts for aid, raw in dict(record.get("seen", {})).items() if (ts := parse_time(raw))}
        alerts = {aid: at for aid, raw in dict(record.get("alerts", {})).items() if (at := parse_time(raw))}
        return cls(seen, alerts, parse_time(record.get("top")), parse_time(record.get("floor")))

    def to_record(self) -> dict[str, Any]:
        return {
            "seen": {aid: isoformat(ts) for aid, ts in self.seen.items()},
            "alerts": {aid: isoformat(at) for aid, at in self.alerts.items()},
            "top": isoformat(self.newest) if self.newest else None,
            "floor": isoformat(self.raised_floor) if self.raised_floor else None,
        }


def _sliding_alert(rule: Rule, spec: ThresholdSpec, event: AuditEvent, state: _SlidingState, at: datetime) -> Pending:
    key = dedup_key(group_values(spec, event))
    window = state.within(at, spec.window)
    return pending_alert(
        rule,
        event,
        key=key,
        id_parts=(key, event.audit_id),
        count=len(window),
        first_seen=window[0][0] if window else event.timestamp,
        last_seen=at,
        audit_ids=[audit_id for _, audit_id in window],
    )
