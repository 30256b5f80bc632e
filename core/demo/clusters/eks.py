"""The EKS demo cluster: a shop's production cluster in us-east-1, reached by IAM principals."""

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
    eks_iam_principal,
    named,
    rbac_reason,
    system_user,
)
from core.demo.clusters.routines import (
    APPS,
    DISCOVERY,
    HELM_RELEASE_QUERY,
    KUBECTL_LINUX,
    KUBECTL_MAC,
    client_go,
    event_targets,
    helm_releases,
    kubelets_routine,
    kubelets_secrets,
    leader_lease,
    list_all,
    operator,
    scanners,
    watch_all,
    workload,
)

NAME, REGION, ACCOUNT = "shop-prod-use1", "us-east-1", "111122223333"
VERSION, COMMIT = "v1.30.5-eks-ce1d5eb", "ce1d5eb"
CONTROL_PLANE_IP = "172.16.47.12"
KUBELET_AGENT = "kubelet/v1.30.4-eks-a737599 (linux/amd64) kubernetes/a737599"
NODES = {  # name: (address, EC2 instance id)
    "ip-10-42-11-73.ec2.internal": ("10.42.11.73", "i-0c3f5a9e21b47d806"),
    "ip-10-42-12-158.ec2.internal": ("10.42.12.158", "i-07d2e41b9a6c3f158"),
    "ip-10-42-13-201.ec2.internal": ("10.42.13.201", "i-0a9b8c7d6e5f40213"),
}
PODS = dict(zip(NODES, (
    named("checkout", "checkout-web-7b9c5d4f8-2mzfr", "checkout-web-7b9c5d4f8-h6k9t")
    + named("ingress-nginx", "ingress-nginx-controller-5d88b6c9f4-k2lqj"),
    named("payments", "payments-api-6f7d9c8b5d-x2k4p", "payments-api-6f7d9c8b5d-q8w3n")
    + named("cert-manager", "cert-manager-7c9d8b6f5-tw8rn"),
    named("orders", "orders-worker-5c8d7f6b9-vt4xp") + named("monitoring", "grafana-6d5f8c7b9-m4zqp"),
), strict=True))
MOUNTED_SECRETS = dict(zip(NODES, (
    named("checkout", "checkout-stripe") + named("ingress-nginx", "ingress-nginx-admission"),
    named("payments", "payments-db", "stripe-api-key") + named("cert-manager", "cert-manager-webhook-ca"),
    named("orders", "orders-db") + named("monitoring", "grafana-admin"),
), strict=True))
ALL_PODS = tuple(pod for pods in PODS.values() for pod in pods)
APP_NAMESPACES = ("payments", "checkout", "orders")
APP_SECRETS = named("payments", "payments-db", "stripe-api-key") + named("checkout", "checkout-stripe") \
    + named("orders", "orders-db")
DEPLOYMENTS = named("payments", "payments-api") + named("checkout", "checkout-web") \
    + named("orders", "orders-worker")
HELM_RELEASES = helm_releases(DEPLOYMENTS)

KUBELETS = {
    name: eks_iam_principal(
        ACCOUNT, "eks-shop-prod-node-group-NodeInstanceRole", instance, ip=ip, agent=KUBELET_AGENT, reason="",
        groups=("system:bootstrappers", "system:nodes", "system:authenticated"),
        username=f"system:node:{name}",
    )
    for name, (ip, instance) in NODES.items()
}
_KCM = f"kube-controller-manager/{VERSION} (linux/amd64) kubernetes/{COMMIT}"
_SCHEDULER = f"kube-scheduler/{VERSION} (linux/amd64) kubernetes/{COMMIT}"
KCM_LEADER = system_user("system:kube-controller-manager", ip=CONTROL_PLANE_IP,
                         agent=f"{_KCM}/leader-election")
SCHEDULER = system_user("system:kube-scheduler", ip=CONTROL_PLANE_IP, agent=f"{_SCHEDULER}/scheduler")
SCHEDULER_LEADER = system_user("system:kube-scheduler", ip=CONTROL_PLANE_IP,
                               agent=f"{_SCHEDULER}/leader-election")
CLOUD_CONTROLLER = system_user("eks:cloud-controller-manager", ip=CONTROL_PLANE_IP,
                               agent=client_go("aws-cloud-controller-manager") + "/leader-election")
CERTIFICATES = system_user("eks:certificate-controller", ip=CONTROL_PLANE_IP,
                           agent=client_go("eks-certificates-controller"))
INGRESS = operator("ingress-nginx", "ingress-nginx", ip="10.42.11.25", agent=(
    "nginx-ingress-controller/v1.10.1 (linux/amd64) ingress-nginx/4fb5aac1dbe0f88bd3eaf4a2d0e1ee9a09f3b2c4"))
EXTERNAL_SECRETS = operator("external-secrets", "external-secrets", ip="10.42.13.140",
                            agent=client_go("external-secrets"), role="external-secrets-controller")
CERT_MANAGER = operator("cert-manager", "cert-manager", ip="10.42.12.77", agent=client_go("controller"),
                        role="cert-manager-controller-certificates")
KARPENTER = operator("kube-system", "karpenter", ip="10.42.11.96", agent=client_go("karpenter"))
STATE_METRICS = operator("monitoring", "kube-state-metrics", ip="10.42.13.19",
                         agent=client_go("kube-state-metrics"))
METRICS_SERVER = operator("kube-system", "metrics-server", ip="10.42.12.203",
                          agent=client_go("metrics-server"), role="system:metrics-server")
#: The payments API's service account: the stolen-token attack replays its token from outside the cluster.
PAYMENTS_API = workload("payments", "payments-api", ip="10.42.12.34", pod="payments-api-6f7d9c8b5d-x2k4p",
                        node="ip-10-42-12-158.ec2.internal")
ORDERS_WORKER = workload("orders", "orders-worker", ip="10.42.13.88", pod="orders-worker-5c8d7f6b9-vt4xp",
                         node="ip-10-42-13-201.ec2.internal")
_ADMIN_ROLE = "AWSReservedSSO_PlatformAdmin_4c1d8e2a9b3f7d60"
_ADMIN_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
MARIA = eks_iam_principal(
    ACCOUNT, _ADMIN_ROLE, "maria.garcia", ip="198.51.100.24", agent=KUBECTL_MAC,
    reason=(f'EKS Access Policy: allowed by ClusterRoleBinding "arn:aws:iam::{ACCOUNT}:role/{_ADMIN_ROLE}'
            f'+{_ADMIN_POLICY}" of ClusterRole "{_ADMIN_POLICY}" to User "maria.garcia"'),
)
TOM = eks_iam_principal(
    ACCOUNT, "AWSReservedSSO_Developer_9e0f1a2b3c4d5e6f", "tom.becker", ip="192.0.2.61", agent=KUBECTL_LINUX,
    reason=rbac_reason("checkout-developers", "edit", 'Group "checkout-developers"', namespace="checkout"),
    groups=("checkout-developers", "system:authenticated"),
)
CI = eks_iam_principal(
    ACCOUNT, "github-actions-deploy", "GitHubActions", ip="10.42.200.15", agent="Helm/3.14.2",
    reason=rbac_reason("ci-deployers", "cluster-admin", 'Group "ci-deployers"'),
    groups=("ci-deployers", "system:authenticated"),
)


def cluster() -> Cluster:
    return Cluster(
        cloud="aws", name=NAME, location=REGION, account=ACCOUNT, share=0.4,
        routine=(*kubelets_routine(KUBELETS, PODS), *_control_plane(), *_operators(), *_people(),
                 *scanners("192.0.2.201", "198.51.100.230", "203.0.113.45")),
        secret_reads=tuple(_secret_reads()),
        secret_denials=tuple(_secret_denials()),
    )


def kcm(name: str) -> Actor:
    return controller(name, version=VERSION, commit=COMMIT, ip=CONTROL_PLANE_IP)


def _control_plane() -> list[Activity]:
    garbage = kcm("generic-garbage-collector")
    slices = named("payments", "payments-api-7xk2p") + named("checkout", "checkout-web-m9q4d") \
        + named("orders", "orders-worker-c5v8n")
    replica_sets = named("payments", "payments-api-6f7d9c8b5d") + named("checkout", "checkout-web-7b9c5d4f8")
    return [
        leader_lease(KCM_LEADER, "kube-system", "kube-controller-manager", 30),
        leader_lease(SCHEDULER_LEADER, "kube-system", "kube-scheduler", 30),
        leader_lease(CLOUD_CONTROLLER, "kube-system", "cloud-controller-manager", 15),
        leader_lease(CERTIFICATES, "kube-system", "eks-certificates-controller", 10),
        *(watch_all(garbage, resource, 1.5) for resource in ("configmaps", "pods", "serviceaccounts")),
        watch_all(garbage, "replicasets", 1.5, group=APPS),
        act(kcm("endpointslice-controller"), "update", "endpointslices", slices, weight=6, group=DISCOVERY),
        act(kcm("replicaset-controller"), "update", "replicasets", replica_sets, sub="status", weight=2,
            group=APPS),
        act(kcm("replicaset-controller"), "create", "pods", ALL_PODS, weight=0.4),
        act(kcm("deployment-controller"), "update", "deployments", DEPLOYMENTS, sub="status", weight=1,
            group=APPS),
        act(SCHEDULER, "create", "pods", ALL_PODS, sub="binding", weight=0.4),
        act(SCHEDULER, "create", "events", event_targets(ALL_PODS), group="events.k8s.io", weight=1),
        act(CLOUD_CONTROLLER, "patch", "nodes", named(None, *NODES), sub="status", weight=1),
        watch_all(CERTIFICATES, "certificatesigningrequests", 1, group="certificates.k8s.io"),
    ]


def _operators() -> list[Activity]:
    return [
        leader_lease(INGRESS, "ingress-nginx", "ingress-nginx-leader", 8),
        leader_lease(EXTERNAL_SECRETS, "external-secrets", "external-secrets-controller", 8),
        leader_lease(CERT_MANAGER, "kube-system", "cert-manager-controller", 8),
        leader_lease(KARPENTER, "kube-system", "karpenter-leader-election", 8),
        watch_all(INGRESS, "endpointslices", 2, group=DISCOVERY),
        act(INGRESS, "get", "configmaps", named("ingress-nginx", "ingress-nginx-controller"), weight=1),
        act(EXTERNAL_SECRETS, "patch", "externalsecrets", APP_SECRETS, group="external-secrets.io",
            version="v1beta1", sub="status", weight=2),
        watch_all(CERT_MANAGER, "certificates", 1, group="cert-manager.io"),
        list_all(KARPENTER, "nodeclaims", 1, group="karpenter.sh"),
        watch_all(KARPENTER, "nodes", 1),
        watch_all(STATE_METRICS, "pods", 1.5),
        watch_all(STATE_METRICS, "deployments", 1, group=APPS),
        act(METRICS_SERVER, "create", "subjectaccessreviews", CLUSTER_WIDE, group="authorization.k8s.io",
            weight=2),
        act(METRICS_SERVER, "create", "tokenreviews", CLUSTER_WIDE, group="authentication.k8s.io", weight=1),
        act(PAYMENTS_API, "get", "configmaps", named("payments", "payments-api-config"), weight=2),
        act(ORDERS_WORKER, "get", "configmaps", named("orders", "orders-worker-config"), weight=1),
    ]


def _people() -> list[Activity]:
    return [
        act(MARIA, "list", "pods", each(APP_NAMESPACES), query=KUBECTL_LIST, weight=1),
        act(MARIA, "get", "deployments", DEPLOYMENTS, weight=0.5, group=APPS),
        act(MARIA, "get", "pods", ALL_PODS, sub="log", weight=0.5),
        act(TOM, "list", "pods", each(["checkout"]), query=KUBECTL_LIST, weight=0.8),
        act(TOM, "get", "pods", PODS["ip-10-42-11-73.ec2.internal"][:2], sub="log", weight=0.4),
        act(CI, "get", "deployments", DEPLOYMENTS, weight=0.4, group=APPS),
        act(CI, "patch", "deployments", DEPLOYMENTS, weight=0.2, group=APPS),
    ]


def _secret_reads() -> list[Activity]:
    garbage = kcm("generic-garbage-collector")
    managed = WATCH.replace("?", "?labelSelector=reconcile.external-secrets.io%2Fmanaged%3Dtrue&")
    tls = named("payments", "payments-api-tls") + named("checkout", "checkout-web-tls")
    return [
        *kubelets_secrets(KUBELETS, MOUNTED_SECRETS),
        watch_all(garbage, "secrets", 3),
        list_all(garbage, "secrets", 0.3),
        list_all(kcm("legacy-service-account-token-cleaner"), "secrets", 0.3),
        act(EXTERNAL_SECRETS, "get", "secrets", APP_SECRETS, weight=4),
        act(EXTERNAL_SECRETS, "update", "secrets", APP_SECRETS, weight=0.5),
        watch_all(EXTERNAL_SECRETS, "secrets", 1, query=managed),
        watch_all(CERT_MANAGER, "secrets", 1),
        act(CERT_MANAGER, "get", "secrets", tls, weight=1),
        watch_all(INGRESS, "secrets", 1.5),
        list_all(INGRESS, "secrets", 0.2),
        watch_all(STATE_METRICS, "secrets", 1),
        act(PAYMENTS_API, "get", "secrets", named("payments", "payments-db", "stripe-api-key"), weight=2),
        act(CI, "list", "secrets", DEPLOYMENTS, query=HELM_RELEASE_QUERY, weight=0.6),
        act(CI, "create", "secrets", HELM_RELEASES, weight=0.2),
        act(MARIA, "get", "secrets", APP_SECRETS, weight=0.3),
        act(MARIA, "list", "secrets", each(APP_NAMESPACES), query=KUBECTL_LIST, weight=0.3),
        act(TOM, "list", "secrets", each(["checkout"]), query=KUBECTL_LIST, weight=0.2),
        act(TOM, "get", "secrets", named("checkout", "checkout-stripe", "checkout-web-tls"), weight=0.2),
    ]


def _secret_denials() -> list[Activity]:
    """A developer outside his namespace, an app whose Role lacks a secret, operators looking too early."""
    return [
        act(TOM, "get", "secrets", named("payments", "payments-db", "stripe-api-key"), code=403, weight=1),
        act(TOM, "list", "secrets", each(["payments"]), query=KUBECTL_LIST, code=403, weight=0.5),
        act(ORDERS_WORKER, "get", "secrets", named("orders", "orders-queue-credentials"), code=403, weight=2),
        act(EXTERNAL_SECRETS, "get", "secrets", named("checkout", "checkout-stripe-v2"), code=404,
            weight=0.6),
        act(CERT_MANAGER, "get", "secrets", named("payments", "payments-api-tls-8x2kq"), code=404,
            weight=0.6),
    ]
