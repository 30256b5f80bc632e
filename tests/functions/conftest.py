"""Every door test runs the seed rules alone, through the tuning setting a deployment would use (see the file)."""

from __future__ import annotations

import pytest

SEED_RULES = "tests/fixtures/tuning/seed_rules.yml"


@pytest.fixture(autouse=True)
def seed_rules_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRETWATCH_TUNING", SEED_RULES)
