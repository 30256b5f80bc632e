"""The typed LogEntry reader gives exactly what parsing and gke.normalize give, or steps aside (None)."""

from __future__ import annotations

import base64
import contextlib
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.demo.clusters import demo_clusters
from core.demo.delivery import deliver
from core.demo.traffic import audit_events
from core.model import AuditEvent
from core.sources import Skip, detect, gke, gke_text
from core.sources.documents import iter_documents
from core.sources.items import Origin
from core.sources.k8s import DECISION
from core.sources.values import b64decode
from tests.unit.sources_wire import FIXTURES, RECEIVED_AT, fixture

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
ORIGINS = (
    Origin(RECEIVED_AT),
    Origin(RECEIVED_AT, "gcp", "prod", datetime(2024, 5, 14, 9, 0, tzinfo=UTC)),
    Origin(RECEIVED_AT, "aws", None, None),
)
DENIED = "gke/secret_get_denied.json"
CONFLICT = "gke/secret_create_conflict.json"
SECRET = "c3VwZXItc2VjcmV0LXZhbHVl"


def general_way(text: bytes | str, origin: Origin) -> AuditEvent | Skip:
    return gke.normalize(orjson.loads(text), origin)


def assert_read_agrees(text: bytes | str) -> AuditEvent | None:
    for origin in ORIGINS:
        event = gke_text.read(text, origin)
        assert event is None or event == general_way(text, origin), text
    return gke_text.read(text, ORIGINS[0])


def text_of(entry: Any) -> bytes:
    """As a Cloud Logging sink publishes it: keys sorted, a newline at the end."""
    return orjson.dumps(entry, option=orjson.OPT_SORT_KEYS) + b"\n"


def log_entries(path: Path) -> list[dict[str, Any]]:
    """The LogEntries in a file: bare, in arrays, as CloudEvent data and base64 in Pub/Sub messages."""
    found: list[dict[str, Any]] = []
    with path.open("rb") as stream:
        for document in iter_documents(stream):
            try:
                _collect(orjson.loads(document), found)
            except orjson.JSONDecodeError:
                continue
    return found


def _collect(value: Any, found: list[dict[str, Any]]) -> None:
    if isinstance(value, list):
        for item in value:
            _collect(item, found)
    if not isinstance(value, dict):
        return
    if "protoPayload" in value:
        found.append(value)
    for key, item in value.items():
        payload = b64decode(item) if key == "data" and isinstance(item, str) else None
        if payload is not None:
            with contextlib.suppress(orjson.JSONDecodeError):
                _collect(orjson.loads(payload), found)
        _collect(item, found)


def assert_all_read_the_same(paths: list[Path]) -> list[AuditEvent | None]:
    """Each entry agrees, and each k8s.io entry carrying its own id and time is read the fast way."""
    read = []
    for entry in (entry for path in paths for entry in log_entries(path)):
        event = assert_read_agrees(text_of(entry))
        expected = general_way(text_of(entry), ORIGINS[0])
        if isinstance(expected, AuditEvent) and not expected.inferred & {"audit_id", "timestamp"}:
            assert event is not None, entry
        read.append(event)
    return read


def test_every_log_entry_in_the_fixtures_reads_the_same() -> None:
    read = assert_all_read_the_same(sorted((FIXTURES / "gke").rglob("*.json")))

    assert len(read) > 7
    assert sum(event is not None for event in read) >= 7


@pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus is absent")
def test_every_log_entry_in_the_corpus_reads_the_same() -> None:
    read = assert_all_read_the_same(sorted(CORPUS.rglob("*.json")))

    assert len(read) > 30
    assert sum(event is not None for event in read) > 10


def demo_log_entries() -> list[bytes]:
    """The LogEntry texts of a day of demo traffic delivered as GKE Pub/Sub pushes (GKE logs no stages)."""
    start = datetime(2026, 11, 2, tzinfo=UTC)
    events = audit_events(start=start, hours=24, events=1500, seed=5, secret_share=0.5, denied_share=0.2)
    stream = (("gcp", event) for _, event in events if event.get("stage") != "RequestReceived")
    clusters = {cluster.cloud: cluster for cluster in demo_clusters()}
    bodies = [body for _, body in deliver(stream, clusters, random.Random(5))]
    return [base64.b64decode(orjson.loads(body)["message"]["data"]) for body in bodies]


def test_generated_traffic_is_read_the_fast_way() -> None:
    texts = demo_log_entries()
    events = [assert_read_agrees(text) for text in texts]

    assert len(texts) > 1000
    assert all(event is not None for event in events)
    assert {event.failed for event in events if event} == {False, True}


def test_text_is_read_as_bytes_or_as_str() -> None:
    text = text_of(fixture(CONFLICT))
    event = gke_text.read(text, ORIGINS[1])

    assert event is not None
    assert gke_text.read(text.decode(), ORIGINS[1]) == event == general_way(text, ORIGINS[1])


_DROP: Any = object()


def changed(relative: str, top: dict[str, Any], payload: dict[str, Any] | None = None) -> dict[str, Any]:
    """A fixture with top-level and then protoPayload keys replaced, or removed where the value is _DROP."""
    entry: dict[str, Any] = fixture(relative)
    _apply(entry, top)
    if isinstance(entry.get("protoPayload"), dict):
        _apply(entry["protoPayload"], payload or {})
    return entry


def _apply(target: dict[str, Any], changes: dict[str, Any]) -> None:
    for key, value in changes.items():
        if value is _DROP:
            target.pop(key, None)
        else:
            target[key] = value


@pytest.mark.parametrize(
    ("top", "payload", "fast"),
    [
        ({}, {}, True),
        ({"operation": None}, {}, True),  # the insertId is the id
        ({"operation": {"id": ""}}, {}, True),
        ({"operation": _DROP, "insertId": _DROP}, {}, False),  # the id would be a hash of the entry
        ({"operation": {"id": ""}, "insertId": ""}, {}, False),
        ({"operation": {"id": 7}}, {}, False),
        ({"insertId": 7}, {}, False),
        ({"timestamp": _DROP}, {}, True),  # receiveTimestamp
        ({"timestamp": "not a time"}, {}, True),
        ({"timestamp": _DROP, "receiveTimestamp": ""}, {}, False),  # the envelope's time would be used
        ({"timestamp": 1715677964}, {}, False),
        ({"resource": None, "p_source_label": "panther-gke"}, {}, True),
        ({"resource": {"labels": {"cluster_name": ""}}}, {}, True),
        ({"resource": {"labels": {"cluster_name": "c", "project_id": 42}}}, {}, True),
        ({"resource": {"labels": {"project_id": "p" * 600}}}, {}, False),  # the general way cuts it
        ({"resource": {"labels": {"project_id": ""}}, "logName": "projects/from-log-name/logs/x"}, {}, True),
        ({"resource": _DROP, "logName": "projects//logs/x"}, {}, True),
        ({"logName": 7}, {}, False),
        ({"resource": "k8s_cluster"}, {}, False),
        ({"p_source_label": ["x"]}, {}, False),
        ({"labels": _DROP}, {}, True),  # the grants decide
        ({"labels": {DECISION: "", "k8s.io/deprecated": "true", "other": 3}}, {}, True),
        ({"labels": {DECISION: 1}}, {}, False),
        ({}, {"authorizationInfo": "granted"}, True),  # the label decides: the grants are not read
        ({"labels": _DROP}, {"authorizationInfo": "granted"}, False),
        ({"labels": _DROP}, {"authorizationInfo": [{"granted": True}, {"permission": "io.k8s.get"}]}, True),
        ({"labels": _DROP}, {"authorizationInfo": [{"permission": "io.k8s.get"}]}, True),
        ({"labels": _DROP}, {"authorizationInfo": [{"granted": "yes"}]}, False),
        ({"labels": _DROP}, {"authorizationInfo": [None]}, False),
        ({"labels": _DROP}, {"authorizationInfo": None}, True),
        ({"labels": _DROP}, {"authorizationInfo": []}, True),
        ({}, {"serviceName": _DROP}, True),  # an io.k8s. methodName is enough
        ({}, {"serviceName": _DROP, "methodName": "google.container.v1.ClusterManager.SetNodePoolSize"}, False),
        ({}, {"serviceName": "container.googleapis.com"}, False),
        ({}, {"serviceName": ""}, False),
        ({}, {"serviceName": 1}, False),
        ({}, {"methodName": ""}, True),
        ({}, {"methodName": 3}, False),
        ({}, {"resourceName": _DROP}, True),  # the method names the resource
        ({}, {"resourceName": "readyz", "methodName": "io.k8s.get"}, True),
        ({}, {"resourceName": ""}, True),
        ({}, {"status": None}, True),
        ({}, {"status": {}}, True),
        ({}, {"status": {"code": 0}}, True),
        ({}, {"status": {"code": 99}}, True),
        ({}, {"status": {"code": -1}}, True),
        ({}, {"status": {"code": 9223372036854775807}}, True),
        ({}, {"status": {"code": True}}, False),
        ({}, {"status": {"code": 7.0}}, False),
        ({}, {"status": {"code": "7"}}, False),
        ({}, {"status": {"code": 7, "message": ""}}, True),
        ({}, {"status": []}, False),
        ({}, {"response": {"@type": "core.k8s.io/v1.Status", "code": 404}}, True),
        ({}, {"response": {"kind": "Status", "code": 409}}, True),
        ({}, {"response": {"@type": "core.k8s.io/v1.Secret", "code": 500}}, True),  # not a Status
        ({}, {"response": {"kind": "Status"}}, True),
        ({}, {"response": {"kind": "Status", "code": True}}, False),
        ({}, {"response": {"kind": "Status", "code": 409.0}}, False),
        ({}, {"response": "Status"}, False),
        ({}, {"response": None}, True),
        ({}, {"authenticationInfo": {}}, True),
        ({}, {"authenticationInfo": {"principalEmail": ""}}, True),
        ({}, {"authenticationInfo": "mallory@example.com"}, False),
        ({}, {"authenticationInfo": {"principalSubject": "principal://iam.googleapis.com/x/subject/dana"}}, True),
        ({}, {"authenticationInfo": {"principalEmail": "", "authoritySelector": "system:anonymous"}}, True),
        ({}, {"authenticationInfo": {"authoritySelector": 1}}, False),
        ({}, {"requestMetadata": {"callerIP": "8.8.8.8"}}, True),
        ({}, {"requestMetadata": {"callerIp": "", "callerIP": "8.8.8.8"}}, True),
        ({}, {"requestMetadata": {"callerIp": "203.0.113.45", "callerIP": "8.8.8.8"}}, True),
        ({}, {"requestMetadata": {"callerIp": ["203.0.113.45"]}}, False),
        ({}, {"requestMetadata": None}, True),
        ({}, {"request": {"@type": "core.k8s.io/v1.Secret", "data": [1, {"a": None}]}}, True),
    ],
)
def test_edge_cases_read_the_same_or_step_aside(top: dict[str, Any], payload: dict[str, Any], fast: bool) -> None:
    event = assert_read_agrees(text_of(changed(DENIED, top, payload)))

    assert (event is not None) is fast


@pytest.mark.parametrize(
    "text",
    ["", "[]", '"x"', "null", "{", '{"protoPayload": {}} x', "I0109 klog text", "\ufeff{}", "[{}]"],
)
def test_text_that_is_not_one_json_object_steps_aside(text: str) -> None:
    assert gke_text.read(text, ORIGINS[0]) is None
    assert gke_text.read(text.encode(), ORIGINS[0]) is None


@pytest.mark.parametrize(
    "entry",
    [
        fixture("gke/container_api_set_node_pool_size.json"),
        changed(DENIED, {"protoPayload": _DROP}),
        changed(DENIED, {"protoPayload": None}),
        changed(DENIED, {"protoPayload": "k8s.io"}),
    ],
)
def test_entries_the_general_way_skips_step_aside(entry: dict[str, Any]) -> None:
    assert isinstance(general_way(text_of(entry), ORIGINS[0]), Skip)
    assert gke_text.read(text_of(entry), ORIGINS[0]) is None


def test_an_entry_without_an_id_steps_aside_for_its_fingerprint() -> None:
    text = text_of(changed(DENIED, {"operation": _DROP, "insertId": _DROP}))

    expected = general_way(text, ORIGINS[0])
    assert isinstance(expected, AuditEvent)
    assert "audit_id" in expected.inferred
    assert gke_text.read(text, ORIGINS[0]) is None


def test_an_entry_without_its_own_time_steps_aside_for_the_envelopes() -> None:
    text = text_of(changed(DENIED, {"timestamp": _DROP, "receiveTimestamp": "yesterday"}))

    expected = general_way(text, ORIGINS[1])
    assert isinstance(expected, AuditEvent)
    assert expected.timestamp == ORIGINS[1].time
    assert gke_text.read(text, ORIGINS[1]) is None


@pytest.mark.parametrize("code", ["18446744073709551616", "-9223372036854775809", "7e0", "7.5", "true"])
def test_a_status_code_orjson_reads_as_no_integer_steps_aside(code: str) -> None:
    denied = text_of(fixture(DENIED))
    conflict = text_of(fixture(CONFLICT))

    assert gke_text.read(denied.replace(b'"code":7', b'"code":' + code.encode()), ORIGINS[0]) is None
    assert gke_text.read(conflict.replace(b'"code":409', b'"code":' + code.encode()), ORIGINS[0]) is None


@pytest.mark.parametrize("code", ["18446744073709551615", "-9223372036854775808"])
def test_a_status_code_at_the_ends_of_orjsons_integer_range_reads_the_same(code: str) -> None:
    conflict = text_of(fixture(CONFLICT)).replace(b'"code":409', b'"code":' + code.encode())

    event = assert_read_agrees(conflict)

    assert event is not None
    assert event.response_code == int(code)


def test_bytes_that_are_not_utf8_anywhere_step_aside_as_orjson_refuses_them() -> None:
    entry = changed(CONFLICT, {}, {"request": {"note": "caf\u00e9"}})
    text = text_of(entry)

    assert assert_read_agrees(text) is not None
    broken = text.replace("caf\u00e9".encode(), b"caf\xe9")
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(broken)
    assert gke_text.read(broken, ORIGINS[0]) is None


def test_a_lone_surrogate_escape_steps_aside() -> None:
    text = text_of(changed(CONFLICT, {}, {"request": {"note": "x"}})).replace(b'"note":"x"', b'"note":"\\ud800"')

    assert gke_text.read(text, ORIGINS[0]) is None


def test_secret_values_in_the_request_and_response_never_reach_the_event() -> None:
    planted = {
        "request": {"@type": "core.k8s.io/v1.Secret", "data": {"password": SECRET}, "stringData": SECRET},
        "requestObject": {"data": {"password": SECRET}},
    }
    status_response = changed(CONFLICT, {}, planted)
    status_response["protoPayload"]["response"].update(details={"name": SECRET}, data={"password": SECRET})
    object_response = changed(
        CONFLICT,
        {},
        {**planted, "response": {"@type": "core.k8s.io/v1.Secret", "kind": "Secret", "data": {"token": SECRET}}},
    )
    for entry in (status_response, object_response):
        event = assert_read_agrees(text_of(entry))

        assert event is not None
        assert SECRET not in repr(event)


INTEGERS = st.integers(min_value=-(2**63), max_value=2**64 - 1)  # what orjson.dumps can write
SCALARS = st.none() | st.booleans() | INTEGERS | st.floats(allow_nan=False) | st.text(max_size=8)
VALUES = SCALARS | st.lists(SCALARS, max_size=3) | st.dictionaries(st.text(max_size=4), SCALARS, max_size=2)
TIMES = st.sampled_from(["2024-05-14T09:12:44.121090Z", "2024-05-14 09:12:44.38", "not a time", ""])
CODES = st.integers(min_value=-1, max_value=17) | st.sampled_from([200, 403, 409, 2**63 - 1])
BASES = st.sampled_from(
    [
        DENIED,
        CONFLICT,
        "gke/secret_list_allowed_status_empty.json",
        "gke/controller_secret_get_status_code0.json",
        "gke/container_api_set_node_pool_size.json",
    ]
)


def _texts(*values: str) -> st.SearchStrategy[str]:
    return st.sampled_from(["", *values])


def entry_changes(wild: bool) -> tuple[st.SearchStrategy[dict[str, Any]], st.SearchStrategy[dict[str, Any]]]:
    """Changes to a LogEntry's top-level keys and to its protoPayload's: each key dropped or given a value of
    the type GKE writes, or when `wild` also any JSON value (a float or boolean code, a list for a string)."""

    def value(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        return strategy | VALUES if wild else strategy

    def obj(**fields: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        return value(st.fixed_dictionaries({}, optional={key: value(item) for key, item in fields.items()}))

    def changes(**fields: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
        return st.fixed_dictionaries({}, optional={key: st.just(_DROP) | item for key, item in fields.items()})

    top = changes(
        insertId=value(_texts("insert-1")),
        operation=obj(id=_texts("op-1"), producer=_texts("k8s.io")),
        timestamp=value(TIMES),
        receiveTimestamp=value(TIMES),
        resource=obj(labels=obj(cluster_name=_texts("prod"), location=_texts("europe-west1"))),
        labels=obj(**{DECISION: _texts("allow", "forbid"), "authorization.k8s.io/reason": _texts("RBAC")}),
        p_source_label=value(_texts("panther-gke")),
        **({"protoPayload": VALUES} if wild else {}),
    )
    payload = changes(
        serviceName=value(_texts("k8s.io", "container.googleapis.com")),
        methodName=value(_texts("io.k8s.core.v1.secrets.get", "io.k8s.get", "google.container.v1.ClusterManager.Get")),
        resourceName=value(_texts("core/v1/namespaces/payments/secrets/db", "core/v1/secrets", "readyz", "api/v1")),
        status=obj(code=CODES, message=_texts("PERMISSION_DENIED")),
        response=obj(
            **{
                "@type": _texts("core.k8s.io/v1.Status", "core.k8s.io/v1.Secret"),
                "kind": _texts("Status", "Secret"),
                "code": CODES,
                "data": VALUES,
            }
        ),
        authenticationInfo=obj(
            principalEmail=_texts("mallory@example.com"),
            principalSubject=_texts("principal://iam.googleapis.com/locations/global/workforcePools/p/subject/s"),
            authoritySelector=_texts("system:anonymous"),
        ),
        requestMetadata=obj(
            callerIp=_texts("203.0.113.45"),
            callerIP=_texts("8.8.8.8"),
            callerSuppliedUserAgent=_texts("kubectl/v1.29.2"),
        ),
        authorizationInfo=value(st.lists(obj(granted=st.booleans(), permission=_texts("io.k8s.get")), max_size=3)),
        request=VALUES,
    )
    return top, payload


@settings(max_examples=300, deadline=None)
@given(BASES, *entry_changes(wild=False))
def test_an_entry_with_fields_dropped_emptied_or_changed_is_read_the_fast_way_when_it_can_be(
    relative: str, top: dict[str, Any], payload: dict[str, Any]
) -> None:
    text = text_of(changed(relative, top, payload))
    event = assert_read_agrees(text)

    expected = general_way(text, ORIGINS[0])
    own_id_and_time = isinstance(expected, AuditEvent) and not expected.inferred & {"audit_id", "timestamp"}
    assert (event is not None) is own_id_and_time


@settings(max_examples=300, deadline=None)
@given(BASES, *entry_changes(wild=True))
def test_an_entry_with_fields_of_any_type_reads_the_same_or_steps_aside(
    relative: str, top: dict[str, Any], payload: dict[str, Any]
) -> None:
    assert_read_agrees(text_of(changed(relative, top, payload)))


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("kind", "Event"),
        ("verb", "get"),
        ("awslogs", {}),
        ("logEvents", []),
        ("messageType", "DATA_MESSAGE"),
        ("specversion", "1.0"),
        ("message", {"data": ""}),
        ("data", "e30="),
    ],
)
def test_an_entry_holding_a_key_of_another_format_is_left_to_detection(key: str, value: Any) -> None:
    entry = fixture(DENIED)
    entry[key] = value
    if key == "data":
        entry["messageId"] = "1"

    assert gke_text.read(text_of(entry), ORIGINS[0]) is None


def test_detection_can_name_an_entry_with_such_a_key_otherwise() -> None:
    entry = fixture(DENIED)
    entry["kind"] = "Event"

    assert detect(entry) == "k8s"
