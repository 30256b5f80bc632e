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
from operator import attrgetter
from typing import Any

from core.engine.alerting import Pending, dedup_key, pending_alert
from core.engine.commit import Outcome
from core.engine.windows import Placed, Window, Windows, later
from core.model import AuditEvent
from core.rules.schema import Rule
from core.timeutil import isoformat


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
    """Place a group's events (of one batch, in time order) in its windows: the new record and what it raised."""
    windows = parsed.take(value) if parsed is not None else None
    if windows is None:
        windows = Windows.from_record(value, length=spec.window, lateness=lateness)
    raised, dirty = Raised(), False
    for event in events:
        counted = _distinct(spec, event)
        if counted == "":
            raised.without_value += 1
            continue
        placed, window = windows.add(event.timestamp, event.audit_id, counted, count=spec.count)
        if placed is _TOO_LATE:
            raised.too_late += 1
        elif window is not None and placed in _ALERTING:
            raised.alerts.append(_alert(rule, spec, event, window))
        dirty = dirty or placed in _CHANGING
    if not dirty:  # nothing changed: the windows still read as `value`
        if parsed is not None and value is not None:
            parsed.keep(value, windows)
        return Outcome(None, None, raised)
    windows.prune()
    record = windows.to_record()
    if parsed is not None:
        parsed.keep(record, windows)
    return Outcome(record, max(windows.horizon_end(), later(now, lateness)), raised)


def _distinct(spec: Counting, event: AuditEvent) -> str | None:
    """The value counted for the event: None for audit ids, "" when the distinct field is missing."""
    if spec.distinct is None:
        return None
    value = event.get(spec.distinct)
    return "" if value is None or value == "" else str(value)


def _alert(rule: Rule, spec: Counting, event: AuditEvent, window: Window) -> Pending:
    key = dedup_key(group_values(spec, event))
    return pending_alert(
        rule,
        event,
        key=key,
        id_parts=(key, isoformat(window.start)),
        count=len(window.counted),
        first_seen=window.start,
        last_seen=window.last,
        audit_ids=window.ids,
    )
