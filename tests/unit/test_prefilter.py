"""The pre-filter: derived from the rules, it skips only records no rule can match, so results never change.

The proof is by comparison: every fixture, every shared-corpus sample (when present) and generated demo
traffic in all three wire formats run through the pipeline with and without the pre-filter, and raise
the same alerts with the same match counts.
"""

from __future__ import annotations

import base64
import gzip
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from core.alerts.memory import MemorySink
from core.demo.traffic import generate_day
from core.pipeline import Pipeline, Summary
from core.prefilter import Prefilter, needles_of
from core.rules.loader import load_rules
from core.rules.schema import Rule, parse_rule
from core.sources import Prefiltered, decode, detect
from core.sources.documents import iter_documents
from core.state.memory import MemoryStore
from tests.unit.sources_wire import FIXTURES, RECEIVED_AT, fixture, pubsub_push_body

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
#: Every built-in rule, the ones off by default turned on, so the comparisons below cover the whole pack.
RULES = [replace(each, enabled=True) for each in load_rules()]
PREFILTER = Prefilter.for_rules(RULES)


def rule(match: object) -> Rule:
    """A minimal new_terms rule around `match`."""
    document = {
        "id": "test-rule", "title": "t", "description": "d", "severity": "low", "risk_score": 1,
        "type": "new_terms", "mitre": ["TA0006:T1552.007"], "runbook": "r", "alert_title": "t",
        "new_terms": {"fields": ["username"], "history_window": "1d"}, "match": match,
    }  # fmt: skip
    return parse_rule(document, "test.yml")


def needles(match_yaml: str) -> tuple[tuple[str, ...], ...]:
    return needles_of(rule(yaml.safe_load(match_yaml)).condition.requires)


# --- what is derived from the rules ---------------------------------------------------------------------

def test_the_built_in_rules_need_secrets_and_get_list_or_watch() -> None:
    assert PREFILTER is not None
    assert set(PREFILTER.needles) == {
        (("secrets",), ("get",)),
        (("secrets",), ("list",)),
        (("secrets",), ("get", "list")),
        (("secrets",), ("get", "list", "watch")),
        (("secrets",), ("system", "serviceaccount"), ("get", "list")),
    }


def test_the_rules_on_by_default_need_secrets_and_get_or_list() -> None:
    prefilter = Prefilter.for_rules([each for each in load_rules() if each.enabled])
    assert prefilter is not None
    assert prefilter.text.shared == (("secrets",), ("get", "list"))


def test_equals_and_in_under_all_become_clauses_and_not_gives_nothing() -> None:
    assert needles("""
        all:
          - {field: resource, equals: secrets}
          - {field: verb, in: [get, list, watch]}
          - not: {field: namespace, equals: kube-system}
    """) == (("secrets",), ("get", "list", "watch"))


def test_an_any_needs_one_clause_of_each_branch() -> None:
    assert needles("""
        any:
          - {field: resource, equals: secrets}
          - all: [{field: resource, equals: configmaps}, {field: verb, equals: get}]
    """) == (("secrets", "configmaps"),)


def test_an_any_with_a_branch_that_needs_nothing_needs_nothing() -> None:
    assert needles("any: [{field: resource, equals: secrets}, {failed: true}]") == ()


def test_prefix_and_contains_count_like_equals() -> None:
    assert needles("""
        all: [{field: user_agent, prefix: curl/}, {field: username, contains: [":admin", "root"]}]
    """) == (("curl",), ("root", "admin"))


def test_only_the_longest_run_of_letters_and_digits_is_searched_for() -> None:
    assert needles("{field: username, equals: 'system:serviceaccount:kube-system:x'}") == (("serviceaccount",),)


def test_fields_not_copied_verbatim_from_the_record_give_nothing() -> None:
    for field, value in (("cloud", "aws"), ("cluster", "prod"), ("request_uri", "/api/v1/secrets"),
                         ("decision", "forbid"), ("audit_id", "abc")):  # fmt: skip
        assert needles(f"{{field: {field}, equals: {value}}}") == ()
    assert needles("{field: response_code, in: [401, 403]}") == ()


def test_a_literal_without_letters_or_digits_gives_nothing() -> None:
    assert needles("{field: name, equals: '--'}") == ()


def test_one_rule_that_needs_nothing_turns_the_prefilter_off() -> None:
    assert Prefilter.for_rules([*RULES, rule({"failed": True})]) is None


def test_a_rule_stronger_than_another_is_not_searched_for_separately() -> None:
    assert PREFILTER is not None
    assert PREFILTER.text.shared == (("secrets",), ("get", "list", "watch"))
    assert PREFILTER.text.rest == ()


# --- what is skipped ------------------------------------------------------------------------------------

SECRET_GET = orjson.dumps(fixture("k8s/secret_get_denied.json"))
CONFIGMAP_GET = SECRET_GET.replace(b"secrets", b"configmaps")


@pytest.mark.parametrize("text", [SECRET_GET, SECRET_GET.decode()])
def test_a_record_a_rule_may_match_is_admitted(text: str | bytes) -> None:
    assert PREFILTER is not None
    assert PREFILTER.admits(text)


@pytest.mark.parametrize("text", [CONFIGMAP_GET, CONFIGMAP_GET.decode(), CONFIGMAP_GET + b"\n"])
def test_an_audit_record_no_rule_can_match_is_skipped(text: str | bytes) -> None:
    assert PREFILTER is not None
    assert not PREFILTER.admits(text)


@pytest.mark.parametrize(
    "text",
    [
        b"I0109 21:24:54.475483 handler.go:143] kube-apiserver: GET /api/v1/configmaps",  # klog text
        CONFIGMAP_GET[:200] + b"[Truncated...]",  # cut off by CloudWatch
        b'{"kind": "Event", "verb": "get"}',  # no k8s.io: not recognisably an audit record
        b'  {"apiVersion": "audit.k8s.io/v1"}',  # not starting with the object
    ],
)
def test_text_that_does_not_look_like_an_audit_record_is_always_parsed(text: bytes) -> None:
    assert PREFILTER is not None
    assert PREFILTER.admits(text)


def test_a_document_that_may_hold_an_encoded_payload_is_never_skipped() -> None:
    assert PREFILTER is not None
    body = orjson.dumps({"apiVersion": "audit.k8s.io/v1", "message": {"data": "c2VjcmV0cw=="}})
    assert not PREFILTER.admits(body)
    assert PREFILTER.raw.admits_document(body)


def test_skipped_records_are_counted_by_the_cloud_of_their_envelope() -> None:
    other = orjson.loads(CONFIGMAP_GET)
    assert list(decode(eks_event([other, other]), received_at=RECEIVED_AT, prefilter=PREFILTER)) == [
        Prefiltered("aws", 2)
    ]
    assert list(decode(aks_body([other]), received_at=RECEIVED_AT, prefilter=PREFILTER)) == [Prefiltered("azure")]
    assert list(decode(CONFIGMAP_GET, fmt="k8s", received_at=RECEIVED_AT, prefilter=PREFILTER)) == [
        Prefiltered("k8s")
    ]
    panther = orjson.dumps({**other, "p_log_type": "Amazon.EKS.Audit"})
    assert list(decode(panther, received_at=RECEIVED_AT, prefilter=PREFILTER)) == [Prefiltered("aws")]


def test_without_a_prefilter_decode_yields_no_prefiltered_counts() -> None:
    items = list(decode(eks_event([orjson.loads(CONFIGMAP_GET)]), received_at=RECEIVED_AT))
    assert [type(item).__name__ for item in items] == ["AuditEvent"]


def test_every_log_a_rules_tests_expect_to_match_is_admitted_in_every_encoding() -> None:
    assert PREFILTER is not None
    logs = [test.log for each in RULES for test in each.tests if test.expected]
    assert logs
    for log in logs:
        text = orjson.dumps(log)
        assert PREFILTER.admits(text), log
        assert PREFILTER.admits(text.decode() + "\n"), log
        assert PREFILTER.raw.admits_document(text), log


# --- the proof: the same alerts and matches with and without it -----------------------------------------

def eks_event(events: list[dict[str, Any]]) -> bytes:
    message = {
        "messageType": "DATA_MESSAGE", "owner": "111122223333", "logGroup": "/aws/eks/prod/cluster",
        "logStream": "kube-apiserver-audit-0f3c", "subscriptionFilters": ["secretwatch"],
        "logEvents": [
            {"id": str(index), "timestamp": 1_700_000_000_000 + index, "message": orjson.dumps(event).decode()}
            for index, event in enumerate(events)
        ],
    }  # fmt: skip
    return orjson.dumps({"awslogs": {"data": base64.b64encode(gzip.compress(orjson.dumps(message))).decode()}})


def aks_body(events: list[dict[str, Any]]) -> bytes:
    resource = "/SUBSCRIPTIONS/0000/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/PROD"
    records = [
        {"category": "kube-audit", "operationName": "Microsoft.ContainerService/managedClusters/diagnosticLogs/Read",
         "properties": {"log": orjson.dumps(event).decode() + "\n", "stream": "stdout"}, "resourceId": resource,
         "time": "2024-05-14T09:12:45.0000000Z"}
        for event in events
    ]  # fmt: skip
    return orjson.dumps({"records": records})


def wire_documents(path: Path) -> Iterator[bytes]:
    """The file's documents as they are, and each audit Event and LogEntry in them in every envelope."""
    with path.open("rb") as stream:
        documents = list(iter_documents(stream))
    yield from documents
    for document in documents:
        try:
            parsed = orjson.loads(document)
        except orjson.JSONDecodeError:
            continue
        kind = detect(parsed)
        if kind == "k8s":
            yield eks_event([parsed])
            yield aks_body([parsed])
        elif kind == "gke":
            yield orjson.dumps(pubsub_push_body(parsed))


def fixture_files() -> list[Path]:
    return sorted(path for path in FIXTURES.rglob("*") if path.suffix in (".json", ".jsonl"))


def corpus_files() -> list[Path]:
    return sorted(CORPUS.rglob("*.json")) if CORPUS.is_dir() else []


def run(documents: list[bytes], *, prefilter: bool) -> tuple[Summary, MemorySink]:
    sink = MemorySink()
    pipeline = Pipeline(RULES, MemoryStore(), [sink], prefilter=prefilter, clock=lambda: RECEIVED_AT)
    summary = pipeline.process(documents)
    return summary, sink


def assert_same_results(documents: list[bytes]) -> Summary:
    with_it, alerts_with = run(documents, prefilter=True)
    without, alerts_without = run(documents, prefilter=False)
    assert alerts_with.alerts == alerts_without.alerts
    assert with_it.matches == without.matches
    assert with_it.without_term == without.without_term
    assert without.prefiltered == 0
    return with_it


def test_every_fixture_gives_the_same_alerts_and_matches_with_and_without_it() -> None:
    documents = [document for path in fixture_files() for document in wire_documents(path)]
    assert len(documents) > 30
    summary = assert_same_results(documents)
    assert sum(summary.matches.values()) > 5  # the comparison covers records the rules match
    assert summary.prefiltered > 1  # and records the pre-filter skips (secret-bulk-access admits watches too)


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"the shared corpus is not beside the repository ({CORPUS})")
def test_every_corpus_file_gives_the_same_alerts_and_matches_with_and_without_it() -> None:
    documents = [document for path in corpus_files() for document in wire_documents(path)]
    assert len(documents) > 300
    summary = assert_same_results(documents)
    assert sum(summary.matches.values()) > 10
    assert summary.prefiltered > 100


@pytest.mark.parametrize("secret_share", [0.03, 1.0])
def test_generated_traffic_in_all_three_formats_gives_the_same_alerts_and_matches(secret_share: float) -> None:
    traffic = generate_day(events=4000, seed=3, secret_share=secret_share, denied_share=0.3)
    assert {fmt for fmt, _ in traffic.documents} == {"eks", "gke", "aks"}
    summary = assert_same_results([document for _, document in traffic.documents])
    assert summary.alerts
    assert summary.prefiltered > (traffic.event_count * 0.9 if secret_share < 0.1 else 0)
    assert summary.event_total == traffic.event_count
