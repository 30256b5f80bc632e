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

from datetime import datetime

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


_DECODER = msgspec.json.Decoder(_Event)
_SHAPE_DECODER = msgspec.json.Decoder(_Shape)
_AUDIT_API = "audit.k8s.io/"
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
    return _event(raw, origin)


def read_document(text: bytes, origin: Origin, *, any_object: bool) -> AuditEvent | None:
    """What decode gives for a whole document when it is one audit Event, or None: then take the general way.

    `any_object` for format "k8s", which reads any object but an EventList as an Event; else (format "auto") the
    document must be one by `detect`'s test: kind Event of the audit API, or a `verb` beside an auditID.
    """
    if not text.isascii():
        return None
    try:
        raw = _DECODER.decode(text)
    except DECODE_ERRORS:
        return None
    if any_object or (raw.kind == "Event" and _audit_api(raw.apiVersion)) or raw.verb is not UNSET:
        return _event(raw, origin)  # None without a non-empty auditID, so a `verb` always has one beside it
    return None


def event_cloud(text: bytes, *, any_object: bool) -> Cloud | None:
    """For a whole document the pre-filter skips: the cloud of its Prefiltered count when it is one audit Event
    (as `read_document` tells, though the Event itself is not read), else None: then take the general way."""
    if not text.isascii():
        return None
    try:
        shape = _SHAPE_DECODER.decode(text)
    except DECODE_ERRORS:
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


def _audit_api(api_version: str | None) -> bool:
    """As kinds._is_audit_api: absent, null, or naming the audit API group."""
    return api_version is None or api_version.startswith(_AUDIT_API)


def _event(raw: _Event, origin: Origin) -> AuditEvent | None:
    status = raw.responseStatus or _NO_STATUS
    code = status.code
    if not raw.auditID or raw.kind == "EventList" or (code is not None and code not in ORJSON_INT_RANGE):
        return None
    timestamp = _timestamp(raw)
    if timestamp is None:
        return None
    ref = raw.objectRef or _NO_REF
    user = raw.user or _NO_USER
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
