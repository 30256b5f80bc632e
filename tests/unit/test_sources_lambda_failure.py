"""A Lambda on-failure destination record, as the SQS queue holds it: its requestPayload is decoded again."""

from __future__ import annotations

from typing import Any

import orjson

from core.model import AuditEvent
from core.sources import Skip, detect
from tests.unit.sources_wire import awslogs_event, decode_all, fixture, only_skip

AUDIT_BATCH = "eks/data_message_audit.json"


def on_failure_record(request_payload: Any) -> dict[str, Any]:
    """What Lambda sends to an SQS on-failure destination after an asynchronous invocation's last retry."""
    return {
        "version": "1.0",
        "timestamp": "2024-05-14T09:13:05.568Z",
        "requestContext": {
            "requestId": "e4b46cbf-b738-4c8b-8880-a18cdf61200e",
            "functionArn": "arn:aws:lambda:us-east-1:111122223333:function:secretwatch-eks:$LATEST",
            "condition": "RetriesExhausted",
            "approximateInvokeCount": 3,
        },
        "requestPayload": request_payload,
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": {
            "errorMessage": "store unavailable",
            "errorType": "StateError",
            "requestId": "e4b46cbf-b738-4c8b-8880-a18cdf61200e",
            "stackTrace": [],
        },
    }


def test_an_on_failure_record_gives_what_the_event_it_holds_gives() -> None:
    event = awslogs_event(fixture(AUDIT_BATCH))
    record = on_failure_record(event)

    assert detect(record) == "lambda_failure"
    items = decode_all(record)
    assert items == decode_all(event)
    assert [item.verb for item in items if isinstance(item, AuditEvent)] == ["get", "list", "get"]


def test_an_on_failure_record_read_from_the_queue_as_text_decodes_too() -> None:
    event = awslogs_event(fixture(AUDIT_BATCH))

    assert decode_all(orjson.dumps(on_failure_record(event))) == decode_all(event)


def test_forcing_eks_accepts_an_on_failure_record() -> None:
    event = awslogs_event(fixture(AUDIT_BATCH))

    assert decode_all(on_failure_record(event), "eks") == decode_all(event, "eks")


def test_an_on_failure_record_without_its_payload_is_one_malformed_skip() -> None:
    skip = only_skip(on_failure_record("not the event"))

    assert (skip.reason, skip.malformed, skip.cloud) == ("missing_fields", True, "aws")
    assert "requestPayload" in (skip.detail or "")
    assert isinstance(skip, Skip)
