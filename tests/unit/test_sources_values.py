"""Every string an AuditEvent holds is bounded, and so is everything stored or alerted from it.

A value over its field's limit (core.sources.limits) is cut with a visible marker, `…[truncated N chars]`;
groups and source_ips are bounded in count too. The typed readers step aside for an over-long value, so the
general way cuts it and both ways still give the same event.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import msgspec
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.model import AuditEvent
from core.sources import gke, gke_text, limits
from core.sources.items import Origin
from core.sources.limits import FIELD_LIMITS, cut
from tests.unit.sources_wire import RECEIVED_AT, awslogs_event, decode_all, fixture, only_event
from tests.unit.test_sources_gke_text import assert_read_agrees as assert_gke_read_agrees
from tests.unit.test_sources_k8s_text import assert_read_agrees as assert_k8s_read_agrees

HUGE = 450 * 1024
#: Where each AuditEvent string field comes from in an audit Event.
K8S_PATHS = {
    "audit_id": ("auditID",),
    "stage": ("stage",),
    "cluster": ("p_source_label",),
    "verb": ("verb",),
    "resource": ("objectRef", "resource"),
    "subresource": ("objectRef", "subresource"),
    "namespace": ("objectRef", "namespace"),
    "name": ("objectRef", "name"),
    "api_group": ("objectRef", "apiGroup"),
    "api_version": ("objectRef", "apiVersion"),
    "username": ("user", "username"),
    "impersonated_user": ("impersonatedUser", "username"),
    "user_agent": ("userAgent",),
    "request_uri": ("requestURI",),
    "response_message": ("responseStatus", "message"),
    "decision": ("annotations", "authorization.k8s.io/decision"),
}


def with_value(event: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    holder = event
    for key in path[:-1]:
        holder = holder.setdefault(key, {})
    holder[path[-1]] = value
    return event


def k8s_event(**values: Any) -> dict[str, Any]:
    event = fixture("k8s/secret_get_denied.json")
    for field, value in values.items():
        with_value(event, K8S_PATHS.get(field, (field,)), value)
    return event


def in_envelopes(event: dict[str, Any]) -> Iterator[AuditEvent]:
    """The event decoded raw (the general way) and inside EKS and AKS envelopes (the typed reader's way)."""
    text = orjson.dumps(event).decode()
    message = {"messageType": "DATA_MESSAGE", "logGroup": "/aws/eks/c/cluster", "logEvents": [{"message": text}]}
    body = {"records": [{"category": "kube-audit", "resourceId": "/X/C", "properties": {"log": text}}]}
    for document in (event, awslogs_event(message), body):
        found = only_event(document)
        yield msgspec.structs.replace(found, cloud="k8s", cluster=None if document is not event else found.cluster)


def test_cut_keeps_the_start_and_says_how_much_is_gone() -> None:
    value = "a" * 5000

    assert cut(value, 4096) == "a" * 4074 + "…[truncated 926 chars]"
    assert len(cut(value, 4096)) == 4096
    assert cut(value, 5000) is value


@pytest.mark.parametrize("length", [1, 9, 10, 11, 99, 100, 101, 9999, 10000, 10001, HUGE])
@pytest.mark.parametrize("limit", [64, 256, 4096])
def test_cut_never_exceeds_its_limit_and_its_marker_counts_exactly(length: int, limit: int) -> None:
    value = "é" * length

    result = cut(value, limit)

    assert len(result) == min(length, limit)
    if length > limit:
        kept, marker = result.split("…", 1)
        assert marker == f"[truncated {length - len(kept)} chars]"


@pytest.mark.parametrize("field", K8S_PATHS)
def test_a_huge_value_in_any_field_is_cut_with_a_marker_and_every_way_agrees(field: str) -> None:
    raw, eks, aks = in_envelopes(k8s_event(**{field: "x" * HUGE}))

    value = getattr(raw, field)
    assert len(value) == FIELD_LIMITS[field]
    assert value.endswith(f"…[truncated {HUGE - value.index('…')} chars]")
    assert eks == aks == msgspec.structs.replace(raw, cluster=None)


@pytest.mark.parametrize("field", K8S_PATHS)
def test_a_value_at_its_limit_is_kept_whole(field: str) -> None:
    limit = FIELD_LIMITS[field]

    raw, eks, aks = in_envelopes(k8s_event(**{field: "y" * limit}))

    assert getattr(raw, field) == "y" * limit
    assert eks == aks == msgspec.structs.replace(raw, cluster=None)


def test_groups_and_source_ips_are_bounded_in_count_and_length() -> None:
    groups = [f"group-{index}" for index in range(300)] + ["g" * 1000]
    addresses = [f"203.0.113.{index}" for index in range(40)]

    raw, eks, aks = in_envelopes(k8s_event(user={"username": "u", "groups": groups}, sourceIPs=addresses))

    assert raw.groups == (*groups[: limits.MAX_GROUPS - 1], "…[truncated 46 more]")
    assert raw.source_ips == (*addresses[: limits.MAX_SOURCE_IPS - 1], "…[truncated 9 more]")
    assert eks == aks == msgspec.structs.replace(raw, cluster=None)


def test_each_group_and_address_is_cut_on_its_own() -> None:
    event = only_event(k8s_event(user={"username": "u", "groups": ["g" * 600]}, sourceIPs=["1" * 100]))

    assert [len(group) for group in event.groups] == [limits.NAME_CHARS]
    assert [len(address) for address in event.source_ips] == [limits.ADDRESS_CHARS]


def test_a_cluster_named_by_the_envelope_is_bounded_too() -> None:
    message = {
        "messageType": "DATA_MESSAGE",
        "logGroup": f"/aws/eks/{'c' * 2000}/cluster",
        "logEvents": [{"message": orjson.dumps(k8s_event()).decode()}],
    }
    body = {"records": [{"category": "kube-audit", "resourceId": "/X/" + "C" * 2000, "properties": {"log": "{}"}}]}
    body["records"][0]["properties"]["log"] = message["logEvents"][0]["message"]

    clusters = {only_event(document).cluster for document in (message, body)}

    assert {len(cluster or "") for cluster in clusters} == {FIELD_LIMITS["cluster"]}


GKE_PATHS = {
    "audit_id": (("insertId",), ("operation", "id")),
    "cluster": (("resource", "labels", "cluster_name"),),
    "decision": (("labels", "authorization.k8s.io/decision"),),
    "username": (("protoPayload", "authenticationInfo", "principalEmail"),),
    "user_agent": (("protoPayload", "requestMetadata", "callerSuppliedUserAgent"),),
    "response_message": (("protoPayload", "status", "message"),),
    "verb": (("protoPayload", "methodName"),),
    "name": (("protoPayload", "resourceName"),),
}


@pytest.mark.parametrize("field", GKE_PATHS)
@pytest.mark.parametrize("huge", [True, False], ids=["huge", "one over its limit"])
def test_a_long_value_in_a_gke_entry_is_cut_and_the_fast_way_steps_aside(field: str, huge: bool) -> None:
    entry = fixture("gke/secret_get_denied.json")
    length = HUGE if huge else FIELD_LIMITS[field] + 1
    for path in GKE_PATHS[field]:
        prefix = (
            "io.k8s.core.v1.secrets." if field == "verb" else "core/v1/namespaces/p/secrets/" if field == "name" else ""
        )
        with_value(entry, path, prefix + "z" * length)
    text = orjson.dumps(entry).decode()
    origin = Origin(RECEIVED_AT)

    event = gke.normalize(orjson.loads(text), origin)

    assert isinstance(event, AuditEvent)
    assert len(getattr(event, field)) == FIELD_LIMITS[field]
    assert "…[truncated " in getattr(event, field)
    assert gke_text.read(text, origin) is None
    assert_gke_read_agrees(text)


def test_a_gke_caller_address_is_bounded() -> None:
    entry = fixture("gke/secret_get_denied.json")
    entry["protoPayload"]["requestMetadata"]["callerIp"] = "9" * 100

    (item,) = decode_all(entry)

    assert isinstance(item, AuditEvent)
    assert [len(address) for address in item.source_ips] == [limits.ADDRESS_CHARS]


LENGTHS = st.sampled_from(sorted({0, 1, 63, 64, 65, 255, 256, 257, 511, 512, 513, 1023, 1024, 1025, 4095, 4096, 4097}))


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from(sorted(K8S_PATHS)), LENGTHS), st.sampled_from("aé\u200b\U0001f600"))
def test_any_lengths_read_the_same_the_fast_way_or_step_aside(lengths: dict[str, int], char: str) -> None:
    event = k8s_event(**{field: char * length for field, length in lengths.items()})

    assert_k8s_read_agrees(orjson.dumps(event).decode())
    for found in in_envelopes(event):
        for field in K8S_PATHS:
            value = getattr(found, field)
            assert value is None or len(value) <= FIELD_LIMITS[field]


def test_a_450_kb_user_agent_raises_its_alert_and_writes_its_state_in_dynamodb(monkeypatch: pytest.MonkeyPatch) -> None:
    boto3 = pytest.importorskip("boto3", reason="boto3 is not installed (pip install 'secretwatch[aws]')")
    moto = pytest.importorskip("moto", reason="moto is not installed")
    from core.alerts.memory import MemorySink
    from core.pipeline import Pipeline
    from core.rules.loader import load_rules
    from core.state.dynamodb import create_table
    from core.state.registry import open_store

    for name, value in {
        "AWS_ACCESS_KEY_ID": "t",
        "AWS_SECRET_ACCESS_KEY": "t",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    event = k8s_event(userAgent="curl/8.5.0 " + "A" * HUGE, responseStatus={"code": 200})
    with moto.mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        create_table(dynamodb, "state")
        sink = MemorySink()
        pipeline = Pipeline(load_rules(), open_store("dynamodb://state?region=us-east-1"), [sink])

        summary = pipeline.process([orjson.dumps(event)])

        # curl is both a new client and a scripting agent: two rules of the pack alert, each with the cut value
        assert summary.alerts == {"secret-access-unusual-user-agent": 1, "secret-access-suspicious-user-agent": 1}
        alert = next(a for a in sink.alerts if a.rule_id == "secret-access-unusual-user-agent")
        assert alert.context.user_agent is not None
        assert alert.context.user_agent.startswith("curl/8.5.0 AAA")
        assert alert.context.user_agent.endswith(
            f"…[truncated {HUGE + 11 - alert.context.user_agent.index('…')} chars]"
        )
        assert dynamodb.scan(TableName="state")["Count"] > 0
