"""One record that raises while it is decoded costs that record only: every envelope goes on with the rest.

Fault injection: no known input makes a normalizer raise (test_sources_fuzz checks that), so these tests
monkeypatch the per-record readers and normalizers (k8s_text.read, k8s.normalize, gke_text.read,
gke.normalize) to raise for one marked record, placed first, in the middle and last of each envelope.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest

from core.model import AuditEvent
from core.sources import gke, gke_text, k8s, k8s_text
from tests.unit.sources_wire import (
    awslogs_event,
    decode_all,
    fixture,
    pubsub_push_body,
)

POISON = "poison-0000-0000-0000-000000000000"
IDS = ("first-0000", "middle-0000", "last-0000")


def k8s_event(audit_id: str) -> dict[str, Any]:
    event = fixture("k8s/secret_get_denied.json")
    event["auditID"] = audit_id
    return event


def gke_entry(audit_id: str) -> dict[str, Any]:
    entry = fixture("gke/secret_get_denied.json")
    entry["operation"]["id"] = entry["insertId"] = audit_id
    return entry


def data_message(ids: list[str]) -> dict[str, Any]:
    return {
        "messageType": "DATA_MESSAGE",
        "logGroup": "/aws/eks/prod-payments/cluster",
        "logStream": "kube-apiserver-audit-0123456789abcdef0123456789abcdef",
        "logEvents": [
            {"id": str(index), "timestamp": 1715678000000, "message": orjson.dumps(k8s_event(audit_id)).decode()}
            for index, audit_id in enumerate(ids)
        ],
    }


def aks_record(audit_id: str, *, log_as_object: bool = False) -> dict[str, Any]:
    event = k8s_event(audit_id)
    return {
        "category": "kube-audit",
        "operationName": "Microsoft.ContainerService/managedClusters/diagnosticLogs/Read",
        "resourceId": "/SUBSCRIPTIONS/X/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/PROD",
        "time": "2024-05-14T09:12:45.0000000Z",
        "properties": {"log": event if log_as_object else orjson.dumps(event).decode() + "\n"},
    }


ENVELOPES: dict[str, Callable[[list[str]], Any]] = {
    "EKS Lambda event": lambda ids: awslogs_event(data_message(ids)),
    "EKS DATA_MESSAGE": data_message,
    "AKS Event Hub body": lambda ids: {"records": [aks_record(audit_id) for audit_id in ids]},
    "AKS body, logs as objects": lambda ids: {"records": [aks_record(i, log_as_object=True) for i in ids]},
    "k8s EventList": lambda ids: {
        "kind": "EventList",
        "apiVersion": "audit.k8s.io/v1",
        "items": list(map(k8s_event, ids)),
    },
    "JSON array of audit Events": lambda ids: list(map(k8s_event, ids)),
    "JSON array of GKE LogEntries": lambda ids: list(map(gke_entry, ids)),
    "JSON array of Pub/Sub push bodies": lambda ids: [pubsub_push_body(gke_entry(i)) for i in ids],
    "JSON array of EKS Lambda events": lambda ids: [awslogs_event(data_message([i])) for i in ids],
}


@pytest.fixture(autouse=True)
def poisoned(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every per-record reader and normalizer raises for the record whose id is POISON."""

    def raising(original: Callable[..., Any], marked: Callable[[Any], bool]) -> Callable[..., Any]:
        def reader(record: Any, *args: Any) -> Any:
            if marked(record):
                raise RuntimeError("injected fault")
            return original(record, *args)

        return reader

    def in_text(text: Any) -> bool:
        return POISON in (text.decode() if isinstance(text, bytes) else text)

    def in_event(record: Any) -> bool:
        return isinstance(record, dict) and record.get("auditID") == POISON

    def in_entry(entry: Any) -> bool:
        return isinstance(entry, dict) and entry.get("insertId") == POISON

    monkeypatch.setattr(k8s_text, "read", raising(k8s_text.read, in_text))
    monkeypatch.setattr(k8s, "normalize", raising(k8s.normalize, in_event))
    monkeypatch.setattr(gke_text, "read", raising(gke_text.read, in_text))
    monkeypatch.setattr(gke, "normalize", raising(gke.normalize, in_entry))


@pytest.mark.parametrize("envelope", ENVELOPES)
@pytest.mark.parametrize("position", [0, 1, 2], ids=["first", "middle", "last"])
def test_a_record_that_raises_is_one_internal_error_and_its_neighbours_go_on(envelope: str, position: int) -> None:
    ids = list(IDS)
    ids[position] = POISON

    items = decode_all(ENVELOPES[envelope](ids))

    outcomes = [item.audit_id if isinstance(item, AuditEvent) else (item.reason, item.malformed) for item in items]
    expected: list[object] = list(ids)
    expected[position] = ("internal_error", True)
    assert outcomes == expected


def test_the_internal_error_names_the_exception_and_never_the_record() -> None:
    (_, skip, _) = decode_all(data_message([IDS[0], POISON, IDS[2]]))

    assert not isinstance(skip, AuditEvent)
    assert skip.detail == "RuntimeError while decoding; please report this input shape"
    assert skip.cloud == "aws"
