"""Kubernetes audit `Event` dicts at level Metadata, shaped the way the API server writes them.

Metadata level means no requestObject or responseObject: the demo never carries secret data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from core.demo.cast import Activity, stable_uid

COLLECTION_VERBS = frozenset({"list", "watch", "deletecollection"})
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Request:
    """One concrete request: an activity at one target, with its id and times (µs since the epoch)."""

    activity: Activity
    namespace: str | None
    name: str | None
    audit_id: str
    received_us: int
    completed_us: int
    query: str = ""
    resource_version: int | None = None

    @property
    def code(self) -> int:
        return self.activity.status


def audit_event(request: Request, *, stage: str = "ResponseComplete") -> dict[str, Any]:
    """The audit Event for one stage of a request; RequestReceived has no response and no decision yet."""
    activity, actor = request.activity, request.activity.actor
    event: dict[str, Any] = {
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": "Metadata",
        "auditID": request.audit_id,
        "stage": stage,
        "requestURI": request_path(request) + request.query,
        "verb": activity.verb,
        "user": actor.user(),
        "sourceIPs": list(actor.source_ips),
        "userAgent": actor.user_agent,
    }
    if activity.resource is not None:
        event["objectRef"] = object_ref(request)
    if stage == "RequestReceived":
        event["requestReceivedTimestamp"] = event["stageTimestamp"] = stamp(request.received_us)
        return event
    event["responseStatus"] = response_status(request)
    event["requestReceivedTimestamp"] = stamp(request.received_us)
    event["stageTimestamp"] = stamp(request.completed_us)
    event["annotations"] = decision_annotations(request)
    return event


def request_path(request: Request) -> str:
    """`/api/v1/...` or `/apis/<group>/<version>/...`; a list, watch or create names no object in the path."""
    activity = request.activity
    if activity.resource is None:
        return request.name or "/"
    parts = [f"/apis/{activity.api_group}/{activity.api_version}" if activity.api_group
             else f"/api/{activity.api_version}"]
    if request.namespace:
        parts += ["namespaces", request.namespace]
    parts.append(activity.resource)
    collection = activity.verb in COLLECTION_VERBS or (activity.verb == "create" and not activity.subresource)
    if request.name and not collection:
        parts.append(request.name)
        if activity.subresource:
            parts.append(activity.subresource)
    return "/".join(parts)


def object_ref(request: Request) -> dict[str, Any]:
    activity = request.activity
    ref: dict[str, Any] = {"resource": activity.resource}
    if request.namespace:
        ref["namespace"] = request.namespace
    if request.name and activity.verb not in COLLECTION_VERBS:
        ref["name"] = request.name
        if request.resource_version is not None:
            ref["uid"] = _object_uid(str(activity.resource), request.namespace or "", request.name)
    if activity.api_group:
        ref["apiGroup"] = activity.api_group
    ref["apiVersion"] = activity.api_version
    if request.resource_version is not None and "name" in ref:
        ref["resourceVersion"] = str(request.resource_version)
    if activity.subresource:
        ref["subresource"] = activity.subresource
    return ref


def response_status(request: Request) -> dict[str, Any]:
    code = request.code
    if code < 400:
        return {"metadata": {}, "code": code}
    reason, message, details = _failure(request)
    return {"metadata": {}, "status": "Failure", "message": message, "reason": reason, "details": details,
            "code": code}


def decision_annotations(request: Request) -> dict[str, str]:
    if request.code == 403:
        return {"authorization.k8s.io/decision": "forbid", "authorization.k8s.io/reason": ""}
    activity = request.activity
    found = {"authorization.k8s.io/decision": "allow", "authorization.k8s.io/reason": activity.actor.reason}
    if activity.resource == "pods" and activity.verb == "create" and not activity.subresource:
        found["pod-security.kubernetes.io/enforce-policy"] = "baseline:latest"
    return found


def stamp(epoch_us: int) -> str:
    """RFC 3339 with microseconds, as in requestReceivedTimestamp and stageTimestamp."""
    seconds, micros = divmod(epoch_us, 1_000_000)
    minutes, seconds = divmod(seconds, 60)
    return f"{_minute(minutes)}:{seconds:02d}.{micros:06d}Z"


def _failure(request: Request) -> tuple[str, str, dict[str, Any]]:
    """(reason, message, details) of a failed request, worded as the API server words them."""
    activity, name = request.activity, request.name
    resource = activity.resource or ""
    if request.code == 404:
        return "NotFound", f'{resource} "{name}" not found', {"name": name, "kind": resource}
    if request.code == 409:
        kind = f"{resource}.{activity.api_group}" if activity.api_group else resource
        message = (f'Operation cannot be fulfilled on {kind} "{name}": the object has been modified; '
                   "please apply your changes to the latest version and try again")
        return "Conflict", message, {"name": name, "group": activity.api_group, "kind": resource}
    return "Forbidden", _forbidden(request), _forbidden_details(request)


def _forbidden(request: Request) -> str:
    activity, user = request.activity, request.activity.actor.username
    if activity.resource is None:
        return f'forbidden: User "{user}" cannot {activity.verb} path "{request.name}"'
    resource = f"{activity.resource}/{activity.subresource}" if activity.subresource else activity.resource
    addressed = request.name and activity.verb not in COLLECTION_VERBS
    subject = f'{activity.resource} "{request.name}"' if addressed else activity.resource
    scope = f'in the namespace "{request.namespace}"' if request.namespace else "at the cluster scope"
    return (f'{subject} is forbidden: User "{user}" cannot {activity.verb} resource "{resource}" '
            f'in API group "{activity.api_group}" {scope}')


def _forbidden_details(request: Request) -> dict[str, Any]:
    activity = request.activity
    if activity.resource is None:
        return {}
    if request.name and activity.verb not in COLLECTION_VERBS:
        return {"name": request.name, "kind": activity.resource}
    return {"kind": activity.resource}


@lru_cache(maxsize=64)
def _minute(epoch_minutes: int) -> str:
    return (_EPOCH + timedelta(minutes=epoch_minutes)).strftime("%Y-%m-%dT%H:%M")


@lru_cache(maxsize=1024)
def _object_uid(resource: str, namespace: str, name: str) -> str:
    return stable_uid("object", resource, namespace, name)
