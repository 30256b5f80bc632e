"""The demo generator: a credible, deterministic day of audit traffic whose only alerts are planted."""

from __future__ import annotations

import base64
import gzip
import json
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core.demo import PlantedAttack, Traffic, audit_events, generate_day
from core.errors import ConfigError

START = datetime(2026, 11, 2, tzinfo=UTC)
LEARNING = timedelta(hours=6)
FORMAT_AGENT = "kubernetes/$Format"
Labelled = list[tuple[str, dict[str, Any]]]


def events_of(**overrides: Any) -> Labelled:
    settings: dict[str, Any] = {"start": START, "hours": 24, "events": 12_000, "seed": 7, **overrides}
    return list(audit_events(**settings))


@pytest.fixture(scope="module")
def day() -> Labelled:
    return events_of()


@pytest.fixture(scope="module")
def benign_stress() -> Labelled:
    """Three busy hours, a third of them secret reads and most of those denied, learning for the first hour:
    the hardest case for the benign guarantees."""
    return events_of(events=15_000, hours=3, learning_hours=1, secret_share=0.3, denied_share=0.8,
                     attacks=False, seed=3)


@pytest.fixture(scope="module")
def traffic() -> Traffic:
    """The same day as `day`, wrapped in wire documents."""
    return generate_day(events=12_000, seed=7)


def stage_time(event: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(event["stageTimestamp"])


def is_secret(event: dict[str, Any]) -> bool:
    return bool(event.get("objectRef", {}).get("resource") == "secrets")


def failed(event: dict[str, Any]) -> bool:
    return bool(event.get("responseStatus", {}).get("code", 0) >= 400)


def term(cloud: str, event: dict[str, Any]) -> tuple[str, str, str, str]:
    return cloud, event["sourceIPs"][0], event["user"]["username"], event["userAgent"]


def first_seen_secret_readers(events: Labelled) -> dict[tuple[str, str, str, str], datetime]:
    """When each (cloud, source IP, user, agent) first got or listed secrets, for agents the rule watches."""
    first: dict[tuple[str, str, str, str], datetime] = {}
    for cloud, event in events:
        watched = not event["userAgent"].endswith(FORMAT_AGENT)
        if watched and is_secret(event) and event["verb"] in ("get", "list"):
            first.setdefault(term(cloud, event), stage_time(event))
    return first


def most_denials_in_15_minutes(events: Labelled) -> dict[tuple[str, str | None, str], int]:
    """For each (cloud, namespace, user): the most failed secret requests within any 15 minutes."""
    times: defaultdict[tuple[str, str | None, str], list[datetime]] = defaultdict(list)
    for cloud, event in events:
        if is_secret(event) and failed(event):
            group = (cloud, event["objectRef"].get("namespace"), event["user"]["username"])
            times[group].append(stage_time(event))
    most = {}
    for group, stamps in times.items():
        stamps.sort()
        most[group] = max(sum(1 for later in stamps[index:] if later - first < timedelta(minutes=15))
                          for index, first in enumerate(stamps))
    return most


# --- the audit events --------------------------------------------------------------------------------------

def test_same_seed_gives_the_same_events_and_another_seed_does_not() -> None:
    first = events_of(events=1_500, seed=5)

    assert events_of(events=1_500, seed=5) == first
    assert events_of(events=1_500, seed=6) != first


def test_events_come_in_stage_time_order_spread_over_the_day(day: Labelled) -> None:
    stamps = [stage_time(event) for _, event in day]

    assert stamps == sorted(stamps)
    assert START <= stamps[0] < START + timedelta(minutes=30)
    assert START + timedelta(hours=23, minutes=30) < stamps[-1] <= START + timedelta(hours=24, minutes=1)


def test_the_requested_number_of_events_is_split_over_the_three_clouds(day: Labelled) -> None:
    per_cloud = defaultdict(int)
    for cloud, _ in day:
        per_cloud[cloud] += 1

    assert len(day) == 12_000
    assert set(per_cloud) == {"aws", "gcp", "azure"}
    assert all(0.2 < count / len(day) < 0.5 for count in per_cloud.values())


def test_events_are_metadata_level_audit_events_without_request_or_response_objects(day: Labelled) -> None:
    for _, event in day:
        assert event["kind"] == "Event"
        assert event["apiVersion"] == "audit.k8s.io/v1"
        assert event["level"] == "Metadata"
        assert "requestObject" not in event
        assert "responseObject" not in event


def test_events_weigh_about_a_kilobyte_like_real_ones(day: Labelled) -> None:
    sizes = [len(json.dumps(event, separators=(",", ":"))) for _, event in day]

    assert 900 < sum(sizes) / len(sizes) < 1_500


def test_a_few_requests_are_also_logged_when_received_with_the_same_audit_id(day: Labelled) -> None:
    stages = defaultdict(set)
    for _, event in day:
        stages[event["auditID"]].add(event["stage"])

    pairs = [audit_id for audit_id, seen in stages.items() if seen == {"RequestReceived", "ResponseComplete"}]
    received = [event for _, event in day if event["stage"] == "RequestReceived"]
    assert 0 < len(pairs) == len(received) < len(day) * 0.02
    assert all("responseStatus" not in event and "annotations" not in event for event in received)


@pytest.mark.parametrize("share", [0.03, 0.1])
def test_secret_share_is_close_to_the_requested_share(share: float) -> None:
    events = events_of(events=10_000, secret_share=share, seed=2)

    secret = sum(1 for _, event in events if is_secret(event))

    assert secret / len(events) == pytest.approx(share, rel=0.15)


def test_secret_reads_are_mostly_gets_lists_and_watches(day: Labelled) -> None:
    verbs = [event["verb"] for _, event in day if is_secret(event)]

    assert sum(1 for verb in verbs if verb in ("get", "list", "watch")) / len(verbs) > 0.9
    assert {"get", "list", "watch"} <= set(verbs)


def test_about_the_requested_share_of_benign_secret_requests_is_denied() -> None:
    events = events_of(events=12_000, secret_share=0.1, denied_share=0.2, attacks=False, seed=4)

    secret = [event for _, event in events if is_secret(event)]
    denied = [event for event in secret if failed(event)]

    assert len(denied) / len(secret) == pytest.approx(0.2, abs=0.05)
    assert {event["responseStatus"]["code"] for event in denied} == {403, 404}
    assert all(event["annotations"]["authorization.k8s.io/decision"] == "forbid"
               for event in denied if event["responseStatus"]["code"] == 403)


def test_no_benign_user_reaches_20_denials_in_15_minutes_in_one_namespace(benign_stress: Labelled) -> None:
    most = most_denials_in_15_minutes(benign_stress)

    assert most, "the stress day should contain denials"
    assert max(most.values()) < 20


def test_every_watched_secret_reader_first_appears_within_the_learning_period(
        benign_stress: Labelled) -> None:
    first_seen = first_seen_secret_readers(benign_stress)

    assert len(first_seen) >= 20
    assert max(first_seen.values()) < START + timedelta(hours=1)


def test_the_default_day_learns_every_benign_reader_too(day: Labelled) -> None:
    late = {found for found, when in first_seen_secret_readers(day).items() if when >= START + LEARNING}

    assert late == {("aws", "203.0.113.77", "system:serviceaccount:payments:payments-api", "curl/8.5.0")}


def test_a_shorter_learning_period_moves_the_warm_up_earlier() -> None:
    events = events_of(events=3_000, hours=4, learning_hours=1, attacks=False)

    assert max(first_seen_secret_readers(events).values()) < START + timedelta(hours=1)


def test_without_attacks_nothing_comes_from_the_thief() -> None:
    events = events_of(events=3_000, attacks=False)

    assert not [event for _, event in events if event["userAgent"] == "curl/8.5.0"]


# --- the planted attacks -----------------------------------------------------------------------------------

def attack_for(traffic: Traffic, rule_id: str) -> PlantedAttack:
    return next(attack for attack in traffic.attacks if attack.rule_id == rule_id)


def test_two_attacks_are_planted_after_the_learning_period(traffic: Traffic) -> None:
    assert [(attack.rule_id, attack.cloud) for attack in traffic.attacks] == [
        ("secret-access-unusual-user-agent", "aws"), ("secret-access-denied", "gcp")]
    assert all(START + LEARNING < attack.start < START + timedelta(days=1) for attack in traffic.attacks)
    assert all(attack.description for attack in traffic.attacks)


def test_stolen_token_reads_secrets_with_curl_from_an_address_the_account_never_used(
        day: Labelled, traffic: Traffic) -> None:
    attack = attack_for(traffic, "secret-access-unusual-user-agent")
    thief = [event for cloud, event in day if cloud == "aws" and event["sourceIPs"] == [attack.source_ip]]
    own = [event for cloud, event in day if cloud == "aws" and event["user"]["username"] == attack.username
           and event not in thief]

    assert attack.user_agent == "curl/8.5.0"
    assert {(event["user"]["username"], event["userAgent"]) for event in thief} == {
        (attack.username, "curl/8.5.0")}
    assert stage_time(thief[0]) == attack.start
    succeeded = [event["verb"] for event in thief if event["responseStatus"]["code"] == 200]
    assert succeeded == ["list", "get", "get", "get"]
    assert {event["objectRef"]["resource"] for event in thief} == {"secrets"}
    assert own
    assert attack.source_ip not in {event["sourceIPs"][0] for event in own}


def test_enumeration_is_40_denied_gets_in_one_namespace_within_5_minutes(
        day: Labelled, traffic: Traffic) -> None:
    attack = attack_for(traffic, "secret-access-denied")
    burst = [event for cloud, event in day if cloud == "gcp" and is_secret(event)
             and event["user"]["username"] == attack.username
             and event["objectRef"].get("namespace") == "airflow"]

    assert len(burst) == 40
    assert {(event["verb"], event["responseStatus"]["code"]) for event in burst} == {("get", 403)}
    assert len({event["objectRef"]["name"] for event in burst}) == 40
    assert stage_time(burst[0]) == attack.start
    assert stage_time(burst[-1]) - attack.start < timedelta(minutes=5)
    assert (attack.source_ip, attack.user_agent) == (burst[0]["sourceIPs"][0], burst[0]["userAgent"])


def test_the_enumerating_user_is_a_known_reader_so_only_the_denial_rule_fires(
        day: Labelled, traffic: Traffic) -> None:
    attack = attack_for(traffic, "secret-access-denied")

    first_seen = first_seen_secret_readers(day)

    assert first_seen[("gcp", attack.source_ip, attack.username, attack.user_agent)] < START + LEARNING


def test_attacks_need_time_after_the_learning_period() -> None:
    with pytest.raises(ConfigError, match="learning period"):
        events_of(events=100, hours=6, learning_hours=6)


@pytest.mark.parametrize("settings", [
    {"events": -1}, {"hours": 0}, {"secret_share": 1.5}, {"denied_share": -0.1}, {"learning_hours": -1}])
def test_nonsense_settings_are_refused(settings: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        events_of(attacks=False, **settings)


# --- the wire documents ------------------------------------------------------------------------------------

def decode(fmt: str, document: bytes) -> list[dict[str, Any]]:
    """The audit Events (EKS, AKS) or LogEntries (GKE) in one document, decoded by hand."""
    body = json.loads(document)
    if fmt == "eks":
        message = json.loads(gzip.decompress(base64.b64decode(body["awslogs"]["data"])))
        return [json.loads(log["message"]) for log in message["logEvents"]]
    if fmt == "gke":
        return [json.loads(base64.b64decode(body["message"]["data"]))]
    return [json.loads(record["properties"]["log"]) for record in body["records"]]


def test_documents_hold_every_generated_event(traffic: Traffic) -> None:
    decoded = [item for fmt, document in traffic.documents for item in decode(fmt, document)]

    secret = [item for item in decoded
              if is_secret(item) or ".secrets." in item.get("protoPayload", {}).get("methodName", "")]
    assert len(decoded) == traffic.event_count == 12_000
    assert len(secret) == traffic.secret_event_count


def test_documents_are_batched_the_way_each_cloud_delivers(traffic: Traffic) -> None:
    sizes = defaultdict(list)
    for fmt, document in traffic.documents:
        sizes[fmt].append(len(decode(fmt, document)))

    assert set(sizes) == {"eks", "gke", "aks"}
    assert all(50 <= size <= 200 for size in sizes["eks"][:-1])
    assert all(20 <= size <= 100 for size in sizes["aks"][:-1])
    assert set(sizes["gke"]) == {1}


def test_each_eks_document_is_one_audit_stream_of_the_eks_cluster(traffic: Traffic) -> None:
    for fmt, document in traffic.documents:
        if fmt == "eks":
            message = json.loads(gzip.decompress(base64.b64decode(json.loads(document)["awslogs"]["data"])))
            assert message["logGroup"] == "/aws/eks/shop-prod-use1/cluster"
            assert message["logStream"].startswith("kube-apiserver-audit-")


def test_gke_documents_are_pubsub_pushes_of_k8s_io_audit_entries(traffic: Traffic) -> None:
    bodies = [json.loads(document) for fmt, document in traffic.documents if fmt == "gke"]

    entries = [json.loads(base64.b64decode(body["message"]["data"])) for body in bodies]

    assert all(body["message"]["messageId"] == body["message"]["message_id"] for body in bodies)
    assert len({body["message"]["messageId"] for body in bodies}) == len(bodies)
    assert {entry["protoPayload"]["serviceName"] for entry in entries} == {"k8s.io"}
    assert {entry["resource"]["labels"]["cluster_name"] for entry in entries} == {"analytics-euw1"}


def test_aks_documents_name_the_aks_cluster(traffic: Traffic) -> None:
    resource_ids = {record["resourceId"] for fmt, document in traffic.documents if fmt == "aks"
                    for record in json.loads(document)["records"]}

    assert resource_ids == {
        "/SUBSCRIPTIONS/3F2C9A1E-5B7D-4E60-9C1A-8D2E4F6A0B13/RESOURCEGROUPS/RG-RETAIL-PROD"
        "/PROVIDERS/MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/RETAIL-AKS-WEU"
    }


def test_generate_day_is_deterministic() -> None:
    assert generate_day(events=2_000, seed=11) == generate_day(events=2_000, seed=11)


def test_documents_carry_the_same_events_as_audit_events(day: Labelled, traffic: Traffic) -> None:
    eks = [item for fmt, document in traffic.documents if fmt == "eks" for item in decode(fmt, document)]

    assert eks == [event for cloud, event in day if cloud == "aws"]
