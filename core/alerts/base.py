"""The Sink protocol, and the URI handling every sink shares.

A sink is built from a URI by its class's ``from_uri`` (see core.alerts.registry) and delivers a batch
of alerts with ``send``. Delivery failures surface as DeliveryError after the sink's own bounded
retries, so the platform retries the whole batch (safe: alert ids are deterministic).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Protocol, runtime_checkable
from urllib.parse import SplitResult

from core.alerts.ocsf import ocsf_json
from core.alerts.render import alert_json
from core.errors import ConfigError
from core.model import Alert
from core.uris import query_params, where

#: How a sink writes each alert (``?format=``): our JSON (render.alert_json) or an OCSF Detection Finding.
FORMATS = ("json", "ocsf")


@runtime_checkable
class Sink(Protocol):
    #: Short label for summaries and errors, e.g. "jsonl:-" or "sns:arn:aws:sns:..." (never a secret).
    label: str

    def send(self, alerts: Sequence[Alert]) -> None: ...

    def close(self) -> None: ...


def uri_params(uri: SplitResult, *, allowed: Collection[str]) -> dict[str, str]:
    """The query parameters of a sink URI (see core.uris.query_params)."""
    return query_params(uri, where=where("sink", uri.scheme), optional=allowed)


def alert_format(params: dict[str, str], scheme: str, *, choices: Sequence[str] = FORMATS) -> str:
    """The ``format`` parameter, "json" when absent; ConfigError naming the choices otherwise."""
    chosen = params.get("format", "json")
    if chosen not in choices:
        raise ConfigError(f"{where('sink', scheme)}: parameter 'format' must be one of {', '.join(choices)}")
    return chosen


def encode(alert: Alert, fmt: str) -> bytes:
    """The alert in format `fmt` ("json" or "ocsf") as one line of UTF-8 JSON."""
    return ocsf_json(alert) if fmt == "ocsf" else alert_json(alert)
