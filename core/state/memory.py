"""In-process store: a dict under a lock. The reference model for the contract suite; state dies with the process.

Each value is kept as its JSON text, as the other backends keep it: a write costs one orjson.dumps and a read one
orjson.loads (a round trip at each write cost both, and most values written are never read back: the engine keeps
what it wrote in its own cache), and every read gives a fresh copy, so no caller can change what is stored.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from urllib.parse import SplitResult

import orjson

from core.errors import ConfigError
from core.jsontext import kept_json
from core.state.base import Item, JSONValue
from core.timeutil import utcnow


class MemoryStore:
    label = "memory"

    def __init__(self, clock: Callable[[], datetime] = utcnow) -> None:
        #: key -> (the value's JSON text, version, expires_at)
        self._items: dict[str, tuple[bytes, int, datetime]] = {}
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
            found = [(key, self._items.get(key)) for key in keys]
        return {
            key: Item(orjson.loads(stored[0]), stored[1], stored[2])
            for key, stored in found
            if stored is not None and stored[2] > now
        }

    def put(self, key: str, value: Mapping[str, JSONValue], *, expires_at: datetime, version: int | None) -> bool:
        with self._lock:
            current = self._items.get(key)  # the clock is read only for a key held (most writes make a new one)
            live_version = current[1] if current is not None and current[2] > self._clock() else None
            if live_version != version:
                return False
            data = kept_json(value if type(value) is dict else dict(value))  # a scan keeps every record written
            self._items[key] = (data, (version or 0) + 1, expires_at)
            return True

    def close(self) -> None:
        """Nothing to release."""
