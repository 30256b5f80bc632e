"""The audit.k8s.io/v1 Event and EventList; normalizing one Event (shared by the EKS and AKS envelopes)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from itertools import islice
from typing import Any

from core.model import AuditEvent, Cloud
from core.sources.items import Nested, Origin, Output, Skip
from core.sources.limits import MAX_RECORDS, bounded, too_many_records
from core.sources.values import NOTHING, as_dict, as_int, as_str, as_str_tuple, fingerprint, json_type
from core.timeutil import parse_time

DECISION = "authorization.k8s.io/decision"
#: user.extra keys naming the pod and node a bound service-account token was issued for, then the same keys as
#: Panther-normalised samples spell them.
POD_NAME = "authentication.kubernetes.io/pod-name"
NODE_NAME = "authentication.kubernetes.io/node-name"
PANTHER_POD_NAME = "authentication_kubernetes_io_slash_pod-name"
PANTHER_NODE_NAME = "authentication_kubernetes_io_slash_node-name"

#: Panther-normalised samples name their source log type; map it to the cloud that produced it.
PANTHER_CLOUDS: dict[str, Cloud] = {
    "Amazon.EKS.Audit": "aws",
    "Azure.MonitorActivity": "azure",
    "GCP.AuditLog": "gcp",
}
_NO_INFERENCE: frozenset[str] = frozenset()


def event(document: dict[str, Any], origin: Origin) -> tuple[AuditEvent | Skip]:
    return (normalize(document, origin),)


def event_list(document: dict[str, Any], origin: Origin) -> Iterator[Output]:
    """The webhook backend's batch: each item is decoded on its own, so one bad item loses nothing else; past
    MAX_RECORDS, one Skip counts the rest."""
    items = document.get("items")
    if not isinstance(items, list):
        yield Skip("wrong_type", malformed=True, cloud=origin.cloud, detail="EventList items is not an array")
        return
    for item in islice(items, MAX_RECORDS):
        yield Nested(item, origin, "k8s")
    if len(items) > MAX_RECORDS:
        yield too_many_records(len(items), "EventList items", origin.cloud)


def decoded(parsed: object, origin: Origin) -> AuditEvent | Skip | Nested:
    """What decoding `parsed` as format "k8s" gives, normalized at once when it is one Event.

    A shortcut past another step of decode's walk for the one record an EKS message or AKS log holds;
    EventLists and arrays still go the long way.
    """
    if isinstance(parsed, dict) and parsed.get("kind") != "EventList":
        return normalize(parsed, origin)
    return Nested(parsed, origin, "k8s")


def normalize(record: object, origin: Origin) -> AuditEvent | Skip:
    """One audit Event as an AuditEvent; Skip when it is not an object or carries no identifying field.

    Every value is bounded (limits.bounded). requestObject and responseObject are never read: at level
    RequestResponse they hold the secret.
    """
    if not isinstance(record, dict):
        detail = f"audit event is a JSON {json_type(record)}, not an object"
        return Skip("wrong_type", malformed=True, cloud=origin.cloud, detail=detail)
    verb = as_str(record.get("verb"))
    ref = as_dict(record.get("objectRef"))
    user = as_dict(record.get("user"))
    audit_id = as_str(record.get("auditID"))
    request_uri = as_str(record.get("requestURI"))
    stage = as_str(record.get("stage"))
    if (verb is None and ref is None and user is None
            and audit_id is None and request_uri is None and stage is None):
        return _unidentified(record, origin)
    ref = ref or NOTHING
    user = user or NOTHING
    status = as_dict(record.get("responseStatus")) or NOTHING
    annotations = as_dict(record.get("annotations")) or NOTHING
    code = as_int(status.get("code"))
    extra = as_dict(user.get("extra")) or NOTHING
    timestamp, inferred = _timestamp(record, origin)
    if audit_id is None:
        audit_id = fingerprint(record)
        if audit_id is None:
            detail = "event without auditID cannot be fingerprinted (too deep or non-JSON values)"
            return Skip("wrong_type", malformed=True, cloud=origin.cloud, detail=detail)
        inferred = inferred | {"audit_id"}
    cloud, cluster = _source(record, origin)
    event = AuditEvent(
        cloud=cloud,
        timestamp=timestamp,
        audit_id=audit_id,
        stage=stage,
        cluster=cluster,
        verb=verb,
        resource=as_str(ref.get("resource")),
        subresource=as_str(ref.get("subresource")),
        namespace=as_str(ref.get("namespace")),
        name=as_str(ref.get("name")),
        api_group=as_str(ref.get("apiGroup")),
        api_version=as_str(ref.get("apiVersion")),
        username=as_str(user.get("username")),
        impersonated_user=_impersonated(record),
        groups=as_str_tuple(user.get("groups")),
        source_ips=as_str_tuple(record.get("sourceIPs")),
        user_agent=as_str(record.get("userAgent")),
        request_uri=request_uri,
        response_code=code,
        response_message=as_str(status.get("message")),
        failed=None if code is None else code >= 400,
        decision=as_str(annotations.get(DECISION)),
        pod_name=_extra(extra, POD_NAME, PANTHER_POD_NAME),
        node_name=_extra(extra, NODE_NAME, PANTHER_NODE_NAME),
        inferred=inferred,
    )
    return bounded(event)


def _unidentified(record: dict[str, Any], origin: Origin) -> Skip:
    api_version = as_str(record.get("apiVersion")) or ""
    if record.get("kind") == "Event" or api_version.startswith("audit.k8s.io/"):
        detail = "audit Event without verb, objectRef, user, auditID, requestURI or stage"
        return Skip("missing_fields", malformed=True, cloud=origin.cloud, detail=detail)
    return Skip("not_audit_event", malformed=True, cloud=origin.cloud, detail="no audit Event field present")


def _timestamp(record: dict[str, Any], origin: Origin) -> tuple[datetime, frozenset[str]]:
    """stageTimestamp, else requestReceivedTimestamp, else the legacy top-level `timestamp` (pre-v1 events),
    else the envelope's time, else the ingestion time (marked inferred)."""
    found = (
        parse_time(record.get("stageTimestamp"))
        or parse_time(record.get("requestReceivedTimestamp"))
        or parse_time(record.get("timestamp"))
        or origin.time
    )
    if found is None:
        return origin.received_at, frozenset({"timestamp"})
    return found, _NO_INFERENCE


def _extra(extra: dict[str, Any], key: str, panther_key: str) -> str | None:
    """The first value of a user.extra entry (an array of strings in audit.k8s.io/v1), under either spelling."""
    values = as_str_tuple(extra.get(key)) or as_str_tuple(extra.get(panther_key))
    return values[0] if values else None


def _impersonated(record: dict[str, Any]) -> str | None:
    impersonated = as_dict(record.get("impersonatedUser"))
    return as_str(impersonated.get("username")) if impersonated else None


def cloud_of(record: dict[str, Any], origin: Origin) -> Cloud:
    return _source(record, origin)[0]


def _source(record: dict[str, Any], origin: Origin) -> tuple[Cloud, str | None]:
    """The envelope's cloud and cluster; for a bare event, Panther's `p_log_type` and `p_source_label`."""
    cloud = origin.cloud
    if cloud is None:
        log_type = record.get("p_log_type")
        cloud = PANTHER_CLOUDS.get(log_type, "k8s") if isinstance(log_type, str) else "k8s"
    return cloud, origin.cluster or as_str(record.get("p_source_label"))
