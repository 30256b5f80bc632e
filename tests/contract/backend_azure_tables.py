"""The azure_tables backend's StoreFactory: one Azurite per test process, a fresh table per store.

The connection string reaches the store the way it does on Azure, through the environment variable the
URI names; processes the contract suite spawns inherit it.
"""

from __future__ import annotations

import pytest

from tests.azurite import shared_azurite, unused_table_name

from .conftest import StoreFactory

SETTING = "SECRETWATCH_TEST_TABLES_CONNECTION"


@pytest.fixture
def azure_tables_backend(monkeypatch: pytest.MonkeyPatch) -> StoreFactory:
    server = shared_azurite()
    monkeypatch.setenv(SETTING, server.connection_string)
    return StoreFactory(
        fresh_uri=lambda: f"azuretables://{server.fresh_table()}?connection_setting={SETTING}",
        shared_across_processes=True,
        broken_uri=lambda: f"azuretables://{unused_table_name()}?connection_setting={SETTING}",
    )
