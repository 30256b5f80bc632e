"""The kinds of document decode() recognises, and how to tell them apart by their keys."""

from __future__ import annotations

from typing import Any

import msgspec

#: Keys that, with `verb`, identify an audit Event whose `kind` is missing.
_EVENT_KEYS = ("objectRef", "user", "auditID", "requestURI", "stage")
_PUBSUB_MESSAGE_KEYS = ("messageId", "message_id", "publishTime", "publish_time", "attributes")
_AKS_RECORD_KEYS = ("properties", "resourceId", "operationName")
_LAMBDA_FAILURE_KEYS = ("requestContext", "requestPayload")


class EarlyKeys(msgspec.Struct, gc=False):
    """For the typed readers: the keys `detect` looks at first, kept unparsed, so a reader can tell whether any
    is present and leave such a document to the general way."""

    kind: msgspec.Raw = msgspec.Raw()
    verb: msgspec.Raw = msgspec.Raw()
    awslogs: msgspec.Raw = msgspec.Raw()
    logEvents: msgspec.Raw = msgspec.Raw()
    messageType: msgspec.Raw = msgspec.Raw()
    specversion: msgspec.Raw = msgspec.Raw()

    def has_early_key(self) -> bool:
        return bool(self.kind or self.verb or self.awslogs or self.logEvents or self.messageType or self.specversion)


#: Without any of these keys, none of the Kubernetes, EKS or CloudEvent checks can match (a quick way past them).
_EARLY_KEYS = frozenset(EarlyKeys.__struct_fields__)
#: Keys by which `detect` may recognise a kind before it looks for an AKS record's `category`.
_BEFORE_AKS_RECORD = _EARLY_KEYS | {"message", "data", "protoPayload", "logName", "records", *_LAMBDA_FAILURE_KEYS}
#: Every key `detect` reads, for readers that keep only some keys of a document (core.sources.lazy).
DETECT_KEYS = (
    _BEFORE_AKS_RECORD
    | set(_EVENT_KEYS)
    | set(_PUBSUB_MESSAGE_KEYS)
    | set(_AKS_RECORD_KEYS)
    | {"apiVersion", "resource", "insertId", "category"}
)


def detect(obj: object) -> str:
    """Name the kind of a parsed document.

    One of "eks" (Lambda `awslogs` event), "eks_data" (decoded CloudWatch Logs message), "lambda_failure"
    (a Lambda on-failure destination record, around the event the function failed on), "gke"
    (LogEntry), "pubsub" (push body or pulled message), "cloudevent" (structured CloudEvent), "aks"
    (Event Hub body), "aks_record", "k8s" (audit Event), "k8s_list" (EventList), "array" or "unknown".
    """
    if isinstance(obj, list):
        return "array"
    if not isinstance(obj, dict):
        return "unknown"
    if _EARLY_KEYS.isdisjoint(obj):
        return _detect_later_envelope(obj) or "unknown"
    return _detect_k8s(obj) or _detect_envelope(obj) or "unknown"


def _detect_k8s(obj: dict[str, Any]) -> str | None:
    kind = obj.get("kind")
    if kind == "EventList":
        return "k8s_list"
    if kind == "Event" and _is_audit_api(obj.get("apiVersion")):
        return "k8s"
    if "verb" in obj and any(key in obj for key in _EVENT_KEYS):
        return "k8s"
    return None


def _is_audit_api(api_version: object) -> bool:
    """A core/v1 Event (a cluster event, not an audit record) shares the kind, so check the group."""
    return api_version is None or (isinstance(api_version, str) and api_version.startswith("audit.k8s.io/"))


def _detect_envelope(obj: dict[str, Any]) -> str | None:
    if "awslogs" in obj:
        return "eks"
    if "logEvents" in obj or obj.get("messageType") in ("DATA_MESSAGE", "CONTROL_MESSAGE"):
        return "eks_data"
    if "specversion" in obj:
        return "cloudevent"
    return _detect_later_envelope(obj)


def _detect_later_envelope(obj: dict[str, Any]) -> str | None:
    if "requestPayload" in obj and isinstance(obj.get("requestContext"), dict):
        return "lambda_failure"
    if isinstance(obj.get("message"), dict):
        return "pubsub"
    if "data" in obj and any(key in obj for key in _PUBSUB_MESSAGE_KEYS):
        return "pubsub"
    if "protoPayload" in obj or ("logName" in obj and ("resource" in obj or "insertId" in obj)):
        return "gke"
    if "records" in obj:
        return "aks"
    if "category" in obj and any(key in obj for key in _AKS_RECORD_KEYS):
        return "aks_record"
    return None


def is_plain_aks_record(obj: dict[str, Any]) -> bool:
    """A quick test, for the hot path: True only when `detect(obj)` is "aks_record" (not for every such obj)."""
    if not _BEFORE_AKS_RECORD.isdisjoint(obj) or "category" not in obj:
        return False
    return "properties" in obj or "resourceId" in obj or "operationName" in obj  # _AKS_RECORD_KEYS, unrolled
