"""Run a Google Cloud emulator from this machine's Cloud SDK (Firestore or Pub/Sub) for a test session.

    with emulator_in_environment("pubsub") as emulator:  # sets PUBSUB_EMULATOR_HOST until the block ends
        ...

Each emulator listens on 127.0.0.1 on a free port, in a session of its own (setsid), so stopping it ends
the whole process group: the SDK launcher is a shell script, and ending only the script leaves Java
running. `start_emulator` skips the calling test, with the reason, when the SDK, the emulator or Java is
missing, or when the emulator does not answer in time.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pytest

from tests.servers import free_port

EmulatorKind = Literal["firestore", "pubsub"]

_READY_TIMEOUT_S = 30.0
_STOP_TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True)
class _Launcher:
    script: str  # relative to the SDK root
    env_var: str  # the variable Google's client libraries read
    component: str  # what `gcloud components install` calls it
    arguments: tuple[str, ...] = ()


_LAUNCHERS: dict[EmulatorKind, _Launcher] = {
    "firestore": _Launcher(
        "platform/cloud-firestore-emulator/cloud_firestore_emulator",
        "FIRESTORE_EMULATOR_HOST",
        "cloud-firestore-emulator",
        ("start",),
    ),
    "pubsub": _Launcher(
        "platform/pubsub-emulator/bin/cloud-pubsub-emulator", "PUBSUB_EMULATOR_HOST", "pubsub-emulator"
    ),
}


@dataclass(frozen=True, slots=True)
class Emulator:
    kind: EmulatorKind
    host: str  # "127.0.0.1:PORT", the value for env_var
    env_var: str
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        """End the emulator's whole process group, politely first, and wait until it is gone; idempotent."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with suppress(ProcessLookupError):
                os.killpg(self.process.pid, sig)
            if _group_ended(self.process, _STOP_TIMEOUT_S):
                break
        self.log.unlink(missing_ok=True)


def start_emulator(kind: EmulatorKind, *, timeout_s: float = _READY_TIMEOUT_S) -> Emulator:
    """Start the `kind` emulator and return once it answers HTTP; the caller must `stop()` it."""
    launcher = _LAUNCHERS[kind]
    script = _launcher_script(launcher)
    if not (os.environ.get("JAVA") or shutil.which("java")):
        pytest.skip(f"the {kind} emulator needs Java (17 or later) on PATH, and there is none")
    port = free_port()
    log = Path(tempfile.mkstemp(prefix=f"{kind}-emulator-", suffix=".log")[1])
    with log.open("wb") as output:
        process = subprocess.Popen(
            [str(script), *launcher.arguments, "--host=127.0.0.1", f"--port={port}"],
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # setsid: the launcher and its Java child share one process group
        )
    emulator = Emulator(kind, f"127.0.0.1:{port}", launcher.env_var, process, log)
    failure = _wait_until_ready(emulator, timeout_s)
    if failure:
        tail = _tail(log)
        emulator.stop()
        pytest.skip(f"the {kind} emulator did not start: {failure}; its log ends: {tail}")
    return emulator


@contextmanager
def running_emulator(kind: EmulatorKind) -> Iterator[Emulator]:
    emulator = start_emulator(kind)
    try:
        yield emulator
    finally:
        emulator.stop()


@contextmanager
def emulator_in_environment(kind: EmulatorKind) -> Iterator[Emulator]:
    """A running emulator whose address is in os.environ (so spawned processes inherit it) until the end."""
    with running_emulator(kind) as emulator, pytest.MonkeyPatch.context() as environment:
        environment.setenv(emulator.env_var, emulator.host)
        yield emulator


def sdk_root() -> Path | None:
    """The Cloud SDK's root: beside the `gcloud` on PATH, or as `gcloud info` reports it."""
    gcloud = shutil.which("gcloud")
    if gcloud is None:
        return None
    beside = Path(gcloud).resolve().parents[1]  # ROOT/bin/gcloud
    if (beside / "platform").is_dir():
        return beside
    try:
        reported = subprocess.run(
            [gcloud, "info", "--format=value(installation.sdk_root)"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return Path(reported) if reported else None


def _launcher_script(launcher: _Launcher) -> Path:
    root = sdk_root()
    if root is None:
        pytest.skip("the Google Cloud SDK is not installed (no gcloud on PATH), so its emulators cannot run")
    script = root / launcher.script
    if not script.is_file():
        pytest.skip(
            f"the Google Cloud SDK at {root} lacks {launcher.script}: "
            f"install it with `gcloud components install {launcher.component}`"
        )
    return script


def _wait_until_ready(emulator: Emulator, timeout_s: float) -> str | None:
    """None once the emulator answers GET / with 200, else why it never did."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never through a proxy
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if emulator.process.poll() is not None:
            return f"it exited with status {emulator.process.returncode}"
        with suppress(OSError), opener.open(f"http://{emulator.host}/", timeout=1) as response:
            if response.status == 200:
                return None
        time.sleep(0.1)
    return f"it did not answer on {emulator.host} within {timeout_s:.0f}s"


def _group_ended(leader: subprocess.Popen[bytes], timeout_s: float) -> bool:
    """Wait until no process of the leader's group is left (Java takes a second or two after SIGTERM)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        leader.poll()  # reap the launcher, or it would linger as a zombie of the group
        try:
            os.killpg(leader.pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def _tail(log: Path, lines: int = 5) -> str:
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return " | ".join(text.strip().splitlines()[-lines:]) or "(empty)"
