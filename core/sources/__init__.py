"""Decode every supported wire format into AuditEvents, one Skip per record that gives none.

    decode(document, fmt="auto", received_at=...) -> AuditEvent | Skip, ...

A document is detected by its keys (see `detect`) and unwrapped recursively: Lambda on-failure record ->
Lambda `awslogs` -> CloudWatch DATA_MESSAGE -> audit Event; Event Hub body -> record -> audit Event; CloudEvent ->
Pub/Sub message -> LogEntry; JSON arrays and EventLists at any level. Each record is decoded on its
own, so a bad record never loses its good neighbours: even an exception raised inside one record becomes
that record's `internal_error` Skip, and its envelope goes on with the next record. Input is bounded
(core.sources.limits): records per envelope, the size of a document and of text parsed whole (larger text is
read lazily, core.sources.lazy), and every value of an AuditEvent.

Given a Prefilter, records that no rule can match are counted (Prefiltered) instead of parsed: EKS log
messages, AKS properties.log strings and Pub/Sub data after their envelopes are decoded, and a document
that is one audit Event before it is normalized.

The commonest shapes also have a fast way, typed msgspec readers that decode only what rules use: a Pub/Sub
push body given as bytes (pubsub_text), the LogEntry in its data (gke_text), and the audit Event text in EKS
messages, AKS logs and documents given as bytes that are one Event, such as each line of the API server's audit
log (k8s_text). Such a document is first shown to the pre-filter, unparsed, and one it skips is only checked to
be one audit Event (`k8s_text.event_cloud`, no Event is built). Each gives exactly what the general way gives,
or steps aside for it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from itertools import islice
from typing import TYPE_CHECKING, Any

from core.errors import ConfigError
from core.model import AuditEvent, Cloud
from core.sources import aks, eks, gke, k8s, k8s_text, lambda_failure, pubsub, pubsub_text
from core.sources.items import Format, Nested, Origin, Output, Prefiltered, Skip, internal_error
from core.sources.kinds import detect
from core.sources.limits import MAX_PARSED_BYTES, MAX_RECORDS, too_many_records
from core.sources.values import json_type, load_json, loaded

if TYPE_CHECKING:
    from core.prefilter import Prefilter

__all__ = ["FORMATS", "Format", "Prefiltered", "Skip", "decode", "detect"]

FORMATS: tuple[str, ...] = ("auto", "k8s", "eks", "gke", "aks")
#: Envelopes nest a few levels at most (CloudEvent -> Pub/Sub -> LogEntry; array -> body -> record -> Event).
MAX_DEPTH = 8

#: The formats a Pub/Sub push body is decoded under.
_PUSH_FORMATS = frozenset({"auto", "gke"})
#: The formats a whole document is decoded under as one audit Event; "k8s" takes any object but an EventList.
_EVENT_FORMATS = frozenset({"auto", "k8s"})
#: How the API server's log backend begins each line (Go writes the Event's fields in order, kind first).
_EVENT_OPENING = b'{"kind":"Event",'
#: The first key of a document, when it is a plain one near its start.
_FIRST_KEY = re.compile(rb'\s{0,64}\{\s{0,64}"([A-Za-z_]{1,32})"')
#: The keys of an audit Event (audit.k8s.io/v1) and of Panther's export of one (p_*): a document whose first key is
#: another (an envelope: `records`, `awslogs`, `message`...) is not tried as one Event the fast way, which would
#: read the whole envelope to find no auditID in it (2 µs an event on AKS bodies); the general way decides.
_EVENT_KEYS = frozenset({
    "kind", "apiVersion", "level", "auditID", "stage", "requestURI", "verb", "user", "impersonatedUser",
    "sourceIPs", "userAgent", "objectRef", "responseStatus", "requestObject", "responseObject",
    "requestReceivedTimestamp", "stageTimestamp", "annotations", "metadata", "timestamp",
})  # fmt: skip
#: The one output of a skipped document, per cloud (Prefiltered is frozen, so one of each serves every call).
_PREFILTERED: dict[Cloud, tuple[Prefiltered]] = {
    cloud: (Prefiltered(cloud),) for cloud in ("k8s", "aws", "gcp", "azure")
}

Step = Callable[[dict[str, Any], Origin], Iterable[Output]]

_STEPS: dict[str, Step] = {
    "k8s": k8s.event,
    "k8s_list": k8s.event_list,
    "eks": eks.lambda_event,
    "eks_data": eks.data_message,
    "lambda_failure": lambda_failure.record,
    "gke": gke.log_entry,
    "pubsub": pubsub.message,
    "cloudevent": pubsub.cloud_event,
    "aks": aks.body,
    "aks_record": aks.record,
}
#: The kinds each forced format accepts ("array" is accepted everywhere).
_ACCEPTS: dict[str, frozenset[str]] = {
    "k8s": frozenset({"k8s", "k8s_list"}),
    "eks": frozenset({"eks", "eks_data", "lambda_failure"}),
    "gke": frozenset({"gke", "pubsub", "cloudevent"}),
    "aks": frozenset({"aks", "aks_record"}),
}


def decode(
    document: bytes | str | Mapping[str, Any] | list[Any],
    *,
    fmt: Format = "auto",
    received_at: datetime,
    prefilter: Prefilter | None = None,
) -> Iterable[AuditEvent | Skip | Prefiltered]:
    """Yield one AuditEvent per good audit record and one Skip per bad or ignored record.

    Never raises for any document: input trouble becomes a counted Skip. `fmt` forces a format;
    "auto" detects each document and each envelope's payload; a name outside FORMATS is the caller's
    mistake and raises ConfigError at once. `received_at` is the ingestion time, used only when
    neither the record nor its envelope carries a timestamp. With a `prefilter`, records it shows no
    rule can match are yielded as Prefiltered counts instead (never without one).
    """
    if fmt not in FORMATS:
        raise ConfigError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    if type(document) is bytes:
        # Either fast way may come first (a push body has no kind or verb, and an Event has one): the API
        # server's lines, which begin with their kind, try theirs first.
        if document.startswith(_EVENT_OPENING) and fmt in _EVENT_FORMATS:
            if (outputs := _one_event(document, fmt, received_at, prefilter)) is not None:
                return outputs
        elif fmt in _PUSH_FORMATS and (message := pubsub_text.read(document)):
            return _push_body(message, fmt, Origin(received_at, prefilter=prefilter))
        elif (
            fmt in _EVENT_FORMATS
            and _may_be_an_event(document)
            and (outputs := _one_event(document, fmt, received_at, prefilter)) is not None
        ):
            return outputs
    return _walk(document, fmt, Origin(received_at, prefilter=prefilter), depth=0)


def _may_be_an_event(document: bytes) -> bool:
    """Whether a document may be one audit Event, by its first key (one read unless it starts unusually)."""
    first = _FIRST_KEY.match(document)
    return first is None or first[1].decode() in _EVENT_KEYS or first[1].startswith(b"p_")


def _one_event(
    document: bytes, fmt: Format, received_at: datetime, prefilter: Prefilter | None
) -> tuple[AuditEvent] | tuple[Prefiltered] | None:
    """A document that is one audit Event, the fast way: the pre-filter asked first, on its text; then a skipped
    one is only checked to be one Event, and an admitted one is read by k8s_text. None: take the general way."""
    if len(document) > MAX_PARSED_BYTES:  # the general way reads it lazily, or refuses it
        return None
    any_object = fmt == "k8s"
    try:
        if prefilter is not None and not prefilter.raw.admits(document):
            cloud = k8s_text.event_cloud(document, any_object=any_object)
            return None if cloud is None else _PREFILTERED[cloud]
        event = k8s_text.read_document(document, Origin(received_at, prefilter=prefilter), any_object=any_object)
    except Exception:  # noqa: BLE001 - a bug in the fast way: the general way decodes the document (and counts it)
        return None
    return None if event is None else (event,)


def _push_body(message: pubsub_text.Message, fmt: Format, origin: Origin) -> Iterable[AuditEvent | Skip | Prefiltered]:
    """A push body read the fast way (GKE's usual delivery), without the general way's generators."""
    try:
        item = pubsub.read_message(message, origin)
    except Exception as error:  # noqa: BLE001 - as in _walk
        return (internal_error(error, origin.cloud),)
    return _walk(item.document, item.fmt or fmt, item.origin, depth=1) if isinstance(item, Nested) else (item,)


def _walk(document: object, fmt: Format, origin: Origin, depth: int) -> Iterator[AuditEvent | Skip | Prefiltered]:
    if depth > MAX_DEPTH:
        detail = f"envelopes nest over {MAX_DEPTH} deep"
        yield Skip("too_deep", malformed=True, cloud=origin.cloud, detail=detail)
        return
    try:
        for item in _outputs(document, fmt, origin, depth):
            if isinstance(item, Nested):
                yield from _walk(item.document, item.fmt or fmt, item.origin, depth + 1)
            else:
                yield item
    except Exception as error:  # noqa: BLE001 - the envelope's own trouble; records catch theirs (internal_error)
        yield internal_error(error, origin.cloud)


def _outputs(document: object, fmt: Format, origin: Origin, depth: int) -> Iterable[Output]:
    """What one level of decoding gives; the caller's own document (depth 0) is parsed first, and so is a record
    of an envelope that was read lazily (a msgspec.Raw, see core.sources.lazy)."""
    if depth > 0:
        record = loaded(document, cloud=origin.cloud, what="record")
        return (record,) if isinstance(record, Skip) else _step(record, fmt, origin)
    parsed = _parse(document)
    if isinstance(parsed, Skip):
        return (parsed,)
    return _step(parsed, fmt, origin, document if isinstance(document, bytes | str) else None)


def _parse(document: object) -> object:
    """The caller's document as parsed JSON: text and bytes are parsed, a Mapping becomes a dict."""
    if isinstance(document, bytes | bytearray | memoryview | str):
        return load_json(document, cloud=None, what="document")
    if isinstance(document, Mapping) and not isinstance(document, dict):
        return dict(document)
    return document


def _step(parsed: object, fmt: Format, origin: Origin, text: bytes | str | None = None) -> Iterable[Output]:
    """One level of decoding; `text` is the top-level document's own text, read by the pre-filter."""
    if isinstance(parsed, list):
        return _items(parsed, origin)
    kind = detect(parsed)
    if text is not None and isinstance(parsed, dict) and _skips(text, kind, fmt, origin):
        return (Prefiltered(k8s.cloud_of(parsed, origin)),)
    step = _STEPS.get(kind) if fmt == "auto" or kind in _ACCEPTS[fmt] else None
    if step is not None and isinstance(parsed, dict):
        return step(parsed, origin)
    if fmt == "k8s":
        return (k8s.normalize(parsed, origin),)
    found = kind if kind != "unknown" else f"a JSON {json_type(parsed)} of unknown shape"
    expected = "a supported format" if fmt == "auto" else f"{fmt} input"
    detail = f"expected {expected}, found {found}"
    return (Skip("unknown_format", malformed=True, cloud=origin.cloud, detail=detail),)


def _items(array: list[Any], origin: Origin) -> Iterator[Output]:
    """Each item of a JSON array, decoded on its own; past MAX_RECORDS, one Skip counts the rest."""
    for item in islice(array, MAX_RECORDS):
        yield Nested(item, origin)
    if len(array) > MAX_RECORDS:
        yield too_many_records(len(array), "array items", origin.cloud)


def _skips(text: bytes | str, kind: str, fmt: Format, origin: Origin) -> bool:
    """True for a document that decodes to one audit Event, as below, and whose text no rule can match."""
    one_event = kind == "k8s" if fmt == "auto" else fmt == "k8s" and kind != "k8s_list"
    return one_event and origin.prefilter is not None and not origin.prefilter.admits(text)
