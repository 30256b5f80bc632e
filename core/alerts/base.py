"""The Sink protocol, and the URI handling every sink shares.

A sink is built from a URI by its class's ``from_uri`` (see core.alerts.registry) and delivers a batch
of alerts with ``send``. Delivery failures surface as DeliveryError after the sink's own bounded
retries, so the platform retries the whole batch (safe: alert ids are deterministic).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Protocol, runtime_checkable
from urllib.parse import SplitResult

from core.model import Alert
from core.uris import query_params, where


@runtime_checkable
class Sink(Protocol):
    #: Short label for summaries and errors, e.g. "jsonl:-" or "sns:arn:aws:sns:..." (never a secret).
    label: str

    def send(self, alerts: Sequence[Alert]) -> None: ...

    def close(self) -> None: ...


def uri_params(uri: SplitResult, *, allowed: Collection[str]) -> dict[str, str]:
    """The query parameters of a sink URI (see core.uris.query_params)."""
    return query_params(uri, where=where("sink", uri.scheme), optional=allowed)
