"""SQLite store: one local file, safe with several processes and threads writing it at once.

The CLI's durable state (`--state sqlite:PATH`). The file runs in WAL mode with a busy timeout, and
each conditional write reads and writes its key inside one `BEGIN IMMEDIATE` transaction, so SQLite's
single write lock makes the version check and the write atomic across processes. Threads share one
connection behind a lock. Expired rows are invisible on read and purged only when a store opens.
"""

from __future__ import annotations

import random
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TypeVar
from urllib.parse import SplitResult

import orjson

from core.errors import ConfigError, StateError
from core.state.base import Item, JSONValue
from core.timeutil import utcnow

_SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,     -- a JSON object
    version    INTEGER NOT NULL,
    expires_at REAL NOT NULL      -- epoch seconds
)
"""
_CHUNK = 500  # keys per IN (...) query, well under SQLite's bound-parameter limit
_BUSY_TIMEOUT_S = 5.0
_ATTEMPTS = 3  # each attempt already waits up to the busy timeout for the write lock
_BUSY_CODES = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})

_T = TypeVar("_T")
_Row = tuple[str, str, int, float]


class SqliteStore:
    def __init__(self, path: str | Path, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.path = Path(path).expanduser()
        self.label = f"sqlite:{self.path}"
        self._clock = clock
        self._lock = threading.Lock()
        self._conn = self._connect()
        try:
            self._run(self._prepare)
        except StateError:
            self._conn.close()
            raise

    @classmethod
    def from_uri(cls, uri: SplitResult, *, clock: Callable[[], datetime] = utcnow) -> SqliteStore:
        """`sqlite:///abs/path.db`, or the CLI shortcut `sqlite:PATH` (relative to the working directory)."""
        if uri.netloc or uri.query or uri.fragment or not uri.path:
            raise ConfigError(
                "store 'sqlite:' takes a file path and nothing else: use sqlite:///abs/path.db "
                "or sqlite:PATH (no host, and no '?' or '#' in the path)"
            )
        return cls(uri.path, clock=clock)

    def get_many(self, keys: Sequence[str]) -> dict[str, Item]:
        wanted = list(dict.fromkeys(keys))
        now = self._clock().timestamp()
        found: dict[str, Item] = {}
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            rows = self._run(partial(_select_live, keys=chunk, now=now))
            found.update((key, _item(value, version, expires_at)) for key, value, version, expires_at in rows)
        return found

    def put(
        self, key: str, value: Mapping[str, JSONValue], *, expires_at: datetime, version: int | None
    ) -> bool:
        document = orjson.dumps(dict(value)).decode()
        expires = expires_at.timestamp()
        now = self._clock().timestamp()
        return self._run(
            partial(_put_if_version, key=key, document=document, expires=expires, version=version, now=now)
        )

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def _connect(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            return sqlite3.connect(
                self.path, timeout=_BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
        except (OSError, sqlite3.Error) as exc:
            raise StateError(
                f"cannot open SQLite state file {self.path}: {exc}; "
                "make sure its directory exists and is writable, or choose another --state sqlite:PATH"
            ) from exc

    def _prepare(self, conn: sqlite3.Connection) -> None:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")  # in WAL mode: survives a process crash
        conn.execute(_SCHEMA)
        # Housekeeping at open, never on the hot path: expired rows are already invisible to reads.
        conn.execute("DELETE FROM items WHERE expires_at <= ?", (self._clock().timestamp(),))

    def _run(self, operation: Callable[[sqlite3.Connection], _T]) -> _T:
        """Run one operation, retrying a bounded number of times while another writer holds the lock."""
        attempts_left = _ATTEMPTS
        while True:
            try:
                with self._lock:
                    return operation(self._conn)
            except sqlite3.Error as exc:
                attempts_left -= 1
                if attempts_left == 0 or not _is_busy(exc):
                    raise self._failure(exc) from exc
            time.sleep(random.uniform(0.01, 0.05))  # jitter so retrying writers do not collide again

    def _failure(self, exc: sqlite3.Error) -> StateError:
        if _is_busy(exc):
            return StateError(
                f"SQLite state file {self.path} stayed locked by other writers for over "
                f"{_ATTEMPTS * _BUSY_TIMEOUT_S:.0f}s; retry, or give each concurrent run its own file"
            )
        return StateError(
            f"SQLite state file {self.path}: {exc}; check that it is a secretwatch state database in a "
            "writable directory, or choose another --state sqlite:PATH"
        )


def _select_live(conn: sqlite3.Connection, *, keys: Sequence[str], now: float) -> list[_Row]:
    marks = ", ".join("?" * len(keys))
    query = f"SELECT key, value, version, expires_at FROM items WHERE key IN ({marks}) AND expires_at > ?"
    return conn.execute(query, (*keys, now)).fetchall()


def _put_if_version(
    conn: sqlite3.Connection, *, key: str, document: str, expires: float, version: int | None, now: float
) -> bool:
    with _immediate(conn):
        row = conn.execute("SELECT version, expires_at FROM items WHERE key = ?", (key,)).fetchone()
        current = row[0] if row is not None and row[1] > now else None
        if current != version:
            return False
        conn.execute(
            "INSERT OR REPLACE INTO items (key, value, version, expires_at) VALUES (?, ?, ?, ?)",
            (key, document, (version or 0) + 1, expires),
        )
        return True


@contextmanager
def _immediate(conn: sqlite3.Connection) -> Iterator[None]:
    """A write transaction that takes the database's write lock up front, so no read inside it goes stale."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
        conn.execute("COMMIT")
    finally:
        if conn.in_transaction:
            conn.rollback()


def _item(value: str, version: int, expires_at: float) -> Item:
    return Item(orjson.loads(value), version, datetime.fromtimestamp(expires_at, tz=UTC))


def _is_busy(exc: sqlite3.Error) -> bool:
    # Extended codes (e.g. SQLITE_BUSY_SNAPSHOT) carry the primary code in the low byte.
    return (getattr(exc, "sqlite_errorcode", 0) & 0xFF) in _BUSY_CODES
