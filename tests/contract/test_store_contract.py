"""The Store contract: every backend behaves like MemoryStore, the reference model in core/state/memory.py.

How a backend joins: in tests/contract/conftest.py, write a fixture that returns a StoreFactory
(`fresh_uri` names a new empty store; `shared_across_processes` says whether other processes opening
that URI see the same data; `broken_uri`, if the backend has one, names a store whose driver fails),
and add `pytest.param("<fixture name>", id="<backend>")` to BACKENDS. A fixture that needs an emulator
or a mock server starts it, or skips with the reason when it is absent. Every test below then runs
against the backend; none of them may be special-cased for it.
"""

from __future__ import annotations

import multiprocessing
import random
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from multiprocessing.synchronize import Barrier
from typing import Any
from urllib.parse import urlsplit

import orjson
import pytest

from core.errors import StateError
from core.state.base import Item, Store, get_one
from core.state.memory import MemoryStore
from core.state.registry import open_store

from .conftest import FakeClock, StoreFactory

HOUR = timedelta(hours=1)
FAR_FUTURE = datetime(2100, 1, 1, tzinfo=UTC)

EVERY_JSON_TYPE = {
    "text": "plain",
    "unicode": "ключ ✓ 🔑 é",
    "empty_text": "",
    "int": 42,
    "negative": -7,
    "big_int": 2**53,
    "float": 0.1,
    "small_float": 1.5e-9,
    "whole_float": 3.0,
    "true": True,
    "false": False,
    "null": None,
    "list": [1, "two", 3.5, None, [4, [5]], {"six": 6}],
    "empty_list": [],
    "nested": {"a": {"b": {"c": ["deep"]}}, "empty": {}},
    "odd.field/name": "kept",
}

AWKWARD_KEYS = [
    "a/b/c",
    "/leading-slash",
    "trailing-slash/",
    "back\\slash",
    "hash#tag",
    "question?mark",
    "percent%2Fencoded",
    "%",
    "ünïcödé ключ 🔑",
    "with space",
    " leading space",
    "trailing space ",
    "tab\tnewline\ncarriage\rreturn",
    "nul\x00byte",
    "bell\x07 del\x7f c1\x85",
    ".",
    "..",
    "__reserved__",
    "Key",
    "key",
    "\u00e9",  # é, composed
    "e\u0301",  # é, decomposed: a different key
    "k" * 1024,
    "🔑" * 256,  # 1 KB of UTF-8
]


def canonical(value: Any) -> bytes:
    """JSON with sorted keys: tells 3 from 3.0 and 1 from True, unlike ==."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def increment(store: Store, key: str, expires_at: datetime) -> None:
    """Add one to the counter at `key` by read-modify-write, retrying on conflict as the engine does."""
    for _ in range(10_000):
        current = get_one(store, key)
        count = current.value["count"] if current else 0
        version = current.version if current else None
        if store.put(key, {"count": count + 1}, expires_at=expires_at, version=version):
            return
    raise AssertionError(f"increment of {key!r} kept conflicting")


def increment_in_own_process(uri: str, key: str, times: int, start: Barrier) -> None:
    store = open_store(uri)
    try:
        start.wait()
        for _ in range(times):
            increment(store, key, FAR_FUTURE)
    finally:
        store.close()


# --- conditional writes ---------------------------------------------------------------------------


def test_create_succeeds_once_and_a_second_create_reports_conflict(
    store_factory: StoreFactory, clock: FakeClock
) -> None:
    store = store_factory(clock)

    assert store.put("k", {"n": 1}, expires_at=clock.now + HOUR, version=None) is True
    assert store.put("k", {"n": 2}, expires_at=clock.now + HOUR, version=None) is False

    assert get_one(store, "k") == Item({"n": 1}, 1, clock.now + HOUR)


def test_put_with_the_current_version_replaces_the_value_and_bumps_the_version(
    store_factory: StoreFactory, clock: FakeClock
) -> None:
    store = store_factory(clock)
    store.put("k", {"n": 1}, expires_at=clock.now + HOUR, version=None)

    assert store.put("k", {"n": 2}, expires_at=clock.now + 2 * HOUR, version=1) is True

    assert get_one(store, "k") == Item({"n": 2}, 2, clock.now + 2 * HOUR)


def test_put_with_a_stale_version_returns_false_and_leaves_the_value(
    store_factory: StoreFactory, clock: FakeClock
) -> None:
    store = store_factory(clock)
    store.put("k", {"n": 1}, expires_at=clock.now + HOUR, version=None)
    store.put("k", {"n": 2}, expires_at=clock.now + HOUR, version=1)

    assert store.put("k", {"n": 99}, expires_at=clock.now + HOUR, version=1) is False
    assert store.put("k", {"n": 99}, expires_at=clock.now + HOUR, version=7) is False

    assert get_one(store, "k") == Item({"n": 2}, 2, clock.now + HOUR)


def test_put_with_a_version_on_an_absent_key_returns_false_and_creates_nothing(
    store_factory: StoreFactory, clock: FakeClock
) -> None:
    store = store_factory(clock)

    assert store.put("k", {"n": 1}, expires_at=clock.now + HOUR, version=1) is False

    assert store.get_many(["k"]) == {}


def test_replaying_a_conditional_write_fails_so_a_retried_batch_cannot_apply_twice(
    store_factory: StoreFactory, clock: FakeClock
) -> None:
    store = store_factory(clock)
    create = {"key": "k", "value": {"count": 1}, "expires_at": clock.now + HOUR, "version": None}
    update = {"key": "k", "value": {"count": 2}, "expires_at": clock.now + HOUR, "version": 1}

    assert [store.put(**create), store.put(**create)] == [True, False]
    assert [store.put(**update), store.put(**update)] == [True, False]

    assert get_one(store, "k") == Item({"count": 2}, 2, clock.now + HOUR)


def test_the_store_keeps_its_own_copy_of_a_written_value(
    store_factory: StoreFactory, clock: FakeClock
) -> None:
    store = store_factory(clock)
    value: dict[str, Any] = {"terms": ["a"]}
    store.put("k", value, expires_at=clock.now + HOUR, version=None)

    value["terms"].append("b")
    value["added"] = True

    assert get_one(store, "k") == Item({"terms": ["a"]}, 1, clock.now + HOUR)


# --- reads ----------------------------------------------------------------------------------------


def test_get_many_returns_only_the_present_live_keys(store_factory: StoreFactory, clock: FakeClock) -> None:
    store = store_factory(clock)
    store.put("live", {"n": 1}, expires_at=clock.now + HOUR, version=None)
    store.put("expired", {"n": 2}, expires_at=clock.now + timedelta(seconds=1), version=None)
    clock.advance(timedelta(seconds=2))

    found = store.get_many(["live", "expired", "never-written", "live"])

    assert found == {"live": Item({"n": 1}, 1, clock.now - timedelta(seconds=2) + HOUR)}


def test_get_many_of_no_keys_is_empty(store_factory: StoreFactory) -> None:
    assert store_factory().get_many([]) == {}


def test_get_many_finds_keys_among_more_than_one_query_can_hold(
    store_factory: StoreFactory, clock: FakeClock
) -> None:
    store = store_factory(clock)
    keys = [f"key-{n:04d}" for n in range(1_200)]
    written = keys[::100]
    for key in written:
        store.put(key, {"key": key}, expires_at=clock.now + HOUR, version=None)

    found = store.get_many(keys)

    assert {key: item.value for key, item in found.items()} == {key: {"key": key} for key in written}


def test_every_json_type_round_trips_exactly(store_factory: StoreFactory, clock: FakeClock) -> None:
    store = store_factory(clock)
    store.put("k", EVERY_JSON_TYPE, expires_at=clock.now + HOUR, version=None)

    item = get_one(store, "k")

    assert item is not None
    assert canonical(item.value) == canonical(EVERY_JSON_TYPE)


def test_expires_at_round_trips_to_the_millisecond(store_factory: StoreFactory, clock: FakeClock) -> None:
    store = store_factory(clock)
    expires_at = datetime(2024, 5, 2, 12, 30, 15, 123456, tzinfo=UTC)
    store.put("k", {"n": 1}, expires_at=expires_at, version=None)

    item = get_one(store, "k")

    assert item is not None
    assert abs(item.expires_at - expires_at) < timedelta(milliseconds=1)


def test_awkward_keys_each_round_trip_to_their_own_value(
    store_factory: StoreFactory, clock: FakeClock
) -> None:
    store = store_factory(clock)
    for key in AWKWARD_KEYS:
        assert store.put(key, {"key": key}, expires_at=clock.now + HOUR, version=None) is True

    found = store.get_many(AWKWARD_KEYS)

    assert {key: item.value for key, item in found.items()} == {key: {"key": key} for key in AWKWARD_KEYS}
    assert all(store.put(key, {}, expires_at=clock.now + HOUR, version=None) is False for key in AWKWARD_KEYS)


# --- expiry ---------------------------------------------------------------------------------------


def test_an_item_is_invisible_from_its_expiry_time_on(store_factory: StoreFactory, clock: FakeClock) -> None:
    store = store_factory(clock)
    store.put("k", {"n": 1}, expires_at=clock.now + HOUR, version=None)

    clock.advance(HOUR - timedelta(seconds=1))
    assert set(store.get_many(["k"])) == {"k"}
    clock.advance(timedelta(seconds=1))
    assert store.get_many(["k"]) == {}


def test_an_expired_item_is_created_afresh_with_version_none(
    store_factory: StoreFactory, clock: FakeClock
) -> None:
    store = store_factory(clock)
    store.put("k", {"n": 1}, expires_at=clock.now + HOUR, version=None)
    store.put("k", {"n": 2}, expires_at=clock.now + HOUR, version=1)
    clock.advance(2 * HOUR)

    assert store.put("k", {"n": 3}, expires_at=clock.now + HOUR, version=None) is True

    assert get_one(store, "k") == Item({"n": 3}, 1, clock.now + HOUR)


def test_an_expired_item_no_longer_accepts_its_last_version(
    store_factory: StoreFactory, clock: FakeClock
) -> None:
    store = store_factory(clock)
    store.put("k", {"n": 1}, expires_at=clock.now + HOUR, version=None)
    clock.advance(2 * HOUR)

    assert store.put("k", {"n": 2}, expires_at=clock.now + HOUR, version=1) is False

    assert store.get_many(["k"]) == {}


def test_a_random_sequence_of_operations_matches_the_memory_reference(
    store_factory: StoreFactory, clock: FakeClock
) -> None:
    store, reference = store_factory(clock), MemoryStore(clock)
    rng = random.Random(20240501)
    keys = ["a", "b", "c/d", "é"]
    for step in range(150):
        key = rng.choice(keys)
        live = get_one(reference, key)
        current = live.version if live else None
        version = rng.choice([None, current, current, (current or 0) + 1, (current or 2) - 1])
        expires_at = clock.now + timedelta(seconds=rng.choice([1, 30, 300]))
        value = {"step": step}
        assert store.put(key, value, expires_at=expires_at, version=version) == reference.put(
            key, value, expires_at=expires_at, version=version
        ), f"put #{step} of {key!r} at version {version}"
        clock.advance(timedelta(seconds=rng.choice([0, 0, 1, 20])))
        assert store.get_many(keys) == reference.get_many(keys), f"after step {step}"


# --- concurrency ----------------------------------------------------------------------------------


def test_threads_incrementing_one_counter_lose_no_update(store_factory: StoreFactory) -> None:
    store = store_factory()
    threads, times = 8, 50
    start = threading.Barrier(threads)

    def work() -> None:
        start.wait()
        for _ in range(times):
            increment(store, "counter", FAR_FUTURE)

    with ThreadPoolExecutor(threads) as pool:
        for outcome in [pool.submit(work) for _ in range(threads)]:
            outcome.result(timeout=60)

    counter = get_one(store, "counter")
    assert counter is not None
    assert (counter.value, counter.version) == ({"count": threads * times}, threads * times)


def test_processes_incrementing_one_counter_lose_no_update(store_factory: StoreFactory) -> None:
    if not store_factory.shared_across_processes:
        pytest.skip("this backend's state lives in one process")
    uri = store_factory.fresh_uri()
    context = multiprocessing.get_context("spawn")
    processes, times = 4, 50
    start = context.Barrier(processes)
    workers = [
        context.Process(target=increment_in_own_process, args=(uri, "counter", times, start))
        for _ in range(processes)
    ]

    try:
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=60)
    finally:
        for worker in workers:
            if worker.is_alive():
                worker.kill()

    assert [worker.exitcode for worker in workers] == [0] * processes
    counter = get_one(store_factory.open(uri), "counter")
    assert counter is not None
    assert (counter.value, counter.version) == ({"count": processes * times}, processes * times)


# --- failure and lifecycle ------------------------------------------------------------------------


def open_and_write(factory: StoreFactory, uri: str) -> None:
    store = factory.open(uri)
    store.put("k", {"n": 1}, expires_at=FAR_FUTURE, version=None)


def test_a_driver_failure_surfaces_as_state_error(store_factory: StoreFactory) -> None:
    if store_factory.broken_uri is None:
        pytest.skip("this backend has no driver that can fail")

    with pytest.raises(StateError):
        open_and_write(store_factory, store_factory.broken_uri())


def test_close_can_be_called_twice(store_factory: StoreFactory) -> None:
    store = store_factory()
    store.close()
    store.close()


def test_the_label_starts_with_the_uri_scheme(store_factory: StoreFactory) -> None:
    uri = store_factory.fresh_uri()

    assert store_factory.open(uri).label.startswith(urlsplit(uri).scheme)
