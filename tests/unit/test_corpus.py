"""Every published sample in ../shared/corpus goes through decode() without an exception."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from core.model import AuditEvent
from core.rules.loader import load_rules
from core.rules.schema import Rule
from core.sources import Skip
from core.sources.documents import iter_documents
from tests.unit.sources_wire import decode_all

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
SAMPLES = sorted(CORPUS.rglob("*.json")) if CORPUS.is_dir() else []


def decode_file(relative: str) -> list[AuditEvent | Skip]:
    if not CORPUS.is_dir():
        pytest.skip(f"the shared corpus is not beside the repository ({CORPUS})")
    with (CORPUS / relative).open("rb") as stream:
        return [item for document in iter_documents(stream) for item in decode_all(document)]


def only_event_of(relative: str) -> AuditEvent:
    items = decode_file(relative)
    assert len(items) == 1, items
    assert isinstance(items[0], AuditEvent), items[0]
    return items[0]


@pytest.mark.skipif(not SAMPLES, reason=f"the shared corpus is not beside the repository ({CORPUS})")
@pytest.mark.parametrize("path", SAMPLES, ids=lambda path: str(path.relative_to(CORPUS)))
def test_every_sample_decodes_to_events_or_counted_skips(path: Path) -> None:
    items = decode_file(str(path.relative_to(CORPUS)))

    assert items
    assert all(isinstance(item, AuditEvent | Skip) for item in items)
    assert not [item for item in items if isinstance(item, Skip) and item.reason == "internal_error"]
    if "NOT_EKS" in path.name or "NOT_k8s" in path.name:
        assert not [item for item in items if isinstance(item, AuditEvent)]


def test_gke_denied_secret_get() -> None:
    event = only_event_of("gke_logentry/panther_k8s_secret_access_denied__gke_failed_secret_get.json")

    assert (event.cloud, event.verb, event.resource, event.namespace, event.name) == (
        "gcp",
        "get",
        "secrets",
        "production",
        "tls-cert",
    )
    assert (event.failed, event.response_code, event.decision, event.source_ip) == (
        True,
        403,
        "forbid",
        "8.8.8.8",
    )


def test_aks_2020_record_names_the_cluster_from_the_resource_id() -> None:
    event = only_event_of("aks_eventhub/beats_platformlogs_kube_audit_2020_full.json")

    assert (event.cloud, event.cluster, event.audit_id) == (
        "azure",
        "obskube",
        "22af12c3-a1fe-4f2c-99a9-3cdde671dbfe",
    )


def test_loki_pub_sub_envelope_decodes_to_a_log_entry_without_an_audit_payload() -> None:
    items = decode_file("gke_logentry/loki_pubsub_push_envelope_k8s_cluster_data_access.json")

    assert items == [
        Skip("not_k8s_api", malformed=False, cloud="gcp", detail="LogEntry without protoPayload")
    ]


def test_powertools_zlib_envelope_is_inflated_and_its_text_messages_counted() -> None:
    items = decode_file("eks_cloudwatch/powertools_generic_awslogs_envelope_policyLevel_zlib_NOT_EKS.json")

    assert [(item.reason, item.cloud) for item in items if isinstance(item, Skip)] == [
        ("invalid_json", "aws")
    ] * 2


def test_gke_conflict_takes_the_http_code_of_the_status_response() -> None:
    event = only_event_of("gke_logentry/panther_gcp_k8s_privileged_pod_created__error_creating_pod.json")

    assert (event.response_code, event.failed, event.cluster) == (409, True, "some-project-cluster")


def test_gke_anonymous_probe_denied_is_a_non_resource_request() -> None:
    event = only_event_of("gke_logentry/elastic_gcp_anonymous_HNAP1_probe_denied.json")

    assert (event.verb, event.resource, event.request_uri, event.decision) == (
        "get",
        None,
        "/HNAP1",
        "forbid",
    )


def test_impersonated_identity_is_kept() -> None:
    event = only_event_of("raw/audit2rbac_demo_line37.json")

    assert (event.username, event.impersonated_user, event.failed) == ("system:admin", "alice", True)


def test_panther_eks_sample_maps_to_aws_and_its_source_label() -> None:
    event = only_event_of("raw/panther_source_ip_multiple_403__403_and_public_ip.json")

    assert (event.cloud, event.cluster, event.verb, event.response_code) == (
        "aws",
        "example-cluster-eks-logs",
        "watch",
        403,
    )


def test_aks_exec_keeps_both_source_ips_and_the_get_verb() -> None:
    event = only_event_of("aks_eventhub/panther_k8s_exec_into_pod__aks_exec_into_pod_realistic.json")

    assert (event.verb, event.subresource, event.response_code) == ("get", "exec", 101)
    assert event.source_ips == ("20.43.245.209", "172.31.52.37")


# --- the two detections' verdicts on the published samples ------------------------------------------

def _rule(rule_id: str) -> Rule:
    return next(rule for rule in load_rules() if rule.id == rule_id)


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


DENIED_SEEDS = sorted(CORPUS.glob("*/panther_k8s_secret_access_denied__*.json")) if CORPUS.is_dir() else []


@pytest.mark.parametrize("path", DENIED_SEEDS, ids=lambda p: p.stem)
def test_each_panther_seed_sample_gets_its_expected_verdict(path: Path) -> None:
    rule = _rule("secret-access-denied")
    expected = {_slug(test.name): test.expected for test in rule.tests}[path.stem.split("__", 1)[1]]
    event = only_event_of(str(path.relative_to(CORPUS)))
    assert rule.condition.predicate(event) is expected


def test_all_nine_panther_seed_samples_are_in_the_corpus() -> None:
    if not CORPUS.is_dir():
        pytest.skip(f"the shared corpus is not beside the repository ({CORPUS})")
    assert len(DENIED_SEEDS) == 9


# Secret reads in the corpus and whether the Elastic rule's query selects them (hand-checked against the
# query: resource secrets, verb get or list, a user agent present and not ending in kubernetes/$Format).
UNUSUAL_AGENT_VERDICTS = {
    "raw/panther_k8s_secret_enumeration__user_gets_a_secret.json": True,
    "raw/panther_k8s_secret_enumeration__user_lists_secrets.json": True,
    "raw/panther_k8s_secret_enumeration__user_gets_secret_access_denied.json": True,
    "raw/panther_k8s_secret_enumeration__system_principal_excluded.json": True,  # the query has no principal filter
    "raw/panther_k8s_secret_enumeration__user_watches_secrets.json": False,
    "raw/panther_k8s_secret_enumeration__write_verb_excluded.json": False,
    "raw/panther_k8s_secrets_dump_all_namespaces__eks_cluster_wide_secret_list.json": True,
    "gke_logentry/panther_k8s_secrets_dump_all_namespaces__gke_cluster_wide_secret_list.json": False,  # no agent
    "aks_eventhub/panther_k8s_secrets_dump_all_namespaces__aks_cluster_wide_secret_list.json": False,  # no agent
    "raw/panther_k8s_secrets_dump_all_namespaces__kube_state_metrics_listing_secrets_excluded.json": False,
}


@pytest.mark.parametrize(("relative", "expected"), sorted(UNUSUAL_AGENT_VERDICTS.items()))
def test_unusual_agent_rule_selects_the_secret_reads_its_query_names(relative: str, expected: bool) -> None:
    assert _rule("secret-access-unusual-user-agent").condition.predicate(only_event_of(relative)) is expected
