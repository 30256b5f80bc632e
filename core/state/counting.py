"""A Store wrapper that counts requests, so summaries and the benchmark can report state cost."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from core.state.base import Item, JSONValue, Store


class CountingStore:
    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.label = inner.label
        self.reads = 0
        self.writes = 0

    @property
    def requests(self) -> int:
        return self.reads + self.writes

    def get_many(self, keys: Sequence[str]) -> dict[str, Item]:
        if keys:
            self.reads += 1
        return self.inner.get_many(keys)

    def put(
        self, key: str, value: Mapping[str, JSONValue], *, expires_at: datetime, version: int | None
    ) -> bool:
        self.writes += 1
        return self.inner.put(key, value, expires_at=expires_at, version=version)

    def close(self) -> None:
        self.inner.close()
