"""GKE: Cloud Logging LogEntries whose protoPayload is a k8s.io AuditLog."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from core.model import AuditEvent
from core.sources import Skip
from core.sources.gke import GRPC_TO_HTTP, Target, parse_resource_name
from tests.unit.sources_wire import RECEIVED_AT, decode_all, fixture, only_event, only_skip, without

DENIED = "gke/secret_get_denied.json"


def test_denied_secret_get_is_rebuilt_from_method_and_resource_names() -> None:
    event = only_event(fixture(DENIED))

    assert event == AuditEvent(
        cloud="gcp",
        timestamp=datetime(2024, 5, 14, 9, 12, 44, 121090, tzinfo=UTC),
        audit_id="2b7e0c4a-6d1f-4c8e-9a3b-5f2d1e0c9b8a",
        stage=None,
        cluster="prod-payments",
        verb="get",
        resource="secrets",
        namespace="payments",
        name="db-credentials",
        api_group=None,
        api_version="v1",
        username="mallory@example.com",
        groups=(),
        source_ips=("203.0.113.45",),
        user_agent="kubectl/v1.29.2 (linux/amd64) kubernetes/4b8e819",
        request_uri="/api/v1/namespaces/payments/secrets/db-credentials",
        response_code=403,
        response_message="PERMISSION_DENIED",
        failed=True,
        decision="forbid",
        inferred=frozenset({"request_uri", "response_code"}),
        account="acme-prod",
    )


@pytest.mark.parametrize(
    "path",
    ["gke/secret_list_allowed_status_empty.json", "gke/controller_secret_get_status_code0.json"],
)
def test_success_as_empty_status_or_code_zero_is_not_failed_and_invents_no_http_code(path: str) -> None:
    event = only_event(fixture(path))

    assert (event.failed, event.response_code, event.decision) == (False, None, "allow")
    assert "response_code" not in event.inferred


def test_a_missing_status_is_success() -> None:
    entry = fixture("gke/secret_list_allowed_status_empty.json")
    del entry["protoPayload"]["status"]

    assert only_event(entry).failed is False


def test_cluster_wide_secret_list_has_no_namespace() -> None:
    event = only_event(fixture("gke/secret_list_allowed_status_empty.json"))

    assert (event.verb, event.resource, event.namespace, event.name) == ("list", "secrets", None, None)
    assert event.request_uri == "/api/v1/secrets"


def test_controller_user_agent_is_kept() -> None:
    event = only_event(fixture("gke/controller_secret_get_status_code0.json"))

    assert event.user_agent == "external-secrets/v0.0.0 (linux/amd64) kubernetes/$Format"
    assert event.username == "system:serviceaccount:external-secrets:external-secrets"


def test_a_logged_kubernetes_status_gives_the_http_code() -> None:
    event = only_event(fixture("gke/secret_create_conflict.json"))

    assert (event.response_code, event.failed) == (409, True)
    assert "response_code" not in event.inferred


def test_only_a_status_response_is_read_for_a_code() -> None:
    entry = fixture("gke/secret_list_allowed_status_empty.json")
    entry["protoPayload"]["response"] = {"@type": "core.k8s.io/v1.SecretList", "code": 500, "items": []}

    assert only_event(entry).response_code is None


@pytest.mark.parametrize(("grpc", "http"), [(16, 401), (5, 404), (8, 429), (14, 503), (1, 499)])
def test_a_grpc_failure_maps_to_its_http_equivalent_and_says_so(grpc: int, http: int) -> None:
    entry = fixture(DENIED)
    entry["protoPayload"]["status"] = {"code": grpc}

    event = only_event(entry)

    assert (event.response_code, event.failed) == (http, True)
    assert "response_code" in event.inferred


def test_every_grpc_failure_code_has_an_http_equivalent() -> None:
    assert sorted(GRPC_TO_HTTP) == list(range(1, 17))


def test_an_out_of_range_grpc_code_has_an_unknown_outcome() -> None:
    entry = fixture(DENIED)
    entry["protoPayload"]["status"] = {"code": 99}

    event = only_event(entry)

    assert (event.failed, event.response_code) == (None, None)


@pytest.mark.parametrize(
    ("grants", "decision"),
    [
        ([{"granted": False}], "forbid"),
        ([{"granted": True}, {"granted": False}], "forbid"),
        ([{"granted": True}, {"permission": "io.k8s.get"}], "allow"),
        ([{"permission": "io.k8s.get"}], None),
        ("granted", None),
    ],
)
def test_without_a_decision_label_the_grants_decide(grants: Any, decision: str | None) -> None:
    entry = without(fixture(DENIED), "labels")
    entry["protoPayload"]["authorizationInfo"] = grants

    assert only_event(entry).decision == decision


def test_caller_ip_is_also_read_in_panthers_spelling() -> None:
    entry = fixture(DENIED)
    entry["protoPayload"]["requestMetadata"] = {"callerIP": "8.8.8.8"}

    event = only_event(entry)

    assert (event.source_ips, event.user_agent) == (("8.8.8.8",), None)


def test_audit_id_is_the_operation_id_then_the_insert_id_then_a_fingerprint() -> None:
    entry = fixture(DENIED)
    entry["insertId"] = "insert-1"
    assert only_event(entry).audit_id == "2b7e0c4a-6d1f-4c8e-9a3b-5f2d1e0c9b8a"

    del entry["operation"]
    assert only_event(entry).audit_id == "insert-1"

    del entry["insertId"]
    event = only_event(entry)
    assert event.audit_id.startswith("sha256:")
    assert "audit_id" in event.inferred


def test_without_entry_timestamps_the_ingestion_time_is_used() -> None:
    event = only_event(without(fixture(DENIED), "timestamp", "receiveTimestamp"))

    assert (event.timestamp, "timestamp" in event.inferred) == (RECEIVED_AT, True)


def test_the_receive_timestamp_is_the_fallback_for_the_entry_time() -> None:
    event = only_event(without(fixture(DENIED), "timestamp"))

    assert event.timestamp == datetime(2024, 5, 14, 9, 12, 49, 870331, tzinfo=UTC)


def test_the_cluster_management_api_is_not_the_kubernetes_api() -> None:
    skip = only_skip(fixture("gke/container_api_set_node_pool_size.json"))

    assert (skip.reason, skip.malformed, skip.cloud) == ("not_k8s_api", False, "gcp")
    assert skip.detail == "serviceName container.googleapis.com"


def test_an_entry_without_protopayload_is_not_from_the_kubernetes_api() -> None:
    skip = only_skip(without(fixture(DENIED), "protoPayload"))

    assert (skip.reason, skip.malformed) == ("not_k8s_api", False)


def test_one_bad_entry_in_a_logging_export_keeps_its_neighbours() -> None:
    items = decode_all(fixture("gke/logging_read_export.json"))

    assert [type(item).__name__ for item in items] == ["AuditEvent", "Skip", "AuditEvent"]
    assert isinstance(items[1], Skip)
    assert (items[1].reason, items[1].malformed) == ("wrong_type", True)


def test_request_and_response_bodies_are_never_read_into_the_event() -> None:
    entry = fixture("gke/secret_create_conflict.json")
    entry["protoPayload"]["request"] = {
        "@type": "core.k8s.io/v1.Secret",
        "data": {"password": "c2VjcmV0LTQy"},
    }

    assert "c2VjcmV0LTQy" not in repr(decode_all(entry))


@pytest.mark.parametrize(
    ("resource_name", "expected"),
    [
        (
            "core/v1/namespaces/payments/secrets/db-credentials",
            Target(
                "/api/v1/namespaces/payments/secrets/db-credentials",
                None,
                "v1",
                "secrets",
                "payments",
                "db-credentials",
                None,
                rebuilt_uri=True,
            ),
        ),
        (
            "core/v1/namespaces/payments/pods/checkout-0/exec",
            Target(
                "/api/v1/namespaces/payments/pods/checkout-0/exec",
                None,
                "v1",
                "pods",
                "payments",
                "checkout-0",
                "exec",
                rebuilt_uri=True,
            ),
        ),
        (
            "core/v1/namespaces/payments/secrets",
            Target(
                "/api/v1/namespaces/payments/secrets", None, "v1", "secrets", "payments", rebuilt_uri=True
            ),
        ),
        ("core/v1/secrets", Target("/api/v1/secrets", None, "v1", "secrets", rebuilt_uri=True)),
        (
            "core/v1/nodes/gke-pool-1-abcd",
            Target(
                "/api/v1/nodes/gke-pool-1-abcd",
                None,
                "v1",
                "nodes",
                None,
                "gke-pool-1-abcd",
                rebuilt_uri=True,
            ),
        ),
        (
            "core/v1/nodes/gke-pool-1-abcd/status",
            Target(
                "/api/v1/nodes/gke-pool-1-abcd/status",
                None,
                "v1",
                "nodes",
                None,
                "gke-pool-1-abcd",
                "status",
                rebuilt_uri=True,
            ),
        ),
        (
            "core/v1/namespaces/foo",
            Target("/api/v1/namespaces/foo", None, "v1", "namespaces", "foo", "foo", rebuilt_uri=True),
        ),
        (
            "core/v1/namespaces/foo/finalize",
            Target(
                "/api/v1/namespaces/foo/finalize",
                None,
                "v1",
                "namespaces",
                "foo",
                "foo",
                "finalize",
                rebuilt_uri=True,
            ),
        ),
        (
            "rbac.authorization.k8s.io/v1/clusterroles/admin",
            Target(
                "/apis/rbac.authorization.k8s.io/v1/clusterroles/admin",
                "rbac.authorization.k8s.io",
                "v1",
                "clusterroles",
                None,
                "admin",
                rebuilt_uri=True,
            ),
        ),
        (
            "coordination.k8s.io/v1/namespaces/kube-system/leases/kube-scheduler",
            Target(
                "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/kube-scheduler",
                "coordination.k8s.io",
                "v1",
                "leases",
                "kube-system",
                "kube-scheduler",
                rebuilt_uri=True,
            ),
        ),
        ("readyz", Target("/readyz")),
        ("/readyz", Target("/readyz")),
        ("HNAP1", Target("/HNAP1")),
        ("api/v1", Target("/api/v1")),
        ("apis/apps/v1", Target("/apis/apps/v1")),
        (
            "vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php",
            Target("/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php"),
        ),
    ],
)
def test_resource_name_is_split_by_segments(resource_name: str, expected: Target) -> None:
    assert parse_resource_name(resource_name) == expected


def test_without_resource_name_the_method_names_the_resource() -> None:
    assert parse_resource_name(None, "io.k8s.core.v1.pods.exec.create") == Target(
        api_version="v1",
        resource="pods",
        subresource="exec",
    )
    assert parse_resource_name(None, "io.k8s.get") == Target()


def test_non_resource_requests_take_the_verb_from_the_method() -> None:
    entry = fixture(DENIED)
    entry["protoPayload"].update(methodName="io.k8s.get", resourceName="readyz")

    event = only_event(entry)

    assert (event.verb, event.resource, event.request_uri) == ("get", None, "/readyz")
    assert "request_uri" not in event.inferred


def test_the_project_is_resource_labels_project_id_else_the_one_log_name_names() -> None:
    entry = fixture(DENIED)
    entry["resource"]["labels"]["project_id"] = "from-labels"
    entry["logName"] = "projects/from-log-name/logs/cloudaudit.googleapis.com%2Fdata_access"
    assert only_event(entry).account == "from-labels"

    del entry["resource"]["labels"]["project_id"]
    assert only_event(entry).account == "from-log-name"

    entry["logName"] = "organizations/1234/logs/cloudaudit.googleapis.com%2Fdata_access"
    assert only_event(entry).account is None
