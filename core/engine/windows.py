"""Fixed event-time windows with allowed lateness: what threshold (and cardinality) rules count in.

A group's windows are opened by its events (Panther's semantics): the first event opens [t, t + length), and
an event at or after the newest window's end opens the next one at its own time. Every event belongs to the
window its own time falls in, however late it is delivered:

- in a remembered window, it is counted there; a value already counted there counts nothing;
- in no remembered window but before the newest one (a late event in a gap), it opens a window at its own
  time that ends where the next remembered window starts, so windows never overlap;
- older than the group's floor, it is `too_late`: dropped and counted. The floor is the group's newest event
  time less the allowed lateness, raised to the end of any window dropped to keep the record small.

A window alerts once, when its count of distinct values reaches the threshold, whether the completing event
is on time or late. That event is the window's trigger: when it is delivered again, the same alert (same id)
is derived again, so an alert whose delivery failed is sent by the platform's retry. Events after the alert
raise nothing and are not stored, so a window holds at most `count` values.

The record is plain JSON: {"w": [window...], "top": newest event time, "floor": raised floor or null}, each
window {"s": start, "e": end, "l": last counted event, "ids": audit ids, "v": values (cardinality only),
"t": trigger audit id or null}.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any

from core.timeutil import isoformat, parse_time

#: A group keeps at most this many windows, and this many characters of ids and values across them (the newest
#: window is always kept): one record stays well inside every backend's item limit (DynamoDB's is 400 KB).
MAX_WINDOWS = 64
MAX_STORED_CHARS = 48_000
_NO_TIME = timedelta(0)


class Placed(Enum):
    TOO_LATE = "too_late"  # older than the floor: dropped
    COUNTED = "counted"  # a new value in an open (not yet alerted) window
    COMPLETED = "completed"  # the value that brought its window to the threshold: alert
    TRIGGER_AGAIN = "trigger_again"  # the completing event delivered again: derive the same alert again
    REPEATED = "repeated"  # a value already counted in its window
    AFTER_ALERT = "after_alert"  # a new value in a window that already alerted: nothing to do


@dataclass(slots=True)
class Window:
    start: datetime
    end: datetime
    last: datetime
    ids: list[str] = field(default_factory=list)
    #: the distinct values counted, when they are not the audit ids themselves (cardinality rules)
    values: list[str] | None = None
    trigger: str | None = None
    #: this window as a record's entry, once written and until it changes (untouched windows are not rewritten)
    raw: dict[str, Any] | None = field(default=None, compare=False, repr=False)
    #: size(), once asked for (kept up to date by Windows.add); -1 before
    chars: int = field(default=-1, compare=False, repr=False)
    #: start_text(), once asked for
    iso_start: str | None = field(default=None, compare=False, repr=False)

    @property
    def alerted(self) -> bool:
        return self.trigger is not None

    @property
    def counted(self) -> list[str]:
        return self.ids if self.values is None else self.values

    def start_text(self) -> str:
        """The start as the record and alert ids write it (both use it: formatting a time is not cheap)."""
        if self.iso_start is None:
            self.iso_start = isoformat(self.start)
        return self.iso_start

    def size(self) -> int:
        """Characters of ids and values held."""
        if self.chars < 0:
            self.chars = sum(map(len, self.ids)) + (sum(map(len, self.values)) if self.values is not None else 0)
        return self.chars


@dataclass(slots=True)
class Windows:
    """One group's windows, oldest first, never overlapping."""

    length: timedelta
    lateness: timedelta
    windows: list[Window] = field(default_factory=list)
    newest: datetime | None = None
    raised_floor: datetime | None = None

    @property
    def floor(self) -> datetime | None:
        """Events before this are too late; None while the group has seen nothing."""
        if self.newest is None:
            return self.raised_floor
        floor = earlier(self.newest, self.lateness)
        return max(floor, self.raised_floor) if self.raised_floor else floor

    def add(self, time: datetime, audit_id: str, value: str | None, *, count: int) -> tuple[Placed, Window | None]:
        """Place one event; `value` is what is counted when it is not the audit id (cardinality)."""
        floor = self.floor
        if floor is not None and time < floor:
            return Placed.TOO_LATE, None
        window = self._window_at(time, distinct=value is not None)
        counted = audit_id if value is None else value
        if counted in window.counted:
            return (Placed.TRIGGER_AGAIN if window.trigger == audit_id else Placed.REPEATED), window
        if window.alerted:
            return Placed.AFTER_ALERT, window
        window.ids.append(audit_id)
        if window.values is not None:
            window.values.append(counted)
        if window.chars >= 0:
            window.chars += len(audit_id) + (len(counted) if window.values is not None else 0)
        window.last = max(window.last, time)
        window.raw = None
        self.newest = max(self.newest, time) if self.newest else time
        if len(window.counted) >= count:
            window.trigger = audit_id  # `raw` is cleared above
            return Placed.COMPLETED, window
        return Placed.COUNTED, window

    def settled(self, times: Sequence[datetime], start: int) -> int:
        """Where the run of events from `start` ends whose `add` changes nothing, `times` being the events' times
        in order: those in the newest window once it has alerted, and not too late. Each of them is REPEATED or
        AFTER_ALERT, except the window's trigger delivered again (TRIGGER_AGAIN when its value is counted there);
        none moves `newest`, so the floor stays where it is for the whole run. `start` when there is no such run.
        """
        window = self.windows[-1] if self.windows else None
        if window is None or window.trigger is None:
            return start
        time = times[start]
        if not window.start <= time < window.end:
            return start
        floor = self.floor
        if floor is not None and time < floor:
            return start
        return bisect.bisect_left(times, window.end, lo=start)

    def fill(
        self, times: Sequence[datetime], ids: Sequence[str], values: Sequence[str | None], start: int, *, count: int
    ) -> tuple[int, bool, bool]:
        """Place the run of events from `start` (their times in order, audit ids and values, "" for a missing one,
        which is passed over) that fall in the newest window while it is open, or in the window the first of them
        opens after every other, as one `add` each would: none of them is too late (each counted one moves
        `newest` to its own time at most). Stops after the event that completes the window, its trigger. Returns
        where it stopped (`start` when there is no such run), whether the window changed and whether it completed.
        """
        time, floor = times[start], self.floor
        if self.lateness < _NO_TIME or (floor is not None and time < floor):
            return start, False, False
        window = self.windows[-1] if self.windows else None
        if window is None or time >= window.end:
            if values[start] == "":
                return start, False, False
            window = Window(time, later(time, self.length), time, values=None if values[start] is None else [], chars=0)
            self.windows.append(window)
        elif window.trigger is not None or time < window.start:
            return start, False, False
        end = bisect.bisect_left(times, window.end, lo=start)
        counted, held = window.counted, set(window.counted)
        last, chars = -1, 0
        for index in range(start, end):
            value = values[index]
            if value == "":
                continue
            audit_id = ids[index]
            item = audit_id if value is None else value
            if item in held:  # REPEATED: the window has no trigger yet
                continue
            if window.values is not None:
                window.values.append(item)
                held.add(item)
                chars += len(item)
            else:  # audit ids are what is counted, even a value (a record of another kind of rule), as in `add`
                held.add(audit_id)
            window.ids.append(audit_id)
            chars += len(audit_id)
            last = index
            if len(counted) >= count:
                window.trigger = audit_id
                break
        if last < 0:
            return end, False, False
        window.last = max(window.last, times[last])
        window.raw, window.chars = None, window.chars + chars if window.chars >= 0 else -1
        self.newest = max(self.newest, times[last]) if self.newest else times[last]
        return (last + 1, True, True) if window.trigger is not None else (end, True, False)

    def _window_at(self, time: datetime, *, distinct: bool) -> Window:
        if not self.windows or time >= self.windows[-1].end:  # the usual cases: the first window, or the next one
            window = Window(time, later(time, self.length), time, values=[] if distinct else None, chars=0)
            self.windows.append(window)
            return window
        if self.windows[-1].start <= time:  # and the open window
            return self.windows[-1]
        index = bisect.bisect_right(self.windows, time, key=_start)
        if index and time < self.windows[index - 1].end:
            return self.windows[index - 1]
        end = later(time, self.length)
        if index < len(self.windows):
            end = min(end, self.windows[index].start)
        window = Window(time, end, time, values=[] if distinct else None, chars=0)
        self.windows.insert(index, window)
        return window

    def prune(self) -> None:
        """Forget windows that ended before the floor, then the oldest ones past the size bounds."""
        floor = self.floor
        if floor is not None:
            self.windows = [window for window in self.windows if window.end > floor]
        if len(self.windows) <= 1:  # the newest window is always kept
            return
        total = sum(window.size() for window in self.windows)
        while len(self.windows) > 1 and (len(self.windows) > MAX_WINDOWS or total > MAX_STORED_CHARS):
            dropped = self.windows.pop(0)
            total -= dropped.size()
            self.raised_floor = max(self.raised_floor, dropped.end) if self.raised_floor else dropped.end

    def horizon_end(self) -> datetime:
        """When the record is no longer needed, in event time: the newest window's end plus the lateness."""
        ends = [window.end for window in self.windows]
        return later(max(ends) if ends else (self.newest or datetime.min.replace(tzinfo=UTC)), self.lateness)

    @classmethod
    def from_record(cls, record: Mapping[str, Any] | None, *, length: timedelta, lateness: timedelta) -> Windows:
        if not record:
            return cls(length, lateness)
        windows = [_window(raw) for raw in record.get("w", ())]
        return cls(
            length,
            lateness,
            [window for window in windows if window is not None],
            parse_time(record.get("top")),
            parse_time(record.get("floor")),
        )

    def to_record(self) -> dict[str, Any]:
        """The record; a window written before and unchanged since gives the same entry (entries are never
        changed in place: a changed window gets a new one, holding copies of its lists)."""
        entries = [window.raw or _raw(window) for window in self.windows]
        newest = self.windows[-1] if self.windows else None
        if newest is not None and newest.last == self.newest:  # usually: the newest event is in the newest window
            top = entries[-1]["l"]
        else:
            top = isoformat(self.newest) if self.newest else None
        return {
            "w": entries,
            "top": top,
            "floor": isoformat(self.raised_floor) if self.raised_floor else None,
        }


def _start(window: Window) -> datetime:
    return window.start


def _window(raw: Mapping[str, Any]) -> Window | None:
    start, end, last = parse_time(raw.get("s")), parse_time(raw.get("e")), parse_time(raw.get("l"))
    if start is None or end is None:
        return None
    values = raw.get("v")
    return Window(
        start, end, last or start, list(raw.get("ids", ())), None if values is None else list(values), raw.get("t")
    )


def _raw(window: Window) -> dict[str, Any]:
    start = window.start_text()
    raw: dict[str, Any] = {
        "s": start,
        "e": isoformat(window.end),
        "l": start if window.last == window.start else isoformat(window.last),
        "ids": list(window.ids),
        "t": window.trigger,
    }
    if window.values is not None:
        raw["v"] = list(window.values)
    window.raw = raw
    return raw


def later(time: datetime, delta: timedelta) -> datetime:
    """time + delta, saturating at datetime's limits (the sources refuse such times; this never raises)."""
    try:
        return time + delta
    except OverflowError:
        return datetime.max.replace(tzinfo=time.tzinfo)


def earlier(time: datetime, delta: timedelta) -> datetime:
    try:
        return time - delta
    except OverflowError:
        return datetime.min.replace(tzinfo=time.tzinfo)
