"""The normalized event is a value: frozen, hashable, compared by its fields, replaced field by field."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import pytest

from core.model import FIELDS, AlertContext, AuditEvent

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_an_audit_event_stays_frozen_hashable_and_replaceable() -> None:
    event = AuditEvent("aws", T0, "id-1", verb="get", groups=("system:masters",))
    with pytest.raises(AttributeError):
        event.verb = "list"  # type: ignore[misc]
    assert hash(event) == hash(AuditEvent("aws", T0, "id-1", verb="get", groups=("system:masters",)))
    assert msgspec.structs.replace(event, verb="list").verb == "list"
    assert (event.resource, event.source_ips, event.inferred) == (None, (), frozenset())


def test_events_differing_in_any_field_are_unequal() -> None:
    event = AuditEvent("aws", T0, "id-1", verb="get", source_ips=("10.0.0.1",))

    assert event != msgspec.structs.replace(event, source_ips=("10.0.0.2",))
    assert event != msgspec.structs.replace(event, inferred=frozenset({"timestamp"}))
    assert event.source_ip == "10.0.0.1"
    assert event.get("source_ip") == "10.0.0.1"


@pytest.mark.parametrize(
    ("fields", "target"),
    [
        ({"verb": "get", "namespace": "payments", "name": "db-password"}, "db-password"),
        ({"verb": "list", "namespace": "payments", "name": "db-password"}, "db-password"),  # a name wins
        ({"verb": "list", "namespace": "payments", "request_uri": "/api/v1/namespaces/payments/secrets"},
         "list:payments"),
        ({"verb": "watch", "namespace": "payments"}, "watch:payments"),
        ({"verb": "list", "request_uri": "/api/v1/secrets?limit=500"}, "list:/api/v1/secrets?limit=500"),
        ({"verb": "watch"}, "watch"),
        ({"verb": "get", "namespace": "payments"}, None),  # a get without a name read nothing countable
        ({"verb": "create", "namespace": "payments", "request_uri": "/api/v1/namespaces/payments/secrets"}, None),
        ({}, None),
    ],
)
def test_the_access_target_is_the_name_else_a_collection_verb_and_its_scope(
    fields: dict[str, str], target: str | None
) -> None:
    """Panther's BulkSecretAccess unique(): distinct targets are counted, so a list counts once per namespace."""
    event = AuditEvent("aws", T0, "id-1", **fields)  # type: ignore[arg-type]

    assert event.access_target == target
    assert event.get("access_target") == target


def test_the_pod_node_and_access_target_are_rule_fields() -> None:
    event = AuditEvent("k8s", T0, "id-1", verb="get", name="db", pod_name="api-0", node_name="node-a")

    assert {"pod_name", "node_name", "access_target"} <= set(FIELDS)
    assert (event.get("pod_name"), event.get("node_name"), event.get("access_target")) == ("api-0", "node-a", "db")


def test_an_alert_context_carries_the_pod_and_node_of_its_event() -> None:
    event = AuditEvent("aws", T0, "id-1", username="system:serviceaccount:payments:api", pod_name="api-0",
                       node_name="ip-10-0-4-17.eu-west-1.compute.internal")

    context = AlertContext.of(event)

    assert (context.pod_name, context.node_name) == ("api-0", "ip-10-0-4-17.eu-west-1.compute.internal")
    assert (AlertContext.of(AuditEvent("gcp", T0, "id-2")).pod_name) is None
