"""The SNS sink under moto: what a subscriber receives, read back through an SQS subscription.

The SQS queues subscribe without raw delivery, so each SQS body is the SNS notification envelope whose
"Message" is the "default" key of what the sink published (a MessageStructure json object); moto's record of
the topic holds the whole object, with the "email" key e-mail subscribers get.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import boto3
import orjson
import pytest
from botocore.stub import Stubber
from moto import mock_aws
from moto.core.authorization import enable_iam_authentication
from moto.sns.models import sns_backends

from core.alerts.ocsf import detection_finding
from core.alerts.registry import open_sink
from core.alerts.render import alert_json, alert_to_dict, render_text, subject
from core.alerts.sns import EMAIL_LIMIT, MESSAGE_LIMIT, SnsSink, message_body
from core.errors import ConfigError, DeliveryError
from core.model import Alert, Link
from tests.unit.alerts_factory import hostile_alert, make_alert, make_context

REGION = "us-east-1"
ACCOUNT = "123456789012"


@dataclass(frozen=True)
class Subscription:
    """An SNS topic with an SQS queue subscribed to it."""

    topic_arn: str
    queue_url: str

    def received(self) -> list[dict[str, Any]]:
        """Every SNS envelope waiting in the queue, in the order SQS returns them."""
        sqs = boto3.client("sqs", region_name=REGION)
        envelopes: list[dict[str, Any]] = []
        while True:
            response = sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"]
            )
            messages = response.get("Messages", [])
            if not messages:
                return envelopes
            for message in messages:
                envelopes.append({**json.loads(message["Body"]), "SqsAttributes": message["Attributes"]})
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        yield


def subscribe(name: str) -> Subscription:
    sns = boto3.client("sns", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    fifo = name.endswith(".fifo")
    topic_arn = sns.create_topic(Name=name, Attributes={"FifoTopic": "true"} if fifo else {})["TopicArn"]
    queue_url = sqs.create_queue(QueueName=name, Attributes={"FifoQueue": "true"} if fifo else {})["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]
    queue_arn = attributes["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    return Subscription(topic_arn, queue_url)


@pytest.fixture
def topic(aws: None) -> Subscription:
    return subscribe("secretwatch-alerts")


def publish_batch_calls(client: Any) -> list[int]:
    """Filled with the number of entries of each PublishBatch request the client makes."""
    calls: list[int] = []
    client.meta.events.register(
        "provide-client-params.sns.PublishBatch",
        lambda params, **_: calls.append(len(params["PublishBatchRequestEntries"])),
    )
    return calls


def published(topic_arn: str) -> list[str]:
    """Each Message as the sink published it (the MessageStructure json object), in order."""
    return [sent[1] for sent in sns_backends[ACCOUNT][REGION].topics[topic_arn].sent_notifications]


def message_size(envelope: dict[str, Any], message: str) -> int:
    """What SNS counts against its limit: the published message (both keys), the subject and each attribute."""
    attributes = sum(
        len(name) + len(value["Type"]) + len(value["Value"].encode())
        for name, value in envelope["MessageAttributes"].items()
    )
    return len(message.encode()) + len(envelope["Subject"]) + attributes


def test_each_alert_arrives_as_its_json_with_a_subject_and_filterable_attributes(topic: Subscription) -> None:
    alert = make_alert()

    SnsSink(topic.topic_arn).send([alert])

    [envelope] = topic.received()
    assert envelope["Type"] == "Notification"
    assert envelope["TopicArn"] == topic.topic_arn
    assert envelope["Message"] == alert_json(alert).decode()
    assert orjson.loads(envelope["Message"]) == alert_to_dict(alert)
    assert envelope["Subject"] == subject([alert])
    assert envelope["MessageAttributes"] == {
        "rule_id": {"Type": "String", "Value": "secret-access-unusual-user-agent"},
        "severity": {"Type": "String", "Value": "high"},
    }


def test_programs_get_the_json_and_email_subscribers_the_text(topic: Subscription) -> None:
    alert = make_alert()

    SnsSink(topic.topic_arn).send([alert])

    [sent] = published(topic.topic_arn)
    assert orjson.loads(sent) == {"default": alert_json(alert).decode(), "email": render_text([alert])}


def test_format_ocsf_publishes_the_detection_finding_for_programs(topic: Subscription) -> None:
    alert = make_alert()

    open_sink(f"sns://{topic.topic_arn}?format=ocsf").send([alert])

    [envelope] = topic.received()
    assert orjson.loads(envelope["Message"]) == detection_finding(alert)
    assert orjson.loads(published(topic.topic_arn)[0])["email"] == render_text([alert])


def test_an_ocsf_finding_over_256_kib_is_cut_and_marked_under_unmapped(topic: Subscription) -> None:
    huge = "x" * 300_000
    alert = make_alert(make_context(user_agent=huge), runbook="")

    open_sink(f"sns://{topic.topic_arn}?format=ocsf").send([alert])

    [envelope] = topic.received()
    finding = orjson.loads(envelope["Message"])
    assert finding["class_uid"] == 2004
    assert finding["http_request"]["user_agent"] == "x" * 1023 + "…"
    assert finding["unmapped"]["truncated"] is True
    assert message_size(envelope, published(topic.topic_arn)[0]) <= MESSAGE_LIMIT


def test_the_message_names_the_pod_and_node_of_a_bound_token(topic: Subscription) -> None:
    alert = make_alert(make_context(pod_name="payments-api-7d9f8b6c5-x2x7q", node_name="ip-10-0-4-17.ec2.internal"))

    SnsSink(topic.topic_arn).send([alert])

    [envelope] = topic.received()
    context = orjson.loads(envelope["Message"])["context"]
    assert (context["pod_name"], context["node_name"]) == ("payments-api-7d9f8b6c5-x2x7q", "ip-10-0-4-17.ec2.internal")


def test_alerts_are_published_ten_to_a_batch(topic: Subscription) -> None:
    client = boto3.client("sns", region_name=REGION)
    calls = publish_batch_calls(client)
    alerts = [make_alert(alert_id=f"sw-{number:02d}", risk_score=number) for number in range(23)]

    SnsSink(topic.topic_arn, client=client).send(alerts)

    assert calls == [10, 10, 3]
    received = [orjson.loads(envelope["Message"]) for envelope in topic.received()]
    assert sorted(received, key=lambda alert: alert["alert_id"]) == [alert_to_dict(alert) for alert in alerts]


def test_an_empty_batch_publishes_nothing(topic: Subscription) -> None:
    client = boto3.client("sns", region_name=REGION)
    calls = publish_batch_calls(client)

    SnsSink(topic.topic_arn, client=client).send([])

    assert calls == []
    assert topic.received() == []


def test_large_messages_are_split_across_batches_to_keep_each_request_under_256_kib(
    topic: Subscription,
) -> None:
    client = boto3.client("sns", region_name=REGION)
    calls = publish_batch_calls(client)
    # Each alert is about 80 KiB: three fit in one request, a fourth would not.
    audit_ids = tuple(f"{number:036d}" for number in range(2000))
    alerts = [make_alert(alert_id=f"sw-{number}", audit_ids=audit_ids) for number in range(5)]

    SnsSink(topic.topic_arn, client=client).send(alerts)

    assert calls == [3, 2]
    assert all("truncated" not in orjson.loads(envelope["Message"]) for envelope in topic.received())


def test_an_alert_over_256_kib_keeps_the_audit_ids_that_fit_and_says_how_many_were_dropped(
    topic: Subscription,
) -> None:
    audit_ids = tuple(f"0f6a1e52-7d0b-4a3c-9a55-{number:012d}" for number in range(20_000))
    alert = make_alert(audit_ids=audit_ids)

    SnsSink(topic.topic_arn).send([alert])

    [envelope] = topic.received()
    message = orjson.loads(envelope["Message"])
    kept = message["audit_ids"]
    assert 0 < len(kept) < len(audit_ids)
    assert kept == list(audit_ids[: len(kept)])
    assert message["truncated"] is True
    assert message["audit_ids_dropped"] == len(audit_ids) - len(kept)
    assert message["runbook_truncated"] is False
    expected = {**alert_to_dict(alert), "audit_ids": kept}
    assert {key: value for key, value in message.items() if key in expected} == expected
    # As many ids as fit: one more (its escaped quotes and a comma) would go over the limit.
    [sent] = published(topic.topic_arn)
    assert message_size(envelope, sent) <= MESSAGE_LIMIT < message_size(envelope, sent) + len(audit_ids[0]) + 5


def test_a_runbook_too_long_for_any_message_is_shortened_once_every_audit_id_is_dropped(
    topic: Subscription,
) -> None:
    runbook = "Rotate the secret and revoke the token.\n" * 10_000
    alert = make_alert(audit_ids=("a", "b", "c"), runbook=runbook)

    SnsSink(topic.topic_arn).send([alert])

    [envelope] = topic.received()
    message = orjson.loads(envelope["Message"])
    assert message["audit_ids"] == []
    assert message["audit_ids_dropped"] == 3
    assert message["runbook_truncated"] is True
    assert message["runbook"].endswith("…")
    assert runbook.startswith(message["runbook"][:-1])
    [sent] = published(topic.topic_arn)
    assert MESSAGE_LIMIT - 10 < message_size(envelope, sent) <= MESSAGE_LIMIT
    email = orjson.loads(sent)["email"]
    assert len(email) == EMAIL_LIMIT
    assert email.endswith("…")


def test_log_values_too_long_for_any_message_are_cut_as_a_last_resort(topic: Subscription) -> None:
    huge = "\u2028" * 50_000  # each one written as a six-byte escape: 300 KB
    alert = make_alert(make_context(user_agent=huge), title=huge, runbook="")

    SnsSink(topic.topic_arn).send([alert])

    [envelope] = topic.received()
    message = orjson.loads(envelope["Message"])
    assert message["truncated"] is True
    assert message["title"] == huge[:1023] + "…"
    assert message["context"]["user_agent"] == huge[:1023] + "…"
    assert message["context"]["username"] == "alice@example.com"
    [sent] = published(topic.topic_arn)
    assert message_size(envelope, sent) <= MESSAGE_LIMIT


def test_hostile_values_leave_a_one_line_ascii_subject_and_an_exact_message(topic: Subscription) -> None:
    alert = hostile_alert()

    SnsSink(topic.topic_arn).send([alert])

    [envelope] = topic.received()
    assert orjson.loads(envelope["Message"]) == alert_to_dict(alert)
    assert envelope["Subject"] == subject([alert])
    assert len(envelope["Subject"]) < 100
    assert envelope["Subject"].isascii()
    assert envelope["Subject"].isprintable()


def test_a_fifo_topic_groups_by_rule_and_deduplicates_by_alert_id(aws: None) -> None:
    fifo = subscribe("secretwatch-alerts.fifo")
    alerts = [make_alert(alert_id="sw-1"), make_alert(alert_id="sw-2", rule_id="secret-list-all-namespaces")]
    sink = SnsSink(fifo.topic_arn)

    sink.send(alerts)
    sink.send(alerts)  # a retried batch

    envelopes = fifo.received()
    assert [envelope["SqsAttributes"]["MessageDeduplicationId"] for envelope in envelopes] == ["sw-1", "sw-2"]
    assert [envelope["SqsAttributes"]["MessageGroupId"] for envelope in envelopes] == [
        "secret-access-unusual-user-agent",
        "secret-list-all-namespaces",
    ]


def test_a_missing_topic_is_a_delivery_error_that_says_to_create_it(aws: None) -> None:
    arn = f"arn:aws:sns:{REGION}:{ACCOUNT}:no-such-topic"

    with pytest.raises(DeliveryError) as raised:
        SnsSink(arn).send([make_alert()])

    assert str(raised.value) == (
        f"sink sns:{arn}: topic {arn} does not exist (NotFound: Topic does not exist); "
        "create it, or fix the ARN in the sns:// URI"
    )
    assert raised.value.sink == f"sns:{arn}"


def test_access_denied_names_the_permission_to_grant(topic: Subscription) -> None:
    iam = boto3.client("iam", region_name=REGION)
    iam.create_user(UserName="no-rights")
    key = iam.create_access_key(UserName="no-rights")["AccessKey"]
    client = boto3.client(
        "sns",
        region_name=REGION,
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
    )

    with enable_iam_authentication(), pytest.raises(DeliveryError) as raised:
        SnsSink(topic.topic_arn, client=client).send([make_alert()])

    message = str(raised.value)
    assert "access denied (AccessDenied: User: arn:aws:iam::123456789012:user/no-rights is not" in message
    assert message.endswith(f"allow sns:Publish on {topic.topic_arn} to the role secretwatch runs as")
    assert topic.received() == []


def entry(alert: Alert, entry_id: str) -> dict[str, Any]:
    """The PublishBatch entry the sink sends for an alert that fits in one message."""
    return {
        "Id": entry_id,
        "Message": orjson.dumps({"default": alert_json(alert).decode(), "email": render_text([alert])}).decode(),
        "MessageStructure": "json",
        "Subject": subject([alert]),
        "MessageAttributes": {
            "rule_id": {"DataType": "String", "StringValue": alert.rule_id},
            "severity": {"DataType": "String", "StringValue": alert.severity},
        },
    }


def test_entries_sns_failed_on_its_side_are_published_again_alone() -> None:
    arn = f"arn:aws:sns:{REGION}:{ACCOUNT}:alerts"
    client = boto3.client("sns", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    alerts = [make_alert(alert_id="sw-1"), make_alert(alert_id="sw-2")]
    failure = {"Id": "1", "Code": "InternalError", "Message": "try again", "SenderFault": False}
    with Stubber(client) as stubber:
        stubber.add_response(
            "publish_batch",
            {"Successful": [{"Id": "0", "MessageId": "m-0"}], "Failed": [failure]},
            {"TopicArn": arn, "PublishBatchRequestEntries": [entry(alerts[0], "0"), entry(alerts[1], "1")]},
        )
        stubber.add_response(
            "publish_batch",
            {"Successful": [{"Id": "1", "MessageId": "m-1"}], "Failed": []},
            {"TopicArn": arn, "PublishBatchRequestEntries": [entry(alerts[1], "1")]},
        )

        SnsSink(arn, client=client).send(alerts)

        stubber.assert_no_pending_responses()


def test_an_entry_refused_as_the_senders_fault_is_a_delivery_error_at_once() -> None:
    arn = f"arn:aws:sns:{REGION}:{ACCOUNT}:alerts"
    client = boto3.client("sns", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    refused = {"Id": "0", "Code": "InvalidParameter", "Message": "Invalid parameter", "SenderFault": True}
    with Stubber(client) as stubber:
        stubber.add_response("publish_batch", {"Successful": [], "Failed": [refused]})

        with pytest.raises(DeliveryError) as raised:
            SnsSink(arn, client=client).send([make_alert()])

    assert str(raised.value) == (
        f"sink sns:{arn}: SNS refused 1 of 1 messages (first: InvalidParameter: Invalid parameter)"
    )


def test_each_call_is_attempted_at_most_five_times_in_botocores_standard_mode(aws: None) -> None:
    sink = SnsSink(f"arn:aws:sns:{REGION}:{ACCOUNT}:alerts")

    assert sink.client.meta.config.retries == {"mode": "standard", "total_max_attempts": 5}  # type: ignore[attr-defined]


def test_open_sink_takes_the_region_from_the_topic_arn(aws: None) -> None:
    sink = open_sink("sns://arn:aws:sns:eu-west-1:123456789012:secretwatch-alerts")

    assert isinstance(sink, SnsSink)
    assert sink.label == "sns:arn:aws:sns:eu-west-1:123456789012:secretwatch-alerts"
    assert sink.client.meta.region_name == "eu-west-1"  # type: ignore[attr-defined]
    assert not sink.topic.fifo


def test_open_sink_accepts_a_region_and_endpoint_for_local_testing(aws: None) -> None:
    sink = open_sink(
        "sns://arn:aws:sns:us-east-1:123456789012:alerts.fifo?region=eu-central-1&endpoint_url=http://127.0.0.1:5000"
    )

    assert isinstance(sink, SnsSink)
    assert sink.topic.fifo
    assert sink.client.meta.region_name == "eu-central-1"  # type: ignore[attr-defined]
    assert sink.client.meta.endpoint_url == "http://127.0.0.1:5000"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        (
            "sns://alerts",
            "sink 'sns://': what follows sns:// is not an SNS topic ARN; use sns://arn:aws:sns:REGION:ACCOUNT_ID:TOPIC_NAME",
        ),
        ("sns://arn:aws:sqs:us-east-1:123456789012:alerts", "not an SNS topic ARN"),
        ("sns://arn:aws:sns:us-east-1:12345:alerts", "not an SNS topic ARN"),
        ("sns://arn:aws:sns:us-east-1:123456789012:alerts?token=s3cr3t", "query parameter 1 is unknown"),
        ("sns://arn:aws:sns:us-east-1:123456789012:alerts?endpoint_url=localhost:4566", "must be an http://"),
    ],
)
def test_a_bad_sns_uri_is_one_config_error_line(uri: str, expected: str) -> None:
    with pytest.raises(ConfigError) as raised:
        SnsSink.from_uri(urlsplit(uri))

    message = str(raised.value)
    assert expected in message
    assert "\n" not in message
    assert "s3cr3t" not in message


@pytest.mark.parametrize("cut", [1, 500, 2000])
def test_a_message_body_is_the_alert_json_when_it_fits_and_never_longer_than_its_limit(cut: int) -> None:
    alert = make_alert(audit_ids=tuple(f"audit-{number}" for number in range(200)))
    full = alert_json(alert)

    body = message_body(alert, len(full) - cut)

    assert message_body(alert, len(full)) == full
    assert len(body) <= len(full) - cut
    assert orjson.loads(body)["truncated"] is True


def test_an_alert_cut_to_fit_keeps_its_console_links_whole(topic: Subscription) -> None:
    link = Link("Log Analytics", "https://portal.azure.com/#blade/Microsoft_Azure_Monitoring_Logs/" + "q" * 2000)
    alert = make_alert(make_context(user_agent="x" * 300_000), runbook="", links=(link,))

    SnsSink(topic.topic_arn).send([alert])

    [envelope] = topic.received()
    document = orjson.loads(envelope["Message"])
    assert document["truncated"] is True
    assert document["links"] == [{"name": "Log Analytics", "url": link.url}]
