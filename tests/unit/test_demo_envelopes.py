"""The demo's encoders write each cloud's real wire format; every document is decoded here by hand."""

from __future__ import annotations

import base64
import gzip
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from core.demo.envelopes import (
    aks_eventhub_body,
    aks_record,
    eks_data_message,
    eks_lambda_event,
    gke_log_entry,
    grpc_status,
    pubsub_push_body,
)

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus"
GKE = {"cluster": "analytics-euw1", "project": "acme-analytics-prod", "location": "europe-west1"}
AKS = {"cluster": "retail-aks-weu", "subscription_id": "3f2c9a1e-5b7d-4e60-9c1a-8d2e4f6a0b13",
       "resource_group": "rg-retail-prod"}
AUDIT_ID = "6f1c2d3e-4b5a-4c6d-9e8f-0a1b2c3d4e5f"
NINE_DIGITS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$")


def audit_event(verb: str, uri: str, object_ref: dict[str, Any] | None, *, code: int = 200,
                username: str = "riley.chen@acme.example", audit_id: str = AUDIT_ID,
                stamp: str = "2026-11-02T18:33:56.120456Z") -> dict[str, Any]:
    """A Metadata-level audit Event as the API server writes it."""
    event: dict[str, Any] = {
        "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata", "auditID": audit_id,
        "stage": "ResponseComplete", "requestURI": uri, "verb": verb,
        "user": {"username": username, "groups": ["system:authenticated"]},
        "sourceIPs": ["198.51.100.87"], "userAgent": "kubectl/v1.30.2 (darwin/arm64) kubernetes/3968350",
    }
    if object_ref is not None:
        event["objectRef"] = object_ref
    decision = "forbid" if code == 403 else "allow"
    event["responseStatus"] = {"metadata": {}, "code": code}
    event["requestReceivedTimestamp"] = "2026-11-02T18:33:56.112093Z"
    event["stageTimestamp"] = stamp
    event["annotations"] = {"authorization.k8s.io/decision": decision, "authorization.k8s.io/reason": ""}
    return event


def ref(resource: str, namespace: str | None = None, name: str | None = None, **more: str) -> dict[str, Any]:
    found = {"resource": resource, "namespace": namespace, "name": name, "apiVersion": "v1", **more}
    return {key: value for key, value in found.items() if value is not None}


DENIED_GET = audit_event("get", "/api/v1/namespaces/airflow/secrets/airflow-db",
                         ref("secrets", "airflow", "airflow-db"), code=403)
ALLOWED_GET = audit_event("get", "/api/v1/namespaces/analytics/secrets/superset-secret-key",
                          ref("secrets", "analytics", "superset-secret-key"))
CLUSTER_WIDE_LIST = audit_event("list", "/api/v1/secrets?limit=500", ref("secrets"))
STATUS_PATCH = audit_event(
    "patch", "/api/v1/namespaces/analytics/pods/superset-6b8f9d7c5-w4mzt/status",
    ref("pods", "analytics", "superset-6b8f9d7c5-w4mzt", subresource="status"),
    username="system:node:gke-analytics-euw1-default-pool-7c1e2a9d-4kxq",
)
LEASE_UPDATE = audit_event(
    "update", "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/kube-scheduler?timeout=5s",
    ref("leases", "kube-system", "kube-scheduler", apiGroup="coordination.k8s.io"),
    username="system:kube-scheduler",
)
READYZ = audit_event("get", "/readyz", None, username="system:gke-master-healthcheck")


def eks_batch() -> list[dict[str, Any]]:
    """Three secret reads, a second and a millisecond apart."""
    return [
        audit_event("get", ALLOWED_GET["requestURI"], ALLOWED_GET["objectRef"],
                    audit_id=f"0000000{index}-aaaa-4bbb-8ccc-dddddddddddd",
                    stamp=f"2026-11-02T10:09:2{index}.00{index}123Z")
        for index in range(3)
    ]


def decode_awslogs(lambda_event: dict[str, Any]) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(gzip.decompress(base64.b64decode(lambda_event["awslogs"]["data"])))
    return decoded


def decode_pubsub_data(body: dict[str, Any]) -> str:
    return base64.b64decode(body["message"]["data"]).decode()


# --- EKS --------------------------------------------------------------------------------------------------

def test_eks_lambda_event_round_trips_to_the_same_audit_events() -> None:
    events = eks_batch()

    message = decode_awslogs(eks_lambda_event(events, cluster="shop-prod-use1", account="111122223333"))

    assert message["messageType"] == "DATA_MESSAGE"
    assert message["owner"] == "111122223333"
    assert message["logGroup"] == "/aws/eks/shop-prod-use1/cluster"
    assert re.fullmatch(r"kube-apiserver-audit-[0-9a-f]{32}", message["logStream"])
    assert message["subscriptionFilters"] == ["secretwatch-audit"]
    assert [json.loads(log["message"]) for log in message["logEvents"]] == events


def test_eks_log_events_carry_the_stage_time_in_ms_and_increasing_digit_ids() -> None:
    message = eks_data_message(eks_batch(), cluster="shop-prod-use1")

    logs = message["logEvents"]
    first = int(datetime(2026, 11, 2, 10, 9, 20, tzinfo=UTC).timestamp()) * 1000
    assert [log["timestamp"] for log in logs] == [first, first + 1001, first + 2002]
    assert all(isinstance(log["message"], str) for log in logs)
    assert all(log["id"].isdigit() and len(log["id"]) == 56 for log in logs)
    assert [int(log["id"]) for log in logs] == sorted(int(log["id"]) for log in logs)


def test_eks_ids_count_up_from_first_id_in_the_given_stream() -> None:
    stream = "kube-apiserver-audit-" + "a" * 32

    message = eks_data_message(eks_batch(), cluster="c", stream=stream, first_id=7)

    assert [log["id"] for log in message["logEvents"]] == ["7", "8", "9"]
    assert message["logStream"] == stream


def test_eks_encoding_is_deterministic() -> None:
    assert eks_lambda_event(eks_batch(), cluster="c") == eks_lambda_event(eks_batch(), cluster="c")


def test_an_event_without_any_timestamp_cannot_become_a_cloudwatch_log_event() -> None:
    event = {key: value for key, value in ALLOWED_GET.items() if not key.endswith("Timestamp")}

    with pytest.raises(ValueError, match="no stageTimestamp"):
        eks_data_message([event], cluster="c")


# --- GKE --------------------------------------------------------------------------------------------------

def test_gke_denied_secret_get_is_a_permission_denied_data_access_entry() -> None:
    entry = gke_log_entry(DENIED_GET, **GKE)

    payload = entry["protoPayload"]
    assert payload["methodName"] == "io.k8s.core.v1.secrets.get"
    assert payload["resourceName"] == "core/v1/namespaces/airflow/secrets/airflow-db"
    assert payload["status"] == {"code": 7, "message": "PERMISSION_DENIED"}
    assert payload["authorizationInfo"] == [{"granted": False, "permission": "io.k8s.core.v1.secrets.get",
                                             "resource": "core/v1/namespaces/airflow/secrets/airflow-db"}]
    assert entry["logName"] == "projects/acme-analytics-prod/logs/cloudaudit.googleapis.com%2Fdata_access"
    assert entry["labels"]["authorization.k8s.io/decision"] == "forbid"


def test_gke_allowed_get_has_an_empty_status_and_the_caller() -> None:
    payload = gke_log_entry(ALLOWED_GET, **GKE)["protoPayload"]

    assert payload["status"] == {}
    assert payload["authorizationInfo"][0]["granted"] is True
    assert payload["authenticationInfo"] == {"principalEmail": "riley.chen@acme.example"}
    assert payload["requestMetadata"] == {"callerIp": "198.51.100.87",
                                          "callerSuppliedUserAgent": ALLOWED_GET["userAgent"]}
    assert payload["@type"] == "type.googleapis.com/google.cloud.audit.AuditLog"
    assert payload["serviceName"] == "k8s.io"


def test_gke_cluster_wide_list_names_only_group_version_and_resource() -> None:
    payload = gke_log_entry(CLUSTER_WIDE_LIST, **GKE)["protoPayload"]

    assert payload["methodName"] == "io.k8s.core.v1.secrets.list"
    assert payload["resourceName"] == "core/v1/secrets"


def test_gke_subresource_write_goes_to_the_activity_log() -> None:
    entry = gke_log_entry(STATUS_PATCH, **GKE)

    assert entry["protoPayload"]["methodName"] == "io.k8s.core.v1.pods.status.patch"
    assert entry["protoPayload"]["resourceName"] == (
        "core/v1/namespaces/analytics/pods/superset-6b8f9d7c5-w4mzt/status")
    assert entry["logName"].endswith("cloudaudit.googleapis.com%2Factivity")


def test_gke_method_spells_a_dotted_group_as_a_reversed_domain_and_resource_name_keeps_it() -> None:
    payload = gke_log_entry(LEASE_UPDATE, **GKE)["protoPayload"]

    assert payload["methodName"] == "io.k8s.coordination.v1.leases.update"
    assert payload["resourceName"] == "coordination.k8s.io/v1/namespaces/kube-system/leases/kube-scheduler"


def test_gke_non_resource_request_uses_the_bare_verb_and_the_path() -> None:
    payload = gke_log_entry(READYZ, **GKE)["protoPayload"]

    assert payload["methodName"] == "io.k8s.get"
    assert payload["resourceName"] == "readyz"


def test_gke_entry_identifies_operation_cluster_and_times() -> None:
    entry = gke_log_entry(ALLOWED_GET, **GKE)

    assert entry["insertId"] == entry["operation"]["id"] == ALLOWED_GET["auditID"]
    assert entry["operation"] == {"first": True, "id": ALLOWED_GET["auditID"], "last": True,
                                  "producer": "k8s.io"}
    assert entry["resource"] == {"labels": {"cluster_name": "analytics-euw1", "location": "europe-west1",
                                            "project_id": "acme-analytics-prod"}, "type": "k8s_cluster"}
    assert entry["timestamp"] == "2026-11-02T18:33:56.120456Z"
    assert NINE_DIGITS.match(entry["receiveTimestamp"])
    assert entry["timestamp"] < entry["receiveTimestamp"] < "2026-11-02T18:34:01"


@pytest.mark.parametrize(("http", "grpc"), [(401, 16), (403, 7), (404, 5), (409, 6), (500, 13)])
def test_http_failures_map_to_grpc_codes(http: int, grpc: int) -> None:
    assert grpc_status(http)["code"] == grpc


@pytest.mark.parametrize("http", [None, 200, 201, 101])
def test_successes_have_an_empty_grpc_status(http: int | None) -> None:
    assert grpc_status(http) == {}


def test_pubsub_push_duplicates_camel_and_snake_fields_and_ends_data_with_a_newline() -> None:
    entry = gke_log_entry(DENIED_GET, **GKE)

    body = pubsub_push_body(entry, subscription="projects/p/subscriptions/sw", message_id="42")

    message = body["message"]
    assert message["messageId"] == message["message_id"] == "42"
    assert message["publishTime"] == message["publish_time"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", message["publishTime"])
    assert message["publishTime"] > entry["receiveTimestamp"][:23]
    assert message["attributes"] == {"logging.googleapis.com/timestamp": entry["timestamp"]}
    assert body["subscription"] == "projects/p/subscriptions/sw"
    data = decode_pubsub_data(body)
    assert data.endswith("\n")
    assert json.loads(data) == entry


# --- AKS --------------------------------------------------------------------------------------------------

def test_aks_record_holds_the_event_as_a_json_string_ending_in_a_newline() -> None:
    record = aks_record(LEASE_UPDATE, **AKS)

    log = record["properties"]["log"]
    assert isinstance(log, str)
    assert log.endswith("\n")
    assert json.loads(log) == LEASE_UPDATE
    assert record["properties"]["stream"] == "stdout"
    assert re.fullmatch(r"kube-apiserver-[a-z0-9]{10}-[a-z0-9]{5}", record["properties"]["pod"])
    assert re.fullmatch(r"[0-9a-f]{64}", record["properties"]["containerID"])


def test_aks_record_has_an_uppercase_resource_id_and_nanosecond_time() -> None:
    record = aks_record(LEASE_UPDATE, **AKS)

    assert record["resourceId"] == (
        "/SUBSCRIPTIONS/3F2C9A1E-5B7D-4E60-9C1A-8D2E4F6A0B13/RESOURCEGROUPS/RG-RETAIL-PROD"
        "/PROVIDERS/MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/RETAIL-AKS-WEU")
    assert record["category"] == "kube-audit"
    assert record["operationName"] == "Microsoft.ContainerService/managedClusters/diagnosticLogs/Read"
    assert NINE_DIGITS.match(record["time"])
    assert record["time"] > LEASE_UPDATE["stageTimestamp"][:-1]


def test_aks_category_can_be_chosen() -> None:
    assert aks_record(LEASE_UPDATE, **AKS, category="kube-audit-admin")["category"] == "kube-audit-admin"


def test_event_hub_body_wraps_records() -> None:
    records = [aks_record(LEASE_UPDATE, **AKS), aks_record(DENIED_GET, **AKS)]

    body = aks_eventhub_body(records)

    assert body == {"records": records}
    verbs = [json.loads(record["properties"]["log"])["verb"] for record in body["records"]]
    assert verbs == ["update", "get"]


# --- shape against published samples (skipped without the shared corpus) ----------------------------------

def corpus_sample(relative: str) -> dict[str, Any]:
    path = CORPUS / relative
    if not path.exists():
        pytest.skip(f"shared corpus not present: {path}")
    sample: dict[str, Any] = json.loads(path.read_text())
    return sample


def test_gke_entry_has_every_field_of_a_published_gke_entry() -> None:
    sample = corpus_sample("gke_logentry/elastic_gcp_get_api_v1_garbage_collector_sa.json")

    entry = gke_log_entry(READYZ, **GKE)

    assert set(sample) <= set(entry)
    assert set(sample["protoPayload"]) <= set(entry["protoPayload"])
    assert set(sample["operation"]) == set(entry["operation"])


def test_aks_record_has_every_field_of_a_published_aks_record() -> None:
    sample = corpus_sample("aks_eventhub/elastic_kube_audit_aksService_leases_update.json")

    record = aks_record(LEASE_UPDATE, **AKS)

    assert set(sample) == set(record)
    assert set(sample["properties"]) == set(record["properties"])


def test_pubsub_body_has_the_fields_of_a_published_push() -> None:
    sample = corpus_sample("gke_logentry/loki_pubsub_push_envelope_k8s_cluster_data_access.json")

    body = pubsub_push_body(gke_log_entry(READYZ, **GKE), subscription="projects/p/subscriptions/s",
                            message_id="5187581549398349")

    assert set(sample) == set(body)
    assert set(sample["message"]) == set(body["message"])
