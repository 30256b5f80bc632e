"""A sink that keeps alerts in a list: the CLI prints them as a table, rule scenarios assert on them."""

from __future__ import annotations

from collections.abc import Sequence

from core.model import Alert


class MemorySink:
    label = "memory"

    def __init__(self) -> None:
        self.alerts: list[Alert] = []

    def send(self, alerts: Sequence[Alert]) -> None:
        self.alerts.extend(alerts)

    def close(self) -> None:
        """Nothing to release."""
