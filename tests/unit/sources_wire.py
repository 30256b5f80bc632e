"""Fixture loading and envelope builders for the tests of core/sources.

No public sample keeps a real audit event inside an EKS Lambda event, a GKE Pub/Sub message or a
CloudEvent, so these builders wrap this project's fixtures the way each service does (see
tests/fixtures/README.md).
"""

from __future__ import annotations

import base64
import copy
import gzip
import zlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import orjson

from core.model import AuditEvent
from core.sources import Format, Skip, decode

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
RECEIVED_AT = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


def fixture_bytes(relative: str) -> bytes:
    return (FIXTURES / relative).read_bytes()


def fixture(relative: str) -> Any:
    """A fresh parsed copy, so a test may change it."""
    return orjson.loads(fixture_bytes(relative))


def decode_all(document: Any, fmt: Format = "auto") -> list[AuditEvent | Skip]:
    return list(decode(document, fmt=fmt, received_at=RECEIVED_AT))


def only_event(document: Any, fmt: Format = "auto") -> AuditEvent:
    items = decode_all(document, fmt)
    assert len(items) == 1, items
    assert isinstance(items[0], AuditEvent), items[0]
    return items[0]


def only_skip(document: Any, fmt: Format = "auto") -> Skip:
    items = decode_all(document, fmt)
    assert len(items) == 1, items
    assert isinstance(items[0], Skip), items[0]
    return items[0]


def awslogs_event(data_message: Any, compression: Literal["gzip", "zlib"] = "gzip") -> dict[str, Any]:
    """The Lambda event a CloudWatch Logs subscription delivers: base64(gzip(DATA_MESSAGE JSON))."""
    raw = orjson.dumps(data_message)
    packed = gzip.compress(raw) if compression == "gzip" else zlib.compress(raw)
    return {"awslogs": {"data": base64.b64encode(packed).decode()}}


def pubsub_message(log_entry: Any) -> dict[str, Any]:
    """A Pub/Sub message from a Cloud Logging sink: the data ends with a newline, ids come twice."""
    data = base64.b64encode(orjson.dumps(log_entry) + b"\n").decode()
    return {
        "attributes": {"logging.googleapis.com/timestamp": "2024-05-14T09:12:44.121090Z"},
        "data": data,
        "messageId": "11223344556677",
        "message_id": "11223344556677",
        "publishTime": "2024-05-14T09:12:50.338Z",
        "publish_time": "2024-05-14T09:12:50.338Z",
    }


def pubsub_push_body(log_entry: Any) -> dict[str, Any]:
    return {
        "message": pubsub_message(log_entry),
        "subscription": "projects/acme-prod/subscriptions/secretwatch",
    }


def message_published_cloudevent(log_entry: Any) -> dict[str, Any]:
    """A structured CloudEvent from Eventarc's Pub/Sub trigger: data is MessagePublishedData."""
    message = pubsub_message(log_entry)
    message["@type"] = "type.googleapis.com/google.pubsub.v1.PubsubMessage"
    return {
        "specversion": "1.0",
        "id": "11223344556677",
        "source": "//pubsub.googleapis.com/projects/acme-prod/topics/gke-audit",
        "type": "google.cloud.pubsub.topic.v1.messagePublished",
        "datacontenttype": "application/json",
        "time": "2024-05-14T09:12:50.338Z",
        "data": {"message": message, "subscription": "projects/acme-prod/subscriptions/eventarc-secretwatch"},
    }


def without(document: dict[str, Any], *keys: str) -> dict[str, Any]:
    changed = copy.deepcopy(document)
    for key in keys:
        changed.pop(key, None)
    return changed
