"""Pub/Sub and CloudEvent envelopes around GKE LogEntries.

Handled shapes: a push body `{"message": {...}, "subscription": ...}` (camelCase and snake_case
duplicates both present), a pulled message (top-level `data`), and a structured CloudEvent whose data
is MessagePublishedData (same shape as a push body) or, from an Eventarc audit-log trigger, the
LogEntry itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from core.sources import gke_text, pubsub_text
from core.sources.items import Nested, Origin, Output, Prefiltered, Skip
from core.sources.pubsub_text import LOG_TIME_ATTRIBUTE, inner_origin, message_time
from core.sources.values import NOTHING, as_dict, b64decode, load_json
from core.timeutil import parse_time

_ONE_PREFILTERED = Prefiltered("gcp")


def message(document: dict[str, Any], origin: Origin) -> tuple[Output]:
    """A push body or a pulled message: base64 `data` holding one JSON document (a LogEntry)."""
    envelope = as_dict(document.get("message")) or document
    data = envelope.get("data")
    if data is None:
        return (_bad("missing_fields", "Pub/Sub message without data"),)
    if not isinstance(data, str):
        return (_bad("wrong_type", "Pub/Sub message data is not a string"),)
    return (_decoded(data, "Pub/Sub message data", origin, lambda: inner_origin(origin, _message_time(envelope))),)


def read_message(message: pubsub_text.Message, origin: Origin) -> Output:
    """A push body read by pubsub_text: what `message` gives for it, its data already decoded."""
    data = message.data or b""
    return _payload(data, "Pub/Sub message data", origin, lambda: pubsub_text.payload_origin(message, origin))


def cloud_event(document: dict[str, Any], origin: Origin) -> Iterator[Output]:
    """A structured CloudEvent: `data` as JSON, or `data_base64`."""
    inner = inner_origin(origin, parse_time(document.get("time")))
    data = document.get("data")
    if isinstance(data, dict | list):
        yield Nested(data, inner)
    elif isinstance(data, str):
        yield _parsed(load_json(data, cloud="gcp", what="CloudEvent data"), inner)
    elif isinstance(document.get("data_base64"), str):
        yield _decoded(document["data_base64"], "CloudEvent data_base64", origin, lambda: inner)
    else:
        yield _bad("missing_fields", "CloudEvent without data")


def _decoded(data: str, what: str, outer: Origin, inner: Callable[[], Origin]) -> Output:
    """base64 `data` holding one JSON document, skipped unparsed when the pre-filter shows no rule can match.

    `inner` makes the payload's origin, only for a payload that is parsed (reading its time has a cost).
    """
    raw = b64decode(data)
    if raw is None:
        return _bad("bad_base64", f"{what} is not valid base64")
    return _payload(raw, what, outer, inner)


def _payload(raw: bytes, what: str, outer: Origin, inner: Callable[[], Origin]) -> Output:
    if outer.prefilter is not None and not outer.prefilter.raw.admits_document(raw):
        return _ONE_PREFILTERED
    event = gke_text.read(raw, outer)  # reads no time from the Origin, and the cluster is the outer one
    if event is not None:
        return event
    return _parsed(load_json(raw, cloud="gcp", what=f"decoded {what}"), inner())


def _parsed(document: object, origin: Origin) -> Nested | Skip:
    return document if isinstance(document, Skip) else Nested(document, origin)


def _message_time(envelope: dict[str, Any]) -> datetime | None:
    attributes = as_dict(envelope.get("attributes")) or NOTHING
    return message_time(attributes.get(LOG_TIME_ATTRIBUTE), envelope.get("publishTime"), envelope.get("publish_time"))


def _bad(reason: str, detail: str) -> Skip:
    return Skip(reason, malformed=True, cloud="gcp", detail=detail)
