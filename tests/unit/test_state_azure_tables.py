"""AzureTablesStore specifics the shared contract cannot see: entity layout, key encoding, expired entities
left in the table, races lost on etags, request cost, and errors.

Its Store behaviour (versions, expiry, keys, concurrency) is specified in tests/contract/. Tests that
talk to a table use Azurite (tests/azurite.py) and skip when it is not installed.
"""

from __future__ import annotations

import base64
import unicodedata
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

pytest.importorskip("azure.data.tables", reason="azure-data-tables is missing: pip install -e '.[azure]'")

from azure.data.tables import EdmType, EntityProperty, TableClient

from core.errors import ConfigError, StateError
from core.state.azure_access import connection_setting
from core.state.azure_tables import AzureTablesStore, entity_keys
from core.state.base import Item, get_one
from core.state.registry import open_store
from tests.azurite import ACCOUNT_KEY, Azurite, shared_azurite, unused_table_name

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
SETTING = "SECRETWATCH_TEST_TABLES_CONNECTION"
FORBIDDEN_IN_KEYS = set("/\\#?") | {chr(code) for code in [*range(0x20), *range(0x7F, 0xA0)]}


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


class Racing:
    """A real TableClient whose next read of an entity is followed by another writer's move."""

    def __init__(self, table: TableClient) -> None:
        self._table = table
        self.after_next_read: Callable[[], None] | None = None

    def get_entity(self, *args: Any, **kwargs: Any) -> Any:
        entity = self._table.get_entity(*args, **kwargs)
        move, self.after_next_read = self.after_next_read, None
        if move is not None:
            move()
        return entity

    def __getattr__(self, name: str) -> Any:
        return getattr(self._table, name)


class Counting:
    """A real TableClient that counts the requests made through it, by operation."""

    def __init__(self, table: TableClient) -> None:
        self._table = table
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._table, name)
        if not name.endswith("_entity"):
            return attribute

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            return attribute(*args, **kwargs)

        return counted


@pytest.fixture
def server() -> Azurite:
    return shared_azurite()


@pytest.fixture
def table(server: Azurite) -> Iterator[TableClient]:
    client = TableClient.from_connection_string(server.connection_string, table_name=server.fresh_table())
    yield client
    client.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


def store_on(table: Any, clock: Clock) -> AzureTablesStore:
    return AzureTablesStore(table, access=connection_setting(SETTING), clock=clock)


@pytest.fixture
def other(server: Azurite, table: TableClient, clock: Clock) -> Iterator[AzureTablesStore]:
    """A second store on the same table, as another function instance would be."""
    client = TableClient.from_connection_string(server.connection_string, table_name=table.table_name)
    store = store_on(client, clock)
    yield store
    store.close()


# --- key encoding ---------------------------------------------------------------------------------


@given(st.text())
def test_every_key_maps_to_a_partition_key_and_row_key_azure_accepts(key: str) -> None:
    partition_key, row_key = entity_keys(key)

    assert len(partition_key) == 2
    assert int(partition_key, 16) >= 0
    assert 0 < len(row_key) <= 512
    assert not FORBIDDEN_IN_KEYS & set(row_key)


@given(st.text(), st.text())
def test_distinct_keys_get_distinct_row_keys(first: str, second: str) -> None:
    if first != second:
        assert entity_keys(first)[1] != entity_keys(second)[1]


def test_keys_differing_only_by_case_or_normalisation_stay_distinct() -> None:
    composed = "\u00e9"
    decomposed = unicodedata.normalize("NFD", composed)

    assert len({entity_keys(key)[1] for key in ["Key", "key", composed, decomposed]}) == 4


def test_a_short_key_is_its_utf8_in_unpadded_url_safe_base64() -> None:
    key = "terms/alice@example.com/ключ?#"

    row_key = entity_keys(key)[1]

    assert base64.urlsafe_b64decode(row_key + "=" * (-len(row_key) % 4)).decode() == key


def test_the_empty_key_is_stored_under_its_sha256() -> None:
    assert entity_keys("") == ("e3", "~e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")


def test_a_key_too_long_for_a_row_key_is_stored_under_its_sha256() -> None:
    assert entity_keys("k" * 1024) == (
        "fb",
        "~fb236ae29378d0cf16cdc6b4b5b9f82d6642514a61b60542efd33641eab2662d",
    )


def test_the_entity_keys_of_a_key_never_change_since_stored_state_depends_on_them() -> None:
    assert entity_keys("a/b") == ("c1", "YS9i")


# --- entity layout --------------------------------------------------------------------------------


def test_an_entity_holds_json_text_an_int64_version_and_a_datetime_expiry(
    table: TableClient, clock: Clock
) -> None:
    store = store_on(table, clock)
    expires_at = datetime(2024, 5, 2, 12, 30, 15, 123456, tzinfo=UTC)

    value = {"first_seen": "2024-05-01T12:00:00Z", "ips": ["10.0.0.1"]}

    store.put("term", value, expires_at=expires_at, version=None)

    entity = table.get_entity(*entity_keys("term"))
    assert entity["v"] == '{"first_seen":"2024-05-01T12:00:00Z","ips":["10.0.0.1"]}'
    assert entity["ver"] == EntityProperty(1, EdmType.INT64)
    assert entity["exp"] == expires_at


def test_a_value_longer_than_one_property_holds_is_split_and_read_back_whole(
    table: TableClient, clock: Clock
) -> None:
    store = store_on(table, clock)
    big = {"text": "x" * 70_000}  # 70,011 characters of JSON: three properties of at most 32,768

    store.put("k", big, expires_at=NOW + HOUR, version=None)

    entity = table.get_entity(*entity_keys("k"))
    assert sorted(entity) == ["PartitionKey", "RowKey", "exp", "v", "v1", "v2", "ver"]
    assert get_one(store, "k") == Item(big, 1, NOW + HOUR)


def test_replacing_a_split_value_with_a_small_one_leaves_no_stale_parts(
    table: TableClient, clock: Clock
) -> None:
    store = store_on(table, clock)
    store.put("k", {"text": "x" * 100_000}, expires_at=NOW + HOUR, version=None)

    store.put("k", {"text": "small"}, expires_at=NOW + HOUR, version=1)

    entity = table.get_entity(*entity_keys("k"))
    assert sorted(entity) == ["PartitionKey", "RowKey", "exp", "v", "ver"]
    assert get_one(store, "k") == Item({"text": "small"}, 2, NOW + HOUR)


def test_a_value_larger_than_one_entity_holds_is_refused_before_any_request(clock: Clock) -> None:
    table = TableClient.from_connection_string(
        f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={ACCOUNT_KEY};"
        "TableEndpoint=http://127.0.0.1:9/devstoreaccount1;",
        table_name="unreachable",
    )
    store = store_on(table, clock)

    with pytest.raises(StateError, match=r"key 'huge' is 491521 characters of JSON, more than one Azure"):
        store.put("huge", {"text": "x" * 491_510}, expires_at=NOW + HOUR, version=None)


# --- expiry ---------------------------------------------------------------------------------------


def test_an_expired_entity_stays_in_the_table_but_no_read_sees_it(table: TableClient, clock: Clock) -> None:
    store = store_on(table, clock)
    store.put("k", {"n": 1}, expires_at=NOW + HOUR, version=None)

    clock.now += HOUR

    assert store.get_many(["k"]) == {}
    assert table.get_entity(*entity_keys("k"))["v"] == '{"n":1}'


def test_a_create_over_an_expired_entity_replaces_it_in_place(table: TableClient, clock: Clock) -> None:
    store = store_on(table, clock)
    store.put("k", {"n": 1}, expires_at=NOW + HOUR, version=None)
    store.put("k", {"n": 2}, expires_at=NOW + HOUR, version=1)
    clock.now += 2 * HOUR

    assert store.put("k", {"n": 3}, expires_at=clock.now + HOUR, version=None) is True

    assert [entity["v"] for entity in table.list_entities()] == ['{"n":3}']
    assert get_one(store, "k") == Item({"n": 3}, 1, clock.now + HOUR)


def test_purge_expired_deletes_only_the_expired_entities(table: TableClient, clock: Clock) -> None:
    store = store_on(table, clock)
    store.put("old", {"n": 1}, expires_at=NOW + timedelta(seconds=1), version=None)
    store.put("live", {"n": 2}, expires_at=NOW + HOUR, version=None)
    clock.now += timedelta(minutes=1)

    assert store.purge_expired() == 1

    assert [entity["RowKey"] for entity in table.list_entities()] == [entity_keys("live")[1]]


# --- lost races -----------------------------------------------------------------------------------


def test_a_write_on_an_etag_another_writer_has_since_replaced_returns_false(
    table: TableClient, clock: Clock, other: AzureTablesStore
) -> None:
    store = store_on(table, clock)
    store.put("k", {"n": 1}, expires_at=NOW + HOUR, version=None)
    assert get_one(store, "k") == Item({"n": 1}, 1, NOW + HOUR)
    assert other.put("k", {"n": 2}, expires_at=NOW + HOUR, version=1) is True

    assert store.put("k", {"n": 99}, expires_at=NOW + HOUR, version=1) is False

    assert get_one(store, "k") == Item({"n": 2}, 2, NOW + HOUR)
    assert store.put("k", {"n": 3}, expires_at=NOW + HOUR, version=2) is True


def test_a_write_that_loses_between_its_read_and_its_replace_returns_false(
    table: TableClient, clock: Clock, other: AzureTablesStore
) -> None:
    other.put("k", {"n": 1}, expires_at=NOW + HOUR, version=None)
    racing = Racing(table)
    store = store_on(racing, clock)  # has never seen "k": its write reads the entity first
    racing.after_next_read = lambda: other.put("k", {"n": 2}, expires_at=NOW + HOUR, version=1)

    assert store.put("k", {"n": 99}, expires_at=NOW + HOUR, version=1) is False

    assert get_one(store, "k") == Item({"n": 2}, 2, NOW + HOUR)


def test_a_create_over_an_expired_entity_that_another_writer_revives_first_returns_false(
    table: TableClient, clock: Clock, other: AzureTablesStore
) -> None:
    other.put("k", {"n": 1}, expires_at=NOW + HOUR, version=None)
    clock.now += 2 * HOUR
    racing = Racing(table)
    store = store_on(racing, clock)
    racing.after_next_read = lambda: other.put("k", {"n": 2}, expires_at=clock.now + HOUR, version=None)

    assert store.put("k", {"n": 99}, expires_at=clock.now + HOUR, version=None) is False

    assert get_one(store, "k") == Item({"n": 2}, 1, clock.now + HOUR)


# --- request cost ---------------------------------------------------------------------------------


def test_reading_a_key_then_writing_it_costs_one_request_each(table: TableClient, clock: Clock) -> None:
    counting = Counting(table)
    store = store_on(counting, clock)
    store.put("k", {"n": 1}, expires_at=NOW + HOUR, version=None)
    counting.calls.clear()

    item = get_one(store, "k")
    assert item is not None
    store.put("k", {"n": 2}, expires_at=NOW + HOUR, version=item.version)

    assert counting.calls == ["get_entity", "update_entity"]


def test_a_write_to_a_key_this_store_has_not_seen_reads_it_first(
    table: TableClient, clock: Clock, other: AzureTablesStore
) -> None:
    other.put("k", {"n": 1}, expires_at=NOW + HOUR, version=None)
    counting = Counting(table)
    store = store_on(counting, clock)

    assert store.put("k", {"n": 2}, expires_at=NOW + HOUR, version=1) is True

    assert counting.calls == ["get_entity", "update_entity"]


def test_get_many_makes_one_point_read_per_distinct_key(table: TableClient, clock: Clock) -> None:
    counting = Counting(table)
    store = store_on(counting, clock)

    store.get_many(["a", "b", "a", "c"])

    assert counting.calls == ["get_entity"] * 3


# --- opening and errors ---------------------------------------------------------------------------


def open_with(monkeypatch: pytest.MonkeyPatch, connection_string: str, table: str) -> Any:
    monkeypatch.setenv(SETTING, connection_string)
    return open_store(f"azuretables://{table}?connection_setting={SETTING}")


def test_a_uri_opens_the_table_with_the_connection_string_from_the_named_setting(
    monkeypatch: pytest.MonkeyPatch, server: Azurite, table: TableClient
) -> None:
    store = open_with(monkeypatch, server.connection_string, table.table_name)
    store.put("k", {"n": 1}, expires_at=datetime(2100, 1, 1, tzinfo=UTC), version=None)

    assert store.label == f"azuretables://{table.table_name}"
    assert table.get_entity(*entity_keys("k"))["v"] == '{"n":1}'
    store.close()


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("azuretables://?connection_setting=S", "takes an existing table name"),
        ("azuretables://ab?connection_setting=S", "takes an existing table name"),
        ("azuretables://my-table?connection_setting=S", "takes an existing table name"),
        ("azuretables://states/extra?connection_setting=S", "takes an existing table name"),
        ("azuretables://states", r"needs endpoint=.* or connection_setting=.*, not both"),
        (
            "azuretables://states?connection_setting=S&endpoint=https://a.table.core.windows.net",
            r"needs endpoint=.* or connection_setting=.*, not both",
        ),
        ("azuretables://states?endpoint=http://a.table.core.windows.net", "must be the account's https://"),
        ("azuretables://states?endpoint=https://a.table.core.windows.net/?sv=1", "must be the account's https://"),
        ("azuretables://states?connection_setting=S&region=westeurope", "query parameter 2 is unknown"),
    ],
)
def test_a_malformed_uri_is_a_config_error_saying_what_to_write(uri: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        AzureTablesStore.from_uri(urlsplit(uri))


def test_an_unset_connection_setting_is_a_config_error_naming_the_parameter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SETTING, raising=False)

    with pytest.raises(ConfigError, match="the setting named by connection_setting is empty or not set") as raised:
        open_store(f"azuretables://states?connection_setting={SETTING}")

    assert SETTING not in str(raised.value)


def test_a_malformed_connection_string_is_a_config_error_that_does_not_echo_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    invalid = "the setting named by connection_setting does not hold a valid storage connection string"
    with pytest.raises(ConfigError, match=invalid) as raised:
        open_with(monkeypatch, "AccountName=onlyaname-s3cr3t", "states")

    assert "s3cr3t" not in str(raised.value)


def test_a_missing_table_is_a_state_error_saying_to_create_it(
    monkeypatch: pytest.MonkeyPatch, server: Azurite
) -> None:
    name = unused_table_name()
    store = open_with(monkeypatch, server.connection_string, name)

    for operation in [
        lambda: store.get_many(["k"]),
        lambda: store.put("k", {}, expires_at=NOW + HOUR, version=None),
        lambda: store.put("k", {}, expires_at=NOW + HOUR, version=1),
    ]:
        with pytest.raises(StateError, match=f"Azure table '{name}' does not exist .* create it"):
            operation()
    store.close()


def test_a_rejected_account_key_is_a_state_error_naming_the_setting_but_not_the_key(
    monkeypatch: pytest.MonkeyPatch, server: Azurite, table: TableClient
) -> None:
    wrong_key = base64.b64encode(b"not the account key").decode()
    store = open_with(monkeypatch, server.connection_string.replace(ACCOUNT_KEY, wrong_key), table.table_name)

    expected = f"HTTP 403.*check the connection string in setting {SETTING}"
    with pytest.raises(StateError, match=expected) as raised:
        store.get_many(["k"])

    assert wrong_key not in str(raised.value)
    store.close()


def test_an_unreachable_endpoint_is_a_state_error_naming_the_setting(clock: Clock) -> None:
    unreachable = TableClient.from_connection_string(
        f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={ACCOUNT_KEY};"
        "TableEndpoint=http://127.0.0.1:9/devstoreaccount1;",
        table_name="states",
        retry_total=0,
    )
    store = store_on(unreachable, clock)

    with pytest.raises(StateError, match=f"cannot reach Azure Tables .* setting {SETTING}"):
        store.put("k", {}, expires_at=NOW + HOUR, version=None)
    store.close()


def test_close_can_be_called_twice(table: TableClient, clock: Clock) -> None:
    store = store_on(table, clock)
    store.close()
    store.close()
