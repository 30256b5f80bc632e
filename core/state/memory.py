"""In-process store: a dict under a lock. The reference model for the contract suite; state dies with the process."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from urllib.parse import SplitResult

import orjson

from core.errors import ConfigError
from core.state.base import Item, JSONValue
from core.timeutil import utcnow


class MemoryStore:
    label = "memory"

    def __init__(self, clock: Callable[[], datetime] = utcnow) -> None:
        self._items: dict[str, Item] = {}
        self._lock = threading.Lock()
        self._clock = clock

    @classmethod
    def from_uri(cls, uri: SplitResult, *, clock: Callable[[], datetime] = utcnow) -> MemoryStore:
        """`memory://` (CLI shortcut: `memory`); it takes no table, path or parameters."""
        if uri.netloc or uri.path or uri.query or uri.fragment:
            raise ConfigError("store 'memory://' takes nothing after the scheme: write memory://")
        return cls(clock)

    def get_many(self, keys: Sequence[str]) -> dict[str, Item]:
        now = self._clock()
        with self._lock:
            found = {key: self._items.get(key) for key in keys}
        return {key: item for key, item in found.items() if item is not None and item.expires_at > now}

    def put(
        self, key: str, value: Mapping[str, JSONValue], *, expires_at: datetime, version: int | None
    ) -> bool:
        now = self._clock()
        with self._lock:
            current = self._items.get(key)
            live = current if current is not None and current.expires_at > now else None
            if (live.version if live else None) != version:
                return False
            # A JSON round trip, as every other backend stores a value: faster than deepcopy, and as faithful.
            self._items[key] = Item(orjson.loads(orjson.dumps(dict(value))), (version or 0) + 1, expires_at)
            return True

    def close(self) -> None:
        """Nothing to release."""
