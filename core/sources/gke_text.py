"""Read one GKE LogEntry's JSON text straight into an AuditEvent, in a single typed pass (msgspec).

The fast way for the LogEntries Pub/Sub messages carry: msgspec decodes only the fields gke.normalize reads,
skipping `request`, the body of `response` and everything else, and the request is rebuilt with gke's own
helpers. `read` gives exactly what `gke.normalize(orjson.loads(text), origin)` gives, or None when it cannot
promise that, and the caller then takes that general way. None for:
- bytes that are not UTF-8 (orjson refuses them anywhere, msgspec does not check the fields it skips), text
  that is not JSON or not one object, and text holding a key by which kinds.detect may name it otherwise;
- a field it reads of an unexpected type (the general way reads it as missing), or longer than the limit of
  the values made from it (core.sources.limits; the general way cuts them);
- an entry not from the Kubernetes API (the general way makes the Skip);
- an entry without operation.id or insertId (its id is a hash of the whole entry);
- a status or response code orjson would read as a float, or that is a boolean;
- authorizationInfo other than an array of objects, when no decision label is logged (only then is it read);
- an entry with neither `timestamp` nor `receiveTimestamp`: `read` never looks at `origin.time`, so callers
  need not work out the envelope's time for the entries that carry theirs.

One difference remains, as in core.sources.k8s_text: a number beyond the range of a double (e.g. 1e400) in a
field secretwatch never reads makes orjson refuse the whole record, while msgspec skips it unread.
"""

from __future__ import annotations

from typing import Any

import msgspec

from core.model import AuditEvent
from core.sources.gke import (
    granted_decision,
    is_k8s_api,
    outcome,
    parse_resource_name,
    principal,
    project,
    status_code,
    verb,
)
from core.sources.items import Origin
from core.sources.k8s import DECISION
from core.sources.kinds import EarlyKeys
from core.sources.limits import NAME_CHARS, AddressText, FreeText, IdText, NameText, PrincipalText
from core.sources.values import DECODE_ERRORS, ORJSON_INT_RANGE
from core.timeutil import parse_time

#: inferred, by (request_uri rebuilt, response_code mapped from gRPC).
_INFERRED: tuple[tuple[frozenset[str], frozenset[str]], ...] = (
    (frozenset(), frozenset({"response_code"})),
    (frozenset({"request_uri"}), frozenset({"request_uri", "response_code"})),
)
_ABSENT = msgspec.Raw()


class _Operation(msgspec.Struct, gc=False):
    id: IdText | None = None


class _ResourceLabels(msgspec.Struct, gc=False):
    cluster_name: NameText | None = None
    # Any type: the general way reads a non-string as missing and falls back to logName.
    project_id: Any = None


class _Resource(msgspec.Struct, gc=False):
    labels: _ResourceLabels | None = None


class _Labels(msgspec.Struct, gc=False):
    decision: NameText | None = msgspec.field(default=None, name=DECISION)


class _Status(msgspec.Struct, gc=False):
    code: int | None = None
    message: FreeText | None = None


class _Response(msgspec.Struct, gc=False):
    """Only what says whether the response is a Status, and its code: the rest can hold secret values."""

    type: str | None = msgspec.field(default=None, name="@type")
    kind: str | None = None
    code: int | None = None


class _Authentication(msgspec.Struct, gc=False):
    principalEmail: PrincipalText | None = None
    principalSubject: PrincipalText | None = None
    authoritySelector: PrincipalText | None = None


class _Metadata(msgspec.Struct, gc=False):
    callerIp: AddressText | None = None
    callerIP: AddressText | None = None
    callerSuppliedUserAgent: FreeText | None = None


class _Grant(msgspec.Struct, gc=False):
    granted: bool | None = None


class _Payload(msgspec.Struct, gc=False):
    serviceName: str | None = None
    # Every value made from these (verb, resource, namespace, name, request_uri, ...) is at most as long.
    methodName: NameText | None = None
    resourceName: NameText | None = None
    status: _Status | None = None
    response: _Response | None = None
    authenticationInfo: _Authentication | None = None
    requestMetadata: _Metadata | None = None
    # Read only when no decision label is logged, as gke._decision reads it.
    authorizationInfo: msgspec.Raw = _ABSENT


class _Entry(EarlyKeys, gc=False):
    insertId: IdText | None = None
    operation: _Operation | None = None
    timestamp: str | None = None
    receiveTimestamp: str | None = None
    resource: _Resource | None = None
    labels: _Labels | None = None
    p_source_label: NameText | None = None
    logName: NameText | None = None
    protoPayload: _Payload | None = None
    # With either, kinds.detect may name the text a Pub/Sub message: take the general way.
    message: msgspec.Raw = _ABSENT
    data: msgspec.Raw = _ABSENT

    def detected(self) -> bool:
        """True when kinds.detect names this entry "gke" (its protoPayload is checked by the caller)."""
        return not (self.has_early_key() or self.message or self.data)


_DECODER = msgspec.json.Decoder(_Entry)
_GRANTS = msgspec.json.Decoder(tuple[_Grant, ...] | None)
_NO_STATUS = _Status()
_NO_AUTHENTICATION = _Authentication()
_NO_METADATA = _Metadata()


def read(text: bytes | str, origin: Origin) -> AuditEvent | None:
    """The AuditEvent gke.normalize would make of this text, or None: then parse it and normalize it."""
    raw = _decode(text)
    payload = raw.protoPayload if raw else None
    if raw is None or payload is None or not raw.detected():
        return None
    method = payload.methodName or None
    audit_id = (raw.operation.id if raw.operation else None) or raw.insertId
    timestamp = parse_time(raw.timestamp) or parse_time(raw.receiveTimestamp)
    if not audit_id or timestamp is None or not is_k8s_api(payload.serviceName, method):
        return None
    status = payload.status or _NO_STATUS
    response = payload.response
    grpc = status.code
    http = status_code(response.kind, response.type, response.code) if response else None
    if (grpc is not None and grpc not in ORJSON_INT_RANGE) or (http is not None and http not in ORJSON_INT_RANGE):
        return None
    target = parse_resource_name(payload.resourceName or None, method)
    result = outcome(grpc or 0, http, status.message or None)
    authentication = payload.authenticationInfo or _NO_AUTHENTICATION
    metadata = payload.requestMetadata or _NO_METADATA
    caller_ip = metadata.callerIp or metadata.callerIP
    labels = raw.resource.labels if raw.resource else None
    decision = raw.labels.decision if raw.labels else None
    account = project(_text(labels.project_id) if labels else None, raw.logName)
    if account is not None and len(account) > NAME_CHARS:
        return None
    if not decision:
        granted = _granted(payload.authorizationInfo)
        if granted is None:
            return None
        decision = granted_decision(granted)
    # Positional, in AuditEvent's field order: a call with 25 keywords costs a third more (tests compare
    # every field with gke.normalize's result).
    return AuditEvent(
        "gcp",  # cloud
        timestamp,
        audit_id,
        None,  # stage
        (labels.cluster_name if labels else None) or origin.cluster or raw.p_source_label or None,  # cluster
        verb(method),
        target.resource,
        target.subresource,
        target.namespace,
        target.name,
        target.api_group,
        target.api_version,
        principal(
            authentication.principalEmail or None,
            authentication.principalSubject or None,
            authentication.authoritySelector or None,
        ),  # username
        None,  # impersonated_user
        (),  # groups
        (caller_ip,) if caller_ip else (),  # source_ips
        metadata.callerSuppliedUserAgent or None,  # user_agent
        target.request_uri,
        result.response_code,
        result.response_message,
        result.failed,
        decision,
        None,  # pod_name: GKE's AuditLog carries no user.extra
        None,  # node_name
        _INFERRED[target.rebuilt_uri][result.mapped],  # inferred
        account,
    )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _decode(text: bytes | str) -> _Entry | None:
    if isinstance(text, bytes) and not text.isascii():
        try:
            text.decode()
        except UnicodeDecodeError:
            return None
    try:
        return _DECODER.decode(text)
    except DECODE_ERRORS:
        return None


def _granted(grants: msgspec.Raw) -> list[bool] | None:
    """The boolean `granted` values of authorizationInfo, or None when it is not an array of such objects."""
    if not grants:
        return []
    try:
        items = _GRANTS.decode(grants)
    except DECODE_ERRORS:
        return None
    return [item.granted for item in items if item.granted is not None] if items else []
