"""secretwatch core: normalize Kubernetes audit events from EKS, GKE and AKS and detect secret abuse."""

__version__ = "0.1.0"
