"""Backends under the Store contract: one `StoreFactory` fixture per backend, listed once in BACKENDS."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.state.base import Store
from core.state.registry import open_store
from core.timeutil import utcnow

#: One entry per backend: (name of the fixture that builds its StoreFactory, test id).
BACKENDS = [
    pytest.param("memory_backend", id="memory"),
    pytest.param("sqlite_backend", id="sqlite"),
    pytest.param("dynamodb_backend", id="dynamodb"),
    pytest.param("firestore_backend", id="firestore"),
    pytest.param("azure_tables_backend", id="azure_tables"),
]


class FakeClock:
    """A clock that only moves when the test says so."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@dataclass
class StoreFactory:
    """Makes fresh, empty stores of one backend.

    fresh_uri: returns a URI naming a new, empty store (creating a table or collection if needed).
    shared_across_processes: other processes opening that URI see the same data (False for memory).
    broken_uri: a URI whose store fails in its driver (open or first call), or None if none can fail.
    """

    fresh_uri: Callable[[], str]
    shared_across_processes: bool
    broken_uri: Callable[[], str] | None = None
    _opened: list[Store] = field(default_factory=list, init=False, repr=False)

    def __call__(self, clock: Callable[[], datetime] = utcnow) -> Store:
        return self.open(self.fresh_uri(), clock=clock)

    def open(self, uri: str, clock: Callable[[], datetime] = utcnow) -> Store:
        store = open_store(uri, clock=clock)
        self._opened.append(store)
        return store

    def close_all(self) -> None:
        for store in self._opened:
            store.close()


@pytest.fixture(params=BACKENDS)
def store_factory(request: pytest.FixtureRequest) -> Iterator[StoreFactory]:
    factory: StoreFactory = request.getfixturevalue(request.param)
    yield factory
    factory.close_all()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2024, 5, 1, 12, 0, tzinfo=UTC))


@pytest.fixture
def memory_backend() -> StoreFactory:
    return StoreFactory(fresh_uri=lambda: "memory://", shared_across_processes=False)


@pytest.fixture
def sqlite_backend(tmp_path: Path) -> StoreFactory:
    numbers = itertools.count()

    def broken_uri() -> str:
        not_a_directory = tmp_path / "plain-file"
        not_a_directory.write_text("not a directory\n")
        return f"sqlite://{not_a_directory}/state.db"

    return StoreFactory(
        fresh_uri=lambda: f"sqlite://{tmp_path}/store-{next(numbers)}.db",
        shared_across_processes=True,
        broken_uri=broken_uri,
    )


# Cloud backends keep their fixtures (and the servers they start) in modules of their own.
from .backend_azure_tables import azure_tables_backend  # noqa: E402, F401
from .backend_dynamodb import dynamodb_backend  # noqa: E402, F401
from .backend_firestore import firestore_backend  # noqa: E402, F401
