"""Pub/Sub push bodies, pulled messages and CloudEvents around GKE LogEntries."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import orjson
import pytest

from core.sources import detect
from tests.unit.sources_wire import (
    decode_all,
    fixture,
    message_published_cloudevent,
    only_event,
    only_skip,
    pubsub_message,
    pubsub_push_body,
    without,
)

DENIED = "gke/secret_get_denied.json"


def test_push_body_with_duplicated_fields_decodes_to_the_log_entry_event() -> None:
    body = pubsub_push_body(fixture(DENIED))
    assert body["message"]["messageId"] == body["message"]["message_id"]
    assert base64.b64decode(body["message"]["data"]).endswith(b"\n")

    assert detect(body) == "pubsub"
    assert only_event(body) == only_event(fixture(DENIED))


def test_a_pulled_message_decodes_like_a_push_body() -> None:
    assert only_event(pubsub_message(fixture(DENIED))) == only_event(fixture(DENIED))


def test_cloudevent_with_message_published_data_decodes() -> None:
    cloudevent = message_published_cloudevent(fixture(DENIED))

    assert detect(cloudevent) == "cloudevent"
    assert only_event(cloudevent) == only_event(fixture(DENIED))


def test_eventarc_audit_log_cloudevent_carries_the_log_entry_itself() -> None:
    event = only_event(fixture("gke/cloudevent_auditlog_secret_get.json"))

    assert (event.verb, event.resource, event.namespace, event.failed) == ("get", "secrets", "payments", True)


def test_cloudevent_data_may_come_as_base64() -> None:
    cloudevent = fixture("gke/cloudevent_auditlog_secret_get.json")
    entry = cloudevent.pop("data")
    cloudevent["data_base64"] = base64.b64encode(orjson.dumps(entry)).decode()

    assert only_event(cloudevent) == only_event(entry)


def test_the_envelope_time_stands_in_for_a_log_entry_without_timestamps() -> None:
    entry = without(fixture(DENIED), "timestamp", "receiveTimestamp")

    event = only_event(pubsub_push_body(entry))

    assert event.timestamp == datetime(2024, 5, 14, 9, 12, 44, 121090, tzinfo=UTC)
    assert "timestamp" not in event.inferred


def test_a_non_kubernetes_log_entry_inside_pub_sub_is_an_expected_skip() -> None:
    skip = only_skip(pubsub_push_body(fixture("gke/container_api_set_node_pool_size.json")))

    assert (skip.reason, skip.malformed) == ("not_k8s_api", False)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ("%%% not base64 %%%", "bad_base64"),
        (base64.b64encode(b"test message 3").decode(), "invalid_json"),
        (None, "missing_fields"),
        (["list"], "wrong_type"),
    ],
)
def test_bad_message_data_is_one_malformed_skip(data: object, reason: str) -> None:
    body = pubsub_push_body(fixture(DENIED))
    body["message"]["data"] = data
    if data is None:
        del body["message"]["data"]

    skip = only_skip(body)

    assert (skip.reason, skip.malformed, skip.cloud) == (reason, True, "gcp")


def test_a_cloudevent_without_data_is_malformed() -> None:
    cloudevent = without(fixture("gke/cloudevent_auditlog_secret_get.json"), "data")

    assert only_skip(cloudevent).reason == "missing_fields"


def test_forcing_gke_accepts_its_envelopes_and_refuses_others() -> None:
    assert only_event(pubsub_push_body(fixture(DENIED)), "gke").verb == "get"
    assert only_skip(fixture("aks/record_log_as_object.json"), "gke").reason == "unknown_format"


def test_an_array_of_push_bodies_keeps_good_messages_around_a_bad_one() -> None:
    bad = pubsub_push_body(fixture(DENIED))
    bad["message"]["data"] = "!!"

    items = decode_all(
        [pubsub_push_body(fixture(DENIED)), bad, message_published_cloudevent(fixture(DENIED))]
    )

    assert [type(item).__name__ for item in items] == ["AuditEvent", "Skip", "AuditEvent"]
