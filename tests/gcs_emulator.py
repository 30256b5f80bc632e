"""gcp-storage-emulator (PyPI, in the dev extra): a Cloud Storage JSON API server on 127.0.0.1, for gs:// tests.

`shared_gcs_emulator()` starts one in-memory server per test process at first use and stops it when the process
exits; it skips when the package is not installed. google-cloud-storage reaches it through STORAGE_EMULATOR_HOST,
as a user points the SDK at any emulator, and needs no credentials then.
"""

from __future__ import annotations

import atexit
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from functools import cache

import pytest

from tests.servers import free_port, stop

READY_TIMEOUT_S = 20.0


@dataclass(frozen=True, slots=True)
class GcsEmulator:
    port: int

    @property
    def host(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@cache
def shared_gcs_emulator() -> GcsEmulator:
    pytest.importorskip("gcp_storage_emulator", reason="gcp-storage-emulator is not installed (the dev extra has it)")
    port = free_port()
    command = [sys.executable, "-m", "gcp_storage_emulator", "start", "--host", "127.0.0.1", "--port", str(port),
               "--in-memory"]  # fmt: skip
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    atexit.register(stop, server)
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"gcp-storage-emulator exited with {server.returncode} before listening")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return GcsEmulator(port)
        except OSError:
            time.sleep(0.1)
    stop(server)
    pytest.fail(f"gcp-storage-emulator did not listen on 127.0.0.1:{port} within {READY_TIMEOUT_S:.0f} s")
