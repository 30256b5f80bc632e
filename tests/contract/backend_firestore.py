"""The firestore backend's StoreFactory: every fresh store is a new collection in one Firestore emulator.

The fixture is session-scoped so the emulator (from the machine's Cloud SDK) starts once and stops after
the last test; FIRESTORE_EMULATOR_HOST points this process, and the processes it spawns, at it. Tests skip
with the reason when the gcp extra is not installed or the emulator cannot start.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.emulators import emulator_in_environment

from .conftest import StoreFactory

PROJECT = "secretwatch-contract"


@pytest.fixture(scope="session")
def firestore_backend() -> Iterator[StoreFactory]:
    pytest.importorskip(
        "google.cloud.firestore", reason="the gcp extra (google-cloud-firestore) is not installed"
    )
    with emulator_in_environment("firestore"):
        yield StoreFactory(
            fresh_uri=lambda: f"firestore://contract-{uuid.uuid4().hex}?project={PROJECT}",
            shared_across_processes=True,
            # Firestore rejects a database id holding '/', so the driver fails on the first call.
            broken_uri=lambda: f"firestore://contract?project={PROJECT}&database=no/such/database",
        )
