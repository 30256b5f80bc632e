"""The exactly-once property on every Store backend whose local peer runs here (moto, the Firestore emulator,
Azurite): the same state machine as tests/reliability, fewer examples, because each step is real requests."""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test

from core.state.base import Store
from tests.reliability.test_exactly_once import machine_for

from .conftest import StoreFactory

CONTRACT_SETTINGS = settings(
    max_examples=20,
    stateful_step_count=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def test_every_alert_reaches_every_sink_exactly_once(store_factory: StoreFactory) -> None:
    uris: list[str] = []
    in_process: dict[str, Store] = {}

    def open_store() -> Store:
        if store_factory.shared_across_processes:
            return store_factory.open(uris[-1])
        if uris[-1] not in in_process:  # memory://: both instances share the one in-process store
            in_process[uris[-1]] = store_factory.open(uris[-1])
        return in_process[uris[-1]]

    class OnBackend(machine_for(open_store)):  # type: ignore[misc, valid-type]
        def __init__(self) -> None:
            uris.append(store_factory.fresh_uri())
            in_process.clear()  # a fresh store per run, shared by both instances
            super().__init__()

    run_state_machine_as_test(OnBackend, settings=CONTRACT_SETTINGS)
