"""Open a Store from its URI, importing the backend (and its cloud SDK) only when its scheme is used.

    memory://                     (CLI shortcut: memory)
    sqlite:///abs/path.db         (CLI shortcut: sqlite:PATH, relative to the working directory)
    dynamodb://TABLE?region=R
    firestore://COLLECTION?project=P&database=D
    azuretables://TABLE?endpoint=https://ACCOUNT.table.core.windows.net   (managed identity)
    azuretables://TABLE?connection_setting=NAME                          (a connection string: Azurite, local)

Each backend class parses its own URI in `from_uri(uri, *, clock)`, using `uri_params` for the query.
Errors follow core.uris: they name the scheme and the parameter, never a value typed in the URI.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, cast
from urllib.parse import SplitResult

from core.errors import ConfigError
from core.state.base import Store
from core.timeutil import utcnow
from core.uris import query_params, split_uri, unknown_scheme, where


@dataclass(frozen=True, slots=True)
class Backend:
    target: str  # "module:Class"
    extra: str | None  # the pip extra that installs its SDK
    example: str  # the URI form, for error messages and help


BACKENDS: dict[str, Backend] = {
    "memory": Backend("core.state.memory:MemoryStore", None, "memory://"),
    "sqlite": Backend("core.state.sqlite:SqliteStore", None, "sqlite:///abs/path.db (or sqlite:PATH)"),
    "dynamodb": Backend("core.state.dynamodb:DynamoDBStore", "aws", "dynamodb://TABLE?region=R"),
    "firestore": Backend(
        "core.state.firestore:FirestoreStore", "gcp", "firestore://COLLECTION?project=P&database=D"
    ),
    "azuretables": Backend(
        "core.state.azure_tables:AzureTablesStore",
        "azure",
        "azuretables://TABLE?endpoint=https://ACCOUNT.table.core.windows.net (or ?connection_setting=NAME)",
    ),
}


class _StoreClass(Protocol):
    def from_uri(self, uri: SplitResult, *, clock: Callable[[], datetime]) -> Store: ...


def open_store(uri: str, *, clock: Callable[[], datetime] = utcnow) -> Store:
    """Open the store `uri` names; ConfigError (one line, saying what to write instead) when it cannot."""
    parts = _split(uri)
    backend = BACKENDS.get(parts.scheme)
    if backend is None:
        raise unknown_scheme("store", parts.scheme, BACKENDS, _known_forms())
    store_class = _load(parts.scheme, backend)
    try:
        return store_class.from_uri(parts, clock=clock)
    except ValueError:  # an SDK refusing a value; its message would repeat it
        raise ConfigError(f"{where('store', parts.scheme)}: the URI is malformed; write {backend.example}") from None


def uri_params(
    uri: SplitResult, *, required: Sequence[str] = (), optional: Sequence[str] = ()
) -> dict[str, str]:
    """The query parameters of a store URI (see core.uris.query_params)."""
    return query_params(uri, where=where("store", uri.scheme), required=required, optional=optional)


def _split(uri: str) -> SplitResult:
    text = uri.strip()
    if text.lower() == "memory":
        text = "memory://"
    return split_uri(text, kind="store")


def _load(scheme: str, backend: Backend) -> _StoreClass:
    module_name, _, class_name = backend.target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise ConfigError(_missing_module(scheme, backend, module_name, exc.name or "")) from exc
    return cast(_StoreClass, getattr(module, class_name))


def _missing_module(scheme: str, backend: Backend, module_name: str, missing: str) -> str:
    ours = module_name == missing or module_name.startswith(f"{missing}.")
    if backend.extra and not ours:
        extra = backend.extra
        return f"store '{scheme}://' needs the {extra} extra: pip install 'secretwatch[{extra}]'"
    return f"store '{scheme}://' is not available: module {missing} is missing; reinstall secretwatch"


def _known_forms() -> str:
    return ", ".join(backend.example for backend in BACKENDS.values())
