"""Habits shared by every demo cluster: kubelets, leader election, client-go agents, internet scanners."""

from __future__ import annotations

from collections.abc import Mapping

from core.demo.cast import (
    CLUSTER_WIDE,
    INFORMER_LIST,
    LEADER_ELECTION,
    NAMED_LIST,
    NAMED_WATCH,
    NODE_LEASE,
    WATCH,
    Activity,
    Actor,
    Target,
    act,
    anonymous,
    each,
    named,
    paths,
    rbac_reason,
    sa_subject,
    service_account,
)

APPS, COORDINATION, DISCOVERY = "apps", "coordination.k8s.io", "discovery.k8s.io"
KUBECTL_MAC = "kubectl/v1.30.2 (darwin/arm64) kubernetes/3968350"
KUBECTL_MAC_NEW = "kubectl/v1.31.1 (darwin/arm64) kubernetes/948afe5"
KUBECTL_LINUX = "kubectl/v1.29.4 (linux/amd64) kubernetes/55019c8"
#: Node name -> the pods (or secrets) on that node.
PerNode = Mapping[str, tuple[Target, ...]]
SCANNER_PATHS = paths("/", "/.env", "/.git/config", "/wp-login.php", "/metrics")
SCANNER_AGENTS = ("Mozilla/5.0 zgrab/0.x", "python-requests/2.31.0", "Go-http-client/1.1")


def client_go(binary: str) -> str:
    """The default agent of a client-go program built without version ldflags."""
    return f"{binary}/v0.0.0 (linux/amd64) kubernetes/$Format"


def workload(namespace: str, name: str, *, ip: str, pod: str, node: str) -> Actor:
    """An application's service account, bound by a namespaced Role of the same name."""
    reason = rbac_reason(name, name, sa_subject(namespace, name), namespace=namespace, role_kind="Role")
    return service_account(namespace, name, ip=ip, agent=client_go(name), reason=reason, pod=pod, node=node)


def operator(namespace: str, name: str, *, ip: str, agent: str, role: str | None = None) -> Actor:
    """A cluster-wide operator's service account, bound by a ClusterRole."""
    role = role or name
    reason = rbac_reason(role, role, sa_subject(namespace, name))
    return service_account(namespace, name, ip=ip, agent=agent, reason=reason)


def leader_lease(actor: Actor, namespace: str, lease: str, weight: float) -> Activity:
    """Renewing a leader-election lease: the most common request in any audit log."""
    return act(actor, "update", "leases", named(namespace, lease), query=LEADER_ELECTION, weight=weight,
               group=COORDINATION)


def watch_all(actor: Actor, resource: str, weight: float, *, group: str = "", query: str = WATCH) -> Activity:
    """An informer's cluster-wide watch, re-established every 5-10 minutes."""
    return act(actor, "watch", resource, CLUSTER_WIDE, query=query, weight=weight, group=group)


def list_all(actor: Actor, resource: str, weight: float, *, group: str = "") -> Activity:
    """An informer's cluster-wide list, at start and when a watch has fallen too far behind."""
    return act(actor, "list", resource, CLUSTER_WIDE, query=INFORMER_LIST, weight=weight, group=group)


HELM_RELEASE_QUERY = "?labelSelector=name%3D{name}%2Cowner%3Dhelm"


def helm_releases(deployments: tuple[Target, ...]) -> tuple[Target, ...]:
    """The secrets Helm keeps its release history in: `sh.helm.release.v1.<release>.v<revision>`."""
    return tuple((namespace, f"sh.helm.release.v1.{name}.v{{n}}") for namespace, name in deployments)


def event_targets(pods: tuple[Target, ...]) -> tuple[Target, ...]:
    """Event objects about pods: `<pod>.<16 hex>`."""
    return tuple((namespace, f"{pod}.{{hex}}") for namespace, pod in pods)


def service_account_of(pod: str) -> str:
    """The service account a pod runs as, named after its workload: `web-7b9c5d4f8-2mzfr` -> `web`."""
    return pod.rsplit("-", 1)[0] if pod.rsplit("-", 1)[-1].isdigit() else pod.rsplit("-", 2)[0]


def kubelet_routine(node: Actor, name: str, pods: tuple[Target, ...]) -> list[Activity]:
    """What every kubelet does all day, apart from reading its pods' secrets."""
    namespaces = sorted({namespace for namespace, _ in pods if namespace})
    accounts = tuple((namespace, service_account_of(pod)) for namespace, pod in pods if pod)
    return [
        act(node, "update", "leases", named("kube-node-lease", name), query=NODE_LEASE, weight=20,
            group=COORDINATION),
        act(node, "patch", "nodes", named(None, name), sub="status", weight=4),
        act(node, "patch", "pods", pods, sub="status", weight=4),
        act(node, "watch", "configmaps", each(namespaces, "kube-root-ca.crt"), query=NAMED_WATCH, weight=3),
        act(node, "create", "serviceaccounts", accounts, sub="token", weight=2),
        act(node, "create", "events", event_targets(pods), weight=1.5),
    ]


def kubelets_routine(kubelets: Mapping[str, Actor], pods: PerNode) -> list[Activity]:
    found: list[Activity] = []
    for name, node in kubelets.items():
        found += kubelet_routine(node, name, pods[name])
    return found


def kubelets_secrets(kubelets: Mapping[str, Actor], secrets: PerNode) -> list[Activity]:
    found: list[Activity] = []
    for name, node in kubelets.items():
        found += kubelet_secrets(node, secrets[name])
    return found


def kubelet_secrets(node: Actor, secrets: tuple[Target, ...]) -> list[Activity]:
    """A kubelet watches (and at start lists) each secret its pods mount, by name."""
    return [
        act(node, "watch", "secrets", secrets, query=NAMED_WATCH, weight=3),
        act(node, "list", "secrets", secrets, query=NAMED_LIST, weight=0.6),
    ]


def scanners(*ips: str) -> list[Activity]:
    """Internet scanners probing a public API endpoint anonymously: denied, except the public /version."""
    found = []
    for index, ip in enumerate(ips):
        scanner = anonymous(ip, SCANNER_AGENTS[index % len(SCANNER_AGENTS)])
        found += [act(scanner, "get", None, SCANNER_PATHS, code=403, weight=0.12),
                  act(scanner, "get", None, paths("/version"), weight=0.04)]
    return found
