"""Who made a request: GKE's principal in Panther's order, and the pod and node a bound token was issued for."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest

from core.model import AuditEvent
from core.sources import gke, gke_text, k8s_text
from core.sources.items import Origin
from core.sources.limits import NAME_CHARS
from tests.unit.sources_wire import RECEIVED_AT, awslogs_event, fixture, only_event
from tests.unit.test_corpus import only_event_of

BOUND = "k8s/secret_get_bound_token_replayed.json"
WORKFORCE = "gke/secret_get_workforce_identity.json"
DENIED = "gke/secret_get_denied.json"
POD = "payments-api-7d9f8b6c5-x2x7q"
NODE = "ip-10-0-4-17.eu-west-1.compute.internal"
SUBJECT = "principal://iam.googleapis.com/locations/global/workforcePools/acme-contractors/subject/dana@contoso.com"
ORIGIN = Origin(RECEIVED_AT)


def both_ways(entry: dict[str, Any]) -> AuditEvent:
    """The entry through the general way, checked equal to what the fast reader gives."""
    general = gke.normalize(entry, ORIGIN)
    assert isinstance(general, AuditEvent), general
    assert gke_text.read(orjson.dumps(entry), ORIGIN) == general
    return general


def with_authentication(authentication: dict[str, str]) -> dict[str, Any]:
    entry: dict[str, Any] = fixture(DENIED)
    entry["protoPayload"]["authenticationInfo"] = authentication
    return entry


# --- GKE: principalEmail, then principalSubject, then authoritySelector


def test_a_workforce_identity_federation_subject_is_the_gke_user() -> None:
    event = both_ways(fixture(WORKFORCE))

    assert (event.username, event.verb, event.name, event.failed) == (SUBJECT, "get", "db-credentials", False)


@pytest.mark.parametrize(
    ("authentication", "username"),
    [
        ({"principalEmail": "dana@acme.example", "principalSubject": SUBJECT}, "dana@acme.example"),
        ({"principalEmail": "", "principalSubject": SUBJECT, "authoritySelector": "system:anonymous"}, SUBJECT),
        ({"principalSubject": SUBJECT, "authoritySelector": "system:anonymous"}, SUBJECT),
        ({"authoritySelector": "system:anonymous"}, "system:anonymous"),
        ({"principalEmail": "", "principalSubject": ""}, None),
        ({}, None),
    ],
)
def test_the_gke_user_is_the_email_then_the_subject_then_the_authority_selector(
    authentication: dict[str, str], username: str | None
) -> None:
    assert both_ways(with_authentication(authentication)).username == username


def test_a_subject_of_the_wrong_type_reads_as_missing_and_the_fast_reader_steps_aside() -> None:
    entry = with_authentication({"principalSubject": ["x"], "authoritySelector": "system:anonymous"})  # type: ignore[dict-item]

    assert gke_text.read(orjson.dumps(entry), ORIGIN) is None
    assert only_event(entry).username == "system:anonymous"


@pytest.mark.parametrize(
    "relative",
    [
        "gke_logentry/panther_k8s_anonymous_api_access__gcp_gke_anonymous_api_access.json",
        "gke_logentry/panther_k8s_anonymous_api_access__google_load_balancer_health_check_excluded.json",
    ],
)
def test_panthers_anonymous_gke_entries_name_system_anonymous(relative: str) -> None:
    """Both carry their principal only in authoritySelector; before, they had no user at all."""
    assert only_event_of(relative).username == "system:anonymous"


def test_gke_carries_no_pod_or_node() -> None:
    event = both_ways(fixture(WORKFORCE))

    assert (event.pod_name, event.node_name) == (None, None)


# --- k8s, EKS, AKS: user.extra["authentication.kubernetes.io/pod-name"] and ".../node-name"


def test_a_bound_service_account_token_names_its_pod_and_node() -> None:
    event = only_event(fixture(BOUND))

    assert event.username == "system:serviceaccount:payments:payments-api"
    assert (event.pod_name, event.node_name) == (POD, NODE)
    assert (event.source_ip, event.user_agent) == ("203.0.113.77", "curl/8.5.0")


def test_the_pod_and_node_come_through_an_eks_lambda_event() -> None:
    message = fixture("eks/data_message_audit.json")
    message["logEvents"] = [{**message["logEvents"][0], "message": orjson.dumps(fixture(BOUND)).decode()}]

    event = only_event(awslogs_event(message))

    assert (event.cloud, event.cluster, event.pod_name, event.node_name) == ("aws", "prod-payments", POD, NODE)


def test_the_pod_and_node_come_through_an_aks_event_hub_body() -> None:
    body = fixture("aks/eventhub_body.json")
    record = body["records"][0]
    record["properties"]["log"] = orjson.dumps(fixture(BOUND)).decode() + "\n"
    body["records"] = [record]

    event = only_event(body)

    assert (event.cloud, event.cluster, event.pod_name, event.node_name) == ("azure", "prod-payments", POD, NODE)


@pytest.mark.parametrize("relative", ["k8s/secret_get_denied.json", "k8s/secret_list_allowed_python_requests.json"])
def test_an_iam_identity_names_no_pod_or_node(relative: str) -> None:
    event = only_event(fixture(relative))

    assert (event.pod_name, event.node_name) == (None, None)


@pytest.mark.parametrize(
    ("values", "pod"),
    [
        ([POD], POD),
        (["", POD], POD),
        ([], None),
        ([""], None),
        (POD, None),  # not an array: audit.k8s.io/v1 always writes one
        ([7, POD], POD),
        ({"name": POD}, None),
    ],
)
def test_the_pod_is_the_first_name_of_its_extra_entry(values: object, pod: str | None) -> None:
    record = fixture(BOUND)
    record["user"]["extra"]["authentication.kubernetes.io/pod-name"] = values
    text = orjson.dumps(record).decode()

    event = only_event(record)

    assert event.pod_name == pod
    fast = k8s_text.read(text, ORIGIN)
    assert fast is None or fast == event


def test_panthers_spelling_of_the_extra_keys_is_read_too() -> None:
    record = fixture(BOUND)
    extra = record["user"]["extra"]
    extra["authentication_kubernetes_io_slash_pod-name"] = extra.pop("authentication.kubernetes.io/pod-name")
    extra["authentication_kubernetes_io_slash_node-name"] = extra.pop("authentication.kubernetes.io/node-name")

    event = only_event(record)

    assert (event.pod_name, event.node_name) == (POD, NODE)
    assert k8s_text.read(orjson.dumps(record).decode(), ORIGIN) == event


def test_panthers_eks_sample_names_its_coredns_pod() -> None:
    event = only_event_of("raw/panther_system_namespace_public_ip__system_username_public_ip_403.json")

    assert event.pod_name == "coredns-57ff979f67-bl27n"


def test_a_pod_name_over_its_limit_is_cut_with_a_marker_and_the_fast_reader_steps_aside() -> None:
    record = fixture(BOUND)
    record["user"]["extra"]["authentication.kubernetes.io/pod-name"] = ["p" * 100_000]
    record["user"]["extra"]["authentication.kubernetes.io/node-name"] = ["n" * (NAME_CHARS + 1)]

    event = only_event(copy.deepcopy(record))

    assert event.pod_name is not None
    assert event.node_name is not None
    assert (len(event.pod_name), len(event.node_name)) == (NAME_CHARS, NAME_CHARS)
    assert event.pod_name.startswith("ppp")
    assert event.pod_name.endswith(f"…[truncated {100_000 - event.pod_name.index('…')} chars]")
    assert k8s_text.read(orjson.dumps(record).decode(), ORIGIN) is None
