"""The SMTP sink against a real aiosmtpd server on 127.0.0.1: what arrives, AUTH, TLS, retries, refusals."""

from __future__ import annotations

import logging
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest

from core.alerts.registry import open_sink
from core.alerts.render import render_html, render_text, subject
from core.alerts.smtp import SmtpSink
from core.errors import ConfigError, DeliveryError
from core.model import Alert
from core.timeutil import utcnow
from tests.unit.alerts_factory import HOSTILE, hostile_alert, make_alert, make_context

if TYPE_CHECKING:
    from tests.smtp_server import SmtpServer

pytest_plugins = ["tests.smtp_server"]  # the SMTP server fixtures

PASSWORD_VARIABLE = "SECRETWATCH_TEST_SMTP_PASSWORD"
ADDRESSES = "from=secretwatch@example.com&to=security@example.com"
EXPECTED_HEADERS = {
    "Subject", "From", "To", "Date", "Message-ID", "Auto-Submitted", "Content-Type", "MIME-Version",
}


def open_smtp(uri: str, *, attempts: int = 3) -> SmtpSink:
    """The sink for `uri`, with waits between attempts short enough for tests."""
    return SmtpSink.from_uri(urlsplit(uri), attempts=attempts, backoff=0.001)


def auth_uri(server: SmtpServer, monkeypatch: pytest.MonkeyPatch) -> str:
    """The URI of `server` with the user it accepts, and that user's password in PASSWORD_VARIABLE."""
    assert server.username is not None
    assert server.password is not None
    monkeypatch.setenv(PASSWORD_VARIABLE, server.password)
    return server.uri(username=server.username, password_env=PASSWORD_VARIABLE)


def body(message: EmailMessage, subtype: str) -> str:
    """The text of one alternative, with the CRLF line ends of SMTP read back as newlines."""
    part = message.get_body((subtype,))
    assert isinstance(part, EmailMessage)
    content: str = part.get_content()
    return content.replace("\r\n", "\n")


def delivery_error(sink: SmtpSink, alerts: list[Alert] | None = None) -> str:
    with pytest.raises(DeliveryError) as raised:
        sink.send(alerts or [make_alert()])
    message = str(raised.value)
    assert "\n" not in message
    return message


def config_error(uri: str) -> str:
    with pytest.raises(ConfigError) as raised:
        open_smtp(uri)
    message = str(raised.value)
    assert "\n" not in message
    return message


def test_a_batch_arrives_as_one_mail_with_a_text_and_an_html_part(smtp_server: SmtpServer) -> None:
    alerts = [make_alert(alert_id="sw-1"), make_alert(alert_id="sw-2", severity="critical")]
    recipients = (smtp_server.recipient, "oncall@example.com")
    before = utcnow().replace(microsecond=0)

    open_smtp(smtp_server.uri(to=recipients)).send(alerts)

    [mail] = smtp_server.mails
    assert mail.mail_from == smtp_server.sender
    assert mail.rcpt_tos == recipients
    message = mail.message
    assert message.get_content_type() == "multipart/alternative"
    assert message["Subject"] == subject(alerts)
    assert message["From"] == smtp_server.sender
    assert message["To"] == ", ".join(recipients)
    assert message["Auto-Submitted"] == "auto-generated"
    assert before <= parsedate_to_datetime(message["Date"]) <= utcnow()
    assert body(message, "plain") == render_text(alerts)
    assert body(message, "html") == render_html(alerts)


def test_the_sink_is_opened_by_its_uri_with_a_label_that_names_the_server(smtp_server: SmtpServer) -> None:
    sink = open_sink(smtp_server.uri())

    assert isinstance(sink, SmtpSink)
    assert sink.label == f"smtp:127.0.0.1:{smtp_server.port}"
    sink.send([make_alert()])
    assert len(smtp_server.mails) == 1


def test_an_empty_batch_sends_nothing(smtp_server: SmtpServer) -> None:
    open_smtp(smtp_server.uri()).send([])

    assert smtp_server.mails == []


def test_non_ascii_values_arrive_intact(smtp_server: SmtpServer) -> None:
    alert = make_alert(make_context(username="José Müller <jm@example.com>"))

    open_smtp(smtp_server.uri()).send([alert])

    assert "José Müller <jm@example.com>" in body(smtp_server.mails[0].message, "plain")


def test_a_redelivered_batch_has_the_same_message_id_and_another_batch_a_different_one(
    smtp_server: SmtpServer,
) -> None:
    sink = open_smtp(smtp_server.uri())
    batch = [make_alert(alert_id="sw-1"), make_alert(alert_id="sw-2")]

    sink.send(batch)
    sink.send(list(reversed(batch)))
    sink.send([make_alert(alert_id="sw-3")])

    first, again, other = (mail.message["Message-ID"] for mail in smtp_server.mails)
    assert first == again != other
    assert first.startswith("<secretwatch.")
    assert first.endswith("@example.com>")


def test_hostile_alert_values_cannot_add_headers_or_recipients(smtp_server: SmtpServer) -> None:
    alert = hostile_alert()

    open_smtp(smtp_server.uri()).send([alert])

    [mail] = smtp_server.mails
    assert mail.rcpt_tos == (smtp_server.recipient,)
    assert set(mail.message.keys()) == EXPECTED_HEADERS
    header_lines = mail.raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    starts = {line.split(b":", 1)[0].decode() for line in header_lines if not line[:1].isspace()}
    assert starts == EXPECTED_HEADERS  # "Bcc: victim@..." only ever appears inside the folded subject
    assert mail.message["Subject"] == subject([alert])
    assert "<script>" not in body(mail.message, "html")
    assert HOSTILE not in mail.raw.decode("utf-8", "replace")


def test_auth_uses_the_password_from_the_named_environment_variable(
    smtp_auth_server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    open_smtp(auth_uri(smtp_auth_server, monkeypatch)).send([make_alert()])

    [mail] = smtp_auth_server.mails
    assert mail.username == smtp_auth_server.username
    assert not mail.tls


def test_a_wrong_password_fails_at_once_naming_password_env_and_never_showing_the_password(
    smtp_auth_server: SmtpServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sink = open_smtp(auth_uri(smtp_auth_server, monkeypatch))
    wrong = "Wr0ng-Passw0rd-hunter2"
    monkeypatch.setenv(PASSWORD_VARIABLE, wrong)

    message = delivery_error(sink)

    assert message.startswith(
        f"sink smtp:127.0.0.1:{smtp_auth_server.port}: authentication failed for user 'alerts' (535 "
    )
    assert message.endswith(
        "check the password in the environment variable named by password_env"
    )
    assert "attempts" not in message  # a refused password is not retried
    assert wrong not in message
    assert caplog.records  # the client and the server did log: none of it holds the password
    assert all(wrong not in record.getMessage() for record in caplog.records)
    assert smtp_auth_server.mails == []


def test_the_password_can_come_from_a_mounted_secret_file(
    smtp_auth_server: SmtpServer, tmp_path: Path
) -> None:
    assert smtp_auth_server.username is not None
    secret = tmp_path / "smtp-password"
    secret.write_text(f"{smtp_auth_server.password}\n")
    uri = smtp_auth_server.uri(username=smtp_auth_server.username, password_file=str(secret))

    open_smtp(uri).send([make_alert()])

    assert smtp_auth_server.mails[0].username == smtp_auth_server.username


def test_a_missing_password_variable_is_a_config_error_at_start_naming_its_parameter(
    smtp_auth_server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    uri = auth_uri(smtp_auth_server, monkeypatch)
    monkeypatch.delenv(PASSWORD_VARIABLE)

    message = config_error(uri)

    assert "the environment variable named by password_env is not set or empty" in message


def test_a_password_variable_gone_at_send_time_is_a_delivery_error_naming_its_parameter(
    smtp_auth_server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    sink = open_smtp(auth_uri(smtp_auth_server, monkeypatch))
    monkeypatch.delenv(PASSWORD_VARIABLE)

    assert "the environment variable named by password_env is not set" in delivery_error(sink)
    assert smtp_auth_server.mails == []


def test_an_unreadable_password_file_is_a_config_error_naming_its_parameter(
    smtp_auth_server: SmtpServer, tmp_path: Path
) -> None:
    missing = tmp_path / "not-mounted"

    message = config_error(smtp_auth_server.uri(username="alerts", password_file=str(missing)))

    assert "cannot read the file named by password_file: No such file or directory" in message


def test_a_non_ascii_password_is_refused_at_start_without_showing_it(
    smtp_auth_server: SmtpServer, tmp_path: Path
) -> None:
    secret = tmp_path / "smtp-password"
    secret.write_text("pässwört-hunter2")

    message = config_error(smtp_auth_server.uri(username="alerts", password_file=str(secret)))

    assert "the file named by password_file holds non-ASCII characters" in message
    assert "hunter2" not in message


def test_starttls_delivers_over_tls_with_the_certificate_verified(
    smtp_starttls_server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    uri = auth_uri(smtp_starttls_server, monkeypatch)
    assert "starttls=1" in uri
    assert "tls_ca=" in uri

    open_smtp(uri).send([make_alert()])

    [mail] = smtp_starttls_server.mails
    assert mail.tls
    assert mail.username == smtp_starttls_server.username


def test_starttls_verifies_the_certificate_by_default(smtp_starttls_server: SmtpServer) -> None:
    uri = smtp_starttls_server.uri().replace(f"&tls_ca={smtp_starttls_server.ca_file}", "")
    assert "tls_ca" not in uri

    message = delivery_error(open_smtp(uri))

    assert "TLS failure: the server's certificate did not verify (self-signed certificate)" in message
    assert "add tls_ca=" in message
    assert smtp_starttls_server.mails == []


def test_tls_verify_0_accepts_any_certificate_and_warns(
    smtp_starttls_server: SmtpServer, caplog: pytest.LogCaptureFixture
) -> None:
    uri = smtp_starttls_server.uri().replace(f"tls_ca={smtp_starttls_server.ca_file}", "tls_verify=0")

    open_smtp(uri).send([make_alert()])

    assert smtp_starttls_server.mails[0].tls
    assert "the server's certificate is NOT verified" in caplog.text


def test_starttls_is_never_skipped_when_the_server_does_not_offer_it(smtp_server: SmtpServer) -> None:
    uri = smtp_server.uri(starttls="1", tls_verify="0")

    message = delivery_error(open_smtp(uri))

    assert "the server does not offer STARTTLS, so nothing was sent" in message
    assert smtp_server.mails == []


def test_smtps_delivers_over_implicit_tls(smtps_server: SmtpServer, monkeypatch: pytest.MonkeyPatch) -> None:
    uri = auth_uri(smtps_server, monkeypatch)
    assert uri.startswith("smtps://")

    sink = open_smtp(uri)
    sink.send([make_alert()])

    assert sink.label == f"smtps:127.0.0.1:{smtps_server.port}"
    [mail] = smtps_server.mails
    assert mail.tls
    assert mail.username == smtps_server.username


def test_smtps_against_a_plain_port_is_a_tls_failure(smtp_server: SmtpServer) -> None:
    uri = smtp_server.uri(tls_verify="0").replace("smtp://", "smtps://", 1)

    assert "TLS failure" in delivery_error(open_smtp(uri))


def test_a_server_that_is_down_fails_after_bounded_retries(
    unused_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    sink = open_smtp(f"smtp://127.0.0.1:{unused_port}?{ADDRESSES}", attempts=3)

    message = delivery_error(sink)

    assert message == (
        f"sink smtp:127.0.0.1:{unused_port}: cannot connect to 127.0.0.1:{unused_port} (Connection refused) "
        "after 3 attempts: check the host and port, and that this network can reach the relay"
    )
    retries = [record.getMessage() for record in caplog.records if record.name == "core.alerts.smtp"]
    assert len(retries) == 2
    assert retries[0].startswith(f"smtp:127.0.0.1:{unused_port}: attempt 1 of 3 failed (cannot connect")


def test_a_deferred_message_is_retried_and_delivered_once(smtp_server: SmtpServer) -> None:
    smtp_server.recorder.data_replies.append("451 4.3.0 Try again later")

    open_smtp(smtp_server.uri()).send([make_alert()])

    assert len(smtp_server.mails) == 1
    assert not smtp_server.recorder.data_replies


def test_a_message_deferred_on_every_attempt_fails_after_them(smtp_server: SmtpServer) -> None:
    smtp_server.recorder.data_replies.extend(["451 4.3.0 Try again later"] * 2)

    message = delivery_error(open_smtp(smtp_server.uri(), attempts=2))

    assert message.endswith("the server answered 451 4.3.0 Try again later after 2 attempts")
    assert smtp_server.mails == []


def test_a_refused_recipient_is_named_and_the_others_still_get_the_mail(smtp_server: SmtpServer) -> None:
    smtp_server.recorder.refused_recipients["nobody@example.com"] = "550 5.1.1 No such user"
    sink = open_smtp(smtp_server.uri(to=(smtp_server.recipient, "nobody@example.com")))

    message = delivery_error(sink)

    assert "recipient refused: nobody@example.com (550 5.1.1 No such user) (delivered to the other 1)" in (
        message
    )
    assert [mail.rcpt_tos for mail in smtp_server.mails] == [(smtp_server.recipient,)]


def test_a_deferred_recipient_alone_is_retried(smtp_server: SmtpServer) -> None:
    smtp_server.recorder.refused_recipients["busy@example.com"] = "450 4.2.1 Mailbox busy"
    sink = open_smtp(smtp_server.uri(to=(smtp_server.recipient, "busy@example.com")), attempts=2)

    message = delivery_error(sink)

    assert "recipient still deferred after 2 attempts: busy@example.com (delivered to the other 1)" in message
    assert [mail.rcpt_tos for mail in smtp_server.mails] == [(smtp_server.recipient,)]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("to=a@example.com", "from= is required"),
        ("from=sw@example.com", "to= is required"),
        ("from=sw@example.com&to=a@example.com,not-an-address", "to= must be a bare ASCII address"),
        ("from=Secretwatch <sw@example.com>&to=a@example.com", "from= must be a bare ASCII address"),
        (f"{ADDRESSES}&starttls=maybe", "starttls= must be 1 or 0"),
        (f"{ADDRESSES}&timeout=-1", "timeout= must be a positive number of seconds"),
        (f"{ADDRESSES}&timeout=nan", "timeout= must be a positive number of seconds"),
        (f"{ADDRESSES}&username=u", "username= needs a password"),
        (f"{ADDRESSES}&password_env=X", "password_env and password_file need username=U"),
        (f"{ADDRESSES}&username=u&password_env=A&password_file=/run/p", "give password_env or password_file"),
        (f"{ADDRESSES}&username=u&password_env=A-B", "password_env must name an environment variable"),
        (f"{ADDRESSES}&username=u&password_file=rel/p", "password_file= must be an absolute path"),
        (f"{ADDRESSES}&tls_verify=0", "apply only with starttls=1 or smtps://"),
        (f"{ADDRESSES}&starttls=1&tls_verify=0&tls_ca=/ca.pem", "give tls_ca (verify against that CA) or"),
        (f"{ADDRESSES}&smtp_host=x", "query parameter 3 is unknown; it accepts from, to, starttls"),
    ],
)
def test_a_bad_uri_is_one_line_naming_the_parameter(query: str, expected: str) -> None:
    message = config_error(f"smtp://127.0.0.1:2525?{query}")

    assert message.startswith("sink 'smtp://': ")
    assert expected in message


def test_auth_in_clear_to_a_remote_host_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSWORD_VARIABLE, "irrelevant")

    message = config_error(f"smtp://mail.example.com:25?{ADDRESSES}&username=u&password_env={PASSWORD_VARIABLE}")

    assert "AUTH without TLS would send the password in clear; add starttls=1 or use smtps://" in message


def test_starttls_with_smtps_is_refused() -> None:
    assert "starttls=1 does not apply to smtps://" in config_error(f"smtps://mail.example.com?{ADDRESSES}&starttls=1")


def test_a_user_before_the_host_is_refused() -> None:
    assert "put the user in username=U" in config_error(f"smtp://alerts@mail.example.com?{ADDRESSES}")


def test_an_unreadable_ca_file_is_a_config_error(tmp_path: Path) -> None:
    missing = tmp_path / "ca.pem"

    message = config_error(f"smtp://mail.example.com?{ADDRESSES}&starttls=1&tls_ca={missing}")

    assert "cannot load the file named by tls_ca (No such file or directory)" in message
    assert str(missing) not in message


def test_default_ports_follow_the_scheme() -> None:
    plain = open_smtp(f"smtp://mail.example.com?{ADDRESSES}")
    implicit = open_smtp(f"smtps://mail.example.com?{ADDRESSES}")

    assert (plain.settings.port, implicit.settings.port) == (25, 465)
