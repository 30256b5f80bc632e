"""The Cloud Function, served by functions-framework's own Flask app, mailing alerts to a real SMTP server.

Each test builds a fresh app: functions-framework runs functions/gcp/main.py again for every app, so the
pipeline is built anew from that test's environment (memory store, the test's SMTP server).
"""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from core.errors import ConfigError
from tests.functions.gke_messages import (
    DENIED,
    ENUMERATED_NAMESPACE,
    ENUMERATOR,
    FIXTURES,
    UNUSUAL_AGENT,
    alerted_rules,
    cloud_event_attributes,
    enumeration_entries,
    event_counts,
    fixture_entry,
    garbage_push_body,
    json_lines,
    plain_text,
    push_body,
)
from tests.smtp_server import SmtpServer, running_smtp_server

functions_framework = pytest.importorskip(
    "functions_framework", reason="the gcp extra (functions-framework) is not installed"
)
conversion = pytest.importorskip("cloudevents.conversion", reason="cloudevents is not installed")
cloudevents_http = pytest.importorskip("cloudevents.http", reason="cloudevents is not installed")

REPO = Path(__file__).resolve().parents[2]
MAIN = REPO / "functions" / "gcp" / "main.py"

Client = Any  # flask.testing.FlaskClient


@pytest.fixture
def function_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """An environment like a fresh instance's, and the process state an instance changes, restored afterwards.

    functions-framework writes FUNCTION_TARGET and the like and extends sys.path; on Cloud Run (K_SERVICE)
    main.py hands the root logger to its JSON handler.
    """
    for name in ("K_SERVICE", "SECRETWATCH_STORE", "SECRETWATCH_SINKS", "SECRETWATCH_LEARNING_PERIOD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FUNCTION_TARGET", "handle_pubsub")
    monkeypatch.setenv("FUNCTION_SIGNATURE_TYPE", "cloudevent")
    monkeypatch.setattr(sys, "path", [*sys.path])
    root = logging.getLogger()
    handlers, level, propagate = [*root.handlers], root.level, root.propagate
    yield monkeypatch
    root.handlers, root.propagate = handlers, propagate
    root.setLevel(level)


def new_client() -> Client:
    app = functions_framework.create_app(
        target="handle_pubsub", source=str(MAIN), signature_type="cloudevent"
    )
    return app.test_client()


@pytest.fixture
def mailing_client(function_env: pytest.MonkeyPatch, smtp_server: SmtpServer) -> Client:
    function_env.setenv("SECRETWATCH_STORE", "memory://")
    function_env.setenv("SECRETWATCH_SINKS", smtp_server.uri())
    return new_client()


def as_push(client: Client, body: dict[str, Any]) -> Any:
    """A raw Pub/Sub push request, as a push subscription sends it."""
    return client.post("/", json=body)


def as_binary(client: Client, body: dict[str, Any]) -> Any:
    """A binary-mode CloudEvent (attributes in ce-* headers), as Eventarc delivers a Pub/Sub trigger."""
    headers, data = conversion.to_binary(cloudevents_http.CloudEvent(cloud_event_attributes(body), body))
    return client.post("/", headers=headers, data=data)


def as_structured(client: Client, body: dict[str, Any]) -> Any:
    """A structured-mode CloudEvent (one JSON document holding attributes and data)."""
    headers, data = conversion.to_structured(cloudevents_http.CloudEvent(cloud_event_attributes(body), body))
    return client.post("/", headers=headers, data=data)


def logged(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    """The function's JSON log lines written since the last call."""
    lines = json_lines(capsys.readouterr().out)
    return [entry for entry in lines if entry.get("logger") == "secretwatch.gcp"]


@pytest.mark.parametrize("deliver", [as_push, as_binary, as_structured], ids=["push", "binary", "structured"])
def test_every_delivery_shape_processes_the_log_entry_and_mails_the_alert(
    deliver: Callable[[Client, dict[str, Any]], Any],
    mailing_client: Client,
    smtp_server: SmtpServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    response = deliver(mailing_client, push_body(fixture_entry("secret_get_denied"), 1001))

    assert response.status_code == 200
    assert alerted_rules(smtp_server.mails) == {UNUSUAL_AGENT: 1}
    assert "mallory@example.com" in smtp_server.mails[0].message["Subject"]
    [line] = logged(capsys)
    assert line["severity"] == "INFO"
    assert line["message"] == "message processed"
    assert line["summary"]["events"] == {"gcp": 1}
    assert line["summary"]["alerts"] == {UNUSUAL_AGENT: 1}
    logged_text = orjson.dumps(line).decode()
    assert "mallory@example.com" not in logged_text  # counts and reasons only: no log content
    assert "db-credentials" not in logged_text


def test_an_eventarc_audit_log_event_carrying_the_log_entry_itself_is_processed(
    mailing_client: Client, smtp_server: SmtpServer
) -> None:
    cloud_event = (FIXTURES / "cloudevent_auditlog_secret_get.json").read_bytes()

    response = mailing_client.post(
        "/", data=cloud_event, headers={"Content-Type": "application/cloudevents+json"}
    )

    assert response.status_code == 200
    assert alerted_rules(smtp_server.mails) == {UNUSUAL_AGENT: 1}


def test_entries_that_match_no_rule_are_acknowledged_without_mail(
    mailing_client: Client, smtp_server: SmtpServer, capsys: pytest.CaptureFixture[str]
) -> None:
    names = ("controller_secret_get_status_code0", "container_api_set_node_pool_size")
    entries = [fixture_entry(name) for name in names]

    responses = [as_push(mailing_client, push_body(entry, n)) for n, entry in enumerate(entries)]

    assert [response.status_code for response in responses] == [200, 200]
    assert smtp_server.mails == []
    read, other = (line["summary"] for line in logged(capsys))
    assert (read["events"], read["matches"], read["alerts"]) == ({"gcp": 1}, {}, {})
    assert (other["events"], other["ignored"], other["malformed"]) == ({}, {"not_k8s_api": 1}, {})


def test_a_message_of_garbage_base64_is_acknowledged_and_counted(
    mailing_client: Client, smtp_server: SmtpServer, capsys: pytest.CaptureFixture[str]
) -> None:
    response = as_push(mailing_client, garbage_push_body(7))

    assert response.status_code == 200
    assert smtp_server.mails == []
    [line] = logged(capsys)
    assert line["severity"] == "WARNING"
    assert line["summary"]["malformed"] == {"bad_base64": 1}
    assert line["summary"]["events"] == {}


def test_an_enumeration_burst_raises_one_denied_alert_of_twenty_events(
    mailing_client: Client, smtp_server: SmtpServer
) -> None:
    entries = enumeration_entries()
    assert len(entries) >= 20

    statuses = {as_push(mailing_client, push_body(entry, n)).status_code for n, entry in enumerate(entries)}

    assert statuses == {200}
    # The enumerator's laptop and kubectl are also a first sighting: no learning period here.
    assert alerted_rules(smtp_server.mails) == {DENIED: 1, UNUSUAL_AGENT: 1}
    assert event_counts(smtp_server.mails, DENIED) == [20]
    denied = next(mail for mail in smtp_server.mails if "failed secret reads" in mail.message["Subject"])
    assert ENUMERATOR in plain_text(denied)
    assert f"namespace {ENUMERATED_NAMESPACE}" in denied.message["Subject"]


def test_redelivered_messages_raise_no_second_alert(
    mailing_client: Client, smtp_server: SmtpServer, capsys: pytest.CaptureFixture[str]
) -> None:
    bodies = [push_body(entry, n) for n, entry in enumerate(enumeration_entries()[:20])]
    for body in bodies:
        assert as_push(mailing_client, body).status_code == 200
    first_mails = list(smtp_server.mails)
    capsys.readouterr()

    for body in bodies:
        assert as_push(mailing_client, body).status_code == 200

    assert smtp_server.mails == first_mails
    assert alerted_rules(first_mails) == {DENIED: 1, UNUSUAL_AGENT: 1}
    assert all(line["summary"]["alerts"] == {} for line in logged(capsys))


def test_redelivered_messages_count_nothing_twice(mailing_client: Client, smtp_server: SmtpServer) -> None:
    bodies = [push_body(entry, n) for n, entry in enumerate(enumeration_entries()[:20])]

    for body in [*bodies[:10], *bodies[:10], *bodies[10:19]]:  # 29 deliveries of 19 distinct requests
        assert as_push(mailing_client, body).status_code == 200
    assert alerted_rules(smtp_server.mails)[DENIED] == 0

    assert as_push(mailing_client, bodies[19]).status_code == 200
    assert event_counts(smtp_server.mails, DENIED) == [20]


def test_a_stopped_mail_server_answers_500_so_that_pubsub_redelivers(
    function_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with running_smtp_server() as server:
        uri, port = server.uri(), server.port
    function_env.setenv("SECRETWATCH_SINKS", uri)  # the server has stopped: nothing listens there any more

    response = as_push(new_client(), push_body(fixture_entry("secret_get_denied"), 1))

    assert response.status_code == 500
    [line] = logged(capsys)
    assert line["severity"] == "ERROR"
    assert line["message"] == "message not processed; Pub/Sub will redeliver it"
    assert line["event_id"] == "1"
    assert f"cannot connect to 127.0.0.1:{port}" in line["error"]


def test_an_alert_the_mail_server_refused_is_sent_when_pubsub_redelivers(
    mailing_client: Client, smtp_server: SmtpServer
) -> None:
    body = push_body(fixture_entry("secret_get_denied"), 1)
    smtp_server.recorder.data_replies.append("554 5.3.4 Message refused for now")

    refused = as_push(mailing_client, body)
    redelivered = as_push(mailing_client, body)

    assert (refused.status_code, redelivered.status_code) == (500, 200)
    assert alerted_rules(smtp_server.mails) == {UNUSUAL_AGENT: 1}


@pytest.mark.parametrize(
    ("setting", "value", "says"),
    [
        ("SECRETWATCH_SINKS", "", "SECRETWATCH_SINKS is empty"),
        ("SECRETWATCH_SINKS", "pagerduty://oncall", "unknown sink scheme: use one of"),
        ("SECRETWATCH_STORE", "firestore://alerts", "project"),
        ("SECRETWATCH_LEARNING_PERIOD", "a fortnight", "SECRETWATCH_LEARNING_PERIOD"),
    ],
)
def test_bad_configuration_fails_the_instance_at_start_with_one_clear_line(
    setting: str, value: str, says: str, function_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    function_env.setenv("K_SERVICE", "secretwatch")  # on Cloud Run: the pipeline is built at import
    function_env.setenv("SECRETWATCH_SINKS", "jsonl://-")
    function_env.setenv(setting, value)

    with pytest.raises(ConfigError, match=says):
        new_client()

    [line] = json_lines(capsys.readouterr().out)
    assert line["severity"] == "CRITICAL"
    assert line["message"].startswith("secretwatch is misconfigured: ")
    assert says in line["message"]


def test_bad_configuration_outside_cloud_run_fails_the_first_message(
    function_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    client = new_client()  # SECRETWATCH_SINKS is unset

    response = as_push(client, push_body(fixture_entry("secret_get_denied"), 1))

    assert response.status_code == 500
    [line] = logged(capsys)
    assert line["severity"] == "CRITICAL"
    assert "SECRETWATCH_SINKS is empty" in line["message"]


@pytest.fixture
def upload(tmp_path: Path) -> Path:
    """The Cloud Function upload as scripts/package_gcp.py assembles it."""
    out = tmp_path / "gcp"
    result = subprocess.run(
        [sys.executable, "-m", "scripts.package_gcp", "--out", str(out)],
        capture_output=True, text=True, check=True, timeout=60, cwd=REPO,
    )
    assert "files" in result.stdout
    return out


def test_the_packaged_upload_runs_on_its_own_copy_of_the_core(upload: Path) -> None:
    top_level = sorted(path.name for path in upload.iterdir())
    assert top_level == ["LICENSE", "NOTICE", "core", "functions", "main.py", "requirements.txt"]
    assert not (upload / "core" / "demo").exists()
    assert not (upload / "functions" / "aws").exists()
    script = (
        "import functions_framework, core, sys\n"
        "app = functions_framework.create_app(target='handle_pubsub', source='main.py',"
        " signature_type='cloudevent')\n"
        "response = app.test_client().post('/', data=sys.stdin.buffer.read(),"
        " headers={'Content-Type': 'application/json'})\n"
        "print(response.status_code, core.__file__, file=sys.stderr)\n"
    )
    body = orjson.dumps(push_body(fixture_entry("secret_get_denied"), 1))
    env = {"PATH": "/usr/bin:/bin", "SECRETWATCH_SINKS": "jsonl://-", "SECRETWATCH_STORE": "memory://"}

    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=upload, input=body, capture_output=True, env=env, timeout=60, check=False,
    )

    status, core_file = result.stderr.decode().split()[-2:]
    assert status == "200", result.stderr.decode()
    assert Path(core_file).is_relative_to(upload)
    alerts = [entry for entry in json_lines(result.stdout.decode()) if "rule_id" in entry]
    assert [alert["rule_id"] for alert in alerts] == [UNUSUAL_AGENT]
