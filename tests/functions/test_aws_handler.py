"""The Lambda door under moto: real awslogs events in, SNS messages, SES mails and DynamoDB state out."""

from __future__ import annotations

import base64
import gzip
import json
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import orjson
import pytest
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from core.demo.envelopes import eks_data_message, eks_lambda_event
from core.errors import ConfigError, StateError
from core.sources.eks import MAX_INFLATED_BYTES
from core.state.dynamodb import create_table

REGION = "us-east-1"
TABLE = "secretwatch-state"
SENDER = "secretwatch@example.com"
T0 = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)


def audit_event(
    n: int, *, at: timedelta, user: str, agent: str, code: int, ip: str = "198.51.100.23"
) -> dict[str, Any]:
    when = (T0 + at).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return {
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": "Metadata",
        "auditID": f"aws-test-{n:05d}",
        "stage": "ResponseComplete",
        "requestURI": f"/api/v1/namespaces/payments/secrets/guess-{n}",
        "verb": "get",
        "user": {"username": user, "groups": ["system:authenticated"]},
        "sourceIPs": [ip],
        "userAgent": agent,
        "objectRef": {"resource": "secrets", "namespace": "payments", "name": f"guess-{n}", "apiVersion": "v1"},
        "responseStatus": {"metadata": {}, "code": code},
        "requestReceivedTimestamp": when,
        "stageTimestamp": when,
    }


ENUMERATION = [
    audit_event(
        i,
        at=timedelta(seconds=10 * i),
        user="mallory@example.com",
        agent="kubectl/v1.30.2 (linux/amd64) kubernetes/3968350",
        code=403,
    )
    for i in range(25)
]
CURL_READ = audit_event(
    900,
    at=timedelta(minutes=30),
    user="system:serviceaccount:payments:api",
    agent="curl/8.5.0",
    code=200,
    ip="203.0.113.77",
)


class Aws:
    def __init__(self) -> None:
        self.dynamodb = boto3.client("dynamodb", region_name=REGION)
        self.sqs = boto3.client("sqs", region_name=REGION)
        sns = boto3.client("sns", region_name=REGION)
        create_table(self.dynamodb, TABLE)
        self.topic = sns.create_topic(Name="secretwatch-alerts")["TopicArn"]
        self.queue = self.sqs.create_queue(QueueName="alerts")["QueueUrl"]
        queue_arn = self.sqs.get_queue_attributes(QueueUrl=self.queue, AttributeNames=["QueueArn"])["Attributes"]
        sns.subscribe(TopicArn=self.topic, Protocol="sqs", Endpoint=queue_arn["QueueArn"])
        boto3.client("sesv2", region_name=REGION).create_email_identity(EmailIdentity=SENDER)

    def sns_messages(self) -> list[dict[str, Any]]:
        found = self.sqs.receive_message(QueueUrl=self.queue, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        return [json.loads(message["Body"]) for message in found.get("Messages", [])]

    def mails(self) -> list[Any]:
        return list(ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages)

    def items(self, prefix: str) -> list[dict[str, Any]]:
        scanned = self.dynamodb.scan(TableName=TABLE)["Items"]
        return [item for item in scanned if item["pk"]["S"].startswith(prefix)]


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        world = Aws()
        monkeypatch.setenv("SECRETWATCH_STORE", f"dynamodb://{TABLE}?region={REGION}")
        monkeypatch.setenv("SECRETWATCH_SINKS", f"sns://{world.topic},ses://{SENDER}?to=soc@example.com")
        monkeypatch.delenv("SECRETWATCH_LEARNING_PERIOD", raising=False)
        from functions.aws import handler

        handler.pipeline.cache_clear()
        yield world
        handler.pipeline.cache_clear()


def invoke(event: dict[str, Any]) -> dict[str, Any]:
    from functions.aws.handler import handler

    return handler(event, None)  # type: ignore[arg-type]


def test_an_enumeration_burst_and_a_curl_read_raise_two_alerts_on_sns_and_one_mail(aws: Aws) -> None:
    summary = invoke(eks_lambda_event([*ENUMERATION, CURL_READ], cluster="prod"))
    messages = aws.sns_messages()
    rules = sorted(json.loads(m["Message"])["rule_id"] for m in messages)
    assert summary["events"] == {"aws": 26}
    # mallory's kubectl and the service account's curl are both new clients; the burst crosses 20 denials
    assert rules == ["secret-access-denied", "secret-access-unusual-user-agent", "secret-access-unusual-user-agent"]
    denied = next(m for m in messages if json.loads(m["Message"])["rule_id"] == "secret-access-denied")
    assert json.loads(denied["Message"])["event_count"] == 20
    assert denied["MessageAttributes"]["rule_id"]["Value"] == "secret-access-denied"
    assert denied["MessageAttributes"]["severity"]["Value"] == "medium"
    assert json.loads(denied["Message"])["cluster"] == "prod"
    assert len(aws.mails()) == 1
    assert len(aws.items("thr|secret-access-denied|payments|mallory@example.com")) == 1
    assert len(aws.items("sent|")) >= 2


def test_the_same_delivery_twice_raises_no_second_alert_and_counts_nothing_twice(aws: Aws) -> None:
    event = eks_lambda_event([*ENUMERATION[:20], CURL_READ], cluster="prod")
    invoke(event)
    first = aws.sns_messages()
    group = aws.items("thr|")
    invoke(event)
    assert len(first) == 3
    assert aws.sns_messages() == []
    assert len(aws.mails()) == 1
    assert aws.items("thr|") == group


def test_a_bad_record_is_counted_and_the_rest_of_the_batch_is_processed(aws: Aws) -> None:
    data = eks_data_message(ENUMERATION[:20], cluster="prod")
    data["logEvents"].insert(3, {"id": "1", "timestamp": 1, "message": "I0109 21:24:54.475483 not json"})
    event = {"awslogs": {"data": base64.b64encode(gzip.compress(orjson.dumps(data))).decode()}}
    summary = invoke(event)
    assert summary["malformed"] == {"invalid_json": 1}
    assert summary["events"] == {"aws": 20}
    assert summary["alerts"]["secret-access-denied"] == 1


def test_an_envelope_that_does_not_decode_is_counted_not_raised(aws: Aws) -> None:
    summary = invoke({"awslogs": {"data": "not base64 at all!"}})
    assert sum(summary["malformed"].values()) == 1
    assert aws.sns_messages() == []


def test_a_decompression_bomb_is_refused_by_the_core_cap_and_the_invocation_succeeds(aws: Aws) -> None:
    inflater = zlib.compressobj(1, zlib.DEFLATED, 31)  # gzip
    bomb = inflater.compress(bytes(MAX_INFLATED_BYTES + 1)) + inflater.flush()

    summary = invoke({"awslogs": {"data": base64.b64encode(bomb).decode()}})

    assert summary["malformed"] == {"bad_compression": 1}
    assert aws.sns_messages() == []


def test_a_control_message_is_ignored_quietly(aws: Aws) -> None:
    control = {
        "messageType": "CONTROL_MESSAGE",
        "owner": "CloudwatchLogs",
        "logGroup": "",
        "logStream": "",
        "subscriptionFilters": [],
        "logEvents": [{"id": "", "timestamp": 1, "message": "CWL CONTROL MESSAGE"}],
    }
    summary = invoke({"awslogs": {"data": base64.b64encode(gzip.compress(orjson.dumps(control))).decode()}})
    assert summary["ignored"] == {"control_message": 1}
    assert summary["malformed"] == {}


def test_a_failing_table_makes_the_invocation_raise_so_lambda_retries(aws: Aws) -> None:
    aws.dynamodb.delete_table(TableName=TABLE)
    with pytest.raises(StateError, match="does not exist"):
        invoke(eks_lambda_event(ENUMERATION[:3], cluster="prod"))


def test_metrics_are_written_as_embedded_metric_format(aws: Aws, capsys: pytest.CaptureFixture[str]) -> None:
    data = eks_data_message(ENUMERATION[:20], cluster="prod")
    data["logEvents"].append({"id": "2", "timestamp": 1, "message": '{"kind": "Event"}'})
    invoke({"awslogs": {"data": base64.b64encode(gzip.compress(orjson.dumps(data))).decode()}})
    documents = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    emf = [doc for doc in documents if "_aws" in doc]
    names = {m["Name"] for doc in emf for d in doc["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]}
    assert {"Events", "Matches", "Alerts", "Skipped", "SkippedByReason"} <= names
    assert any(doc.get("reason") == "missing_fields" for doc in emf)


def test_steady_traffic_of_known_clients_costs_almost_no_dynamodb_requests(aws: Aws) -> None:
    known = [
        audit_event(
            5000 + i,
            at=timedelta(minutes=40, seconds=i),
            user="system:serviceaccount:payments:api",
            agent="curl/8.5.0",
            code=200,
            ip="203.0.113.77",
        )
        for i in range(1000)
    ]
    invoke(eks_lambda_event([CURL_READ], cluster="prod"))  # the term becomes known (and alerts once)
    requests = 0
    for start in range(0, 1000, 100):
        summary = invoke(eks_lambda_event(known[start : start + 100], cluster="prod"))
        requests += summary["state_requests"]["reads"] + summary["state_requests"]["writes"]
    assert requests <= 5


def test_bad_configuration_fails_with_one_clear_message(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    from functions.aws import handler

    monkeypatch.setenv("SECRETWATCH_STORE", "postgres://db")
    handler.pipeline.cache_clear()
    with pytest.raises(ConfigError, match="unknown store scheme: use one of"):
        invoke(eks_lambda_event(ENUMERATION[:1], cluster="prod"))


def test_metrics_carry_the_stacks_own_service_name(monkeypatch: pytest.MonkeyPatch) -> None:
    """The no-data alarm of each stack watches `Events` under its own service dimension (the stack's name)."""
    import importlib

    from functions.aws import handler

    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "secretwatch-prod-eu")
    monkeypatch.setenv("SECRETWATCH_STORE", "memory://")
    monkeypatch.setenv("SECRETWATCH_SINKS", "jsonl:///dev/null")
    try:
        reloaded = importlib.reload(handler)
        assert (reloaded.metrics.namespace, reloaded.metrics.service) == ("secretwatch", "secretwatch-prod-eu")
    finally:
        monkeypatch.delenv("POWERTOOLS_SERVICE_NAME")
        importlib.reload(handler)
