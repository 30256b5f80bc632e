"""Raw audit.k8s.io/v1 Events, EventLists and arrays, and the normalization rules every cloud shares."""

from __future__ import annotations

from datetime import UTC, datetime
from io import BytesIO

import pytest

from core.errors import ConfigError
from core.model import AuditEvent
from core.sources import FORMATS, Skip, decode, detect
from core.sources.documents import iter_documents
from tests.unit.sources_wire import (
    RECEIVED_AT,
    awslogs_event,
    decode_all,
    fixture,
    fixture_bytes,
    only_event,
    only_skip,
    without,
)

FAKE_SECRET = "FAKE-secretwatch-value-must-never-leak"
FAKE_SECRET_B64 = "RkFLRS1zZWNyZXR3YXRjaC12YWx1ZS1tdXN0LW5ldmVyLWxlYWs="


def test_denied_secret_get_is_normalized_field_by_field() -> None:
    event = only_event(fixture_bytes("k8s/secret_get_denied.json"))

    assert event == AuditEvent(
        cloud="k8s",
        timestamp=datetime(2024, 5, 14, 9, 12, 44, 121090, tzinfo=UTC),
        audit_id="4f0e1b52-9c1d-4e55-8f6a-2d8f3c7b9a10",
        stage="ResponseComplete",
        cluster=None,
        verb="get",
        resource="secrets",
        namespace="payments",
        name="db-credentials",
        api_version="v1",
        username="arn:aws:sts::111122223333:assumed-role/eks-readonly/mallory",
        groups=("eks-readonly", "system:authenticated"),
        source_ips=("203.0.113.45",),
        user_agent="kubectl/v1.29.2 (linux/amd64) kubernetes/4b8e819",
        request_uri="/api/v1/namespaces/payments/secrets/db-credentials",
        response_code=403,
        response_message=(
            'secrets "db-credentials" is forbidden: User "arn:aws:sts::111122223333:assumed-role/'
            'eks-readonly/mallory" cannot get resource "secrets" in API group "" in the namespace "payments"'
        ),
        failed=True,
        decision="forbid",
    )


def test_allowed_secret_list_has_no_name_and_keeps_a_non_format_user_agent() -> None:
    event = only_event(fixture_bytes("k8s/secret_list_allowed_python_requests.json"))

    assert (event.verb, event.resource, event.namespace, event.name) == ("list", "secrets", "payments", None)
    assert event.user_agent == "python-requests/2.31.0"
    assert (event.response_code, event.failed, event.decision) == (200, False, "allow")


def test_controller_keeps_its_kubernetes_format_user_agent_and_service_account() -> None:
    event = only_event(fixture_bytes("k8s/controller_secret_get_format_agent.json"))

    assert event.user_agent == "external-secrets/v0.0.0 (linux/amd64) kubernetes/$Format"
    assert event.username == "system:serviceaccount:external-secrets:external-secrets"
    assert event.groups == (
        "system:serviceaccounts",
        "system:serviceaccounts:external-secrets",
        "system:authenticated",
    )


def test_both_stages_of_one_request_share_the_audit_id_and_only_the_last_has_an_outcome() -> None:
    documents = list(iter_documents(BytesIO(fixture_bytes("k8s/secret_get_two_stages.jsonl"))))
    received, complete = (only_event(document) for document in documents)

    assert received.audit_id == complete.audit_id
    assert (received.stage, received.response_code, received.failed) == ("RequestReceived", None, None)
    assert (complete.stage, complete.response_code, complete.failed) == ("ResponseComplete", 200, False)
    assert received.timestamp < complete.timestamp


def test_a_bad_item_in_an_eventlist_keeps_its_neighbours() -> None:
    items = decode_all(fixture_bytes("k8s/webhook_eventlist.json"))

    assert [type(item).__name__ for item in items] == ["AuditEvent", "Skip", "AuditEvent"]
    assert isinstance(items[1], Skip)
    assert (items[1].reason, items[1].malformed) == ("wrong_type", True)
    assert [item.audit_id for item in items if isinstance(item, AuditEvent)] == [
        "4f0e1b52-9c1d-4e55-8f6a-2d8f3c7b9a10",
        "0b9e4c7d-1f2a-4b3c-8d5e-6f7a8b9c0d12",
    ]


def test_a_bare_array_may_mix_events_and_eventlists() -> None:
    event = fixture("k8s/secret_get_denied.json")
    batch = fixture("k8s/webhook_eventlist.json")

    items = decode_all([event, batch])

    assert sum(isinstance(item, AuditEvent) for item in items) == 3
    assert sum(isinstance(item, Skip) for item in items) == 1


def _request_response_fixture_wrapped() -> dict[str, object]:
    """The RequestResponse-level patch (request and response objects hold a fake secret), in every shape."""
    text = fixture_bytes("k8s/secret_patch_request_response.json").decode()
    cut = text[:1200]

    def eks(message: str) -> dict[str, object]:
        return awslogs_event(
            {
                "messageType": "DATA_MESSAGE",
                "logGroup": "/aws/eks/prod/cluster",
                "logStream": "kube-apiserver-audit-0",
                "logEvents": [{"id": "1", "timestamp": 1715678131219, "message": message}],
            }
        )

    def aks(log: str) -> dict[str, object]:
        return {"records": [{"category": "kube-audit", "properties": {"log": log}}]}

    return {
        "raw event": fixture("k8s/secret_patch_request_response.json"),
        "raw event without auditID": without(fixture("k8s/secret_patch_request_response.json"), "auditID"),
        "EKS message": eks(text),
        "EKS truncated message": eks(cut + "[Truncated...]"),
        "AKS record": aks(text),
        "AKS cut-off log": aks(cut),
    }


@pytest.mark.parametrize("shape", list(_request_response_fixture_wrapped()))
def test_request_and_response_objects_never_reach_anything_decode_yields(shape: str) -> None:
    items = decode_all(_request_response_fixture_wrapped()[shape])

    assert items
    assert FAKE_SECRET not in repr(items)
    assert FAKE_SECRET_B64 not in repr(items)


def test_impersonation_keeps_the_caller_and_the_impersonated_user() -> None:
    document = fixture("k8s/secret_list_allowed_python_requests.json")
    document["impersonatedUser"] = {"username": "alice@example.com", "groups": ["system:authenticated"]}

    event = only_event(document)

    assert event.username == "arn:aws:sts::111122223333:assumed-role/eks-admin/dana"
    assert event.impersonated_user == "alice@example.com"


@pytest.mark.parametrize(
    ("removed", "expected", "inferred"),
    [
        ((), datetime(2024, 5, 14, 9, 12, 44, 121090, tzinfo=UTC), frozenset()),
        (("stageTimestamp",), datetime(2024, 5, 14, 9, 12, 44, 120311, tzinfo=UTC), frozenset()),
        (("stageTimestamp", "requestReceivedTimestamp"), RECEIVED_AT, frozenset({"timestamp"})),
    ],
)
def test_timestamp_is_the_stage_time_then_the_receive_time_then_the_ingestion_time(
    removed: tuple[str, ...],
    expected: datetime,
    inferred: frozenset[str],
) -> None:
    event = only_event(without(fixture("k8s/secret_get_denied.json"), *removed))

    assert (event.timestamp, event.inferred) == (expected, inferred)


def test_legacy_top_level_timestamp_is_used_when_stage_times_are_missing() -> None:
    document = without(fixture("k8s/secret_get_denied.json"), "stageTimestamp", "requestReceivedTimestamp")
    document["timestamp"] = "2018-10-26T13:38:34Z"

    assert only_event(document).timestamp == datetime(2018, 10, 26, 13, 38, 34, tzinfo=UTC)


def test_identical_events_without_audit_id_share_a_fingerprint_id() -> None:
    document = without(fixture("k8s/secret_get_denied.json"), "auditID")
    other = dict(document, verb="list")

    first, again, different = only_event(document), only_event(dict(document)), only_event(other)

    assert first.audit_id.startswith("sha256:")
    assert len(first.audit_id) == len("sha256:") + 64
    assert first.audit_id == again.audit_id != different.audit_id
    assert first.inferred == {"audit_id"}


def test_fields_of_the_wrong_type_read_as_missing() -> None:
    document = fixture("k8s/secret_get_denied.json")
    document.update(
        sourceIPs=["203.0.113.45", 7, None, {"ip": "x"}, "10.0.0.1"],
        userAgent=["kubectl"],
        objectRef={"resource": 5, "namespace": None, "name": "db-credentials", "apiGroup": False},
        responseStatus={"code": True, "message": {"text": "no"}},
        annotations=["authorization.k8s.io/decision"],
        stage=42,
    )
    document["user"]["groups"] = "system:authenticated"

    event = only_event(document)

    assert event.source_ips == ("203.0.113.45", "10.0.0.1")
    assert (event.user_agent, event.resource, event.namespace, event.api_group) == (None, None, None, None)
    assert event.name == "db-credentials"
    assert (event.response_code, event.failed, event.response_message) == (None, None, None)
    assert (event.decision, event.stage, event.groups) == (None, None, ())


def test_a_float_response_code_is_not_a_code() -> None:
    document = fixture("k8s/secret_get_denied.json")
    document["responseStatus"] = {"code": 403.0}

    assert only_event(document).response_code is None


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ({"hello": "world"}, "not_audit_event"),
        ({"kind": "Event", "apiVersion": "audit.k8s.io/v1"}, "missing_fields"),
        (b'"just a string"', "wrong_type"),
        (17, "wrong_type"),
    ],
)
def test_records_that_are_not_audit_events_are_malformed_skips(document: object, reason: str) -> None:
    skip = only_skip(document, "k8s")

    assert (skip.reason, skip.malformed) == (reason, True)


def test_panther_samples_name_their_cloud_and_cluster() -> None:
    document = fixture("k8s/secret_get_denied.json")
    document.update(p_log_type="Amazon.EKS.Audit", p_source_label="prod-payments-eks")

    event = only_event(document)

    assert (event.cloud, event.cluster) == ("aws", "prod-payments-eks")


def test_kind_may_be_missing_when_verb_and_another_event_field_are_present() -> None:
    assert detect(without(fixture("k8s/secret_get_denied.json"), "kind", "apiVersion")) == "k8s"
    assert detect({"verb": "get", "requestURI": "/readyz"}) == "k8s"
    assert detect({"verb": "get"}) == "unknown"


def test_a_core_v1_cluster_event_is_not_an_audit_event() -> None:
    cluster_event = {
        "kind": "Event",
        "apiVersion": "v1",
        "reason": "BackOff",
        "involvedObject": {"kind": "Pod"},
    }

    assert detect(cluster_event) == "unknown"
    assert only_skip(cluster_event).reason == "unknown_format"


def test_invalid_json_is_counted_without_echoing_the_text() -> None:
    skip = only_skip(b'{"verb": "get", "password": "hunter2"')

    assert (skip.reason, skip.malformed, skip.cloud) == ("invalid_json", True, None)
    assert "hunter2" not in skip.detail


def test_envelopes_nested_beyond_the_limit_are_too_deep() -> None:
    document: object = fixture("k8s/secret_get_denied.json")
    for _ in range(12):
        document = [document]

    skip = only_skip(document)

    assert (skip.reason, skip.malformed) == ("too_deep", True)


def test_forcing_k8s_on_another_format_skips_it_as_not_an_audit_event() -> None:
    skip = only_skip(fixture("gke/secret_get_denied.json"), "k8s")

    assert skip.reason == "not_audit_event"


def test_a_mapping_that_is_not_a_dict_is_accepted() -> None:
    from types import MappingProxyType

    assert only_event(MappingProxyType(fixture("k8s/secret_get_denied.json"))).verb == "get"


def test_an_unknown_format_name_is_a_configuration_error() -> None:
    assert FORMATS == ("auto", "k8s", "eks", "gke", "aks")
    with pytest.raises(ConfigError, match="auto, k8s, eks, gke, aks"):
        decode(b"{}", fmt="cloudtrail", received_at=RECEIVED_AT)  # type: ignore[arg-type]
