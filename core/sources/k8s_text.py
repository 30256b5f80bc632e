"""Read one audit Event's JSON text straight into an AuditEvent, in a single typed pass (msgspec).

The fast way for the records EKS messages and AKS logs carry as text: msgspec decodes only the fields
k8s.normalize reads, skipping requestObject and everything else, in about half the time orjson takes to
build the whole dict. `read` gives exactly what `k8s.decoded(orjson.loads(text), origin)` gives, or None
when it cannot promise that, and the caller then takes that general way. None for: text that is not JSON
or not one object, a field of an unexpected type (the general way reads it as missing), an EventList, an
event without auditID (its id is a hash of the whole dict), a response code orjson would read as a float,
a value longer than its limit (core.sources.limits; the general way cuts it), and an event with no timestamp
of its own: `read` never looks at `origin.time`, so callers need not work
out the envelope's time for the events that carry theirs.

For a whole document (a line of the API server's audit log), `read_document` is `read` that also gives None
unless `detect` names the document one audit Event, and `event_cloud` tells whether it is one without reading
the Event, for a line the pre-filter skips: the cloud of its Prefiltered count, or None. Both read bytes of
ASCII only: orjson refuses invalid UTF-8 anywhere, msgspec only in the fields it reads.

One difference remains, for text no real producer writes: a number beyond the range of a double
(e.g. 1e400), or an integer of more digits than orjson reads, in a field secretwatch never reads makes orjson
refuse the whole record, while msgspec skips that field unread, so the event is decoded (or, skipped by the
pre-filter, counted as prefiltered) instead of counted as invalid_json.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

import msgspec
from msgspec import UNSET, Raw, UnsetType

from core.model import AuditEvent, Cloud
from core.sources.items import Origin
from core.sources.k8s import (
    DECISION,
    NODE_NAME,
    PANTHER_CLOUDS,
    PANTHER_NODE_NAME,
    PANTHER_POD_NAME,
    POD_NAME,
)
from core.sources.limits import Addresses, FreeText, Groups, IdText, NameText, PrincipalText
from core.sources.values import DECODE_ERRORS, ORJSON_INT_RANGE
from core.timeutil import parse_time

_NO_INFERENCE: frozenset[str] = frozenset()
T = TypeVar("T")


class _ObjectRef(msgspec.Struct, gc=False):
    resource: NameText | None = None
    subresource: NameText | None = None
    namespace: NameText | None = None
    name: NameText | None = None
    apiGroup: NameText | None = None
    apiVersion: NameText | None = None


class _Extra(msgspec.Struct, gc=False):
    pod_name: tuple[NameText, ...] | None = msgspec.field(default=None, name=POD_NAME)
    node_name: tuple[NameText, ...] | None = msgspec.field(default=None, name=NODE_NAME)
    panther_pod_name: tuple[NameText, ...] | None = msgspec.field(default=None, name=PANTHER_POD_NAME)
    panther_node_name: tuple[NameText, ...] | None = msgspec.field(default=None, name=PANTHER_NODE_NAME)


class _User(msgspec.Struct, gc=False):
    username: PrincipalText | None = None
    groups: Groups | None = None
    extra: _Extra | None = None


class _Impersonated(msgspec.Struct, gc=False):
    username: PrincipalText | None = None


class _Status(msgspec.Struct, gc=False):
    code: int | None = None
    message: FreeText | None = None


class _Annotations(msgspec.Struct, gc=False):
    decision: NameText | None = msgspec.field(default=None, name=DECISION)


class _Event(msgspec.Struct, gc=False):
    kind: str | None = None
    #: Read only by `read_document`, as `detect` reads it (one that is no string steps aside, like other fields).
    apiVersion: str | None = None
    auditID: IdText | None = None
    stage: NameText | None = None
    requestURI: FreeText | None = None
    #: UNSET when absent, for `read_document` (detect names an Event by a `verb` key even when it is null).
    verb: NameText | UnsetType | None = UNSET
    user: _User | None = None
    impersonatedUser: _Impersonated | None = None
    sourceIPs: Addresses | None = None
    userAgent: FreeText | None = None
    objectRef: _ObjectRef | None = None
    responseStatus: _Status | None = None
    annotations: _Annotations | None = None
    stageTimestamp: str | None = None
    requestReceivedTimestamp: str | None = None
    timestamp: str | None = None
    p_log_type: str | None = None
    p_source_label: NameText | None = None


class _Shape(msgspec.Struct, gc=False):
    """The keys `detect` reads to name a document one audit Event (most kept unparsed, as only their presence
    counts), and the one its cloud is from. A kind, apiVersion or p_log_type that is no string steps aside."""

    kind: str | None = None
    apiVersion: str | None = None
    verb: Raw = Raw()
    objectRef: Raw = Raw()
    user: Raw = Raw()
    auditID: Raw = Raw()
    requestURI: Raw = Raw()
    stage: Raw = Raw()
    p_log_type: str | None = None


class _Line(_Event, gc=False):
    """An Event as `read_lines` reads it: `user`, which costs as much as the rest, is left unread (Raw) until some
    rule may match the event."""

    user: Raw = Raw()  # type: ignore[assignment]


_DECODER = msgspec.json.Decoder(_Event)
_LINES_DECODER = msgspec.json.Decoder(_Line)
_USER_DECODER = msgspec.json.Decoder(_User | None)
#: How core.prefilter's FieldTest reads a _Line `e`: a field left out (user's, the cloud, the cluster) is not read
#: there, so its clauses count as holding. Each value is the event's own (an empty string becomes None there).
LINE_SUBJECTS = {
    "audit_id": "e.auditID",
    "stage": "e.stage",
    "verb": "e.verb",
    "resource": "(e.objectRef and e.objectRef.resource)",
    "subresource": "(e.objectRef and e.objectRef.subresource)",
    "namespace": "(e.objectRef and e.objectRef.namespace)",
    "name": "(e.objectRef and e.objectRef.name)",
    "api_group": "(e.objectRef and e.objectRef.apiGroup)",
    "api_version": "(e.objectRef and e.objectRef.apiVersion)",
    "source_ips": "e.sourceIPs",
    "source_ip": "e.sourceIPs",
    "user_agent": "e.userAgent",
    "request_uri": "e.requestURI",
    "response_message": "(e.responseStatus and e.responseStatus.message)",
    "decision": "(e.annotations and e.annotations.decision)",
}
#: Read by _event only for its cloud and cluster: a line of the API server's log has neither.
_LINE_ORIGIN = Origin(datetime.min.replace(tzinfo=UTC))
_SHAPE_DECODER = msgspec.json.Decoder(_Shape)
_AUDIT_API = "audit.k8s.io/"
_AUDIT_V1 = "audit.k8s.io/v1"
_NO_REF = _ObjectRef()
_NO_USER = _User()
_NO_EXTRA = _Extra()
_NO_STATUS = _Status()


def read(text: str | bytes, origin: Origin) -> AuditEvent | None:
    """The AuditEvent k8s.normalize would make of this text, or None: then parse it and normalize it."""
    try:
        raw = _DECODER.decode(text)
    except DECODE_ERRORS:
        return None
    return _event(raw, origin, raw.user or _NO_USER)


def read_document(text: bytes, origin: Origin, *, any_object: bool) -> AuditEvent | None:
    """What decode gives for a whole document when it is one audit Event, or None: then take the general way.

    `any_object` for format "k8s", which reads any object but an EventList as an Event; else (format "auto") the
    document must be one by `detect`'s test: kind Event of the audit API, or a `verb` beside an auditID.
    """
    raw = _ascii(_DECODER.decode, text)
    if raw is None:
        return None
    if any_object or (raw.kind == "Event" and _audit_api(raw.apiVersion)) or raw.verb is not UNSET:
        # None without a non-empty auditID, so a `verb` always has one beside it
        return _event(raw, origin, raw.user or _NO_USER)
    return None


def read_lines(
    text: bytes, may_match: Callable[[object], bool], *, start: int = 0, end: int | None = None
) -> tuple[list[tuple[int, AuditEvent]], int] | None:
    """Every line of text[start:end] (whole lines, none blank) read in one typed pass, as `read_document` reads
    each: the events `may_match` (a FieldTest over LINE_SUBJECTS) keeps, each with its line's index, and the
    number of lines.

    None, for the caller to read the lines one at a time, unless every line is one audit Event that k8s.normalize
    reads as one (and `read_document` too, for those kept), so that what it gives is what each line would give:
    an event no rule can match is only counted then. So None for any line that is not ASCII or not JSON, holds a
    field of an unexpected type or too long a value, is not an `audit.k8s.io/v1` Event with an auditID, or is a
    Panther record, and for a kept event `_event` refuses.
    """
    lines = _ascii(_LINES_DECODER.decode_lines, text, start, end)
    if lines is None:
        return None
    kept = []
    for index, line in enumerate(lines):
        if line.kind != "Event" or line.apiVersion != _AUDIT_V1 or not line.auditID or line.p_log_type is not None:
            return None
        if may_match(line):
            try:
                user = _USER_DECODER.decode(line.user) if line.user else None
            except DECODE_ERRORS:
                return None
            if (event := _event(line, _LINE_ORIGIN, user or _NO_USER)) is None:
                return None
            kept.append((index, event))
    return kept, len(lines)


def event_cloud(text: bytes, *, any_object: bool) -> Cloud | None:
    """For a whole document the pre-filter skips: the cloud of its Prefiltered count when it is one audit Event
    (as `read_document` tells, though the Event itself is not read), else None: then take the general way."""
    shape = _ascii(_SHAPE_DECODER.decode, text)
    if shape is None:
        return None
    kind = shape.kind
    if kind == "EventList":
        return None
    if (
        any_object
        or (kind == "Event" and _audit_api(shape.apiVersion))
        or (shape.verb and (shape.objectRef or shape.user or shape.auditID or shape.requestURI or shape.stage))
    ):
        return PANTHER_CLOUDS.get(shape.p_log_type, "k8s") if shape.p_log_type else "k8s"
    return None


def _ascii(decode: Callable[[bytes | memoryview], T], text: bytes, start: int = 0, end: int | None = None) -> T | None:
    """What `decode` reads of text[start:end] when it is ASCII, else None (orjson refuses invalid UTF-8 anywhere,
    msgspec only in the fields it reads, so these readers take ASCII only); None too when it cannot read it.
    When the whole text is ASCII the part is read in place: a copy of a block costs more than testing all of it."""
    if text.isascii():
        part: bytes | memoryview = text if start == 0 and end is None else memoryview(text)[start:end]
    else:  # the part may be ASCII where the text around it is not
        part = text[start:end]
        if not part.isascii():
            return None
    try:
        return decode(part)
    except DECODE_ERRORS:
        return None


def _audit_api(api_version: str | None) -> bool:
    """As kinds._is_audit_api: absent, null, or naming the audit API group."""
    return api_version is None or api_version.startswith(_AUDIT_API)


def _event(raw: _Event, origin: Origin, user: _User) -> AuditEvent | None:
    status = raw.responseStatus or _NO_STATUS
    code = status.code
    if not raw.auditID or raw.kind == "EventList" or (code is not None and code not in ORJSON_INT_RANGE):
        return None
    timestamp = _timestamp(raw)
    if timestamp is None:
        return None
    ref = raw.objectRef or _NO_REF
    extra = user.extra or _NO_EXTRA
    # Positional, in AuditEvent's field order: a call with 25 keywords costs a third more (tests compare
    # every field with k8s.normalize's result).
    return AuditEvent(
        origin.cloud or (PANTHER_CLOUDS.get(raw.p_log_type, "k8s") if raw.p_log_type else "k8s"),  # cloud
        timestamp,
        raw.auditID,
        raw.stage or None,
        origin.cluster or raw.p_source_label or None,  # cluster
        raw.verb or None,
        ref.resource or None,
        ref.subresource or None,
        ref.namespace or None,
        ref.name or None,
        ref.apiGroup or None,
        ref.apiVersion or None,
        user.username or None,
        (raw.impersonatedUser.username or None) if raw.impersonatedUser else None,  # impersonated_user
        _strings(user.groups),
        _strings(raw.sourceIPs),  # source_ips
        raw.userAgent or None,
        raw.requestURI or None,
        code,  # response_code
        status.message or None,  # response_message
        None if code is None else code >= 400,  # failed
        (raw.annotations.decision or None) if raw.annotations else None,  # decision
        _first(extra.pod_name) or _first(extra.panther_pod_name),  # pod_name
        _first(extra.node_name) or _first(extra.panther_node_name),  # node_name
        _NO_INFERENCE,  # inferred
    )


def _strings(values: tuple[str, ...] | None) -> tuple[str, ...]:
    """Without empty strings, as as_str_tuple reads them."""
    if not values:
        return ()
    return values if "" not in values else tuple(filter(None, values))


def _first(values: tuple[str, ...] | None) -> str | None:
    """The first non-empty string, as k8s._extra reads it."""
    return next(filter(None, values), None) if values else None


def _timestamp(raw: _Event) -> datetime | None:
    return parse_time(raw.stageTimestamp) or parse_time(raw.requestReceivedTimestamp) or parse_time(raw.timestamp)
