"""EKS: CloudWatch Logs subscription data, as the Lambda `awslogs` event and as the decoded DATA_MESSAGE."""

from __future__ import annotations

import base64
import gzip
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from core.model import AuditEvent
from core.sources import Skip, detect, eks
from tests.unit.sources_wire import awslogs_event, decode_all, fixture, only_event, only_skip

AUDIT_BATCH = "eks/data_message_audit.json"


def reasons(items: list[AuditEvent | Skip]) -> list[str]:
    return [item.reason if isinstance(item, Skip) else "event" for item in items]


@pytest.mark.parametrize("compression", ["gzip", "zlib"])
def test_lambda_event_yields_each_audit_event_and_a_skip_for_each_bad_message(compression: Any) -> None:
    items = decode_all(awslogs_event(fixture(AUDIT_BATCH), compression))

    assert reasons(items) == ["event", "event", "event", "truncated_message", "invalid_json"]
    events = [item for item in items if isinstance(item, AuditEvent)]
    assert [(e.verb, e.resource, e.response_code) for e in events] == [
        ("get", "secrets", 403),
        ("list", "secrets", 200),
        ("get", "secrets", 200),
    ]
    assert {(e.cloud, e.cluster) for e in events} == {("aws", "prod-payments")}


def test_the_decoded_data_message_gives_the_same_items_as_the_lambda_event() -> None:
    assert decode_all(fixture(AUDIT_BATCH)) == decode_all(awslogs_event(fixture(AUDIT_BATCH)))
    assert detect(fixture(AUDIT_BATCH)) == "eks_data"
    assert detect(awslogs_event(fixture(AUDIT_BATCH))) == "eks"


def test_denied_secret_get_keeps_the_iam_identity() -> None:
    event = decode_all(fixture(AUDIT_BATCH))[0]

    assert isinstance(event, AuditEvent)
    assert event.username == "arn:aws:sts::111122223333:assumed-role/eks-readonly/mallory"
    assert (event.failed, event.decision, event.source_ip) == (True, "forbid", "203.0.113.45")


def test_control_message_is_an_expected_skip() -> None:
    skip = only_skip(awslogs_event(fixture("eks/control_message.json")))

    assert skip == Skip("control_message", malformed=False, cloud="aws", detail=skip.detail)


def test_other_control_plane_streams_are_skipped_once_per_log_event_without_parsing() -> None:
    items = decode_all(awslogs_event(fixture("eks/data_message_authenticator.json")))

    assert len(items) == 2
    assert all(
        isinstance(item, Skip) and (item.reason, item.malformed) == ("other_log_stream", False)
        for item in items
    )


@pytest.mark.parametrize(
    ("stream", "audit"),
    [
        ("kube-apiserver-audit-71976ca11bea5d3083393f7d32dab75b", True),
        ("kube-apiserver-71976ca11bea5d3083393f7d32dab75b", False),
        ("kube-controller-manager-71976ca11bea5d3083393f7d32dab75b", False),
        ("cloud-controller-manager-71976ca11bea5d3083393f7d32dab75b", False),
        ("kube-scheduler-71976ca11bea5d3083393f7d32dab75b", False),
        ("authenticator-71976ca11bea5d3083393f7d32dab75b", False),
        ("forwarded-audit", True),
    ],
)
def test_the_audit_stream_prefix_is_checked_before_the_api_server_prefix(stream: str, audit: bool) -> None:
    batch = fixture(AUDIT_BATCH)
    batch["logStream"] = stream

    first = decode_all(batch)[0]

    assert isinstance(first, AuditEvent) is audit


def test_truncated_message_detail_carries_only_the_audit_id() -> None:
    skip = decode_all(fixture(AUDIT_BATCH))[3]

    assert isinstance(skip, Skip)
    assert (skip.reason, skip.malformed, skip.cloud) == ("truncated_message", True, "aws")
    assert skip.detail == "CloudWatch truncated the event; auditID 7a7a7a7a-1b1b-4c4c-8d8d-9e9e9e9e9e9e"


def test_a_message_without_timestamps_takes_the_log_event_time() -> None:
    batch = fixture(AUDIT_BATCH)
    event = fixture("k8s/secret_get_denied.json")
    del event["stageTimestamp"], event["requestReceivedTimestamp"]
    batch["logEvents"] = [{"id": "1", "timestamp": 1715677964121, "message": orjson.dumps(event).decode()}]

    decoded = only_event(batch)

    assert decoded.timestamp == datetime(2024, 5, 14, 9, 12, 44, 121000, tzinfo=UTC)
    assert "timestamp" not in decoded.inferred


def test_a_log_group_not_named_like_eks_gives_no_cluster() -> None:
    batch = fixture(AUDIT_BATCH)
    batch["logGroup"] = "/custom/audit"

    assert {item.cluster for item in decode_all(batch) if isinstance(item, AuditEvent)} == {None}


@pytest.mark.parametrize(
    ("log_event", "reason"),
    [
        ("a string", "wrong_type"),
        ({"id": "1", "timestamp": 1}, "wrong_type"),
        ({"id": "1", "timestamp": 1, "message": ""}, "invalid_json"),
        ({"id": "1", "timestamp": 1, "message": '{"hello": 1}'}, "not_audit_event"),
    ],
)
def test_a_bad_log_event_is_skipped_and_its_neighbours_kept(log_event: object, reason: str) -> None:
    batch = fixture(AUDIT_BATCH)
    batch["logEvents"].insert(1, log_event)

    items = decode_all(awslogs_event(batch))

    assert reasons(items) == ["event", reason, "event", "event", "truncated_message", "invalid_json"]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ("not base64 at all!", "bad_base64"),
        (base64.b64encode(b'{"messageType": "DATA_MESSAGE"}').decode(), "bad_compression"),
        (base64.b64encode(gzip.compress(b'{"logEvents": []}')[:-12]).decode(), "bad_compression"),
        (base64.b64encode(gzip.compress(b"not json")).decode(), "invalid_json"),
        (base64.b64encode(gzip.compress(b"[1, 2]")).decode(), "wrong_type"),
        (None, "missing_fields"),
        (12, "missing_fields"),
    ],
)
def test_a_broken_lambda_event_is_one_malformed_skip(data: object, reason: str) -> None:
    skip = only_skip({"awslogs": {"data": data}})

    assert (skip.reason, skip.malformed, skip.cloud) == (reason, True, "aws")


def test_a_decompression_bomb_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(eks, "MAX_INFLATED_BYTES", 1024)
    bomb = {"awslogs": {"data": base64.b64encode(gzip.compress(b" " * 4096)).decode()}}

    assert only_skip(bomb).reason == "bad_compression"


def test_an_unknown_message_type_is_malformed() -> None:
    batch = fixture(AUDIT_BATCH)
    batch["messageType"] = "SURPRISE_MESSAGE"

    assert only_skip(batch).reason == "unknown_format"


def test_forcing_eks_on_another_format_is_an_unknown_format() -> None:
    skip = only_skip(fixture("aks/record_log_as_object.json"), "eks")

    assert (skip.reason, skip.malformed) == ("unknown_format", True)
