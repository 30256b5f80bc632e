"""The demo's three clusters: one EKS, one GKE and one AKS, each with its own cast."""

from __future__ import annotations

from core.demo.cast import Cluster
from core.demo.clusters import aks, eks, gke


def demo_clusters() -> tuple[Cluster, ...]:
    return eks.cluster(), gke.cluster(), aks.cluster()
