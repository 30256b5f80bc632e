"""Small builders for engine tests: events and rules made in code, not read from the wire."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from core.model import AuditEvent
from core.rules.loader import load_rules
from core.rules.schema import Rule, ThresholdSpec

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
RULES = {rule.id: rule for rule in load_rules()}
DENIED = RULES["secret-access-denied"]
UNUSUAL = RULES["secret-access-unusual-user-agent"]


def denied(
    n: int,
    at: timedelta = timedelta(0),
    *,
    user: str = "mallory@example.com",
    ns: str = "payments",
    audit_id: str | None = None,
) -> AuditEvent:
    return AuditEvent(
        cloud="aws",
        timestamp=T0 + at,
        audit_id=audit_id or f"deny-{user}-{ns}-{n}",
        stage="ResponseComplete",
        cluster="prod",
        verb="get",
        resource="secrets",
        namespace=ns,
        name=f"guess-{n}",
        username=user,
        source_ips=("203.0.113.7",),
        user_agent="kubectl/v1.30.2",
        response_code=403,
        failed=True,
    )


def read(
    n: int,
    at: timedelta = timedelta(0),
    *,
    agent: str = "curl/8.5.0",
    ip: str = "198.51.100.23",
    user: str = "system:serviceaccount:payments:api",
) -> AuditEvent:
    return AuditEvent(
        cloud="gcp",
        timestamp=T0 + at,
        audit_id=f"read-{n}",
        stage="ResponseComplete",
        cluster="prod-gke",
        verb="get",
        resource="secrets",
        namespace="payments",
        name="stripe",
        username=user,
        source_ips=(ip,),
        user_agent=agent,
        response_code=200,
        failed=False,
    )


def sliding(rule: Rule = DENIED) -> Rule:
    assert rule.threshold is not None
    spec = ThresholdSpec(rule.threshold.group_by, rule.threshold.count, rule.threshold.window, "sliding")
    return dataclasses.replace(rule, threshold=spec)
