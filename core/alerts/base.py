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
from core.uris import query_params


@runtime_checkable
class Sink(Protocol):
    #: Short label for summaries and errors, e.g. "jsonl:-" or "sns:arn:aws:sns:..." (never a secret).
    label: str

    def send(self, alerts: Sequence[Alert]) -> None: ...

    def close(self) -> None: ...


def describe_uri(uri: SplitResult) -> str:
    """The URI without its query and user info: safe to show in a message whatever the user wrote."""
    host = uri.netloc.rpartition("@")[2]
    prefix = f"{uri.scheme}://" if uri.scheme else ""
    return f"{prefix}{host}{uri.path}"


def uri_params(uri: SplitResult, *, allowed: Collection[str]) -> dict[str, str]:
    """The query parameters of a sink URI (see core.uris.query_params)."""
    return query_params(uri, where=f"sink {describe_uri(uri)}", optional=allowed)
