"""Alert objects for the tests of core/alerts, with realistic defaults and one attacker-chosen string."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from core.model import Alert, AlertContext

#: What an attacker can put in a user agent, a username or a secret name: terminal escapes, markup,
#: a mail header after CR/LF, and a right-to-left override.
HOSTILE = "curl/8\x1b[2J\x1b[31m<script>alert(1)</script>\r\nBcc: victim@example.com\u202e"

RUNBOOK = (
    "1. Ask the owner of alice@example.com whether this client is theirs.\n"
    "2. If not, rotate payments/db-password and revoke the user's credentials."
)


def make_context(**changes: Any) -> AlertContext:
    context = AlertContext(
        username="alice@example.com",
        namespace="payments",
        source_ip="203.0.113.9",
        source_ips=("203.0.113.9", "10.0.4.17"),
        user_agent="python-requests/2.31.0",
        verb="get",
        resource="secrets",
        name="db-password",
        request_uri="/api/v1/namespaces/payments/secrets/db-password",
        response_code=200,
    )
    return replace(context, **changes)


def make_alert(context: AlertContext | None = None, **changes: Any) -> Alert:
    alert = Alert(
        alert_id="sw-5b1f0c3e9a7d4e21",
        rule_id="secret-access-unusual-user-agent",
        title="Secret payments/db-password read by alice@example.com with a new user agent",
        severity="high",
        risk_score=73,
        dedup_key="203.0.113.9|alice@example.com|python-requests/2.31.0",
        event_count=1,
        first_seen=datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC),
        last_seen=datetime(2024, 5, 1, 12, 4, 30, 250000, tzinfo=UTC),
        cloud="aws",
        cluster="prod-eks",
        context=context or make_context(),
        audit_ids=("0f6a1e52-7d0b-4a3c-9a55-0d7b1e0b8c11",),
        mitre=("T1552.007",),
        runbook=RUNBOOK,
    )
    return replace(alert, **changes)


def hostile_alert() -> Alert:
    """An alert whose log-derived values (and the title built from them) are all HOSTILE."""
    context = make_context(username=HOSTILE, user_agent=HOSTILE, name=HOSTILE)
    return make_alert(context, title=f"Secret payments/{HOSTILE} read by {HOSTILE}", dedup_key=HOSTILE)
