"""Azure Table Storage store: one entity per key, written by insert-if-absent or etag-conditional replace.

Entity layout (stable: changing it orphans stored state):
    PartitionKey  two hex digits of the key's SHA-256, spreading keys over 256 partitions
    RowKey        the key's UTF-8 in unpadded URL-safe base64, or "~" + its SHA-256 when that is empty or
                  longer than a RowKey may be; either way free of / \\ # ? and control characters, and
                  distinct for keys that differ only by case or Unicode normalisation
    v, v1, v2...  the value as JSON text, split so no property exceeds the 64 KiB string limit
    ver           the version (Int64);  exp  the expiry (DateTime)

Azure Tables has no server-side increment and no TTL. A write at version n checks `ver` and `exp` of
the entity it read and replaces it only if the entity's etag is unchanged; a 412 is a lost race and
returns False for the engine to retry. Expired entities stay in the table, invisible to reads, until a
create overwrites them or `purge_expired` deletes them.

Request cost: `get_many` makes one point read per distinct key, up to 8 at a time (a query cannot fetch
many keys without scanning partitions). The etags seen by reads and writes are remembered, so the
engine's read-then-write costs one write request; a put for a key this store has not seen at the
expected version reads it first, and a create over an existing key reads it to check its expiry.

The URI says how the store authenticates (managed identity or connection string): core.state.azure_access.
"""

from __future__ import annotations

import base64
import hashlib
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult

import orjson
from azure.core import MatchConditions
from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
    ServiceRequestError,
)
from azure.data.tables import EdmType, EntityProperty, TableClient, TableEntity, UpdateMode

from core.errors import StateError
from core.state.azure_access import Access, connect
from core.state.base import Item, JSONValue
from core.timeutil import utcnow

if TYPE_CHECKING:
    from azure.identity import DefaultAzureCredential

_MAX_ROW_KEY = 512  # characters: a RowKey holds at most 1 KiB of UTF-16
_HASHED_PREFIX = "~"  # never produced by URL-safe base64, so hashed and encoded RowKeys cannot meet
_CHUNK_ASCII = 32_768  # characters per value property: 64 KiB of UTF-16 when all are ASCII
_CHUNK_WIDE = 16_384  # ... and when some take two UTF-16 units
_MAX_CHUNKS = 15  # 15 x 64 KiB stays under the 1 MiB entity limit with the keys and names
_READERS = 8  # concurrent point reads in one get_many; the SDK's connection pool holds 10
_SEEN_LIMIT = 10_000  # etags remembered; the oldest are forgotten first
_AUTH_STATUSES = frozenset({401, 403})


def entity_keys(key: str) -> tuple[str, str]:
    """The (PartitionKey, RowKey) that hold `key`."""
    data = key.encode("utf-8", "surrogatepass")
    digest = hashlib.sha256(data).hexdigest()
    encoded = base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")
    row_key = encoded if 0 < len(encoded) <= _MAX_ROW_KEY else _HASHED_PREFIX + digest
    return digest[:2], row_key


@dataclass(frozen=True, slots=True)
class _Seen:
    """What a read or write last saw of an entity: enough to replace it without reading it again."""

    version: int
    expires_at: datetime
    etag: str


class AzureTablesStore:
    def __init__(
        self,
        table: TableClient,
        *,
        access: Access,
        credential: DefaultAzureCredential | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        """`table`: a client for an existing table; `access`: how messages name its account and credentials;
        `credential`: closed with the store."""
        self.label = f"azuretables://{table.table_name}"
        self._table = table
        self._access = access
        self._credential = credential
        self._clock = clock
        self._seen: dict[str, _Seen] = {}
        self._lock = threading.Lock()
        self._readers = ThreadPoolExecutor(_READERS, thread_name_prefix="azuretables-read")

    @classmethod
    def from_uri(cls, uri: SplitResult, *, clock: Callable[[], datetime] = utcnow) -> AzureTablesStore:
        """`azuretables://TABLE?endpoint=https://ACCOUNT.table.core.windows.net` (managed identity) or
        `azuretables://TABLE?connection_setting=NAME` (a connection string): see core.state.azure_access."""
        connection = connect(uri)
        return cls(connection.table, access=connection.access, credential=connection.credential, clock=clock)

    def get_many(self, keys: Sequence[str]) -> dict[str, Item]:
        now = self._clock()
        wanted = list(dict.fromkeys(keys))
        entities = self._readers.map(self._fetch, wanted) if len(wanted) > 1 else map(self._fetch, wanted)
        found: dict[str, Item] = {}
        for key, entity in zip(wanted, entities, strict=True):
            if entity is None:
                continue
            seen = self._remember(key, entity)
            if seen.expires_at > now:
                found[key] = Item(_value(entity), seen.version, seen.expires_at)
        return found

    def put(
        self, key: str, value: Mapping[str, JSONValue], *, expires_at: datetime, version: int | None
    ) -> bool:
        entity = _entity(key, value, expires_at, (version or 0) + 1)
        if version is None and self._create(key, entity):
            return True
        return self._replace(key, entity, version)

    def purge_expired(self) -> int:
        """Delete the entities expired by the store's clock; returns how many. Scans the whole table: run it
        from a scheduled job, not per batch. An entity rewritten meanwhile is left alone."""
        query = self._table.query_entities(
            "exp lt @now", parameters={"now": self._clock()}, select=["PartitionKey", "RowKey"]
        )
        deleted = 0
        try:
            for entity in query:
                deleted += self._delete_unchanged(entity)
        except AzureError as exc:
            raise self._failure(exc) from exc
        return deleted

    def close(self) -> None:
        self._readers.shutdown(cancel_futures=True)
        self._table.close()
        if self._credential is not None:
            self._credential.close()

    def _create(self, key: str, entity: dict[str, Any]) -> bool:
        """Insert the entity if its key holds none; False if one exists, expired or not."""
        try:
            metadata = self._table.create_entity(entity)
        except ResourceExistsError:
            return False
        except AzureError as exc:
            raise self._failure(exc) from exc
        self._remember_write(key, entity, metadata)
        return True

    def _replace(self, key: str, entity: dict[str, Any], version: int | None) -> bool:
        """Replace the entity if its live version is `version` (None: if it has expired).

        Uses the etag remembered for the key when that snapshot satisfies the condition: a 412 then means
        another writer got there first. Otherwise reads the entity and decides on what it holds now.
        A lost race returns False and is never retried here: the engine retries.
        """
        with self._lock:
            remembered = self._seen.get(key)
        if remembered is not None and self._allows(remembered, version):
            return self._replace_if_unchanged(key, entity, remembered.etag)
        current = self._fetch(key)
        if current is None:
            return False
        seen = self._remember(key, current)
        return self._allows(seen, version) and self._replace_if_unchanged(key, entity, seen.etag)

    def _allows(self, seen: _Seen, version: int | None) -> bool:
        live = seen.expires_at > self._clock()
        return (seen.version == version) if live else version is None

    def _replace_if_unchanged(self, key: str, entity: dict[str, Any], etag: str) -> bool:
        try:
            metadata = self._table.update_entity(
                entity, mode=UpdateMode.REPLACE, etag=etag, match_condition=MatchConditions.IfNotModified
            )
        except (ResourceModifiedError, ResourceNotFoundError) as exc:
            if _is_table_missing(exc):
                raise self._failure(exc) from exc
            self._forget(key)
            return False
        except AzureError as exc:
            raise self._failure(exc) from exc
        self._remember_write(key, entity, metadata)
        return True

    def _delete_unchanged(self, entity: TableEntity) -> int:
        try:
            self._table.delete_entity(
                entity["PartitionKey"],
                entity["RowKey"],
                etag=entity.metadata["etag"],
                match_condition=MatchConditions.IfNotModified,
            )
        except (ResourceModifiedError, ResourceNotFoundError):
            return 0
        return 1

    def _fetch(self, key: str) -> TableEntity | None:
        partition_key, row_key = entity_keys(key)
        try:
            return self._table.get_entity(partition_key, row_key)
        except ResourceNotFoundError as exc:
            if _is_table_missing(exc):
                raise self._failure(exc) from exc
            return None
        except AzureError as exc:
            raise self._failure(exc) from exc

    def _remember(self, key: str, entity: TableEntity) -> _Seen:
        seen = _Seen(_version(entity["ver"]), _utc(entity["exp"]), str(entity.metadata["etag"]))
        self._keep(key, seen)
        return seen

    def _remember_write(self, key: str, entity: Mapping[str, Any], metadata: Mapping[str, Any]) -> None:
        self._keep(key, _Seen(entity["ver"].value, entity["exp"], metadata["etag"]))

    def _keep(self, key: str, seen: _Seen) -> None:
        with self._lock:
            self._seen.pop(key, None)
            if len(self._seen) >= _SEEN_LIMIT:
                del self._seen[next(iter(self._seen))]
            self._seen[key] = seen

    def _forget(self, key: str) -> None:
        with self._lock:
            self._seen.pop(key, None)

    def _failure(self, exc: AzureError) -> StateError:
        table, access = self._table.table_name, self._access
        if _is_table_missing(exc):
            return StateError(
                f"Azure table {table!r} does not exist in {access.account}; "
                f"create it (az storage table create --name {table}) or name an existing table in the URI"
            )
        status = exc.status_code if isinstance(exc, HttpResponseError) else None
        if status in _AUTH_STATUSES:
            return StateError(
                f"Azure Tables refused access to table {table!r} (HTTP {status}); check {access.credentials}"
            )
        if isinstance(exc, ClientAuthenticationError):  # no status: no token could be had
            return StateError(
                f"no token for Azure Tables table {table!r} ({type(exc).__name__}); check {access.credentials}"
            )
        if isinstance(exc, ServiceRequestError):
            return StateError(
                f"cannot reach Azure Tables for table {table!r} ({type(exc).__name__}); "
                f"check the endpoint of {access.account} and the network"
            )
        # Only the status and error code: messages and URLs can carry a SAS token.
        detail = f"HTTP {status} {_error_code(exc)}" if status is not None else type(exc).__name__
        return StateError(
            f"Azure Tables request on table {table!r} failed ({detail}); retry, or check {access.credentials}"
        )


def _entity(key: str, value: Mapping[str, JSONValue], expires_at: datetime, version: int) -> dict[str, Any]:
    partition_key, row_key = entity_keys(key)
    chunks = _split(orjson.dumps(dict(value)).decode(), key)
    return {
        "PartitionKey": partition_key,
        "RowKey": row_key,
        **{_chunk_name(index): chunk for index, chunk in enumerate(chunks)},
        "ver": EntityProperty(version, EdmType.INT64),
        "exp": expires_at,
    }


def _split(document: str, key: str) -> list[str]:
    size = _CHUNK_ASCII if document.isascii() else _CHUNK_WIDE
    chunks = [document[start : start + size] for start in range(0, len(document), size)] or [""]
    if len(chunks) > _MAX_CHUNKS:
        raise StateError(
            f"state value for key {key[:80]!r} is {len(document)} characters of JSON, more than one Azure "
            f"Tables entity holds (about {_MAX_CHUNKS * _CHUNK_WIDE} to {_MAX_CHUNKS * _CHUNK_ASCII}); "
            "lower the rule's term or window limits"
        )
    return chunks


def _chunk_name(index: int) -> str:
    return f"v{index}" if index else "v"


def _value(entity: TableEntity) -> dict[str, JSONValue]:
    parts = [entity["v"]]
    while (part := entity.get(_chunk_name(len(parts)))) is not None:
        parts.append(part)
    value: dict[str, JSONValue] = orjson.loads("".join(parts))
    return value


def _version(raw: object) -> int:
    # The SDK returns Int64 properties wrapped in EntityProperty, and small ones as plain ints.
    number = raw.value if isinstance(raw, EntityProperty) else raw
    if not isinstance(number, int):
        raise StateError("an entity's 'ver' is not an integer: use a table that only secretwatch writes")
    return number


def _utc(moment: datetime) -> datetime:
    """A plain UTC datetime in place of the SDK's datetime subclass."""
    utc = moment.astimezone(UTC)
    return datetime.combine(utc.date(), utc.time(), tzinfo=UTC)


def _error_code(exc: AzureError) -> str:
    code = getattr(exc, "error_code", None)
    response = getattr(exc, "response", None)
    if code is None and response is not None:
        code = response.headers.get("x-ms-error-code")
    return str(getattr(code, "value", code) or "")


def _is_table_missing(exc: AzureError) -> bool:
    return _error_code(exc) == "TableNotFound"
