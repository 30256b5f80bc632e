"""Azurite's Blob service for tests: one in-memory server per test process (tests/azurite.py runs the Table one).

`shared_azurite_blob()` starts `azurite-blob` at first use and stops it when the test process exits; it skips
the test when azure-storage-blob or the binary is absent (`scripts/install-azurite.sh` installs Azurite).
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
from dataclasses import dataclass

import pytest

from tests.azurite import ACCOUNT, ACCOUNT_KEY, REPO, launch
from tests.servers import stop

LOCAL_BINARY = REPO / ".tools" / "node_modules" / ".bin" / "azurite-blob"


@dataclass(frozen=True, slots=True)
class AzuriteBlob:
    port: int

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};"
            f"BlobEndpoint=http://127.0.0.1:{self.port}/{ACCOUNT};"
        )


def shared_azurite_blob() -> AzuriteBlob:
    """This process's server, started at first call and stopped at exit; skips the test if absent."""
    pytest.importorskip("azure.storage.blob", reason="azure-storage-blob is missing: pip install azure-storage-blob")
    binary = str(LOCAL_BINARY) if os.access(LOCAL_BINARY, os.X_OK) else shutil.which("azurite-blob")
    if binary is None:
        pytest.skip("azurite-blob is not installed: run scripts/install-azurite.sh or put azurite on PATH")
    return _started(binary)


@functools.cache
def _started(binary: str) -> AzuriteBlob:
    port, process = launch(binary, "blob")
    atexit.register(stop, process)
    return AzuriteBlob(port)
