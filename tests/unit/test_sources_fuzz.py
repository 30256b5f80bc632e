"""decode() is total: whatever arrives, it yields AuditEvents and Skips and never raises.

An `internal_error` Skip means decode's safety net caught a bug, so it fails these tests too.
"""

from __future__ import annotations

import base64
import gzip
import os
from datetime import UTC
from typing import Any

import msgspec
import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.model import AuditEvent
from core.sources import FORMATS, Format, Skip
from tests.unit.sources_wire import (
    awslogs_event,
    decode_all,
    fixture,
    message_published_cloudevent,
    pubsub_push_body,
)

FUZZ = settings(
    max_examples=int(os.environ.get("SECRETWATCH_FUZZ_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

# fmt: off
#: Keys every decoder looks up, so generated objects reach past the first check.
KEYS = (
    "kind", "apiVersion", "items", "verb", "auditID", "stage", "requestURI", "objectRef", "resource",
    "namespace", "name", "subresource", "apiGroup", "user", "username", "groups", "impersonatedUser",
    "sourceIPs", "userAgent", "responseStatus", "code", "message", "annotations", "stageTimestamp",
    "requestReceivedTimestamp", "timestamp", "p_log_type", "p_source_label", "awslogs", "data",
    "messageType", "logGroup", "logStream", "logEvents", "id", "protoPayload", "serviceName", "methodName",
    "resourceName", "status", "response", "authorizationInfo", "granted", "authenticationInfo",
    "principalEmail", "requestMetadata", "callerIp", "labels", "operation", "insertId", "logName",
    "specversion", "data_base64", "time", "attributes", "publishTime", "records", "category", "properties",
    "log", "resourceId",
)
# fmt: on
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=20)
    | st.sampled_from(
        [
            "k8s.io",
            "Event",
            "EventList",
            "DATA_MESSAGE",
            "CONTROL_MESSAGE",
            "kube-audit",
            "core/v1/namespaces/ns/secrets/x",
            "io.k8s.core.v1.secrets.get",
            "2024-05-14T09:12:44Z",
            "kube-apiserver-audit-1",
            "/aws/eks/c/cluster",
            "Status",
            "{",
            "[Truncated...]",
        ]
    )
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), children, max_size=6)
    ),
    max_leaves=25,
)
SHAPED = st.dictionaries(st.sampled_from(KEYS), JSON_VALUES, max_size=10)


def _real_documents() -> list[Any]:
    return [
        fixture("k8s/secret_get_denied.json"),
        fixture("k8s/webhook_eventlist.json"),
        fixture("eks/data_message_audit.json"),
        awslogs_event(fixture("eks/data_message_audit.json")),
        fixture("gke/secret_get_denied.json"),
        fixture("gke/secret_create_conflict.json"),
        pubsub_push_body(fixture("gke/secret_get_denied.json")),
        message_published_cloudevent(fixture("gke/secret_get_denied.json")),
        fixture("gke/cloudevent_auditlog_secret_get.json"),
        fixture("aks/eventhub_body.json"),
        fixture("aks/record_log_as_object.json"),
    ]


REAL = _real_documents()


def assert_total(document: Any, fmt: Format = "auto") -> list[AuditEvent | Skip]:
    items = decode_all(document, fmt)
    for item in items:
        assert isinstance(item, AuditEvent | Skip)
        if isinstance(item, Skip):
            assert item.reason != "internal_error", item
            assert len(item.detail) <= 160
    return items


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path inside a parsed document."""
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            found += paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += paths(child, (*prefix, index))
    return found


def is_json(text: bytes) -> bool:
    try:
        orjson.loads(text)
    except orjson.JSONDecodeError:
        return False
    return True


def has_empty_array(value: Any) -> bool:
    if isinstance(value, list):
        return not value or any(has_empty_array(item) for item in value)
    return isinstance(value, dict) and any(has_empty_array(item) for item in value.values())


def replaced(document: Any, path: tuple[Any, ...], value: Any) -> Any:
    copy = orjson.loads(orjson.dumps(document))
    target = copy
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return copy


@FUZZ
@given(document=JSON_VALUES, fmt=st.sampled_from(FORMATS))
def test_any_json_value_in_any_format(document: Any, fmt: Format) -> None:
    assert_total(document, fmt)


@FUZZ
@given(document=SHAPED, fmt=st.sampled_from(FORMATS))
def test_objects_built_from_the_keys_decoders_read(document: dict[str, Any], fmt: Format) -> None:
    assert_total(document, fmt)


@FUZZ
@given(data=st.data())
def test_a_wrong_type_in_any_field_of_a_real_envelope(data: st.DataObject) -> None:
    document = data.draw(st.sampled_from(REAL))
    path = data.draw(st.sampled_from(paths(document)))
    value = data.draw(JSON_VALUES)

    items = assert_total(replaced(document, path, value))

    if not has_empty_array(value):  # an empty batch is legitimately nothing at all
        assert items


@FUZZ
@given(data=st.data())
def test_real_envelopes_cut_or_with_random_bytes(data: st.DataObject) -> None:
    text = orjson.dumps(data.draw(st.sampled_from(REAL)))
    cut = data.draw(st.integers(0, len(text)))
    noise = data.draw(st.binary(max_size=8))
    mutated = text[:cut] + noise + text[cut + len(noise) :]

    items = assert_total(mutated)

    if is_json(mutated):
        return
    assert [(item.reason, item.malformed) for item in items if isinstance(item, Skip)] == [("invalid_json", True)]


@FUZZ
@given(data=st.data())
def test_corrupted_compressed_cloudwatch_data(data: st.DataObject) -> None:
    packed = bytearray(gzip.compress(orjson.dumps(fixture("eks/data_message_audit.json"))))
    for _ in range(data.draw(st.integers(1, 4))):
        packed[data.draw(st.integers(0, len(packed) - 1))] = data.draw(st.integers(0, 255))
    packed = packed[: data.draw(st.integers(0, len(packed)))]

    items = assert_total({"awslogs": {"data": base64.b64encode(bytes(packed)).decode()}})

    assert items


@FUZZ
@given(data=st.data())
def test_corrupted_base64_in_every_envelope(data: st.DataObject) -> None:
    body = pubsub_push_body(fixture("gke/secret_get_denied.json"))
    lambda_event = awslogs_event(fixture("eks/data_message_audit.json"))
    for holder in (body["message"], lambda_event["awslogs"]):
        encoded = list(holder["data"])
        index = data.draw(st.integers(0, len(encoded) - 1))
        encoded[index] = data.draw(st.sampled_from("!*-_=. A\n"))
        holder["data"] = "".join(encoded)

    assert assert_total(body)
    assert assert_total(lambda_event)


CANONICAL = st.fixed_dictionaries(
    {
        "kind": st.just("Event"),
        "apiVersion": st.just("audit.k8s.io/v1"),
        "auditID": st.uuids().map(str),
        "stage": st.sampled_from(["RequestReceived", "ResponseStarted", "ResponseComplete"]),
        "verb": st.sampled_from(["get", "list", "watch", "create", "patch", "delete"]),
        "user": st.fixed_dictionaries(
            {
                "username": st.text(min_size=1, max_size=30),
                "groups": st.lists(st.text(min_size=1, max_size=10), max_size=3),
            }
        ),
        "sourceIPs": st.lists(st.ip_addresses().map(str), min_size=1, max_size=2),
        "objectRef": st.fixed_dictionaries(
            {
                "resource": st.sampled_from(["secrets", "pods", "configmaps"]),
                "namespace": st.text(min_size=1, max_size=12),
            }
        ),
        "responseStatus": st.fixed_dictionaries({"code": st.sampled_from([200, 201, 401, 403, 404, 500])}),
        "stageTimestamp": st.datetimes(timezones=st.just(UTC)).map(
            lambda moment: moment.isoformat().replace("+00:00", "Z")
        ),
    },
)


@FUZZ
@given(event=CANONICAL)
def test_one_event_normalizes_the_same_raw_in_eks_and_in_aks(event: dict[str, Any]) -> None:
    text = orjson.dumps(event).decode()
    eks = {
        "messageType": "DATA_MESSAGE",
        "logGroup": "/aws/eks/prod/cluster",
        "logStream": "kube-apiserver-audit-1",
        "logEvents": [{"id": "1", "timestamp": 0, "message": text}],
    }
    aks = {"records": [{"category": "kube-audit", "properties": {"log": text + "\n"}, "resourceId": "/X/PROD"}]}

    raw_event, eks_event, aks_event = (assert_total(document)[0] for document in (event, awslogs_event(eks), aks))

    assert isinstance(raw_event, AuditEvent)
    assert isinstance(eks_event, AuditEvent)
    assert isinstance(aks_event, AuditEvent)
    assert (eks_event.cloud, eks_event.cluster, aks_event.cloud, aks_event.cluster) == (
        "aws",
        "prod",
        "azure",
        "prod",
    )
    for cloud_event in (eks_event, aks_event):
        assert cloud_event == msgspec.structs.replace(raw_event, cloud=cloud_event.cloud, cluster=cloud_event.cluster)
