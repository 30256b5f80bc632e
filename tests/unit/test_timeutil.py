"""isoformat writes every time in alerts and state records: UTC, microseconds, `Z`, four-digit years."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.timeutil import isoformat, parse_time


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (datetime(1, 1, 1, tzinfo=UTC), "0001-01-01T00:00:00.000000Z"),
        (datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), "9999-12-31T23:59:59.999999Z"),
        (datetime(2026, 3, 2, 9, 0, 0, 7, tzinfo=UTC), "2026-03-02T09:00:00.000007Z"),
        (datetime(2026, 3, 2, 9, 0, tzinfo=timezone(timedelta(hours=5, minutes=30))), "2026-03-02T03:30:00.000000Z"),
        (datetime(2, 1, 1, 9, 0, tzinfo=timezone(timedelta(hours=14))), "0001-12-31T19:00:00.000000Z"),
        (datetime(2026, 3, 29, 3, 30, tzinfo=ZoneInfo("Europe/Paris")), "2026-03-29T01:30:00.000000Z"),
        (datetime(2026, 3, 2, 9, 0, tzinfo=ZoneInfo("UTC")), "2026-03-02T09:00:00.000000Z"),
        (datetime(2026, 3, 2, 9, 0, tzinfo=timezone(timedelta(0), "GMT")), "2026-03-02T09:00:00.000000Z"),
    ],
)
def test_times_are_written_in_utc_with_microseconds_and_a_z(value: datetime, text: str) -> None:
    assert isoformat(value) == text


@given(st.datetimes(timezones=st.timezones() | st.just(UTC)))
def test_isoformat_writes_what_converting_to_naive_utc_wrote_and_parse_time_reads_it_back(value: datetime) -> None:
    try:
        utc = value.astimezone(UTC)
    except OverflowError:  # outside datetime's range in UTC: both forms raise
        with pytest.raises(OverflowError):
            isoformat(value)
        return
    assert isoformat(value) == utc.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"
    assert parse_time(isoformat(value)) == utc
