"""Demo traffic: a day of realistic audit events from EKS, GKE and AKS in their real wire formats."""

from __future__ import annotations

from core.demo.traffic import PlantedAttack, Traffic, audit_events, generate_day

__all__ = ["PlantedAttack", "Traffic", "audit_events", "generate_day"]
