"""`secretwatch replay`: drain a dead-letter source, deleting each message only once it was processed.

SQS runs under moto (in process, botocore's whole request path); Pub/Sub under the Cloud SDK's emulator.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from core.cli import main
from core.errors import ConfigError
from core.replay import open_source
from tests.unit.sources_wire import awslogs_event, fixture, pubsub_message
from tests.unit.test_sources_lambda_failure import on_failure_record

moto = pytest.importorskip("moto", reason="moto is not installed")
boto3 = pytest.importorskip("boto3", reason="boto3 is not installed")

REGION = "us-east-1"
QUEUE = "secretwatch-eks-failed"
SOURCE = f"sqs://{QUEUE}?region={REGION}"
FAKE_AWS_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_EC2_METADATA_DISABLED": "true",
}
#: The EKS batch gives four alerts (see test_sources_eks); a record around it is what the on-failure queue holds.
EKS_ALERTS = 4


@pytest.fixture
def sqs(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name, value in FAKE_AWS_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    with moto.mock_aws():
        yield boto3.client("sqs", region_name=REGION)


def failed_invocation() -> bytes:
    return orjson.dumps(on_failure_record(awslogs_event(fixture("eks/data_message_audit.json"))))


def queue_with(client: Any, *bodies: bytes, visibility_timeout: int = 30) -> str:
    url: str = client.create_queue(QueueName=QUEUE, Attributes={"VisibilityTimeout": str(visibility_timeout)})[
        "QueueUrl"
    ]
    for body in bodies:
        client.send_message(QueueUrl=url, MessageBody=body.decode())
    return url


def messages_in(client: Any, url: str) -> int:
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attributes = client.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return sum(int(attributes[name]) for name in names)


def alerts_in(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()] if path.exists() else []


def replay(source: str, state: str, sink: Path) -> int:
    return main(["replay", source, "--state", state, "--sink", f"jsonl://{sink}"])


def test_replay_processes_the_on_failure_records_and_deletes_them(
    sqs: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = queue_with(sqs, failed_invocation())
    sink = tmp_path / "alerts.jsonl"

    assert replay(SOURCE, f"sqlite:{tmp_path / 'state.db'}", sink) == 0

    assert len(alerts_in(sink)) == EKS_ALERTS
    assert messages_in(sqs, url) == 0
    err = capsys.readouterr().err
    assert "1 messages read, 1 deleted, 0 failed" in err
    assert "3 events (aws 3)" in err


def test_replaying_the_same_message_twice_raises_nothing_twice(
    sqs: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = queue_with(sqs, failed_invocation())
    state, sink = f"sqlite:{tmp_path / 'state.db'}", tmp_path / "alerts.jsonl"
    assert replay(SOURCE, state, sink) == 0
    sqs.send_message(QueueUrl=url, MessageBody=failed_invocation().decode())  # Lambda sent it again

    assert replay(SOURCE, state, sink) == 0

    assert len(alerts_in(sink)) == EKS_ALERTS
    assert messages_in(sqs, url) == 0
    assert "No alerts." in capsys.readouterr().out


def test_a_message_whose_processing_fails_stays_in_the_queue_and_the_run_exits_1(
    sqs: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Visible again at once: the run must still process it only once, and leave it.
    url = queue_with(sqs, failed_invocation(), visibility_timeout=0)
    missing_table = f"dynamodb://no-such-table?region={REGION}"

    assert replay(SOURCE, missing_table, tmp_path / "alerts.jsonl") == 1

    assert messages_in(sqs, url) == 1
    err = capsys.readouterr().err
    assert "1 messages read, 0 deleted, 1 failed" in err
    assert f"1 message(s) left in sqs://{QUEUE}?region={REGION}" in err

    assert replay(SOURCE, f"sqlite:{tmp_path / 'state.db'}", tmp_path / "alerts.jsonl") == 0
    assert messages_in(sqs, url) == 0


def test_a_missing_queue_is_a_one_line_error_and_exit_1(sqs: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", SOURCE, "--state", "memory"]) == 1

    assert capsys.readouterr().err.strip().endswith("could not find the queue: AWS.SimpleQueueService.NonExistentQueue")


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("kafka://topic", "unknown source scheme"),
        ("sqs://https://sqs.us-east-1.amazonaws.com/123/q", "give the queue's name (not its URL)"),
        ("sqs://q?region=nowhere", "parameter 'region' must be an AWS region"),
        ("pubsub://my-subscription", "write pubsub://projects/P/subscriptions/S"),
    ],
)
def test_a_malformed_source_uri_says_what_to_write(uri: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        open_source(uri)


def test_a_pubsub_dead_letter_subscription_is_drained_under_the_emulator(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.emulators import emulator_in_environment

    pubsub_v1 = pytest.importorskip("google.cloud.pubsub_v1", reason="google-cloud-pubsub is not installed")
    with emulator_in_environment("pubsub"):
        publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
        topic = publisher.topic_path("secretwatch-test", "gke-dead-letter")
        subscription = subscriber.subscription_path("secretwatch-test", "gke-dead-letter-replay")
        publisher.create_topic(name=topic)
        subscriber.create_subscription(name=subscription, topic=topic)
        message = pubsub_message(fixture("gke/secret_list_allowed_status_empty.json"))
        data = orjson.dumps(fixture("gke/secret_list_allowed_status_empty.json"))
        publisher.publish(topic, data, **message["attributes"]).result(timeout=10)
        state, sink = f"sqlite:{tmp_path / 'state.db'}", tmp_path / "alerts.jsonl"

        assert replay(f"pubsub://{subscription}", state, sink) == 0
        first = alerts_in(sink)
        publisher.publish(topic, data, **message["attributes"]).result(timeout=10)  # dead-lettered once more
        assert replay(f"pubsub://{subscription}", state, sink) == 0

        assert [alert["rule_id"] for alert in first if alert["rule_id"] == "secrets-list-cluster-wide"] == [
            "secrets-list-cluster-wide"
        ]
        assert alerts_in(sink) == first
        assert (
            subscriber.pull(request={"subscription": subscription, "max_messages": 10}, timeout=3).received_messages
            == []
        )
    assert "1 messages read, 1 deleted, 0 failed" in capsys.readouterr().err
