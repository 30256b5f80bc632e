"""The demo's cast, in building blocks: who calls an API server, from where, and what they ask for."""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

#: Query strings as client-go and kubectl send them (Go sorts the keys). `{rv}`, `{timeout}`, `{seconds}` and
#: `{name}` are filled in per request; a watch's `timeoutSeconds` is also how long the request lasts.
WATCH = "?allowWatchBookmarks=true&resourceVersion={rv}&timeout={timeout}&timeoutSeconds={seconds}&watch=true"
NAMED_WATCH = (
    "?allowWatchBookmarks=true&fieldSelector=metadata.name%3D{name}&resourceVersion={rv}"
    "&timeout={timeout}&timeoutSeconds={seconds}&watch=true"
)
INFORMER_LIST = "?limit=500&resourceVersion=0"
NAMED_LIST = "?fieldSelector=metadata.name%3D{name}&limit=500&resourceVersion=0"
KUBECTL_LIST = "?limit=500"
LEADER_ELECTION = "?timeout=5s"
NODE_LEASE = "?timeout=10s"

Target = tuple[str | None, str | None]  # (namespace, name); None namespace = cluster scope or cluster-wide
CLUSTER_WIDE: tuple[Target, ...] = ((None, None),)


@dataclass(frozen=True, slots=True)
class Actor:
    """One stable client identity: the user, the address it calls from and its user agent."""

    username: str
    groups: tuple[str, ...]
    source_ips: tuple[str, ...]
    user_agent: str
    #: `authorization.k8s.io/reason` on the requests this actor is allowed to make.
    reason: str = ""
    uid: str | None = None
    extra: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def user(self) -> dict[str, Any]:
        """The audit Event's `user` object (a fresh dict each time: events must not share mutable parts)."""
        user: dict[str, Any] = {"username": self.username}
        if self.uid:
            user["uid"] = self.uid
        user["groups"] = list(self.groups)
        if self.extra:
            user["extra"] = {key: list(values) for key, values in self.extra}
        return user


@dataclass(frozen=True, slots=True)
class Activity:
    """Something an actor does again and again: one verb on one resource, at one of several targets.

    For a non-resource request (`/readyz`, a scanner's `/.env`) `resource` is None and each target's name is
    the path. `code` is the HTTP status it gets (default 201 for create, else 200).
    """

    actor: Actor
    verb: str
    resource: str | None
    targets: tuple[Target, ...]
    api_group: str = ""
    api_version: str = "v1"
    subresource: str | None = None
    query: str = ""
    code: int | None = None
    weight: float = 1.0

    @property
    def status(self) -> int:
        if self.code is not None:
            return self.code
        return 201 if self.verb == "create" else 200


def act(
    actor: Actor, verb: str, resource: str | None, targets: Iterable[Target], *, group: str = "",
    version: str = "v1", sub: str | None = None, query: str = "", code: int | None = None,
    weight: float = 1.0,
) -> Activity:
    return Activity(actor, verb, resource, tuple(targets), group, version, sub, query, code, weight)


def named(namespace: str | None, *names: str) -> tuple[Target, ...]:
    return tuple((namespace, name) for name in names)


def each(namespaces: Iterable[str], name: str | None = None) -> tuple[Target, ...]:
    return tuple((namespace, name) for namespace in namespaces)


def paths(*values: str) -> tuple[Target, ...]:
    return tuple((None, value) for value in values)


# --- identities ------------------------------------------------------------------------------------------

def stable_uid(*parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "secretwatch-demo/" + "/".join(parts)))


def rbac_reason(binding: str, role: str, subject: str, *, namespace: str | None = None,
                role_kind: str = "ClusterRole") -> str:
    """`authorization.k8s.io/reason` as the RBAC authorizer writes it."""
    if namespace:
        return f'RBAC: allowed by RoleBinding "{binding}/{namespace}" of {role_kind} "{role}" to {subject}'
    return f'RBAC: allowed by ClusterRoleBinding "{binding}" of ClusterRole "{role}" to {subject}'


def sa_subject(namespace: str, name: str) -> str:
    return f'ServiceAccount "{name}/{namespace}"'


def service_account(
    namespace: str, name: str, *, ip: str, agent: str, reason: str = "", pod: str | None = None,
    node: str | None = None,
) -> Actor:
    """A service account using a bound token; a workload's token also names its pod and node."""
    username = f"system:serviceaccount:{namespace}:{name}"
    extra: list[tuple[str, tuple[str, ...]]] = [
        ("authentication.kubernetes.io/credential-id", ("JTI=" + stable_uid("jti", username, pod or ""),)),
    ]
    if pod and node:
        extra += [
            ("authentication.kubernetes.io/node-name", (node,)),
            ("authentication.kubernetes.io/node-uid", (stable_uid("node", node),)),
            ("authentication.kubernetes.io/pod-name", (pod,)),
            ("authentication.kubernetes.io/pod-uid", (stable_uid("pod", namespace, pod),)),
        ]
    return Actor(
        username=username,
        groups=("system:serviceaccounts", f"system:serviceaccounts:{namespace}", "system:authenticated"),
        source_ips=(ip,), user_agent=agent, reason=reason, uid=stable_uid("sa", username), extra=tuple(extra),
    )


def controller(name: str, *, version: str, commit: str, ip: str) -> Actor:
    """A kube-controller-manager loop with its own service account (--use-service-account-credentials)."""
    role = f"system:controller:{name}"
    agent = f"kube-controller-manager/{version} (linux/amd64) kubernetes/{commit}"
    return service_account(
        "kube-system", name, ip=ip, agent=f"{agent}/system:serviceaccount:kube-system:{name}",
        reason=rbac_reason(role, role, sa_subject("kube-system", name)),
    )


def system_user(username: str, *, ip: str, agent: str, groups: tuple[str, ...] = ("system:authenticated",),
                reason: str = "") -> Actor:
    return Actor(username=username, groups=groups, source_ips=(ip,), user_agent=agent, reason=reason)


def eks_iam_principal(
    account: str, role: str, session: str, *, ip: str, agent: str, reason: str,
    groups: tuple[str, ...] = ("system:authenticated",), username: str | None = None,
) -> Actor:
    """A user mapped from an IAM role session by the AWS IAM authenticator (EKS access entries)."""
    principal_id = "AROA" + _base32(f"{account}/{role}", 17)
    session_arn = f"arn:aws:sts::{account}:assumed-role/{role}/{session}"
    extra = (
        ("accessKeyId", ("ASIA" + _base32(f"{session_arn}/key", 16),)),
        ("arn", (session_arn,)),
        ("canonicalArn", (f"arn:aws:iam::{account}:role/{role}",)),
        ("principalId", (principal_id,)),
        ("sessionName", (session,)),
    )
    return Actor(
        username=username or session_arn, groups=groups, source_ips=(ip,), user_agent=agent, reason=reason,
        uid=f"aws-iam-authenticator:{account}:{principal_id}", extra=extra,
    )


def anonymous(ip: str, agent: str) -> Actor:
    return Actor(username="system:anonymous", groups=("system:unauthenticated",), source_ips=(ip,),
                 user_agent=agent)


def _base32(seed: str, length: int) -> str:
    return base64.b32encode(hashlib.sha256(seed.encode()).digest()).decode()[:length].replace("=", "A")


def kubelet(node: str, *, ip: str, agent: str) -> Actor:
    """A node's kubelet with a client certificate (GKE, AKS); EKS kubelets use `eks_iam_principal`."""
    return Actor(username=f"system:node:{node}", groups=("system:nodes", "system:authenticated"),
                 source_ips=(ip,), user_agent=agent)


@dataclass(frozen=True, slots=True)
class Cluster:
    """One demo cluster: where it lives and the weighted activities of its cast.

    `account` is the AWS account id, GCP project id or Azure subscription id. `secret_reads` and
    `secret_denials` touch secrets; `routine` never does.
    """

    cloud: str
    name: str
    location: str
    account: str
    share: float
    routine: tuple[Activity, ...]
    secret_reads: tuple[Activity, ...]
    secret_denials: tuple[Activity, ...]
    resource_group: str = ""
