"""The Store protocol: versioned JSON items with an expiry, and one conditional write.

Every backend implements two operations, each atomic on its own key:

- ``get_many(keys)`` returns the live items among ``keys``; an item whose ``expires_at`` has passed
  (by the store's clock) is absent, whether or not the backend has deleted it yet.
- ``put(key, value, expires_at=..., version=...)`` writes only if the key's current version is
  ``version`` (``None``: only if the key is absent or expired) and returns False when that condition
  fails. The stored version becomes ``version + 1`` (or 1).

Window and term logic lives in the engine, which does read-modify-write with bounded retries on
conflict. Driver failures surface as StateError so the platform retries the batch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

JSONValue = Any


@dataclass(frozen=True, slots=True)
class Item:
    value: Mapping[str, JSONValue]
    version: int
    expires_at: datetime


@runtime_checkable
class Store(Protocol):
    #: Short label for summaries and errors, e.g. "sqlite:/path.db" (never a secret).
    label: str

    def get_many(self, keys: Sequence[str]) -> dict[str, Item]: ...

    def put(
        self, key: str, value: Mapping[str, JSONValue], *, expires_at: datetime, version: int | None
    ) -> bool: ...

    def close(self) -> None: ...


def get_one(store: Store, key: str) -> Item | None:
    return store.get_many([key]).get(key)
