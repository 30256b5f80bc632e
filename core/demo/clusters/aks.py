"""The AKS demo cluster: a retail platform in westeurope, reached by Entra ID users and Argo CD."""

from __future__ import annotations

from core.demo.cast import (
    CLUSTER_WIDE,
    KUBECTL_LIST,
    WATCH,
    Activity,
    Actor,
    Cluster,
    act,
    controller,
    each,
    kubelet,
    named,
    rbac_reason,
    stable_uid,
    system_user,
)
from core.demo.clusters.routines import (
    APPS,
    DISCOVERY,
    KUBECTL_MAC,
    client_go,
    event_targets,
    kubelets_routine,
    kubelets_secrets,
    leader_lease,
    list_all,
    operator,
    scanners,
    watch_all,
    workload,
)

NAME, LOCATION = "retail-aks-weu", "westeurope"
SUBSCRIPTION, RESOURCE_GROUP = "3f2c9a1e-5b7d-4e60-9c1a-8d2e4f6a0b13", "rg-retail-prod"
VERSION, COMMIT = "v1.30.2", "3968350"
CONTROL_PLANE_IP = "172.31.22.4"
#: The API server's front proxy: clients outside the cluster appear with it as a second address.
PROXY_IP = "172.31.52.37"
NODES = {
    "aks-system-16386207-vmss000000": "10.224.0.4",
    "aks-user-16386207-vmss000001": "10.224.0.33",
    "aks-user-16386207-vmss000002": "10.224.0.62",
}
PODS = dict(zip(NODES, (
    named("argocd", "argocd-application-controller-0", "argocd-server-6b9d8c7f5-p2mxq")
    + named("ingress-nginx", "ingress-nginx-controller-7d9f6c8b5-v4tnz"),
    named("storefront", "storefront-web-5f8c9d7b6-k7qzr", "storefront-web-5f8c9d7b6-t2wxn"),
    named("inventory", "inventory-sync-6c7d8f9b5-r5mlp")
    + named("cert-manager", "cert-manager-5b7c9d8f6-h8qvz"),
), strict=True))
MOUNTED_SECRETS = dict(zip(NODES, (
    named("argocd", "argocd-secret", "argocd-redis") + named("ingress-nginx", "ingress-nginx-admission"),
    named("storefront", "storefront-redis", "storefront-stripe"),
    named("inventory", "inventory-db"),
), strict=True))
ALL_PODS = tuple(pod for pods in PODS.values() for pod in pods)
DEPLOYMENTS = named("storefront", "storefront-web") + named("inventory", "inventory-sync")

KUBELETS = {name: kubelet(name, ip=ip, agent=f"kubelet/{VERSION} (linux/amd64) kubernetes/{COMMIT}")
            for name, ip in NODES.items()}
_KCM = f"kube-controller-manager/{VERSION} (linux/amd64) kubernetes/{COMMIT}"
_SCHEDULER = f"kube-scheduler/{VERSION} (linux/amd64) kubernetes/{COMMIT}"
KCM_LEADER = system_user("system:kube-controller-manager", ip=CONTROL_PLANE_IP,
                         agent=f"{_KCM}/leader-election")
SCHEDULER = system_user("system:kube-scheduler", ip=CONTROL_PLANE_IP, agent=f"{_SCHEDULER}/scheduler")
SCHEDULER_LEADER = system_user("system:kube-scheduler", ip=CONTROL_PLANE_IP,
                               agent=f"{_SCHEDULER}/leader-election")
AKS_SERVICE = system_user("aksService", ip="172.31.51.172", groups=("system:masters", "system:authenticated"),
                          agent="approver/v0.0.0 (linux/amd64) kubernetes/$Format/leader-election")
NODE_MANAGER = operator("kube-system", "cloud-node-manager", ip="10.224.0.4",
                        agent=client_go("cloud-node-manager"))
INGRESS = operator("ingress-nginx", "ingress-nginx", ip="10.244.0.18", agent=(
    "nginx-ingress-controller/v1.10.1 (linux/amd64) ingress-nginx/4fb5aac1dbe0f88bd3eaf4a2d0e1ee9a09f3b2c4"))
CERT_MANAGER = operator("cert-manager", "cert-manager", ip="10.244.2.9", agent=client_go("controller"),
                        role="cert-manager-controller-certificates")
_ARGOCD_VERSION = "v2.11.3+3f344d5 (linux/amd64)"
ARGOCD_CONTROLLER = operator("argocd", "argocd-application-controller", ip="10.244.0.12",
                             agent=f"argocd-application-controller/{_ARGOCD_VERSION}")
ARGOCD_SERVER = operator("argocd", "argocd-server", ip="10.244.0.14",
                         agent=f"argocd-server/{_ARGOCD_VERSION}")
STOREFRONT = workload("storefront", "storefront-web", ip="10.244.1.21", pod="storefront-web-5f8c9d7b6-k7qzr",
                      node="aks-user-16386207-vmss000001")
INVENTORY = workload("inventory", "inventory-sync", ip="10.244.2.15", pod="inventory-sync-6c7d8f9b5-r5mlp",
                     node="aks-user-16386207-vmss000002")
_DEVELOPERS = "9d3b6f2a-7c41-4e8b-a5d0-2f6e1c9b8a74"  # an Entra ID group's object id
DANA = Actor(
    username="dana.kowalski@acme.example", groups=(_DEVELOPERS, "system:authenticated"),
    source_ips=("198.51.100.101", PROXY_IP), user_agent=KUBECTL_MAC,
    reason=rbac_reason("storefront-developers", "edit", f'Group "{_DEVELOPERS}"', namespace="storefront"),
    extra=(("oid", (stable_uid("entra", "dana.kowalski"),)),),
)
#: The cluster admin credential (`az aks get-credentials --admin`), used by the on-call engineer.
ON_CALL = Actor(username="masterclient", groups=("system:masters", "system:authenticated"),
                source_ips=("192.0.2.140", PROXY_IP), user_agent=KUBECTL_MAC)


def cluster() -> Cluster:
    return Cluster(
        cloud="azure", name=NAME, location=LOCATION, account=SUBSCRIPTION, resource_group=RESOURCE_GROUP,
        share=0.3, routine=(*kubelets_routine(KUBELETS, PODS), *_control_plane(), *_operators(), *_people(),
                            *scanners("203.0.113.150", "192.0.2.77")),
        secret_reads=tuple(_secret_reads()),
        secret_denials=tuple(_secret_denials()),
    )


def kcm(name: str) -> Actor:
    return controller(name, version=VERSION, commit=COMMIT, ip=CONTROL_PLANE_IP)


def _control_plane() -> list[Activity]:
    garbage = kcm("generic-garbage-collector")
    slices = named("storefront", "storefront-web-8kd2m") + named("inventory", "inventory-sync-r2w7x")
    return [
        leader_lease(KCM_LEADER, "kube-system", "kube-controller-manager", 30),
        leader_lease(SCHEDULER_LEADER, "kube-system", "kube-scheduler", 30),
        leader_lease(AKS_SERVICE, "kube-system", "kubelet-serving-csr-approver", 12),
        *(watch_all(garbage, resource, 1.5) for resource in ("configmaps", "pods", "serviceaccounts")),
        act(kcm("endpointslice-controller"), "update", "endpointslices", slices, weight=5, group=DISCOVERY),
        act(kcm("replicaset-controller"), "create", "pods", ALL_PODS, weight=0.4),
        act(kcm("deployment-controller"), "update", "deployments", DEPLOYMENTS, sub="status", weight=1,
            group=APPS),
        act(SCHEDULER, "create", "pods", ALL_PODS, sub="binding", weight=0.4),
        act(SCHEDULER, "create", "events", event_targets(ALL_PODS), group="events.k8s.io", weight=1),
        act(NODE_MANAGER, "patch", "nodes", named(None, *NODES), sub="status", weight=2),
    ]


def _operators() -> list[Activity]:
    return [
        leader_lease(INGRESS, "ingress-nginx", "ingress-nginx-leader", 8),
        leader_lease(CERT_MANAGER, "kube-system", "cert-manager-controller", 8),
        watch_all(INGRESS, "endpointslices", 2, group=DISCOVERY),
        watch_all(CERT_MANAGER, "certificates", 1, group="cert-manager.io"),
        watch_all(ARGOCD_CONTROLLER, "deployments", 2, group=APPS),
        act(ARGOCD_CONTROLLER, "patch", "applications", named("argocd", "storefront", "inventory"),
            group="argoproj.io", version="v1alpha1", weight=3),
        act(ARGOCD_CONTROLLER, "patch", "deployments", DEPLOYMENTS, weight=0.3, group=APPS),
        act(ARGOCD_SERVER, "watch", "configmaps", named("argocd", "argocd-cm"), query=WATCH, weight=1),
        act(STOREFRONT, "get", "configmaps", named("storefront", "storefront-config"), weight=2),
        act(INVENTORY, "get", "configmaps", named("inventory", "inventory-sync-config"), weight=1),
    ]


def _people() -> list[Activity]:
    return [
        act(DANA, "list", "pods", each(["storefront"]), query=KUBECTL_LIST, weight=1),
        act(DANA, "get", "pods", PODS["aks-user-16386207-vmss000001"], sub="log", weight=0.5),
        act(DANA, "get", "deployments", DEPLOYMENTS[:1], weight=0.3, group=APPS),
        act(ON_CALL, "list", "pods", each(["storefront", "inventory", "kube-system"]), query=KUBECTL_LIST,
            weight=0.3),
        act(ON_CALL, "list", "nodes", CLUSTER_WIDE, query=KUBECTL_LIST, weight=0.1),
    ]


def _secret_reads() -> list[Activity]:
    garbage = kcm("generic-garbage-collector")
    argocd_clusters = "?labelSelector=argocd.argoproj.io%2Fsecret-type%3Dcluster"
    storefront = named("storefront", "storefront-redis", "storefront-stripe")
    return [
        *kubelets_secrets(KUBELETS, MOUNTED_SECRETS),
        watch_all(garbage, "secrets", 3),
        list_all(garbage, "secrets", 0.3),
        watch_all(INGRESS, "secrets", 1.5),
        list_all(INGRESS, "secrets", 0.2),
        watch_all(CERT_MANAGER, "secrets", 1),
        act(CERT_MANAGER, "get", "secrets", named("storefront", "storefront-tls"), weight=0.8),
        act(ARGOCD_CONTROLLER, "list", "secrets", each(["argocd"]), query=argocd_clusters, weight=1),
        act(ARGOCD_CONTROLLER, "watch", "secrets", each(["argocd"]),
            query=WATCH.replace("?", argocd_clusters + "&"), weight=1.5),
        act(ARGOCD_SERVER, "get", "secrets", named("argocd", "argocd-secret"), weight=1),
        act(STOREFRONT, "get", "secrets", storefront, weight=2),
        act(DANA, "get", "secrets", named("storefront", "storefront-redis", "storefront-tls"), weight=0.3),
        act(DANA, "list", "secrets", each(["storefront"]), query=KUBECTL_LIST, weight=0.3),
        act(ON_CALL, "get", "secrets", named("inventory", "inventory-db") + storefront[:1], weight=0.15),
    ]


def _secret_denials() -> list[Activity]:
    """An app whose Role lacks a secret, a developer outside her namespace, an operator looking too early."""
    return [
        act(INVENTORY, "get", "secrets", named("inventory", "inventory-erp-credentials"), code=403, weight=2),
        act(DANA, "get", "secrets", named("inventory", "inventory-db"), code=403, weight=0.6),
        act(DANA, "list", "secrets", each(["inventory"]), query=KUBECTL_LIST, code=403, weight=0.3),
        act(CERT_MANAGER, "get", "secrets", named("storefront", "storefront-tls-6hx9d"), code=404,
            weight=0.6),
    ]
