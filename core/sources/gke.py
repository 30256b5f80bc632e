"""GKE: a Cloud Logging LogEntry whose protoPayload is an AuditLog from serviceName k8s.io.

GKE writes no raw audit Event; the request is rebuilt from methodName and resourceName (after Falco's
k8saudit-gke convert.go), except that the outcome comes from the logged status and is never invented.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.frozen import fast_init
from core.model import AuditEvent
from core.sources.items import Origin, Skip
from core.sources.k8s import DECISION
from core.sources.limits import bounded
from core.sources.values import NOTHING, as_dict, as_int, as_str, fingerprint, token
from core.timeutil import parse_time

#: google.rpc.Code -> HTTP, as google/rpc/code.proto documents each code.
GRPC_TO_HTTP = {
    1: 499, 2: 500, 3: 400, 4: 504, 5: 404, 6: 409, 7: 403, 8: 429,
    9: 400, 10: 409, 11: 400, 12: 501, 13: 500, 14: 503, 15: 500, 16: 401,
}  # fmt: skip
_K8S_SERVICE = "k8s.io"
_VERSION = re.compile(r"v\d+(?:(?:alpha|beta)\d+)?")
#: Paths that start like `<group>/<version>/` but are API discovery, not resources.
_DISCOVERY_ROOTS = frozenset({"api", "apis", "openapi"})
#: Subresources of a Namespace object (`core/v1/namespaces/foo/status`), unlike `namespaces/foo/<resource>`.
_NAMESPACE_SUBRESOURCES = frozenset({"status", "finalize"})


@fast_init
@dataclass(frozen=True, slots=True)
class Target:
    """What resourceName says the request was aimed at."""

    request_uri: str | None = None
    api_group: str | None = None
    api_version: str | None = None
    resource: str | None = None
    namespace: str | None = None
    name: str | None = None
    subresource: str | None = None
    #: True when request_uri was rebuilt from resourceName rather than logged.
    rebuilt_uri: bool = False


@fast_init
@dataclass(frozen=True, slots=True)
class Outcome:
    response_code: int | None
    failed: bool | None
    response_message: str | None
    #: True when response_code is the HTTP equivalent of a gRPC code, not a logged HTTP code.
    mapped: bool


def log_entry(document: dict[str, Any], origin: Origin) -> tuple[AuditEvent | Skip]:
    return (normalize(document, origin),)


def normalize(entry: dict[str, Any], origin: Origin) -> AuditEvent | Skip:
    """One LogEntry as an AuditEvent, every value bounded (limits.bounded); entries from other services are
    expected input and skipped."""
    payload = entry.get("protoPayload")
    if payload is None:
        return _ignored("not_k8s_api", "LogEntry without protoPayload")
    if not isinstance(payload, dict):
        return _bad("wrong_type", "protoPayload is not an object")
    method = as_str(payload.get("methodName"))
    service = payload.get("serviceName")
    if not is_k8s_api(service, method):
        return _ignored("not_k8s_api", f"serviceName {token(service)}")
    inferred: set[str] = set()
    audit_id = _audit_id(entry, inferred)
    if audit_id is None:
        return _bad("wrong_type", "entry without operation.id or insertId cannot be fingerprinted")
    timestamp = _timestamp(entry, origin, inferred)
    target = parse_resource_name(as_str(payload.get("resourceName")), method)
    outcome = _outcome(payload)
    if target.rebuilt_uri:
        inferred.add("request_uri")
    if outcome.mapped:
        inferred.add("response_code")
    authentication = as_dict(payload.get("authenticationInfo")) or NOTHING
    metadata = as_dict(payload.get("requestMetadata")) or NOTHING
    caller_ip = as_str(metadata.get("callerIp")) or as_str(metadata.get("callerIP"))
    event = AuditEvent(
        cloud="gcp",
        timestamp=timestamp,
        audit_id=audit_id,
        cluster=_cluster(entry, origin),
        verb=verb(method),
        resource=target.resource,
        subresource=target.subresource,
        namespace=target.namespace,
        name=target.name,
        api_group=target.api_group,
        api_version=target.api_version,
        username=principal(
            as_str(authentication.get("principalEmail")),
            as_str(authentication.get("principalSubject")),
            as_str(authentication.get("authoritySelector")),
        ),
        source_ips=(caller_ip,) if caller_ip else (),
        user_agent=as_str(metadata.get("callerSuppliedUserAgent")),
        request_uri=target.request_uri,
        response_code=outcome.response_code,
        response_message=outcome.response_message,
        failed=outcome.failed,
        decision=_decision(entry, payload),
        inferred=frozenset(inferred),
        account=_project(entry),
    )
    return bounded(event)


def is_k8s_api(service: object, method: str | None) -> bool:
    """serviceName k8s.io, or no serviceName and an `io.k8s.` methodName."""
    return service == _K8S_SERVICE or (service is None and method is not None and method.startswith("io.k8s."))


def principal(email: str | None, subject: str | None, authority: str | None) -> str | None:
    """Who made the request, in Panther's order: principalEmail (a Google account, a Kubernetes user or service
    account), else principalSubject (workforce identity federation's `principal://...`), else
    authoritySelector, which is all an anonymous request carries."""
    return email or subject or authority


def verb(method: str | None) -> str | None:
    """The last dot-segment of methodName (`io.k8s.core.v1.secrets.get` -> `get`)."""
    return method.rsplit(".", 1)[-1] if method else None


def parse_resource_name(resource_name: str | None, method: str | None = None) -> Target:
    """Split `<group>/<version>/[namespaces/<ns>/]<resource>[/<name>[/<subresource>]]` by segments.

    The core group is spelled `core`; anything not shaped like a resource (`readyz`, `api/v1`,
    `HNAP1`) is a non-resource request whose path is the resourceName.
    """
    if resource_name is None:
        return _from_method(method)
    return _parse_path(resource_name)


# Cached: the same leases, endpoints and nodes are written all day, and a Target is immutable.
@functools.lru_cache(maxsize=1024)
def _parse_path(resource_name: str) -> Target:
    path = resource_name.strip("/")
    parts = path.split("/")
    if len(parts) < 3 or not _VERSION.fullmatch(parts[1]) or parts[0] in _DISCOVERY_ROOTS:
        return Target(request_uri="/" + path)
    group, version, rest = parts[0], parts[1], parts[2:]
    namespace, resource, name, subresource = _locate(rest)
    prefix = f"/api/{version}" if group == "core" else f"/apis/{group}/{version}"
    return Target(
        request_uri=f"{prefix}/{'/'.join(rest)}",
        api_group=None if group == "core" else group or None,
        api_version=version,
        resource=resource,
        namespace=namespace,
        name=name,
        subresource=subresource,
        rebuilt_uri=True,
    )


def _locate(rest: list[str]) -> tuple[str | None, str | None, str | None, str | None]:
    """(namespace, resource, name, subresource) from the segments after `<group>/<version>/`."""
    if rest[0] == "namespaces" and len(rest) >= 3 and rest[2] not in _NAMESPACE_SUBRESOURCES:
        return _at(rest, 1), _at(rest, 2), _at(rest, 3), _at(rest, 4)
    if rest[0] == "namespaces" and len(rest) >= 2:
        # The Namespace object itself: the API server reports its name as the namespace too.
        return _at(rest, 1), "namespaces", _at(rest, 1), _at(rest, 2)
    return None, _at(rest, 0), _at(rest, 1), _at(rest, 2)


def _at(parts: list[str], index: int) -> str | None:
    return (parts[index] or None) if index < len(parts) else None


def _from_method(method: str | None) -> Target:
    """Without a resourceName, `io.k8s.<group...>.<version>.<resource>[.<sub>].<verb>` still names the
    resource and version (its group is abbreviated, so it is not used)."""
    parts = method.split(".") if method else []
    for index in range(2, len(parts) - 2):
        if _VERSION.fullmatch(parts[index]):
            rest = parts[index + 1 : -1]
            return Target(api_version=parts[index], resource=_at(rest, 0), subresource=_at(rest, 1))
    return Target()


def _audit_id(entry: dict[str, Any], inferred: set[str]) -> str | None:
    operation = as_dict(entry.get("operation")) or NOTHING
    found = as_str(operation.get("id")) or as_str(entry.get("insertId"))
    if found is None:
        found = fingerprint(entry)
        inferred.add("audit_id")
    return found


def _timestamp(entry: dict[str, Any], origin: Origin, inferred: set[str]) -> datetime:
    found = parse_time(entry.get("timestamp")) or parse_time(entry.get("receiveTimestamp")) or origin.time
    if found is None:
        inferred.add("timestamp")
        return origin.received_at
    return found


def _cluster(entry: dict[str, Any], origin: Origin) -> str | None:
    resource = as_dict(entry.get("resource")) or NOTHING
    labels = as_dict(resource.get("labels")) or NOTHING
    return as_str(labels.get("cluster_name")) or origin.cluster or as_str(entry.get("p_source_label"))


def _project(entry: dict[str, Any]) -> str | None:
    resource = as_dict(entry.get("resource")) or NOTHING
    labels = as_dict(resource.get("labels")) or NOTHING
    return project(as_str(labels.get("project_id")), as_str(entry.get("logName")))


def project(project_id: str | None, log_name: str | None) -> str | None:
    """The entry's project: resource.labels.project_id, else the P of its logName `projects/P/logs/...`."""
    if project_id:
        return project_id
    if log_name and log_name.startswith("projects/"):
        return log_name.split("/", 2)[1] or None
    return None


def _outcome(payload: dict[str, Any]) -> Outcome:
    status = as_dict(payload.get("status")) or NOTHING
    grpc = as_int(status.get("code")) or 0
    return outcome(grpc, _status_code(payload.get("response")), as_str(status.get("message")))


def outcome(grpc: int, http: int | None, message: str | None) -> Outcome:
    """status.code is gRPC (missing or 0 is OK); an HTTP code exists only when the response is a Status."""
    grpc_failed = grpc in GRPC_TO_HTTP
    if http is not None:
        return Outcome(http, http >= 400 or grpc_failed, message, mapped=False)
    if grpc_failed:
        return Outcome(GRPC_TO_HTTP[grpc], True, message, mapped=True)
    return Outcome(None, False if grpc == 0 else None, message, mapped=False)


def _status_code(response: object) -> int | None:
    """The `code` of a Kubernetes Status response; only its type and code are read, never its body."""
    if not isinstance(response, dict):
        return None
    return status_code(response.get("kind"), as_str(response.get("@type")), as_int(response.get("code")))


def status_code(kind: object, type_name: str | None, code: int | None) -> int | None:
    """`code` when the response's kind or @type says it is a Kubernetes Status, else None."""
    is_status = kind == "Status" or (type_name is not None and type_name.endswith(".Status"))
    return code if is_status else None


def _decision(entry: dict[str, Any], payload: dict[str, Any]) -> str | None:
    """The decision label when logged; else forbid if any grant was refused, allow if all were granted."""
    labels = as_dict(entry.get("labels")) or NOTHING
    labelled = as_str(labels.get(DECISION))
    if labelled is not None:
        return labelled
    grants = payload.get("authorizationInfo")
    if not isinstance(grants, list):
        return None
    granted = [item.get("granted") for item in grants if isinstance(item, dict)]
    return granted_decision([value for value in granted if isinstance(value, bool)])


def granted_decision(granted: list[bool]) -> str | None:
    """forbid if any grant was refused, allow if all were granted, None without any."""
    if not granted:
        return None
    return "allow" if all(granted) else "forbid"


def _bad(reason: str, detail: str) -> Skip:
    return Skip(reason, malformed=True, cloud="gcp", detail=detail)


def _ignored(reason: str, detail: str) -> Skip:
    return Skip(reason, malformed=False, cloud="gcp", detail=detail)
