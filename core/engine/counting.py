"""Fixed windows per group, with allowed lateness: threshold, cardinality and deduplicated match rules.

All three count distinct values per group in windows opened by the group's events (core.engine.windows) and
alert once per window when the count is reached:
- threshold (fixed mode): the values are audit ids, so the count is of distinct events (Panther's Threshold);
- cardinality: the values are one field's (`distinct`), e.g. secret names (Panther's `unique()`);
- a match rule with `dedup`: a count of one, so the first event of a window alerts and the rest of the window
  is quiet (Panther's dedup period), and a redelivered first event derives the same alert again.
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import islice
from operator import attrgetter, le
from typing import Any

from core.engine.alerting import Pending, dedup_key, pending_alert
from core.engine.commit import Outcome
from core.engine.windows import Placed, Window, Windows, later
from core.model import AuditEvent
from core.rules.schema import Rule


@dataclass(frozen=True, slots=True)
class Counting:
    """What a windowed rule counts."""

    #: state key prefix: "thr" (threshold, as before), "card" or "dedup"
    kind: str
    group_by: tuple[str, ...]
    count: int
    window: timedelta
    #: the field whose distinct values are counted; None counts audit ids
    distinct: str | None = None


@dataclass(slots=True)
class Raised:
    """What one group's events raised in a batch, and what they could not count."""

    alerts: list[Pending] = field(default_factory=list)
    too_late: int = 0
    #: events without the distinct value (a cardinality rule's field is missing)
    without_value: int = 0


class Parsed:
    """Windows already read from, or written as, a record, found by the record itself (its identity): a group's
    next batch starts from them instead of parsing every window's times again. Records are never changed in
    place, so one found is the one parsed; `take` hands it over, so it is never shared by two applies.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._by_record: OrderedDict[int, tuple[Mapping[str, Any], Windows]] = OrderedDict()

    def take(self, record: Mapping[str, Any] | None) -> Windows | None:
        entry = self._by_record.pop(id(record), None) if record is not None else None
        return entry[1] if entry is not None and entry[0] is record else None

    def keep(self, record: Mapping[str, Any], windows: Windows) -> None:
        self._by_record[id(record)] = (record, windows)  # holding the record keeps its id from being reused
        while len(self._by_record) > self._size:
            self._by_record.popitem(last=False)


_TOO_LATE = Placed.TOO_LATE
#: placements that (re)derive the window's alert, and those that change the record (members are looked up once:
#: attribute access on an Enum class is slow)
_ALERTING = (Placed.COMPLETED, Placed.TRIGGER_AGAIN)
_CHANGING = (Placed.COUNTED, Placed.COMPLETED)


def counting_of(rule: Rule) -> Counting | None:
    """The windowed counting a rule does, or None (new_terms, sliding threshold, plain match)."""
    if rule.type == "threshold" and rule.threshold is not None and rule.threshold.mode == "fixed":
        spec = rule.threshold
        return Counting("thr", spec.group_by, spec.count, spec.window)
    if rule.type == "cardinality" and rule.cardinality is not None:
        card = rule.cardinality
        return Counting("card", card.group_by, card.count, card.window, card.distinct)
    if rule.type == "match" and rule.dedup is not None:
        return Counting("dedup", rule.dedup.group_by, 1, rule.dedup.window)
    return None


def group_values(spec: Counting, event: AuditEvent) -> tuple[object, ...]:
    values = _readers(spec.group_by)(event)
    return values if len(spec.group_by) > 1 else (values,)


@functools.cache
def _readers(fields: tuple[str, ...]) -> Callable[[AuditEvent], Any]:
    """One attrgetter per field list: a tuple of the values for several fields, the value for one."""
    return attrgetter(*fields)


def groups(rule: Rule, spec: Counting, events: Sequence[AuditEvent]) -> dict[str, list[AuditEvent]]:
    """The events of each group, by state key, in the order given."""
    by_values: dict[Any, list[AuditEvent]] = {}
    read = _readers(spec.group_by)
    for event in events:
        values = read(event)
        group = by_values.get(values)
        if group is None:
            by_values[values] = [event]
        else:
            group.append(event)
    single = len(spec.group_by) == 1
    keyed = {state_key(rule, spec, (values,) if single else values): group for values, group in by_values.items()}
    if len(keyed) == len(by_values):
        return keyed
    merged: dict[str, list[AuditEvent]] = {}  # values that differ but share a key ("a|b", "c" and "a", "b|c")
    for event in events:
        merged.setdefault(state_key(rule, spec, group_values(spec, event)), []).append(event)
    return merged


def state_key(rule: Rule, spec: Counting, values: Sequence[object]) -> str:
    return f"{spec.kind}|{rule.id}|{dedup_key(values)}"


def apply(
    rule: Rule,
    spec: Counting,
    events: Sequence[AuditEvent],
    value: Mapping[str, Any] | None,
    *,
    now: datetime,
    lateness: timedelta,
    parsed: Parsed | None = None,
) -> Outcome[Raised]:
    """Place a group's events (of one batch, in time order) in its windows: the new record and what it raised.

    As one Windows.add per event would; but when the events are in time order, as the engine gives them, a run
    of them in the newest window is placed at once (Windows.fill while it is open, Windows.settled after).
    """
    windows = parsed.take(value) if parsed is not None else None
    if windows is None:
        windows = Windows.from_record(value, length=spec.window, lateness=lateness)
    if len(events) <= _FEW:  # not worth making runs of: one add each
        raised, dirty = Raised(), False
        for event in events:
            changed = _place(rule, spec, windows, event, _distinct(spec, event), raised=raised)
            dirty = dirty or changed
    else:
        raised, dirty = _in_runs(rule, spec, events, windows)
    if not dirty:  # nothing changed: the windows still read as `value`
        if parsed is not None and value is not None:
            parsed.keep(value, windows)
        return Outcome(None, None, raised)
    windows.prune()
    record = windows.to_record()
    if parsed is not None:
        parsed.keep(record, windows)
    return Outcome(record, max(windows.horizon_end(), later(now, lateness)), raised)


#: Groups of at most this many events in a batch are placed one add per event (most groups, with many clients).
_FEW = 2


def _place(
    rule: Rule, spec: Counting, windows: Windows, event: AuditEvent, counted: str | None, *, raised: Raised
) -> bool:
    """One event placed by Windows.add, `counted` being its value ("" when missing): whether the windows changed."""
    if counted == "":
        raised.without_value += 1
        return False
    placed, window = windows.add(event.timestamp, event.audit_id, counted, count=spec.count)
    if placed is _TOO_LATE:
        raised.too_late += 1
    elif window is not None and placed in _ALERTING:
        raised.alerts.append(_alert(rule, spec, event, window))
    return placed in _CHANGING


def _in_runs(rule: Rule, spec: Counting, events: Sequence[AuditEvent], windows: Windows) -> tuple[Raised, bool]:
    """Place the events, a run at a time where they are in time order (see `apply`): what they raised, and
    whether the windows changed."""
    placing = _Placing(
        rule, spec, events, list(map(_TIME, events)), list(map(_AUDIT_ID, events)), _values(spec, events)
    )
    in_order = all(map(le, placing.times, islice(placing.times, 1, None)))
    index, size = 0, len(events)
    while index < size:
        end = placing.run(windows, index) if in_order else index
        if end > index:
            index = end
        else:
            changed = _place(rule, spec, windows, events[index], placing.values[index], raised=placing.raised)
            placing.dirty = placing.dirty or changed
            index += 1
    return placing.raised, placing.dirty


@dataclass(slots=True)
class _Placing:
    """One group's events of a batch being placed: their times, audit ids and counted values (None for the audit
    id, "" when missing), and what placing them raised so far."""

    rule: Rule
    spec: Counting
    events: Sequence[AuditEvent]
    times: list[datetime]
    ids: list[str]
    values: list[str | None]
    raised: Raised = field(default_factory=Raised)
    #: whether the windows changed
    dirty: bool = False

    def run(self, windows: Windows, start: int) -> int:
        """Place the run of in-order events from `start` in the newest window, or in one they open after it; where
        the run ends (`start`: there is none)."""
        newest = windows.windows[-1] if windows.windows else None
        end, completed = start, False
        if newest is not None and newest.trigger is not None:
            end = windows.settled(self.times, start)
        if end == start:
            end, changed, completed = windows.fill(self.times, self.ids, self.values, start, count=self.spec.count)
            self.dirty = self.dirty or changed
            newest = windows.windows[-1] if windows.windows else None
        if end == start or newest is None:
            return start
        values = self.values[start:end]
        if self.spec.distinct is not None:
            self.raised.without_value += values.count("")
        if completed:  # the run's last event
            self.raised.alerts.append(_alert(self.rule, self.spec, self.events[end - 1], newest))
            return end
        # In an alerted window only its trigger raises anything: its alert again, when its value is counted there.
        trigger = newest.trigger
        if trigger is None:  # an open window: the run stopped short of completing it
            return end
        at = _find(self.ids, trigger, start, end)
        while at is not None:
            counted = values[at - start]
            if counted != "" and (trigger if counted is None else counted) in newest.counted:
                self.raised.alerts.append(_alert(self.rule, self.spec, self.events[at], newest))
            at = _find(self.ids, trigger, at + 1, end)
        return end


def _find(items: list[str], item: str, start: int, end: int) -> int | None:
    try:
        return items.index(item, start, end)
    except ValueError:
        return None


def _distinct(spec: Counting, event: AuditEvent) -> str | None:
    """The value counted for the event: None for its audit id, "" when the distinct field is missing."""
    if spec.distinct is None:
        return None
    value = event.get(spec.distinct)
    return "" if value is None or value == "" else str(value)


def _values(spec: Counting, events: Sequence[AuditEvent]) -> list[str | None]:
    """What each event counts: None for its audit id, its distinct value as text, "" when that is missing."""
    if spec.distinct is None:
        return [None] * len(events)
    return [
        value if value.__class__ is str else "" if value is None else str(value)
        for value in map(_readers((spec.distinct,)), events)
    ]


_TIME, _AUDIT_ID = attrgetter("timestamp"), attrgetter("audit_id")


def _alert(rule: Rule, spec: Counting, event: AuditEvent, window: Window) -> Pending:
    key = dedup_key(group_values(spec, event))
    return pending_alert(
        rule,
        event,
        key=key,
        id_parts=(key, window.start_text()),
        count=len(window.counted),
        first_seen=window.start,
        last_seen=window.last,
        audit_ids=window.ids,
    )
