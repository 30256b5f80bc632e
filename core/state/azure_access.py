"""How the Azure Tables store reaches its table, read from its URI.

    azuretables://TABLE?endpoint=https://ACCOUNT.table.core.windows.net
        authenticates with azure-identity's DefaultAzureCredential: on Azure, the Function App's managed
        identity, which needs the Storage Table Data Contributor role on the table and nothing else.
    azuretables://TABLE?connection_setting=NAME
        the connection string held by the environment variable (an app setting on Azure) NAME: for Azurite
        and local runs. A storage connection string carries the account key, which opens every table, blob
        container and file share of the account.

Errors name the parameter at fault, never its value nor the value of the setting it names (core.uris).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import SplitResult

from azure.data.tables import TableClient

from core.errors import ConfigError
from core.state.registry import uri_params
from core.uris import where

if TYPE_CHECKING:
    from azure.identity import DefaultAzureCredential

STORE = where("store", "azuretables")
CONNECTION_TIMEOUT_S = 10
READ_TIMEOUT_S = 30

_TABLE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]{2,62}")
_SETTING_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# The account's table endpoint; a path names the account on emulators (https://127.0.0.1:10002/ACCOUNT).
_ENDPOINT = re.compile(r"https://[A-Za-z0-9.-]+(?::\d{1,5})?(?:/[a-z0-9]{3,24})?/?")
_FORMS = "azuretables://TABLE?endpoint=https://ACCOUNT.table.core.windows.net (or ?connection_setting=NAME)"


@dataclass(frozen=True, slots=True)
class Access:
    """Where the store's account and credentials come from, as messages name them (never their values)."""

    account: str  # "the storage account of ..."
    credentials: str  # what to check when access is refused


@dataclass(frozen=True, slots=True)
class Connection:
    table: TableClient
    access: Access
    credential: DefaultAzureCredential | None = None  # closed with the store


IDENTITY = Access(
    account="the storage account of endpoint=",
    credentials=(
        "that the identity secretwatch runs as (DefaultAzureCredential: the managed identity on Azure) "
        "has the Storage Table Data Contributor role on the table"
    ),
)


def connection_setting(setting: str) -> Access:
    return Access(
        account=f"the storage account of setting {setting}", credentials=f"the connection string in setting {setting}"
    )


def connect(uri: SplitResult) -> Connection:
    """A client for the table `uri` names, authenticated the way it says; ConfigError if it cannot be built."""
    table = uri.netloc
    if uri.path or uri.fragment or not _TABLE_NAME.fullmatch(table):
        raise ConfigError(
            f"{STORE} takes an existing table name (3-63 letters and digits, starting with a letter) and nothing "
            f"else: write {_FORMS}"
        )
    params = uri_params(uri, optional=("endpoint", "connection_setting"))
    if ("endpoint" in params) == ("connection_setting" in params):
        raise ConfigError(
            f"{STORE} needs endpoint=... (managed identity) or connection_setting=..., not both: write {_FORMS}"
        )
    if "endpoint" in params:
        return _with_identity(params["endpoint"], table)
    return _with_connection_string(params["connection_setting"], table)


def _with_identity(endpoint: str, table: str) -> Connection:
    if not _ENDPOINT.fullmatch(endpoint):
        raise ConfigError(
            f"{STORE}: parameter 'endpoint' must be the account's https:// table endpoint and nothing more, "
            "like https://ACCOUNT.table.core.windows.net"
        )
    try:
        from azure.identity import DefaultAzureCredential
    except ModuleNotFoundError:
        raise ConfigError(
            f"{STORE}: endpoint= authenticates with azure-identity, which is missing: "
            "pip install 'secretwatch[azure]'"
        ) from None
    credential = DefaultAzureCredential()
    client = TableClient(
        endpoint.rstrip("/"),
        table,
        credential=credential,
        connection_timeout=CONNECTION_TIMEOUT_S,
        read_timeout=READ_TIMEOUT_S,
    )
    return Connection(client, IDENTITY, credential)


def _with_connection_string(setting: str, table: str) -> Connection:
    if not _SETTING_NAME.fullmatch(setting):
        raise ConfigError(
            f"{STORE}: parameter 'connection_setting' must be the name of an app setting or environment "
            "variable (letters, digits, _) that holds the connection string, not the connection string itself"
        )
    connection_string = os.environ.get(setting, "")
    if not connection_string.strip():
        raise ConfigError(
            f"{STORE}: the setting named by connection_setting is empty or not set; set it (an app setting "
            "on Azure) to the storage account's connection string"
        )
    try:
        client = TableClient.from_connection_string(
            connection_string, table_name=table, connection_timeout=CONNECTION_TIMEOUT_S, read_timeout=READ_TIMEOUT_S
        )
    except ValueError:  # its message can quote the connection string
        raise ConfigError(
            f"{STORE}: the setting named by connection_setting does not hold a valid storage connection string"
        ) from None
    return Connection(client, connection_setting(setting))
