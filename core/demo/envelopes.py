"""Encoders into the three clouds' wire formats: the inverse of core.sources.

Each takes Kubernetes audit `Event` dicts and wraps them the way the cloud delivers them (EKS: CloudWatch
Logs subscription to Lambda; GKE: Cloud Logging LogEntry pushed by Pub/Sub; AKS: diagnostic records in an
Event Hub body). Values the cloud invents (log event ids, receive times, pod names) are derived from the input
by hashing, so the same events always encode to the same bytes.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import zlib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

import orjson

from core.timeutil import parse_time

EKS_SUBSCRIPTION_FILTER = "secretwatch-audit"
AUDIT_LOG_TYPE = "type.googleapis.com/google.cloud.audit.AuditLog"
AKS_OPERATION = "Microsoft.ContainerService/managedClusters/diagnosticLogs/Read"

_READ_VERBS = frozenset({"get", "list", "watch"})
#: HTTP status to the gRPC code and name Cloud Audit Logs records (google.rpc.Code).
_GRPC_BY_HTTP = {
    400: (3, "INVALID_ARGUMENT"), 401: (16, "UNAUTHENTICATED"), 403: (7, "PERMISSION_DENIED"),
    404: (5, "NOT_FOUND"), 409: (6, "ALREADY_EXISTS"), 412: (9, "FAILED_PRECONDITION"),
    422: (3, "INVALID_ARGUMENT"), 429: (8, "RESOURCE_EXHAUSTED"), 500: (13, "INTERNAL"),
    501: (12, "UNIMPLEMENTED"), 503: (14, "UNAVAILABLE"), 504: (4, "DEADLINE_EXCEEDED"),
}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_POD_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # what Kubernetes uses for generated name suffixes


# --- EKS: CloudWatch Logs subscription -> Lambda ---------------------------------------------------------

def eks_audit_stream(cluster: str, instance: int = 0) -> str:
    """The audit log stream of one API server instance: `kube-apiserver-audit-<32 hex>`."""
    return "kube-apiserver-audit-" + _digest(f"{cluster}/{instance}").hex()[:32]


def eks_data_message(
    events: Sequence[Mapping[str, Any]], *, cluster: str, account: str = "111122223333",
    stream: str | None = None, first_id: int | None = None,
    subscription_filter: str = EKS_SUBSCRIPTION_FILTER,
) -> dict[str, Any]:
    """The decoded CloudWatch Logs DATA_MESSAGE: one batch from one stream, each audit Event a JSON string.

    Log event ids are 56-digit strings counting up from `first_id` (by default derived from the first
    event's time, as CloudWatch's ids grow with ingestion time).
    """
    stream = stream or eks_audit_stream(cluster)
    stamps = [_epoch_ms(event) for event in events]
    base = first_id if first_id is not None else _first_log_event_id(stamps[0] if stamps else 0, stream)
    return {
        "messageType": "DATA_MESSAGE",
        "owner": account,
        "logGroup": f"/aws/eks/{cluster}/cluster",
        "logStream": stream,
        "subscriptionFilters": [subscription_filter],
        "logEvents": [
            {"id": str(base + index), "timestamp": stamp, "message": orjson.dumps(event).decode()}
            for index, (stamp, event) in enumerate(zip(stamps, events, strict=True))
        ],
    }


def eks_lambda_event(
    events: Sequence[Mapping[str, Any]], *, cluster: str, account: str = "111122223333",
    stream: str | None = None, first_id: int | None = None,
) -> dict[str, Any]:
    """What the Lambda receives: `{"awslogs": {"data": base64(gzip(DATA_MESSAGE JSON))}}`."""
    message = eks_data_message(events, cluster=cluster, account=account, stream=stream, first_id=first_id)
    compressed = gzip.compress(orjson.dumps(message), compresslevel=1, mtime=0)
    return {"awslogs": {"data": base64.b64encode(compressed).decode("ascii")}}


def _epoch_ms(event: Mapping[str, Any]) -> int:
    return (_event_time(event) - _EPOCH) // timedelta(milliseconds=1)


def _first_log_event_id(epoch_ms: int, stream: str) -> int:
    return epoch_ms * 10**43 + int.from_bytes(_digest(stream)[:4], "big") * 10**30


# --- GKE: Cloud Logging LogEntry, Pub/Sub push ------------------------------------------------------------

def gke_log_entry(event: Mapping[str, Any], *, cluster: str, project: str, location: str) -> dict[str, Any]:
    """The Cloud Audit Logs LogEntry GKE writes for one audit Event (keys sorted, as Cloud Logging does)."""
    audit_id = str(event.get("auditID", ""))
    method, resource_name = _method_and_resource(event)
    stamp = _event_time(event)
    entry: dict[str, Any] = {"insertId": audit_id}
    labels = event.get("annotations")
    if isinstance(labels, Mapping) and labels:
        entry["labels"] = {str(key): str(value) for key, value in labels.items()}
    log = "data_access" if event.get("verb") in _READ_VERBS else "activity"
    entry["logName"] = f"projects/{project}/logs/cloudaudit.googleapis.com%2F{log}"
    entry["operation"] = {"first": True, "id": audit_id, "last": True, "producer": "k8s.io"}
    entry["protoPayload"] = _audit_log(event, method, resource_name)
    entry["receiveTimestamp"] = _later(stamp, audit_id, 300_000_000, 4_000_000_000)
    entry["resource"] = {
        "labels": {"cluster_name": cluster, "location": location, "project_id": project},
        "type": "k8s_cluster",
    }
    entry["timestamp"] = _rfc3339(stamp)
    return entry


def pubsub_push_body(log_entry: Mapping[str, Any], *, subscription: str, message_id: str) -> dict[str, Any]:
    """A Pub/Sub push request body carrying one LogEntry, with the camelCase and snake_case duplicates."""
    data = orjson.dumps(log_entry, option=orjson.OPT_SORT_KEYS) + b"\n"
    received = parse_time(log_entry.get("receiveTimestamp")) or parse_time(log_entry.get("timestamp"))
    if received is None:
        raise ValueError(f"log entry {log_entry.get('insertId')!r} has no receiveTimestamp or timestamp")
    publish_time = _later(received, message_id, 20_000_000, 900_000_000)[:23] + "Z"  # milliseconds
    return {
        "message": {
            "attributes": {"logging.googleapis.com/timestamp": log_entry.get("timestamp")},
            "data": base64.b64encode(data).decode("ascii"),
            "messageId": message_id,
            "message_id": message_id,
            "publishTime": publish_time,
            "publish_time": publish_time,
        },
        "subscription": subscription,
    }


def grpc_status(http_code: int | None) -> dict[str, Any]:
    """`protoPayload.status`: `{}` on success (proto3 omits code 0), else the gRPC code and its name."""
    if http_code is None or http_code < 400:
        return {}
    fallback = (13, "INTERNAL") if http_code >= 500 else (9, "FAILED_PRECONDITION")
    code, name = _GRPC_BY_HTTP.get(http_code, fallback)
    return {"code": code, "message": name}


def _audit_log(event: Mapping[str, Any], method: str, resource_name: str) -> dict[str, Any]:
    user = event.get("user")
    username = user.get("username") if isinstance(user, Mapping) else None
    authorization: dict[str, Any] = {"permission": method, "resource": resource_name}
    decision = _annotation(event, "authorization.k8s.io/decision")
    if decision is not None:
        authorization = {"granted": decision == "allow", **authorization}
    metadata: dict[str, Any] = {}
    source_ips = event.get("sourceIPs")
    if isinstance(source_ips, Sequence) and source_ips:
        metadata["callerIp"] = source_ips[0]
    if event.get("userAgent"):
        metadata["callerSuppliedUserAgent"] = event["userAgent"]
    status = event.get("responseStatus")
    code = status.get("code") if isinstance(status, Mapping) else None
    return {
        "@type": AUDIT_LOG_TYPE,
        "authenticationInfo": {"principalEmail": username} if username else {},
        "authorizationInfo": [authorization],
        "methodName": method,
        "requestMetadata": metadata,
        "resourceName": resource_name,
        "serviceName": "k8s.io",
        "status": grpc_status(code if isinstance(code, int) else None),
    }


def _method_and_resource(event: Mapping[str, Any]) -> tuple[str, str]:
    """methodName `<reversed group>.<version>.<resource>[.<sub>].<verb>` and resourceName
    `<group>/<version>/[namespaces/<ns>/]<resource>[/<name>[/<sub>]]`; the core group is spelled `core`."""
    verb = str(event.get("verb", ""))
    ref = event.get("objectRef")
    if not isinstance(ref, Mapping) or not ref.get("resource"):
        path = str(event.get("requestURI", "/")).split("?", 1)[0].strip("/")
        return f"io.k8s.{verb}", path
    group = ref.get("apiGroup") or "core"
    version = ref.get("apiVersion") or "v1"
    subresource = ref.get("subresource")
    method_parts = (method_group(group), version, ref["resource"], subresource, verb)
    parts = [group, version]
    if ref.get("namespace"):
        parts += ["namespaces", ref["namespace"]]
    parts.append(ref["resource"])
    if ref.get("name"):
        parts.append(ref["name"])
        if subresource:
            parts.append(subresource)
    return ".".join(part for part in method_parts if part), "/".join(parts)


def method_group(group: str) -> str:
    """An API group as methodName spells it: reversed domain (`coordination.k8s.io` -> `io.k8s.coordination`);
    the built-in groups without dots (`core`, `apps`, `batch`) are prefixed with `io.k8s`."""
    return ".".join(reversed(group.split("."))) if "." in group else f"io.k8s.{group}"


# --- AKS: diagnostic settings -> Event Hub ---------------------------------------------------------------

def aks_record(
    event: Mapping[str, Any], *, cluster: str, subscription_id: str, resource_group: str,
    category: str = "kube-audit",
) -> dict[str, Any]:
    """One Azure resource-log record: the audit Event as a JSON string ending in a newline."""
    stamp = _event_time(event)
    pod = aks_apiserver_pod(cluster, replica=zlib.crc32(str(event.get("auditID", "")).encode()) % 2)
    resource_id = (
        f"/subscriptions/{subscription_id}/resourceGroups/{resource_group}"
        f"/providers/Microsoft.ContainerService/managedClusters/{cluster}"
    )
    return {
        "category": category,
        "operationName": AKS_OPERATION,
        "properties": {
            "log": orjson.dumps(event).decode() + "\n",
            "containerID": hashlib.sha256(pod.encode()).hexdigest(),
            "stream": "stdout",
            "pod": pod,
        },
        "resourceId": resource_id.upper(),
        "serviceBuild": "na",
        "time": _later(stamp, str(event.get("auditID", "")), 40_000, 900_000),
    }


def aks_eventhub_body(records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """One Event Hub event body: `{"records": [...]}`."""
    return {"records": list(records)}


@lru_cache(maxsize=64)
def aks_apiserver_pod(cluster: str, replica: int = 0) -> str:
    """`kube-apiserver-<replicaset hash>-<suffix>`, stable for a cluster and replica."""
    seed = _digest(f"aks/{cluster}")
    replica_set = "".join(_POD_ALPHABET[byte % len(_POD_ALPHABET)] for byte in seed[:10])
    suffix = "".join(_POD_ALPHABET[byte % len(_POD_ALPHABET)] for byte in _digest(f"{cluster}/{replica}")[:5])
    return f"kube-apiserver-{replica_set}-{suffix}"


# --- shared ----------------------------------------------------------------------------------------------

def _event_time(event: Mapping[str, Any]) -> datetime:
    stamp = parse_time(event.get("stageTimestamp")) or parse_time(event.get("requestReceivedTimestamp"))
    if stamp is None:
        audit_id = event.get("auditID")
        raise ValueError(f"audit event {audit_id!r} has no stageTimestamp or requestReceivedTimestamp")
    return stamp


def _annotation(event: Mapping[str, Any], key: str) -> str | None:
    annotations = event.get("annotations")
    value = annotations.get(key) if isinstance(annotations, Mapping) else None
    return value if isinstance(value, str) else None


def _digest(text: str) -> bytes:
    return hashlib.blake2b(text.encode(), digest_size=16).digest()


def _later(stamp: datetime, key: str, low_ns: int, high_ns: int) -> str:
    """`stamp` plus a stable pseudo-random delay in [low_ns, high_ns), with 9 fraction digits."""
    delay_ns = low_ns + zlib.crc32(key.encode()) % (high_ns - low_ns)
    later = stamp + timedelta(microseconds=delay_ns // 1000)
    return _rfc3339(later)[:-1] + f"{delay_ns % 1000:03d}Z"


def _rfc3339(stamp: datetime) -> str:
    """UTC with microseconds and `Z` (datetime.isoformat is several times faster than strftime)."""
    return stamp.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"
