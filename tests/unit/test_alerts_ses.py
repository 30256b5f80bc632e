"""The SES sink under moto: one email per batch, read back from moto's SES backend and from the request."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from moto import mock_aws
from moto.core.authorization import enable_iam_authentication
from moto.ses.models import ses_backends

from core.alerts.registry import open_sink
from core.alerts.render import render_html, render_text, subject
from core.alerts.ses import SesSink
from core.errors import ConfigError, DeliveryError
from tests.unit.alerts_factory import hostile_alert, make_alert, make_context

REGION = "eu-west-1"
SENDER = "secretwatch@example.com"
RECIPIENTS = ("security@example.com", "oncall@example.org")
ACCOUNT = "123456789012"  # moto's default account


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        yield


@pytest.fixture
def verified(aws: None) -> None:
    boto3.client("sesv2", region_name=REGION).create_email_identity(EmailIdentity=SENDER)


def sent_messages() -> list[Any]:
    return list(ses_backends[ACCOUNT][REGION].sent_messages)


def sent_requests(client: Any) -> list[dict[str, Any]]:
    """Filled with the JSON body of each SendEmail request the client puts on the wire."""
    bodies: list[dict[str, Any]] = []
    client.meta.events.register(
        "before-call.sesv2.SendEmail", lambda params, **_: bodies.append(json.loads(params["body"]))
    )
    return bodies


def test_a_batch_is_one_email_with_the_subject_and_text_and_html_bodies(verified: None) -> None:
    client = boto3.client("sesv2", region_name=REGION)
    requests = sent_requests(client)
    alerts = [make_alert(alert_id="sw-1"), make_alert(alert_id="sw-2", severity="critical", risk_score=95)]

    SesSink(SENDER, RECIPIENTS, client=client).send(alerts)

    [message] = sent_messages()
    assert message.source == SENDER
    assert message.destinations == {"ToAddresses": list(RECIPIENTS)}
    assert message.subject == subject(alerts)
    assert message.body == render_html(alerts)
    [request] = requests
    assert request["Content"]["Simple"] == {
        "Subject": {"Data": subject(alerts), "Charset": "UTF-8"},
        "Body": {
            "Text": {"Data": render_text(alerts), "Charset": "UTF-8"},
            "Html": {"Data": render_html(alerts), "Charset": "UTF-8"},
        },
    }


def test_an_empty_batch_sends_no_email(verified: None) -> None:
    SesSink(SENDER, RECIPIENTS).send([])

    assert sent_messages() == []


def test_a_sender_whose_domain_is_verified_can_send(aws: None) -> None:
    boto3.client("sesv2", region_name=REGION).create_email_identity(EmailIdentity="example.com")

    SesSink(SENDER, RECIPIENTS).send([make_alert()])

    assert [message.source for message in sent_messages()] == [SENDER]


def test_non_ascii_values_reach_the_bodies_intact(verified: None) -> None:
    alert = make_alert(make_context(username="José Müller"))

    SesSink(SENDER, RECIPIENTS).send([alert])

    [message] = sent_messages()
    assert "José Müller" in message.body
    assert message.subject.isascii()


def test_hostile_values_cannot_add_headers_or_markup(verified: None) -> None:
    alert = hostile_alert()

    SesSink(SENDER, RECIPIENTS).send([alert])

    [message] = sent_messages()
    assert message.subject == subject([alert])
    assert "\r" not in message.subject
    assert "\n" not in message.subject
    assert "<script>" not in message.body
    assert message.destinations == {"ToAddresses": list(RECIPIENTS)}


def test_an_unverified_sender_is_a_delivery_error_that_says_to_verify_it(aws: None) -> None:
    with pytest.raises(DeliveryError) as raised:
        SesSink(SENDER, RECIPIENTS).send([make_alert()])

    assert str(raised.value) == (
        f"sink ses:{SENDER}: SES rejected the email (MessageRejected: Email address not verified {SENDER}); "
        f"verify the sender identity {SENDER} (or its domain) in SES in this region, and while the account "
        "is in the SES sandbox verify each recipient too"
    )
    assert sent_messages() == []


def test_access_denied_names_the_permission_to_grant(verified: None) -> None:
    iam = boto3.client("iam", region_name=REGION)
    iam.create_user(UserName="no-rights")
    key = iam.create_access_key(UserName="no-rights")["AccessKey"]
    client = boto3.client(
        "sesv2",
        region_name=REGION,
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
    )

    with enable_iam_authentication(), pytest.raises(DeliveryError) as raised:
        SesSink(SENDER, RECIPIENTS, client=client).send([make_alert()])

    message = str(raised.value)
    assert message.startswith(f"sink ses:{SENDER}: access denied (")
    assert message.endswith(
        f"allow ses:SendEmail on the identity {SENDER} (or its domain) to the role secretwatch runs as"
    )
    assert "\n" not in message
    assert sent_messages() == []


def test_open_sink_reads_the_sender_recipients_and_region(aws: None) -> None:
    sink = open_sink(f"ses://{SENDER}?to=security@example.com, oncall@example.org&region=us-west-2")

    assert isinstance(sink, SesSink)
    assert sink.label == "ses:secretwatch@example.com"
    assert sink.sender == SENDER
    assert sink.recipients == RECIPIENTS
    assert sink.client.meta.region_name == "us-west-2"  # type: ignore[attr-defined]


def test_open_sink_uses_the_environments_region_by_default(aws: None) -> None:
    sink = open_sink("ses://secretwatch%2Balerts@example.com?to=security@example.com,security@example.com")

    assert isinstance(sink, SesSink)
    assert sink.sender == "secretwatch+alerts@example.com"
    assert sink.recipients == ("security@example.com",)
    assert sink.client.meta.region_name == REGION  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        (
            "ses://secretwatch@example.com",
            "sink 'ses://': parameter 'to' is required, e.g. ses://FROM?to=a@example.com,b@example.com",
        ),
        (
            "ses://secretwatch@example.com?to=,",
            "sink 'ses://': parameter 'to' is required, e.g. ses://FROM?to=a@example.com,b@example.com",
        ),
        (
            "ses://secretwatch@example.com?to=security@example.com,not-an-address&region=eu-west-1",
            "sink 'ses://': parameter 'to': recipient 2 is not an email address",
        ),
        (
            "ses://secretwatch@example.com?to=ops@example.com%0D%0ABcc:victim@example.com",
            "sink 'ses://': parameter 'to': recipient 1 is not an email address",
        ),
        (
            "ses://secretwatch?to=security@example.com",
            "sink 'ses://': the sender (what follows ses://) is not an email address; use ses://alerts@example.com?to=...",
        ),
        (
            "ses://secretwatch@example.com?to=" + ",".join(f"u{n}@example.com" for n in range(51)),
            "sink 'ses://': parameter 'to' names 51 recipients; SES allows 50",
        ),
        (
            "ses://secretwatch@example.com?to=security@example.com&token=s3cr3t",
            "sink 'ses://': query parameter 2 is unknown; it accepts to, region, endpoint_url",
        ),
        (
            "ses://secretwatch@example.com?to=security@example.com&endpoint_url=localhost",
            "sink 'ses://': parameter 'endpoint_url' must be an http:// or https:// URL of a host and port, like "
            "http://127.0.0.1:4566",
        ),
    ],
)
def test_a_bad_ses_uri_is_one_config_error_line_that_names_the_bad_address_by_its_place(
    uri: str, expected: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        SesSink.from_uri(urlsplit(uri))

    assert str(raised.value) == expected


def test_without_any_region_the_sink_says_how_to_give_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))

    with pytest.raises(ConfigError) as raised:
        SesSink.from_uri(urlsplit("ses://secretwatch@example.com?to=security@example.com"))

    assert str(raised.value) == "sink 'ses://': no AWS region; add region=R to the URI or set AWS_REGION"
