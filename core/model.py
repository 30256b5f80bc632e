"""The normalized audit event and the alert: the two shapes everything else agrees on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import msgspec

Cloud = Literal["aws", "gcp", "azure", "k8s"]

#: AuditEvent fields a rule may name in a `field:` condition, group_by, or new_terms.
FIELDS = (
    "cloud",
    "cluster",
    "audit_id",
    "stage",
    "verb",
    "resource",
    "subresource",
    "namespace",
    "name",
    "api_group",
    "api_version",
    "username",
    "impersonated_user",
    "groups",
    "source_ips",
    "source_ip",
    "user_agent",
    "request_uri",
    "response_code",
    "response_message",
    "decision",
    "pod_name",
    "node_name",
    "access_target",
)

_COLLECTION_VERBS = frozenset({"list", "watch"})


class AuditEvent(msgspec.Struct, frozen=True, gc=False):
    """One Kubernetes API request at one stage, whatever cloud logged it.

    A frozen msgspec Struct rather than a dataclass: one is built per audit record, in a sixth of the time.

    Never holds requestObject/responseObject: at audit level RequestResponse they carry the secret itself.
    `failed` is True for HTTP >= 400 and for gRPC codes 1..16 (GKE), None when the outcome is unknown.
    `pod_name` and `node_name` name the pod and node a bound service-account token was issued for; GKE's
    entries do not carry them.
    """

    cloud: Cloud
    timestamp: datetime
    audit_id: str
    stage: str | None = None
    cluster: str | None = None
    verb: str | None = None
    resource: str | None = None
    subresource: str | None = None
    namespace: str | None = None
    name: str | None = None
    api_group: str | None = None
    api_version: str | None = None
    username: str | None = None
    impersonated_user: str | None = None
    groups: tuple[str, ...] = ()
    source_ips: tuple[str, ...] = ()
    user_agent: str | None = None
    request_uri: str | None = None
    response_code: int | None = None
    response_message: str | None = None
    failed: bool | None = None
    decision: str | None = None
    pod_name: str | None = None
    node_name: str | None = None
    #: Names of fields synthesized rather than read (e.g. "audit_id", "timestamp").
    inferred: frozenset[str] = frozenset()
    #: The cloud account the log came from, where the entry names it: a GKE entry's project id.
    account: str | None = None

    @property
    def source_ip(self) -> str | None:
        return self.source_ips[0] if self.source_ips else None

    @property
    def access_target(self) -> str | None:
        """What one request read, for counting distinct reads (Panther BulkSecretAccess's `unique()`): the
        object's name; for a list or watch, which names none, the verb and its namespace, else its request
        URI, else the verb alone; else None."""
        if self.name is not None:
            return self.name
        if self.verb not in _COLLECTION_VERBS:
            return None
        scope = self.namespace or self.request_uri
        return f"{self.verb}:{scope}" if scope else self.verb

    def get(self, name: str) -> Any:
        """A field by its rule-facing name (see FIELDS)."""
        return getattr(self, name)


@dataclass(frozen=True, slots=True)
class AlertContext:
    username: str | None
    namespace: str | None
    source_ip: str | None
    source_ips: tuple[str, ...]
    user_agent: str | None
    verb: str | None
    resource: str | None
    name: str | None
    request_uri: str | None
    response_code: int | None
    pod_name: str | None = None
    node_name: str | None = None
    account: str | None = None

    @classmethod
    def of(cls, event: AuditEvent) -> AlertContext:
        return cls(
            username=event.username,
            namespace=event.namespace,
            source_ip=event.source_ip,
            source_ips=event.source_ips,
            user_agent=event.user_agent,
            verb=event.verb,
            resource=event.resource,
            name=event.name,
            request_uri=event.request_uri,
            response_code=event.response_code,
            pod_name=event.pod_name,
            node_name=event.node_name,
            account=event.account,
        )


@dataclass(frozen=True, slots=True)
class Link:
    """A console page showing the logs around an alert (core.links); `url` holds no secret."""

    name: str
    url: str


@dataclass(frozen=True, slots=True)
class Alert:
    """What a rule raised. `alert_id` is deterministic, so a redelivered batch re-sends the same id."""

    alert_id: str
    rule_id: str
    title: str
    severity: str
    risk_score: int
    dedup_key: str
    event_count: int
    first_seen: datetime
    last_seen: datetime
    cloud: str
    cluster: str | None
    context: AlertContext
    audit_ids: tuple[str, ...]
    mitre: tuple[str, ...]
    runbook: str
    links: tuple[Link, ...] = ()
