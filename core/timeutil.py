"""Time parsing for the wire formats and human durations ("15m", "7d")."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_UNITS = {"ms": "milliseconds", "s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: object) -> timedelta:
    """Parse `15m`, `7d`, `1w`, `14m59s` or `59.999s`; raises ValueError naming the accepted forms."""
    compact = text.replace(" ", "") if isinstance(text, str) else ""
    parts = _PART.findall(compact)
    if not compact or "".join(number + unit for number, unit in parts) != compact:
        raise ValueError(f"bad duration {text!r}: use numbers with units ms, s, m, h, d, w (e.g. 15m, 7d, 14m59s)")
    return sum((timedelta(**{_UNITS[unit]: float(number)}) for number, unit in parts), timedelta())


def format_duration(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def parse_time(value: object) -> datetime | None:
    """RFC 3339 (any fraction length, `Z` or offset) to an aware UTC datetime; None when absent or invalid.

    Naive times (Panther-normalised samples) are taken as UTC. A time whose UTC falls outside `datetime`
    (year 1 at +14:00, year 9999 at -05:00) is invalid too: this never raises, whatever the input.
    """
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is UTC:  # `Z`, as every cloud writes it: nothing to convert
            return parsed
        if parsed.tzinfo is None:
            return parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def from_epoch_ms(value: object) -> datetime | None:
    """Milliseconds since the epoch (CloudWatch's log event time) as UTC; None when not a number or out of range."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def isoformat(value: datetime) -> str:
    """UTC with microseconds and a `Z`, the form every alert and state record uses (four-digit years, as
    parse_time reads them back; strftime writes year 1 as `1`)."""
    if value.tzinfo is not UTC:  # naive (local time), another zone or another object for UTC
        value = value.astimezone(UTC)
    # The fields formatted as numbers: what isoformat(timespec="microseconds") writes, less its "+00:00", in
    # about half the time (one per alert and per window written).
    return "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ" % (  # noqa: UP031
        value.year, value.month, value.day, value.hour, value.minute, value.second, value.microsecond
    )  # fmt: skip


def utcnow() -> datetime:
    return datetime.now(UTC)
