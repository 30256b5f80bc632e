"""The memory store (`--state memory`, what backtests use) holds each record in about its own size.

A scan keeps every record it writes, one or more per new term, so a history with many clients writes hundreds of
thousands. orjson's output bytes keep the buffer they were written in, at least 4 KiB, whatever their length:
kept as they come, 70,000 records of a 50,000-line scan took 400 MB.
"""

from __future__ import annotations

import tracemalloc
from datetime import UTC, datetime, timedelta

from core.state.memory import MemoryStore

LATER = datetime(2030, 1, 1, tzinfo=UTC)


def test_small_records_cost_about_their_own_size() -> None:
    store = MemoryStore(clock=lambda: LATER - timedelta(days=1))
    record = {"first_seen": "2026-11-02T09:00:00Z", "ids": ["6f1c2d3e-0000-4000-8000-000000000000"]}
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for number in range(2_000):
            assert store.put(f"nt|rule|{number}", record, expires_at=LATER, version=None)
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()

    assert grown / 2_000 < 600  # bytes a record, with its key and the dict's slot; 4 KiB and more before
    assert store.get_many(["nt|rule|1999"])["nt|rule|1999"].value == record
