"""SqliteStore specifics the shared contract cannot see: the file it leaves, housekeeping, locking, errors.

Its Store behaviour (versions, expiry, keys, concurrency) is specified in tests/contract/.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.errors import StateError
from core.state import sqlite as sqlite_module
from core.state.base import Item, get_one
from core.state.sqlite import SqliteStore

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)


def raw_rows(path: Path) -> list[tuple[str, str, int, float]]:
    with closing(sqlite3.connect(path)) as conn:
        return conn.execute("SELECT key, value, version, expires_at FROM items ORDER BY key").fetchall()


def test_opening_creates_parent_directories_and_an_items_table_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "state.db"

    SqliteStore(path).close()

    with closing(sqlite3.connect(path)) as conn:
        columns = [row[1] for row in conn.execute("PRAGMA table_info(items)")]
        journal_mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
    assert columns == ["key", "value", "version", "expires_at"]
    assert journal_mode == "wal"


def test_rows_hold_json_text_and_epoch_seconds_other_tools_can_read(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store = SqliteStore(path, clock=lambda: NOW)

    store.put(
        "term", {"first_seen": "2024-05-01T12:00:00Z", "ips": ["10.0.0.1"]}, expires_at=LATER, version=None
    )
    store.close()

    [(key, value, version, expires_at)] = raw_rows(path)
    assert (key, json.loads(value), version) == (
        "term",
        {"first_seen": "2024-05-01T12:00:00Z", "ips": ["10.0.0.1"]},
        1,
    )
    assert expires_at == LATER.timestamp()


def test_state_survives_closing_and_reopening_the_file(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    first = SqliteStore(path, clock=lambda: NOW)
    first.put("k", {"n": 1}, expires_at=LATER, version=None)
    first.close()

    reopened = SqliteStore(path, clock=lambda: NOW)

    assert get_one(reopened, "k") == Item({"n": 1}, 1, LATER)
    reopened.close()


def test_expired_rows_stay_in_the_file_until_a_store_opens_it(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    now = NOW
    store = SqliteStore(path, clock=lambda: now)
    store.put("old", {"n": 1}, expires_at=NOW + timedelta(seconds=1), version=None)
    store.put("live", {"n": 2}, expires_at=LATER, version=None)

    now = NOW + timedelta(minutes=1)
    assert set(store.get_many(["old", "live"])) == {"live"}
    assert [row[0] for row in raw_rows(path)] == ["live", "old"]
    store.close()

    SqliteStore(path, clock=lambda: now).close()

    assert [row[0] for row in raw_rows(path)] == ["live"]


def test_label_names_the_file(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "state.db")

    assert store.label == f"sqlite:{tmp_path / 'state.db'}"
    store.close()


def test_a_path_starting_with_tilde_is_under_the_home_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))

    SqliteStore("~/.secretwatch/state.db").close()

    assert (tmp_path / ".secretwatch" / "state.db").is_file()


def test_a_write_waits_for_another_connection_to_release_the_write_lock(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store = SqliteStore(path, clock=lambda: NOW)
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    release = threading.Timer(0.3, other.execute, args=("COMMIT",))
    release.start()

    assert store.put("k", {"n": 1}, expires_at=LATER, version=None) is True

    release.join()
    other.close()
    store.close()


def test_a_write_lock_held_past_every_retry_raises_state_error_naming_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_module, "_BUSY_TIMEOUT_S", 0.05)
    path = tmp_path / "state.db"
    store = SqliteStore(path, clock=lambda: NOW)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")

    with pytest.raises(StateError, match="stayed locked by other writers") as raised:
        store.put("k", {"n": 1}, expires_at=LATER, version=None)

    assert str(path) in str(raised.value)
    other.execute("ROLLBACK")
    assert store.put("k", {"n": 1}, expires_at=LATER, version=None) is True  # the failed attempt left no lock
    other.close()
    store.close()


def test_a_path_below_a_regular_file_raises_state_error_saying_what_to_do(tmp_path: Path) -> None:
    (tmp_path / "plain-file").write_text("not a directory\n")
    path = tmp_path / "plain-file" / "state.db"

    with pytest.raises(StateError) as raised:
        SqliteStore(path)

    assert str(raised.value).startswith(f"cannot open SQLite state file {path}: ")
    assert "writable" in str(raised.value)


def test_a_file_that_is_not_a_database_raises_state_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("these are my notes, not a database\n" * 100)

    with pytest.raises(StateError, match="file is not a database") as raised:
        SqliteStore(path)

    assert str(path) in str(raised.value)
    assert path.read_text().startswith("these are my notes")
