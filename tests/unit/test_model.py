"""The normalized event is a value: frozen, hashable, compared by its fields, replaced field by field."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import pytest

from core.model import AuditEvent

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
