"""The GKE demo cluster: an analytics platform in europe-west1, reached by Google accounts."""

from __future__ import annotations

from core.demo.cast import (
    CLUSTER_WIDE,
    KUBECTL_LIST,
    Activity,
    Actor,
    Cluster,
    act,
    controller,
    each,
    kubelet,
    named,
    paths,
    rbac_reason,
    system_user,
)
from core.demo.clusters.routines import (
    APPS,
    DISCOVERY,
    HELM_RELEASE_QUERY,
    KUBECTL_MAC,
    KUBECTL_MAC_NEW,
    client_go,
    event_targets,
    helm_releases,
    kubelets_routine,
    kubelets_secrets,
    leader_lease,
    list_all,
    operator,
    watch_all,
    workload,
)

NAME, LOCATION, PROJECT = "analytics-euw1", "europe-west1", "acme-analytics-prod"
VERSION, COMMIT = "v1.30.5-gke.1014001", "b1f8e2d"
KUBELET_AGENT = f"kubelet/{VERSION} (linux/amd64) kubernetes/{COMMIT}"
IAM_REASON = "access granted by IAM permissions."
NODES = {
    "gke-analytics-euw1-default-pool-7c1e2a9d-4kxq": "10.132.0.14",
    "gke-analytics-euw1-default-pool-7c1e2a9d-9m2t": "10.132.0.15",
    "gke-analytics-euw1-highmem-pool-3b8f6e01-p7ns": "10.132.0.22",
}
PODS = dict(zip(NODES, (
    named("analytics", "analytics-api-58c7d9f6b4-jq2vx", "superset-6b8f9d7c5-w4mzt")
    + named("cert-manager", "cert-manager-6d4f8b9c7-rk5tn"),
    named("airflow", "airflow-scheduler-7f9c6d8b5-h2xnp", "airflow-webserver-5d7b8c9f6-q9lkm")
    + named("external-secrets", "external-secrets-6c8d9f7b5-zt4pw"),
    named("ml-pipelines", "trainer-6f5d8c9b7-l3vnx", "feature-store-7c9b8d6f5-x8rqk"),
), strict=True))
MOUNTED_SECRETS = dict(zip(NODES, (
    named("analytics", "analytics-bq-credentials", "superset-secret-key"),
    named("airflow", "airflow-db", "airflow-fernet-key"),
    named("ml-pipelines", "feature-store-redis"),
), strict=True))
ALL_PODS = tuple(pod for pods in PODS.values() for pod in pods)
APP_SECRETS = named("analytics", "analytics-bq-credentials", "superset-secret-key") \
    + named("airflow", "airflow-db", "airflow-fernet-key") + named("ml-pipelines", "feature-store-redis")
DEPLOYMENTS = named("analytics", "analytics-api", "superset") + named("airflow", "airflow-webserver") \
    + named("ml-pipelines", "feature-store")
HELM_RELEASES = helm_releases(DEPLOYMENTS)
APP_NAMESPACES = ("analytics", "airflow", "ml-pipelines")

KUBELETS = {name: kubelet(name, ip=ip, agent=KUBELET_AGENT) for name, ip in NODES.items()}
_KCM = f"kube-controller-manager/{VERSION} (linux/amd64) kubernetes/{COMMIT}"
_SCHEDULER = f"kube-scheduler/{VERSION} (linux/amd64) kubernetes/{COMMIT}"
KCM_LEADER = system_user("system:kube-controller-manager", ip="127.0.0.1", agent=f"{_KCM}/leader-election")
SCHEDULER = system_user("system:kube-scheduler", ip="127.0.0.1", agent=f"{_SCHEDULER}/scheduler")
SCHEDULER_LEADER = system_user("system:kube-scheduler", ip="127.0.0.1",
                               agent=f"{_SCHEDULER}/leader-election")
HEALTHCHECK = system_user("system:gke-master-healthcheck", ip="::1", agent="gke-master-healthcheck",
                          reason=rbac_reason("system:public-info-viewer", "system:public-info-viewer",
                                             'Group "system:authenticated"'))
LOAD_BALANCER = system_user("system:l7-lb-controller", ip="127.0.0.1", agent=client_go("glbc"))
COLLECTOR = operator("gmp-system", "collector", ip="10.48.0.9", agent=client_go("prometheus"),
                     role="gmp-system:collector")
EXTERNAL_SECRETS = operator("external-secrets", "external-secrets", ip="10.48.1.31",
                            agent=client_go("external-secrets"), role="external-secrets-controller")
CERT_MANAGER = operator("cert-manager", "cert-manager", ip="10.48.0.27", agent=client_go("controller"),
                        role="cert-manager-controller-certificates")
AIRFLOW = operator("airflow", "airflow-scheduler", ip="10.48.1.23", agent="OpenAPI-Generator/29.0.0/python",
                   role="airflow-pod-launcher")
ANALYTICS_API = workload("analytics", "analytics-api", ip="10.48.0.41", pod="analytics-api-58c7d9f6b4-jq2vx",
                         node="gke-analytics-euw1-default-pool-7c1e2a9d-4kxq")
TRAINER = workload("ml-pipelines", "trainer", ip="10.48.2.17", pod="trainer-6f5d8c9b7-l3vnx",
                   node="gke-analytics-euw1-highmem-pool-3b8f6e01-p7ns")
PRIYA = system_user("priya.shah@acme.example", ip="198.51.100.52", agent=KUBECTL_MAC_NEW, reason=IAM_REASON)
#: A developer of the analytics team: the enumeration attack runs under this identity, from this laptop.
RILEY = system_user(
    "riley.chen@acme.example", ip="198.51.100.87", agent=KUBECTL_MAC,
    reason=rbac_reason("analytics-developers", "edit", 'User "riley.chen@acme.example"',
                       namespace="analytics"),
)
CLOUD_BUILD = system_user(f"cloudbuild-deployer@{PROJECT}.iam.gserviceaccount.com", ip="10.140.0.12",
                          agent="Helm/3.15.4", reason=IAM_REASON)


def cluster() -> Cluster:
    return Cluster(
        cloud="gcp", name=NAME, location=LOCATION, account=PROJECT, share=0.3,
        routine=(*kubelets_routine(KUBELETS, PODS), *_control_plane(), *_operators(), *_people()),
        secret_reads=tuple(_secret_reads()),
        secret_denials=tuple(_secret_denials()),
    )


def kcm(name: str) -> Actor:
    return controller(name, version=VERSION, commit=COMMIT, ip="::1")


def _control_plane() -> list[Activity]:
    garbage = kcm("generic-garbage-collector")
    slices = named("analytics", "analytics-api-5mxq2") + named("airflow", "airflow-webserver-j8v4c")
    return [
        leader_lease(KCM_LEADER, "kube-system", "kube-controller-manager", 30),
        leader_lease(SCHEDULER_LEADER, "kube-system", "kube-scheduler", 30),
        leader_lease(LOAD_BALANCER, "kube-system", "ingress-gce-lock", 10),
        act(HEALTHCHECK, "get", None, paths("/readyz", "/livez"), weight=12),
        *(watch_all(garbage, resource, 1.5) for resource in ("configmaps", "pods", "serviceaccounts")),
        act(kcm("endpointslice-controller"), "update", "endpointslices", slices, group=DISCOVERY, weight=5),
        act(kcm("replicaset-controller"), "create", "pods", ALL_PODS, weight=0.4),
        act(kcm("job-controller"), "update", "jobs", named("ml-pipelines", "nightly-features-28847520"),
            group="batch", sub="status", weight=1),
        act(kcm("deployment-controller"), "update", "deployments", DEPLOYMENTS, sub="status", weight=1,
            group=APPS),
        act(SCHEDULER, "create", "pods", ALL_PODS, sub="binding", weight=0.4),
        act(SCHEDULER, "create", "events", event_targets(ALL_PODS), group="events.k8s.io", weight=1),
        watch_all(LOAD_BALANCER, "services", 1),
    ]


def _operators() -> list[Activity]:
    workers = named("airflow", "airflow-worker-{hex}")
    return [
        leader_lease(EXTERNAL_SECRETS, "external-secrets", "external-secrets-controller", 8),
        leader_lease(CERT_MANAGER, "kube-system", "cert-manager-controller", 8),
        watch_all(COLLECTOR, "pods", 2),
        list_all(COLLECTOR, "endpoints", 0.5),
        act(EXTERNAL_SECRETS, "patch", "externalsecrets", APP_SECRETS, group="external-secrets.io",
            version="v1beta1", sub="status", weight=2),
        watch_all(CERT_MANAGER, "certificates", 1, group="cert-manager.io"),
        act(AIRFLOW, "create", "pods", workers, weight=1.5),
        act(AIRFLOW, "delete", "pods", workers, weight=1),
        act(ANALYTICS_API, "get", "configmaps", named("analytics", "analytics-api-config"), weight=2),
        act(TRAINER, "get", "configmaps", named("ml-pipelines", "trainer-config"), weight=1),
    ]


def _people() -> list[Activity]:
    laptop_pods = PODS["gke-analytics-euw1-default-pool-7c1e2a9d-4kxq"][:2]
    return [
        act(PRIYA, "list", "pods", each(APP_NAMESPACES), query=KUBECTL_LIST, weight=0.8),
        act(PRIYA, "list", "nodes", CLUSTER_WIDE, query=KUBECTL_LIST, weight=0.3),
        act(PRIYA, "get", "deployments", DEPLOYMENTS, weight=0.4, group=APPS),
        act(RILEY, "list", "pods", each(["analytics"]), query=KUBECTL_LIST, weight=1),
        act(RILEY, "get", "pods", laptop_pods, sub="log", weight=0.6),
        act(RILEY, "create", "pods", laptop_pods, sub="exec", code=101, weight=0.1),
        act(CLOUD_BUILD, "get", "deployments", DEPLOYMENTS, weight=0.4, group=APPS),
        act(CLOUD_BUILD, "patch", "deployments", DEPLOYMENTS, weight=0.2, group=APPS),
    ]


def _secret_reads() -> list[Activity]:
    garbage = kcm("generic-garbage-collector")
    return [
        *kubelets_secrets(KUBELETS, MOUNTED_SECRETS),
        watch_all(garbage, "secrets", 3),
        list_all(garbage, "secrets", 0.3),
        act(EXTERNAL_SECRETS, "get", "secrets", APP_SECRETS, weight=3),
        act(EXTERNAL_SECRETS, "update", "secrets", APP_SECRETS, weight=0.4),
        watch_all(CERT_MANAGER, "secrets", 1),
        act(CERT_MANAGER, "get", "secrets", named("analytics", "superset-tls"), weight=0.8),
        act(AIRFLOW, "get", "secrets", named("airflow", "airflow-db", "airflow-connections"), weight=1.5),
        act(ANALYTICS_API, "get", "secrets", named("analytics", "analytics-bq-credentials"), weight=1.5),
        act(CLOUD_BUILD, "list", "secrets", DEPLOYMENTS, query=HELM_RELEASE_QUERY, weight=0.5),
        act(CLOUD_BUILD, "create", "secrets", HELM_RELEASES, weight=0.2),
        act(PRIYA, "get", "secrets", APP_SECRETS, weight=0.3),
        act(PRIYA, "list", "secrets", each(APP_NAMESPACES), query=KUBECTL_LIST, weight=0.2),
        act(RILEY, "get", "secrets", named("analytics", "analytics-bq-credentials", "superset-secret-key"),
            weight=0.3),
        act(RILEY, "list", "secrets", each(["analytics"]), query=KUBECTL_LIST, weight=0.3),
    ]


def _secret_denials() -> list[Activity]:
    """An app whose Role lacks a secret, operators looking too early, a developer outside her namespace."""
    return [
        act(TRAINER, "get", "secrets", named("ml-pipelines", "gcs-hmac-key"), code=403, weight=2),
        act(CERT_MANAGER, "get", "secrets", named("analytics", "superset-tls-n7q2w"), code=404, weight=0.6),
        act(EXTERNAL_SECRETS, "get", "secrets", named("airflow", "airflow-connections-next"), code=404,
            weight=0.6),
        act(RILEY, "list", "secrets", each(["ml-pipelines"]), query=KUBECTL_LIST, code=403, weight=0.4),
    ]
