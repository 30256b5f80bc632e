"""Firestore store: one document per key in one collection, each put a single conditional write.

URI: `firestore://COLLECTION?project=P&database=D` (database defaults to "(default)"). The client is built
on first use with the environment's credentials; it honours FIRESTORE_EMULATOR_HOST.

Documents. The id is `document_id(key)`: "k:" and the key percent-encoded (readable, no "/", never "." or
"__x__"), or "h:" and the key's SHA-256 when that would pass Firestore's 1,500-byte id limit. Fields:

    v    the value as JSON text: Firestore maps cannot hold arrays in arrays or "__x__" field names,
         and JSON text keeps 3 apart from 3.0
    ver  the version, an integer
    exp  the expiry, a timestamp: the field of the collection's TTL policy (`TTL_FIELD`), in Terraform
         google_firestore_field { collection = "COLLECTION", field = "exp", ttl_config {} }
    w    a random token naming the write that left the document

Atomicity. Each put is one conditional write, and no transaction holds a lock. A create uses `create()`,
which Firestore refuses when the document exists. Any other write checks the document's version and expiry
by the store's clock against the snapshot it last saw, then updates with that snapshot's `update_time` as
precondition, so Firestore refuses it if anything wrote the document since. The store remembers the
snapshots get_many returns and the writes it makes, so the engine's read-then-put costs one read and one
write; on a refusal, or with nothing remembered, put reads the document and decides again. The client
retries a commit whose answer was lost; when the retry is refused, the token shows whether the first
attempt landed, so put returns True exactly when its write applied.

TTL. Firestore deletes expired documents lazily (within about a day; the emulator never does). Until then an
expired document is invisible to get_many and is overwritten by a put with version None.
"""

from __future__ import annotations

import hashlib
import secrets
import string
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import SplitResult, quote

import orjson
from google.api_core import exceptions as api_errors
from google.auth import exceptions as auth_errors
from google.cloud import firestore

from core.errors import ConfigError, StateError
from core.state.base import Item, JSONValue
from core.state.registry import uri_params
from core.timeutil import utcnow

#: The timestamp field a Firestore TTL policy on the collection should name.
TTL_FIELD = "exp"
DEFAULT_DATABASE = "(default)"

_VALUE, _VERSION, _TOKEN = "v", "ver", "w"
_MAX_ID_BYTES = 1500
_SAFE = "".join(char for char in string.punctuation if char not in "/%")  # printable ASCII stays readable
_CHUNK = 300  # documents per BatchGetDocuments call
_ATTEMPTS = 3  # a put re-evaluates its condition only when its write was refused or the document vanished
_REMEMBERED = 10_000  # documents whose update_time a store keeps for its next write
_LOST = (api_errors.AlreadyExists, api_errors.FailedPrecondition, api_errors.NotFound, api_errors.Aborted)


def document_id(key: str) -> str:
    """The Firestore document id of a store key: distinct for distinct keys, valid for every key."""
    raw = key.encode("utf-8", "surrogatepass")
    readable = "k:" + quote(raw, safe=_SAFE)
    if len(readable) <= _MAX_ID_BYTES:
        return readable
    return "h:" + hashlib.sha256(raw).hexdigest()


@dataclass(frozen=True, slots=True)
class _Seen:
    """A document as this store last read or wrote it; its update_time is the next write's precondition."""

    version: int
    expires_at: datetime
    token: str | None
    update_time: Any  # the SDK's timestamp, handed back to it untouched

    def live_version(self, now: datetime) -> int | None:
        return self.version if self.expires_at > now else None


class FirestoreStore:
    def __init__(
        self,
        collection: str,
        *,
        client: Any = None,
        project: str | None = None,
        database: str | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.collection = collection
        self.project = project or (client.project if client is not None else None)
        self.database = database or DEFAULT_DATABASE
        self.label = _label(collection, self.project, self.database)
        self._client = client
        self._owns_client = client is None
        self._clock = clock
        self._lock = threading.Lock()
        self._seen: dict[str, _Seen] = {}  # by document id, oldest first

    @classmethod
    def from_uri(cls, uri: SplitResult, *, clock: Callable[[], datetime] = utcnow) -> FirestoreStore:
        """`firestore://COLLECTION?project=P&database=D`; database is optional."""
        if uri.path or uri.fragment:
            raise ConfigError(
                "store 'firestore://' takes one collection name and no path: "
                "write firestore://COLLECTION?project=P&database=D"
            )
        _check_collection(uri.netloc)
        params = uri_params(uri, required=["project"], optional=["database"])
        return cls(uri.netloc, project=params["project"], database=params.get("database"), clock=clock)

    def get_many(self, keys: Sequence[str]) -> dict[str, Item]:
        wanted = {document_id(key): key for key in keys}
        ids = list(wanted)
        now = self._clock()
        found: dict[str, Item] = {}
        with self._errors():
            for start in range(0, len(ids), _CHUNK):
                for doc_id, item in self._live(ids[start : start + _CHUNK], now):
                    found[wanted[doc_id]] = item
        return found

    def put(
        self, key: str, value: Mapping[str, JSONValue], *, expires_at: datetime, version: int | None
    ) -> bool:
        fields = {
            _VALUE: orjson.dumps(dict(value)).decode(),
            _VERSION: (version or 0) + 1,
            TTL_FIELD: expires_at,
            _TOKEN: _new_token(),
        }
        now = self._clock()
        with self._errors():
            _, collection = self._connect()
            return self._put(collection.document(document_id(key)), fields, version, now)

    def close(self) -> None:
        with self._lock:
            self._seen.clear()
            if self._owns_client and self._client is not None:
                self._client.close()
                self._client = None

    def _live(self, ids: Sequence[str], now: datetime) -> Iterator[tuple[str, Item]]:
        """The live documents among `ids` (one BatchGetDocuments call), remembering every one found."""
        client, collection = self._connect()
        for snapshot in client.get_all([collection.document(doc_id) for doc_id in ids]):
            seen = self._observe(snapshot)
            if seen is not None and seen.live_version(now) is not None:
                yield snapshot.id, Item(self._value(snapshot), seen.version, seen.expires_at)

    def _put(self, document: Any, fields: dict[str, Any], version: int | None, now: datetime) -> bool:
        # The engine reads before it writes, so the document is usually known: one write, no read.
        known = self._recall(document.id)
        if known is not None and known.live_version(now) == version and self._write(document, fields, known):
            return True
        for _ in range(_ATTEMPTS):
            if version is None and self._write(document, fields, None):
                return True
            current = self._observe(document.get())
            if current is not None and current.token == fields[_TOKEN]:
                return True  # a commit the client retried had landed the first time
            if (current.live_version(now) if current else None) != version:
                return False
            if current is not None and self._write(document, fields, current):
                return True
            # Refused (another writer got in first) or deleted since the read (TTL): look again.
        return False

    def _write(self, document: Any, fields: dict[str, Any], current: _Seen | None) -> bool:
        """Create the document (`current` None) or replace `current` if unchanged; False when refused."""
        try:
            if current is None:
                result = document.create(fields)
            else:
                unchanged = firestore.Client.write_option(last_update_time=current.update_time)
                result = document.update(fields, option=unchanged)
        except _LOST:
            return False
        written = _Seen(fields[_VERSION], fields[TTL_FIELD], fields[_TOKEN], result.update_time)
        self._remember(document.id, written)
        return True

    def _observe(self, snapshot: Any) -> _Seen | None:
        """The snapshot's version, expiry and token, remembered for the next write; None if absent."""
        seen = self._decode(snapshot) if snapshot.exists else None
        self._remember(snapshot.id, seen)
        return seen

    def _decode(self, snapshot: Any) -> _Seen:
        fields = snapshot.to_dict()
        try:
            return _Seen(
                int(fields[_VERSION]), _plain_utc(fields[TTL_FIELD]), fields.get(_TOKEN), snapshot.update_time
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise self._foreign(snapshot.id) from exc

    def _value(self, snapshot: Any) -> dict[str, JSONValue]:
        try:
            value = orjson.loads(snapshot.get(_VALUE))
        except (KeyError, TypeError, ValueError) as exc:
            raise self._foreign(snapshot.id) from exc
        if not isinstance(value, dict):
            raise self._foreign(snapshot.id)
        return value

    def _foreign(self, doc_id: str) -> StateError:
        return StateError(
            f"Firestore store {self.label}: document {doc_id!r} was not written by secretwatch "
            f"(its fields {_VALUE}, {_VERSION}, {TTL_FIELD} are missing or malformed); "
            "give secretwatch a collection of its own"
        )

    def _remember(self, doc_id: str, seen: _Seen | None) -> None:
        with self._lock:
            self._seen.pop(doc_id, None)
            if seen is not None:
                self._seen[doc_id] = seen
                if len(self._seen) > _REMEMBERED:
                    del self._seen[next(iter(self._seen))]

    def _recall(self, doc_id: str) -> _Seen | None:
        with self._lock:
            return self._seen.pop(doc_id, None)

    def _connect(self) -> tuple[Any, Any]:
        with self._lock:
            if self._client is None:
                self._client = firestore.Client(project=self.project, database=self.database)
            return self._client, self._client.collection(self.collection)

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """Turn the SDK's failures into one actionable StateError line."""
        try:
            yield
        except auth_errors.GoogleAuthError as exc:
            raise StateError(
                f"Firestore store {self.label}: no usable Google credentials ({type(exc).__name__}); "
                "run with a service account, set GOOGLE_APPLICATION_CREDENTIALS, "
                "or set FIRESTORE_EMULATOR_HOST to use the emulator"
            ) from exc
        except api_errors.GoogleAPIError as exc:
            raise StateError(f"Firestore store {self.label}: {_describe(exc)}; {_hint(exc)}") from exc


def _new_token() -> str:
    return secrets.token_hex(8)


def _plain_utc(value: datetime) -> datetime:
    """The SDK's DatetimeWithNanoseconds as a plain UTC datetime (microseconds, as Firestore stores them)."""
    if not isinstance(value, datetime):
        raise TypeError(f"{TTL_FIELD} is not a timestamp")
    utc = value.astimezone(UTC)
    return datetime(
        utc.year, utc.month, utc.day, utc.hour, utc.minute, utc.second, utc.microsecond, tzinfo=UTC
    )


def _check_collection(name: str) -> None:
    if not name or "/" in name or name in {".", ".."} or (name.startswith("__") and name.endswith("__")):
        raise ConfigError(
            "store 'firestore://' needs a collection name: write firestore://COLLECTION?project=P "
            "(no '/', not '.' or '..', not __NAME__)"
        )
    if len(name.encode()) > _MAX_ID_BYTES:
        raise ConfigError(f"store 'firestore://': the collection name is over {_MAX_ID_BYTES} bytes")


def _label(collection: str, project: str | None, database: str) -> str:
    query = f"?project={project}" if project else ""
    if database != DEFAULT_DATABASE:
        query += f"{'&' if query else '?'}database={database}"
    return f"firestore://{collection}{query}"


def _describe(exc: api_errors.GoogleAPIError) -> str:
    message = str(getattr(exc, "message", "") or "").strip().splitlines()
    detail = f" ({message[0][:200]})" if message else ""
    return f"{type(exc).__name__}{detail}"


def _hint(exc: api_errors.GoogleAPIError) -> str:
    if isinstance(exc, api_errors.PermissionDenied | api_errors.Unauthenticated):
        return "grant the service account the Cloud Datastore User role (roles/datastore.user) on the project"
    if isinstance(exc, api_errors.NotFound):
        return "create the Firestore database in Native mode, or fix project= and database= in the store URI"
    if isinstance(exc, api_errors.FailedPrecondition):
        return "use a Firestore database in Native mode (not Datastore mode)"
    if isinstance(exc, api_errors.InvalidArgument):
        return "check project=, database= and the collection in the store URI; a document is limited to 1 MiB"
    if isinstance(exc, api_errors.ResourceExhausted):
        return "Firestore quota is exhausted; raise the quota or lower the batch rate, then retry"
    if isinstance(exc, api_errors.ServiceUnavailable | api_errors.DeadlineExceeded | api_errors.RetryError):
        return "Firestore did not answer in time; retry (with the emulator, check FIRESTORE_EMULATOR_HOST)"
    return "check the store URI and the service account's access to Firestore, then retry"
