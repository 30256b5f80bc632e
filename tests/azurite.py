"""Azurite's Table service for tests: one in-memory server per test process, a fresh table per caller.

Use the `azurite` fixture (import it into a test module or conftest), or call `shared_azurite()` from a
fixture of your own. Both skip when the `azurite-table` binary is absent: `scripts/install-azurite.sh`
installs it under .tools/, or put it on PATH. The server starts at first use and stops when the test
process exits. `running_azurite()` starts and stops a private one; given a certificate and key, that one speaks HTTPS
and accepts OAuth bearer tokens (Azurite's basic check: issuer, audience and lifetime; no signature).
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pytest

from tests.servers import free_port, stop

REPO = Path(__file__).resolve().parents[1]
LOCAL_BINARY = REPO / ".tools" / "node_modules" / ".bin" / "azurite-table"
#: Azurite's well-known development account (public, documented by Microsoft; not a secret).
ACCOUNT = "devstoreaccount1"
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
READY_TIMEOUT_S = 15.0


@dataclass(frozen=True, slots=True)
class Azurite:
    port: int
    scheme: str = "http"

    @property
    def endpoint(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}/{ACCOUNT}"

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol={self.scheme};AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};"
            f"TableEndpoint={self.endpoint};"
        )

    def fresh_table(self) -> str:
        """Create a new, empty table and return its name."""
        from azure.data.tables import TableServiceClient

        name = unused_table_name()
        with TableServiceClient.from_connection_string(self.connection_string) as service:
            service.create_table(name)
        return name


def unused_table_name() -> str:
    """A valid table name no test has created."""
    return f"t{uuid.uuid4().hex}"


def azurite_binary() -> str | None:
    if os.access(LOCAL_BINARY, os.X_OK):
        return str(LOCAL_BINARY)
    return shutil.which("azurite-table")


@contextmanager
def running_azurite(binary: str, *, tls: tuple[Path, Path] | None = None) -> Iterator[Azurite]:
    """Start `azurite-table` on a free port, wait until it accepts connections, and stop it afterwards.

    `tls`: a PEM certificate and its key; the server then speaks HTTPS and takes OAuth bearer tokens.
    """
    server, process = _start(binary, tls)
    try:
        yield server
    finally:
        stop(process)


_shared: Azurite | None = None


def shared_azurite() -> Azurite:
    """This process's server, started at first call and stopped at exit; skips the test if absent."""
    global _shared
    pytest.importorskip("azure.data.tables", reason="azure-data-tables is missing: pip install -e '.[azure]'")
    if _shared is None:
        binary = azurite_binary()
        if binary is None:
            pytest.skip(
                "azurite-table is not installed: run scripts/install-azurite.sh (needs Node.js and npm) "
                "or put azurite on PATH"
            )
        _shared, process = _start(binary)
        atexit.register(stop, process)
    return _shared


@pytest.fixture(scope="session")
def azurite() -> Azurite:
    return shared_azurite()


def _start(binary: str, tls: tuple[Path, Path] | None = None) -> tuple[Azurite, subprocess.Popen[bytes]]:
    oauth = ("--oauth", "basic", "--cert", str(tls[0]), "--key", str(tls[1])) if tls else ()
    port, process = launch(binary, "table", *oauth)
    return Azurite(port, "https" if tls else "http"), process


def launch(binary: str, service: str, *options: str) -> tuple[int, subprocess.Popen[bytes]]:
    """Start one Azurite service ("table", "blob") in memory on a free port; return once it listens."""
    port = free_port()
    # stderr goes to a file, not a pipe that nobody reads while the server runs
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(
            [
                binary,
                *(f"--{service}Host", "127.0.0.1", f"--{service}Port", str(port)),
                *("--inMemoryPersistence", "--silent", "--skipApiVersionCheck", "--disableTelemetry"),
                *options,
            ],
            cwd=tempfile.gettempdir(),  # Azurite may leave debug files in its working directory
            stdout=subprocess.DEVNULL,
            stderr=errors,
            start_new_session=True,  # its own process group, so stopping it stops node's children too
        )
        try:
            _wait_until_listening(process, port, errors)
        except BaseException:
            stop(process)
            raise
    return port, process


def _wait_until_listening(process: subprocess.Popen[bytes], port: int, errors: IO[bytes]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            errors.seek(0)
            reason = errors.read().decode(errors="replace").strip()
            raise RuntimeError(f"azurite-table exited with code {process.returncode}: {reason}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"azurite-table did not listen on port {port} within {READY_TIMEOUT_S:.0f}s")
