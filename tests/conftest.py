from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["tests.smtp_server"]

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(
            f"../shared is not beside the repository ({SHARED}); these tests read the shared corpus and seeds"
        )
    return SHARED
