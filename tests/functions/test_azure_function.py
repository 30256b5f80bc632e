"""The Azure Function: Event Hub batches of AKS diagnostic bodies in; mail and Azure Tables state out.

Batches are real `func.EventHubEvent` objects, as the worker builds them for cardinality many, handed to the
user function the worker would call. Bodies are the project's AKS fixtures and bodies built with the demo's
event and envelope builders (constructed envelopes: no public multi-record AKS body exists). Alerts go to a
real SMTP server (aiosmtpd); state lives in Azurite's Table service, so a test can drop the worker
(`reset_pipeline`) and show that what it learned or counted survives. Tests needing Azurite skip without it
(scripts/install-azurite.sh installs it).
"""

from __future__ import annotations

import json
import random
import re
import subprocess
import sys
import time
import typing
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from core.demo.attacks import GUESSED_NAMES
from core.demo.cast import Actor, act, named
from core.demo.clusters import aks
from core.demo.draw import Draw
from core.demo.envelopes import aks_eventhub_body, aks_record
from core.demo.events import audit_event
from core.demo.traffic import generate_day
from core.engine import threshold
from core.errors import ConfigError, DeliveryError, StateError
from core.rules.loader import load_rules
from core.state.base import Item
from core.state.registry import open_store
from tests.azurite import shared_azurite, unused_table_name
from tests.smtp_server import ReceivedMail, SmtpServer

func = pytest.importorskip("azure.functions", reason="the azure extra (azure-functions) is not installed")

from functions.azure import function_app  # noqa: E402 - only once azure-functions is known to be there

REPO = Path(__file__).resolve().parents[2]
APP_DIR = REPO / "functions" / "azure"
FIXTURES = REPO / "tests" / "fixtures" / "aks"
STORAGE_SETTING = "SecretwatchStorage"
SETTINGS = ("SECRETWATCH_STORE", "SECRETWATCH_SINKS", "SECRETWATCH_LEARNING_PERIOD", STORAGE_SETTING)

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DENIED_RULE = "secret-access-denied"
AGENT_RULE = "secret-access-unusual-user-agent"
NAMESPACE = "storefront"
KUBECTL = "kubectl/v1.30.2 (linux/amd64) kubernetes/3968350"
MALLORY = Actor(
    "mallory@contoso.com", ("6b0f7c1e-2a4d-4e8b-9c3f-5d1a2b3c4d5e", "system:authenticated"),
    ("20.43.245.209", aks.PROXY_IP), KUBECTL,
)  # fmt: skip
THIEF = Actor(
    f"system:serviceaccount:{NAMESPACE}:storefront-web",
    ("system:serviceaccounts", f"system:serviceaccounts:{NAMESPACE}", "system:authenticated"),
    ("198.51.100.23", aks.PROXY_IP), "curl/8.5.0",
)  # fmt: skip
BURST = 24  # denied gets, 20 s apart: the 20th is 6 min 20 s after the first
LEARNING_PERIOD = "1h"


# --- Event Hub batches ---------------------------------------------------------------------------------------

def hub_events(bodies: Sequence[bytes | dict[str, Any]], *, first_sequence: int = 4096) -> list[Any]:
    """EventHubEvents as the worker hands them over for cardinality many: body bytes and system properties."""
    return [
        func.EventHubEvent(
            body=body if isinstance(body, bytes) else json.dumps(body).encode(),
            enqueued_time=START + timedelta(minutes=10, milliseconds=index),
            sequence_number=first_sequence + index,
            offset=str((first_sequence + index) * 2048),
        )
        for index, body in enumerate(bodies)
    ]


@cache
def aks_function() -> Any:
    """The app's one function, as the worker indexes it (once: indexing twice is refused as a duplicate)."""
    (function,) = function_app.app.get_functions()
    return function


def run(events: list[Any]) -> None:
    """Invoke the function as the worker does: the user function, called with the batch."""
    aks_function().get_user_function()(events)


def batch_summaries(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    prefix = function_app.SUMMARY_MESSAGE.removesuffix("%s")
    return [
        json.loads(record.getMessage().removeprefix(prefix))
        for record in caplog.records
        if record.name == function_app.__name__ and record.getMessage().startswith(prefix)
    ]


# --- AKS diagnostic bodies ----------------------------------------------------------------------------------

def record(event: dict[str, Any], category: str = "kube-audit") -> dict[str, Any]:
    return aks_record(event, cluster=aks.NAME, subscription_id=aks.SUBSCRIPTION,
                      resource_group=aks.RESOURCE_GROUP, category=category)


def request(draw: Draw, actor: Actor, verb: str, name: str, at: datetime, *, namespace: str = NAMESPACE,
            code: int | None = None) -> dict[str, Any]:
    activity = act(actor, verb, "secrets", named(namespace, name), code=code)
    return audit_event(draw.request(activity, (at - EPOCH) // timedelta(microseconds=1)))


@cache
def denials() -> tuple[dict[str, Any], ...]:
    """Mallory guessing secret names in one namespace: every get is forbidden."""
    draw = Draw(random.Random("denials"))
    return tuple(
        request(draw, MALLORY, "get", name, START + index * timedelta(seconds=20), code=403)
        for index, name in enumerate(GUESSED_NAMES[:BURST])
    )


def baseline_body() -> dict[str, Any]:
    """A day earlier, in the learning period: Mallory reads a secret of her own with the same laptop."""
    event = request(Draw(random.Random("baseline")), MALLORY, "get", "dev-config", START - timedelta(days=1),
                    namespace="dev-mallory")
    return aks_eventhub_body([record(event)])


def fixture_record(category: str) -> dict[str, Any]:
    body = json.loads((FIXTURES / "eventhub_body.json").read_text())
    return next(item for item in body["records"] if isinstance(item, dict) and item["category"] == category)


def attack_bodies() -> list[dict[str, Any]]:
    """The burst and a token replayed with curl, spread over three bodies among records of no interest."""
    theft = request(Draw(random.Random("theft")), THIEF, "get", "storefront-stripe", START + timedelta(minutes=2))
    cut_off = json.loads((FIXTURES / "record_cut_off_log.json").read_text())
    burst = [record(event) for event in denials()]
    return [
        aks_eventhub_body([*burst[:12], fixture_record("kube-audit-admin")]),
        aks_eventhub_body([fixture_record("kube-apiserver"), *burst[12:]]),
        aks_eventhub_body([record(theft), cut_off]),
    ]


# --- what arrived -------------------------------------------------------------------------------------------

def alerts_in(mail: ReceivedMail) -> list[dict[str, str]]:
    """Each alert of a mail's plain-text part as {label: value}, e.g. {"Rule": ..., "Events": "20"}."""
    body = mail.message.get_body(preferencelist=("plain",))
    assert isinstance(body, EmailMessage)
    alerts: list[dict[str, str]] = []
    for line in body.get_content().splitlines():
        if line.startswith("["):
            alerts.append({"title": line})
        elif alerts and line.startswith("  ") and not line.startswith("   "):
            label, _, value = line.strip().partition("  ")
            if value:
                alerts[-1][label] = value.strip()
    return alerts


def by_rule(mail: ReceivedMail) -> dict[str, dict[str, str]]:
    return {alert["Rule"]: alert for alert in alerts_in(mail)}


@dataclass(frozen=True)
class Deployment:
    """The app settings of one test's function app, and a look into its state from outside the worker."""

    smtp: SmtpServer
    store_uri: str

    def denial_count(self) -> Item | None:
        (rule,) = (rule for rule in load_rules() if rule.id == DENIED_RULE)
        assert rule.threshold is not None
        group = {"namespace": NAMESPACE, "username": MALLORY.username}
        key = threshold.state_key(rule, [group[name] for name in rule.threshold.group_by])
        store = open_store(self.store_uri)
        try:
            return store.get_many([key]).get(key)
        finally:
            store.close()

    def counted_ids(self) -> list[str]:
        """The audit ids the group's newest denial window has counted (core.engine.windows' record)."""
        item = self.denial_count()
        ids = item.value["w"][-1]["ids"] if item else []
        assert isinstance(ids, list)
        return [str(audit_id) for audit_id in ids]


# --- fixtures -----------------------------------------------------------------------------------------------

@pytest.fixture(autouse=True)
def fresh_worker(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts as a new worker process would, from its own settings."""
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)
    function_app.reset_pipeline()
    yield
    function_app.reset_pipeline()


@pytest.fixture
def state_uri(monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh Azurite table, reached the way the app reaches it: through the setting the URI names."""
    server = shared_azurite()
    monkeypatch.setenv(STORAGE_SETTING, server.connection_string)
    return f"azuretables://{server.fresh_table()}?connection_setting={STORAGE_SETTING}"


@pytest.fixture
def deployed(smtp_server: SmtpServer, state_uri: str, monkeypatch: pytest.MonkeyPatch) -> Deployment:
    monkeypatch.setenv("SECRETWATCH_STORE", state_uri)
    monkeypatch.setenv("SECRETWATCH_SINKS", smtp_server.uri())
    monkeypatch.setenv("SECRETWATCH_LEARNING_PERIOD", LEARNING_PERIOD)
    return Deployment(smtp_server, state_uri)


@pytest.fixture
def learned(deployed: Deployment) -> Deployment:
    """The baseline batch has been read by another worker: Mallory's laptop and kubectl are known."""
    run(hub_events([baseline_body()], first_sequence=1000))
    function_app.reset_pipeline()
    assert deployed.smtp.mails == []
    return deployed


# --- the function's declaration -----------------------------------------------------------------------------

def test_the_app_declares_one_event_hub_trigger_taking_batches_of_raw_bodies() -> None:
    function = aks_function()
    declared = json.loads(function.get_function_json())

    assert function.get_function_name() == "aks_audit"
    assert declared["scriptFile"] == "function_app.py"
    (trigger,) = declared["bindings"]
    enums = ("direction", "cardinality", "dataType")  # the library writes them in capitals; the host ignores case
    assert {**trigger, **{key: trigger[key].lower() for key in enums}} == {
        "type": "eventHubTrigger",
        "direction": "in",
        "name": "events",
        "cardinality": "many",
        "dataType": "binary",
        "connection": "EventHubConnection",
        "eventHubName": "%SECRETWATCH_EVENT_HUB%",
        "consumerGroup": "%SECRETWATCH_CONSUMER_GROUP%",
    }


def test_the_batch_parameter_is_a_list_of_events_that_the_workers_converter_accepts() -> None:
    hints = typing.get_type_hints(aks_function().get_user_function())  # as the worker resolves them

    # The converter knows typing.List[...] but not list[...]: with the latter the worker refuses to load.
    assert func.eventhub.EventHubTriggerConverter.check_input_type_annotation(hints["events"])
    assert not func.eventhub.EventHubTriggerConverter.check_input_type_annotation(list[func.EventHubEvent])


def test_the_retry_policy_backs_off_exponentially_for_about_an_hour_in_the_workers_format() -> None:
    # The worker sends this setting to the host (it is not part of get_function_json); it parses the counts
    # with int() and the intervals with time.strptime(value, "%H:%M:%S").
    policy = aks_function().get_settings_dict("retry_policy")
    assert policy is not None
    retries = int(policy["max_retry_count"])
    shortest, longest = (_seconds(policy[name]) for name in ("minimum_interval", "maximum_interval"))

    assert policy["strategy"] == "exponential_backoff"
    assert policy.get("delay_interval") is None  # that one belongs to fixed_delay
    assert retries > 0  # bounded: -1 would hold the partition for ever
    assert 0 < shortest < longest
    waited = sum(min(shortest * 2**attempt, longest) for attempt in range(retries))
    assert timedelta(minutes=30) <= timedelta(seconds=waited) <= timedelta(hours=2)


def _seconds(interval: str) -> int:
    parsed = time.strptime(interval, "%H:%M:%S")
    return parsed.tm_hour * 3600 + parsed.tm_min * 60 + parsed.tm_sec


def test_host_json_batches_event_hub_reads_and_lets_the_summary_lines_through() -> None:
    host = json.loads((APP_DIR / "host.json").read_text())
    event_hubs = host["extensions"]["eventHubs"]
    hours, minutes, seconds = (int(part) for part in host["functionTimeout"].split(":"))

    assert host["version"] == "2.0"
    assert host["extensionBundle"]["id"] == "Microsoft.Azure.Functions.ExtensionBundle"
    assert host["extensionBundle"]["version"].startswith("[4.")
    assert 1 < event_hubs["maxEventBatchSize"] <= event_hubs["prefetchCount"]
    assert event_hubs["batchCheckpointFrequency"] == 1  # a checkpoint after every successful batch
    assert timedelta(minutes=1) <= timedelta(hours=hours, minutes=minutes, seconds=seconds) <= timedelta(minutes=10)
    assert host["logging"]["logLevel"]["Function"] == "Information"


def test_requirements_txt_names_the_base_dependencies_and_the_azure_extra() -> None:
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    wanted = [*project["dependencies"], *project["optional-dependencies"]["azure"]]
    listed = [line for line in (APP_DIR / "requirements.txt").read_text().splitlines()
              if line.strip() and not line.startswith("#")]

    assert sorted(map(_name, listed)) == sorted(map(_name, wanted))


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


# --- batches ------------------------------------------------------------------------------------------------

def test_an_enumeration_burst_and_a_replayed_token_raise_one_mail_with_both_alerts(
    learned: Deployment, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger=function_app.__name__)
    run(hub_events(attack_bodies()))

    (mail,) = learned.smtp.mails
    alerts = by_rule(mail)
    assert sorted(alerts) == [DENIED_RULE, AGENT_RULE]  # Mallory's own kubectl was learned: no new-client alert
    denied, agent = alerts[DENIED_RULE], alerts[AGENT_RULE]
    assert (denied["User"], denied["Namespace"], denied["Events"]) == (MALLORY.username, NAMESPACE, "20")
    assert (denied["Cloud"], denied["Cluster"]) == ("azure", aks.NAME)
    assert (agent["User"], agent["User agent"], agent["Name"]) == (THIEF.username, "curl/8.5.0", "storefront-stripe")
    assert learned.counted_ids() == [event["auditID"] for event in denials()[:20]]


def test_each_batch_logs_one_summary_line_of_counts_and_reasons(
    learned: Deployment, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger=function_app.__name__)
    run(hub_events(attack_bodies(), first_sequence=5000))

    (summary,) = batch_summaries(caplog)
    assert summary["event_hub"] == {
        "events": 3, "sequence_numbers": [5000, 5002], "oldest_enqueued": "2026-11-02T09:10:00.000000Z",
    }
    assert summary["documents"] == 3
    assert summary["events"] == {"azure": BURST + 2}  # the burst, the stolen token's read, the admin's patch
    assert summary["ignored"] == {"other_category": 1}  # klog text from kube-apiserver
    assert summary["malformed"] == {"cut_off_log": 1}
    assert summary["alerts"] == {DENIED_RULE: 1, AGENT_RULE: 1}
    logged = "\n".join(record.getMessage() for record in caplog.records if record.name == function_app.__name__)
    assert MALLORY.username not in logged
    assert "storefront-stripe" not in logged


@pytest.mark.parametrize("worker", ["same worker", "another worker"])
def test_a_redelivered_batch_raises_no_second_mail(learned: Deployment, worker: str) -> None:
    batch = hub_events(attack_bodies())
    run(batch)
    if worker == "another worker":  # the partition moved, or the instance restarted before its checkpoint
        function_app.reset_pipeline()
    run(batch)

    assert len(learned.smtp.mails) == 1
    assert len(learned.counted_ids()) == 20


def test_a_redelivered_batch_counts_nothing_twice(learned: Deployment) -> None:
    first = hub_events([aks_eventhub_body([record(event) for event in denials()[:12]])])
    run(first)
    function_app.reset_pipeline()
    run(first)  # twice counted, these 12 and the next 7 would pass 20
    run(hub_events([aks_eventhub_body([record(event) for event in denials()[12:19]])]))

    assert learned.smtp.mails == []
    assert len(learned.counted_ids()) == 19

    run(hub_events([aks_eventhub_body([record(denials()[19])])]))
    (mail,) = learned.smtp.mails
    assert by_rule(mail)[DENIED_RULE]["Events"] == "20"


def test_bad_records_are_counted_and_the_good_ones_beside_them_still_alert(
    deployed: Deployment, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("SECRETWATCH_LEARNING_PERIOD", "0s")  # every first sighting alerts
    caplog.set_level("INFO", logger=function_app.__name__)
    fixture_body = (FIXTURES / "eventhub_body.json").read_bytes()
    run(hub_events([b"I1102 09:03:10.123456       1 trace.go:236] not a body", b'{"records": {"category": 1}}',
                    fixture_body, (FIXTURES / "record_log_as_object.json").read_bytes()]))

    (summary,) = batch_summaries(caplog)
    # not JSON; records not an array; in the fixture a string record and klog text under kube-audit
    assert summary["malformed"] == {"invalid_json": 2, "wrong_type": 2}
    assert summary["ignored"] == {"other_category": 1}
    # the fixture's two kube-audit events and its admin patch, and the object-log record repeating that patch:
    # no rule reads a patch, so the pre-filter counts each copy (by its text, or once read by its verb) and
    # prefiltered events are not deduplicated
    assert (summary["events"], summary["prefiltered"], summary["duplicates"]) == ({"azure": 4}, 2, 0)
    (mail,) = deployed.smtp.mails
    assert {alert["User"] for alert in alerts_in(mail)} == {"mallory@contoso.com", "dana@contoso.com"}


def test_a_day_of_generated_aks_traffic_after_the_learning_period_raises_no_mail(
    deployed: Deployment, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("SECRETWATCH_LEARNING_PERIOD", "6h")
    caplog.set_level("INFO", logger=function_app.__name__)
    traffic = generate_day(events=3000, seed=11, attacks=False, learning_hours=6)
    bodies = [document for fmt, document in traffic.documents if fmt == "aks"]
    records = sum(len(json.loads(body)["records"]) for body in bodies)

    for start in range(0, len(bodies), 4):  # small batches, as the host sends them when the hub is quiet
        run(hub_events(bodies[start : start + 4], first_sequence=start))

    summaries = batch_summaries(caplog)
    assert sum(summary["events"].get("azure", 0) for summary in summaries) == records
    assert sum(summary["matches"].get(AGENT_RULE, 0) for summary in summaries) > 0  # secrets were read
    assert deployed.smtp.mails == []


# --- failures -----------------------------------------------------------------------------------------------

def test_a_refused_mail_fails_the_batch_and_the_hosts_retry_sends_it_once(learned: Deployment) -> None:
    batch = hub_events(attack_bodies())
    learned.smtp.recorder.data_replies.append("554 5.7.1 Message refused by policy")

    with pytest.raises(DeliveryError, match="554"):
        run(batch)
    assert learned.smtp.mails == []

    run(batch)  # the retry policy's next attempt
    run(batch)  # and a later redelivery of the same events
    (mail,) = learned.smtp.mails
    assert sorted(by_rule(mail)) == [DENIED_RULE, AGENT_RULE]
    assert len(learned.counted_ids()) == 20


def test_a_missing_table_fails_the_batch_with_a_message_naming_the_table(
    smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = shared_azurite()
    table = unused_table_name()
    monkeypatch.setenv(STORAGE_SETTING, server.connection_string)
    monkeypatch.setenv("SECRETWATCH_STORE", f"azuretables://{table}?connection_setting={STORAGE_SETTING}")
    monkeypatch.setenv("SECRETWATCH_SINKS", smtp_server.uri())

    with pytest.raises(StateError) as failure:
        run(hub_events(attack_bodies()))

    assert table in str(failure.value)
    assert "create it" in str(failure.value)
    assert "AccountKey" not in str(failure.value)
    assert smtp_server.mails == []


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({}, "SECRETWATCH_SINKS is empty"),
        ({"SECRETWATCH_SINKS": "jsonl://-", "SECRETWATCH_LEARNING_PERIOD": "a week"}, "SECRETWATCH_LEARNING_PERIOD"),
        (
            {"SECRETWATCH_SINKS": "jsonl://-",
             "SECRETWATCH_STORE": f"azuretables://secretwatch?connection_setting={STORAGE_SETTING}"},
            "the setting named by connection_setting is empty or not set",
        ),
        (
            {"SECRETWATCH_SINKS": "jsonl://-", STORAGE_SETTING: "DefaultEndpointsProtocol=https;AccountKey=hunter2",
             "SECRETWATCH_STORE": f"azuretables://secretwatch?connection_setting={STORAGE_SETTING}"},
            "the setting named by connection_setting does not hold a valid storage connection string",
        ),
        ({"SECRETWATCH_SINKS": "smtp://relay.example.com?from=a@example.com&to=b@example.com&password=hunter2"},
         "password"),
    ],
    ids=["no sinks", "bad learning period", "connection setting unset", "bad connection string",
         "password in a sink URI"],
)
def test_bad_configuration_fails_the_batch_with_one_clear_line(
    settings: dict[str, str], expected: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    for name, value in settings.items():
        monkeypatch.setenv(name, value)

    with pytest.raises(ConfigError) as failure:
        run(hub_events([baseline_body()]))

    errors = [record.getMessage() for record in caplog.records if record.levelname == "ERROR"]
    assert errors == [f"secretwatch is misconfigured: {failure.value}"]
    assert expected in str(failure.value)
    assert "\n" not in str(failure.value)
    assert "hunter2" not in str(failure.value)


def test_in_the_functions_host_a_misconfigured_app_fails_while_being_indexed() -> None:
    env = {"PATH": "/usr/bin:/bin", "FUNCTIONS_WORKER_RUNTIME": "python", "SECRETWATCH_STORE": "memory://"}
    done = subprocess.run([sys.executable, "-c", "import functions.azure.function_app"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=60, check=False)

    assert done.returncode != 0
    assert "ConfigError: SECRETWATCH_SINKS is empty" in done.stderr


# --- the package ----------------------------------------------------------------------------------------------

def test_the_package_root_holds_the_entry_point_the_worker_indexes(tmp_path: Path) -> None:
    built = subprocess.run([sys.executable, "-m", "scripts.package_azure", "--out", str(tmp_path), "--remote-build"],
                           cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    assert built.returncode == 0, built.stderr
    root = tmp_path / "azure"
    assert {path.name for path in root.iterdir()} == {
        "function_app.py", "host.json", "requirements.txt", ".funcignore", "core", "functions", "LICENSE", "NOTICE",
    }
    assert sorted(path.name for path in (root / "functions").iterdir()) == ["__init__.py", "azure"]
    assert (root / "core" / "rules" / "secret_access_denied.yml").is_file()
    assert not list(root.rglob("__pycache__"))
    assert (tmp_path / "secretwatch-azure.zip").is_file()

    probe = (
        "import json, function_app, functions.azure.function_app as inner\n"
        "print(json.dumps([inner.__file__, *(f.get_function_json() for f in function_app.app.get_functions())]))"
    )
    # The package's own copy of the code; this environment's site-packages stand in for Azure's install.
    env = {"PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1"}
    indexed = subprocess.run([sys.executable, "-c", probe], cwd=root, env=env,
                             capture_output=True, text=True, timeout=60, check=False)

    assert indexed.returncode == 0, indexed.stderr
    source, *declared = json.loads(indexed.stdout.strip().splitlines()[-1])
    assert Path(source).is_relative_to(root)
    (function,) = (json.loads(text) for text in declared)
    assert function["scriptFile"] == "function_app.py"
    assert function["bindings"][0]["type"] == "eventHubTrigger"
