"""AKS: diagnostic records delivered by Event Hub, with the audit Event in properties.log."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.model import AuditEvent
from core.sources import Skip, detect
from tests.unit.sources_wire import decode_all, fixture, only_event, only_skip

BODY = "aks/eventhub_body.json"


def outcomes(items: list[AuditEvent | Skip]) -> list[tuple[str, bool | None]]:
    return [(item.reason, item.malformed) if isinstance(item, Skip) else ("event", None) for item in items]


def test_event_hub_body_decodes_each_record_and_skips_the_rest_by_kind() -> None:
    items = decode_all(fixture(BODY))

    assert outcomes(items) == [
        ("event", None),
        ("event", None),
        ("wrong_type", True),
        ("event", None),
        ("other_category", False),
        ("invalid_json", True),
    ]


def test_records_become_azure_events_named_after_the_lowercased_cluster() -> None:
    events = [item for item in decode_all(fixture(BODY)) if isinstance(item, AuditEvent)]

    assert {(event.cloud, event.cluster) for event in events} == {("azure", "prod-payments")}
    denied, listed, patched = events
    assert (denied.verb, denied.resource, denied.failed, denied.decision) == (
        "get",
        "secrets",
        True,
        "forbid",
    )
    assert denied.source_ips == ("20.43.245.209", "172.31.52.37")
    assert (listed.verb, listed.name, listed.failed) == ("list", None, False)
    assert (patched.username, patched.api_group, patched.resource) == ("masterclient", "apps", "deployments")


def test_kube_audit_admin_and_a_log_given_as_an_object_are_both_read() -> None:
    record = fixture("aks/record_log_as_object.json")
    assert detect(record) == "aks_record"

    event = only_event(record)

    assert (event.verb, event.namespace, event.name) == ("patch", "payments", "checkout")


def test_other_categories_carrying_klog_text_are_expected_skips() -> None:
    record = fixture(BODY)["records"][4]
    assert record["properties"]["log"].startswith("I0514 ")

    skip = only_skip(record)

    assert skip == Skip("other_category", malformed=False, cloud="azure", detail="category kube-apiserver")


def test_klog_text_under_an_audit_category_is_invalid_json() -> None:
    skip = only_skip(fixture(BODY)["records"][5])

    assert (skip.reason, skip.malformed, skip.cloud) == ("invalid_json", True, "azure")


def test_a_log_cut_at_16_kib_is_a_cut_off_log_naming_only_its_audit_id() -> None:
    record = fixture("aks/record_cut_off_log.json")
    assert len(record["properties"]["log"]) == 16384

    skip = only_skip(record)

    assert (skip.reason, skip.malformed) == ("cut_off_log", True)
    assert skip.detail == "properties.log is cut off; auditID 0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"


@pytest.mark.parametrize(
    ("time", "expected"),
    [
        ("2020-11-09T10:57:31.0000000Z", datetime(2020, 11, 9, 10, 57, 31, tzinfo=UTC)),
        ("2025-10-07T16:19:19.647880072Z", datetime(2025, 10, 7, 16, 19, 19, 647880, tzinfo=UTC)),
    ],
)
def test_the_record_time_stands_in_for_an_event_without_timestamps(time: str, expected: datetime) -> None:
    record = fixture("aks/record_log_as_object.json")
    record["time"] = time
    del record["properties"]["log"]["stageTimestamp"], record["properties"]["log"]["requestReceivedTimestamp"]

    assert only_event(record).timestamp == expected


def test_without_resource_id_the_panther_source_label_names_the_cluster() -> None:
    record = fixture("aks/record_log_as_object.json")
    del record["resourceId"]
    record["p_source_label"] = "aks-prod"

    assert only_event(record).cluster == "aks-prod"


@pytest.mark.parametrize(
    ("properties", "reason"),
    [
        ({}, "missing_fields"),
        ({"log": 42}, "wrong_type"),
        ({"log": "   "}, "invalid_json"),
        ("not an object", "missing_fields"),
    ],
)
def test_a_record_without_a_usable_log_is_malformed(properties: object, reason: str) -> None:
    record = fixture("aks/record_log_as_object.json")
    record["properties"] = properties

    assert only_skip(record).reason == reason


def test_a_non_string_category_is_malformed() -> None:
    record = fixture("aks/record_log_as_object.json")
    record["category"] = ["kube-audit"]

    assert only_skip(record).reason == "wrong_type"


def test_an_array_of_event_hub_bodies_is_decoded_body_by_body() -> None:
    items = decode_all([fixture(BODY), fixture(BODY)])

    assert outcomes(items) == outcomes(decode_all(fixture(BODY))) * 2


def test_records_that_are_not_an_array_are_malformed() -> None:
    assert only_skip({"records": {"category": "kube-audit"}}).reason == "wrong_type"


def test_records_of_several_clusters_in_one_body_keep_their_own_cluster() -> None:
    body = fixture(BODY)
    first, second = [
        item for item in body["records"] if isinstance(item, dict) and item.get("category") == "kube-audit"
    ][:2]
    second["resourceId"] = first["resourceId"].replace("PROD-PAYMENTS", "PROD-LEDGER")
    third = {**first, "resourceId": "", "p_source_label": "aks-labelled"}
    fourth = {**third, "p_source_label": "aks-other"}
    unlabelled = {**first, "resourceId": ""}
    body["records"] = [first, second, first, unlabelled, third, fourth, second]

    clusters = [item.cluster for item in decode_all(body) if isinstance(item, AuditEvent)]

    assert clusters == [
        "prod-payments",
        "prod-ledger",
        "prod-payments",
        None,
        "aks-labelled",
        "aks-other",
        "prod-ledger",
    ]
