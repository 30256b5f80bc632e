"""`az://ACCOUNT/CONTAINER/PREFIX`: Azure Blob Storage, through azure-storage-blob (the `azure` extra).

Authentication, one of:
- by default, DefaultAzureCredential (azure-identity: environment, workload or managed identity, Azure CLI
  login) on `https://ACCOUNT.blob.core.windows.net`; the identity needs Storage Blob Data Reader on the container;
- `?connection_setting=NAME`: the connection string held by the environment variable NAME, for Azurite or an
  account key. The URI's ACCOUNT must be the connection string's account (devstoreaccount1 for Azurite).

Diagnostic settings archive to containers named `insights-logs-<category>`, so the AKS audit log of a storage
account is `az://ACCOUNT/insights-logs-kube-audit/resourceId=/SUBSCRIPTIONS/...`.
"""

from __future__ import annotations

import os
import re
from functools import partial
from typing import Any, BinaryIO

from core.errors import ConfigError, InputError
from core.remote.objects import Guarded, Location, RemoteObject, under

CONNECTION_TIMEOUT_S = 10
READ_TIMEOUT_S = 60
_MISSING_SDK = "reading az:// needs azure-storage-blob and azure-identity: pip install 'secretwatch[azure-blob]'"
_SETTING_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ACCOUNT = re.compile(r"[a-z0-9]{3,24}")
_FORM = "az://ACCOUNT/CONTAINER/PREFIX (optionally ?connection_setting=NAME)"


def list_objects(uri: str) -> list[RemoteObject]:
    location = Location.parse(uri, optional=("connection_setting",))
    container_name, _, prefix = location.path.partition("/")
    if not _ACCOUNT.fullmatch(location.host) or not container_name:
        raise ConfigError(f"input 'az://' names a storage account and a container: write {_FORM}")
    where = f"az://{location.host}/{container_name}/{prefix}"
    container = _container(location, container_name)
    errors = _errors()
    try:
        blobs = [(blob.name, int(blob.size or 0)) for blob in container.list_blobs(name_starts_with=prefix or None)]
    except errors as exc:
        raise ConfigError(f"cannot list {where}: {_explain(exc, container_name)}") from None
    found = under(prefix, blobs)
    if not found:
        raise ConfigError(f"cannot read {where}: no blobs under this prefix")
    base = f"az://{location.host}/{container_name}"
    return [RemoteObject(f"{base}/{name}", size, _opener(container, name, f"{base}/{name}")) for name, size in found]


def _container(location: Location, container_name: str) -> Any:
    try:
        from azure.storage.blob import ContainerClient
    except ImportError:
        raise ConfigError(_MISSING_SDK) from None
    options: dict[str, Any] = {"connection_timeout": CONNECTION_TIMEOUT_S, "read_timeout": READ_TIMEOUT_S}
    setting = location.params.get("connection_setting")
    if setting is None:
        return ContainerClient(
            f"https://{location.host}.blob.core.windows.net", container_name, credential=_identity(), **options
        )
    try:
        client = ContainerClient.from_connection_string(_connection_string(setting), container_name, **options)
    except ValueError:  # its message can quote the connection string
        raise ConfigError(f"input 'az://': {setting} does not hold a valid storage connection string") from None
    if client.account_name != location.host:
        raise ConfigError(
            f"input 'az://': the connection string in {setting} is for another storage account than the URI names"
        )
    return client


def _identity() -> Any:
    try:
        from azure.identity import DefaultAzureCredential
    except ImportError:
        raise ConfigError(_MISSING_SDK) from None
    return DefaultAzureCredential()


def _connection_string(setting: str) -> str:
    if not _SETTING_NAME.fullmatch(setting):
        raise ConfigError(
            "input 'az://': parameter 'connection_setting' must be the name of an environment variable "
            "(letters, digits, _) that holds the connection string, not the connection string itself"
        )
    value = os.environ.get(setting, "")
    if not value.strip():
        raise ConfigError(f"input 'az://': {setting} is empty or not set; set it to the storage connection string")
    return value


def _opener(container: Any, name: str, uri: str) -> Any:
    def open_object() -> BinaryIO:
        try:
            download = container.download_blob(name)
        except _errors() as exc:
            raise InputError(f"cannot read {uri}: {_explain(exc, container.container_name)}") from None
        explain = partial(_explain, container=container.container_name)
        return Guarded(download, uri, _errors, explain, closes=False).as_binary()  # the pool keeps its connections

    return open_object


def _errors() -> tuple[type[Exception], ...]:
    from azure.core.exceptions import AzureError

    return (AzureError,)


def _explain(exc: Exception, container: str) -> str:
    from azure.core.exceptions import ClientAuthenticationError, ResourceNotFoundError, ServiceRequestError

    code = getattr(exc, "error_code", None)
    if isinstance(exc, ResourceNotFoundError):
        return f"no such container {container!r}" if code == "ContainerNotFound" else "the blob is gone"
    if isinstance(exc, ClientAuthenticationError) or getattr(exc, "status_code", None) == 403:
        return (
            f"access denied ({code or type(exc).__name__}): the identity in use needs the Storage Blob Data Reader "
            f"role on {container!r}, or give ?connection_setting=NAME"
        )
    if isinstance(exc, ServiceRequestError):
        return "the storage account cannot be reached (check the account name and the network)"
    return f"the storage service answered {code or type(exc).__name__}"
