"""The issue's redelivery cases, driven through each door as its platform drives it: the Lambda handler (moto
DynamoDB), the Cloud Function (functions-framework, Pub/Sub push bodies, SQLite state), the Azure Function
(EventHubEvents, SQLite state) and the CLI (SQLite state). Alerts go to a JSON Lines file sink at every door.

1. 20 denials (alert), one more 16 minutes later, then the first batch again: one alert, not two.
2. 10 denials, 10 more 16 minutes later, then the first 10 again: no alert (no window ever holds 20).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from core.demo.envelopes import aks_eventhub_body, aks_record, eks_lambda_event, gke_log_entry, pubsub_push_body
from core.timeutil import isoformat

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
Deliver = Callable[[list[dict[str, Any]]], None]


def denial(n: int, at: timedelta) -> dict[str, Any]:
    when = isoformat(T0 + at)
    return {
        "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata", "auditID": f"0b7c{n:04d}-1c2d-4e5f",
        "stage": "ResponseComplete", "requestURI": f"/api/v1/namespaces/payments/secrets/guess-{n}", "verb": "get",
        "user": {"username": "mallory@example.com", "groups": ["system:authenticated"]},
        "sourceIPs": ["203.0.113.7"], "userAgent": "kubectl/v1.30.2 (linux/amd64) kubernetes/$Format",
        "objectRef": {"resource": "secrets", "namespace": "payments", "name": f"guess-{n}", "apiVersion": "v1"},
        "responseStatus": {"metadata": {}, "code": 403}, "requestReceivedTimestamp": when, "stageTimestamp": when,
    }  # fmt: skip


def burst(numbers: range, start: timedelta) -> list[dict[str, Any]]:
    return [denial(n, start + (n - numbers.start) * timedelta(seconds=10)) for n in numbers]


def alerts_in(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()] if path.exists() else []


@pytest.fixture
def alert_file(tmp_path: Path) -> Path:
    return tmp_path / "alerts.jsonl"


@pytest.fixture
def lambda_door(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, alert_file: Path) -> Iterator[Deliver]:
    moto = pytest.importorskip("moto")
    import boto3

    from core.state.dynamodb import create_table

    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "us-east-1",
                        "AWS_REGION": "us-east-1"}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    with moto.mock_aws():
        create_table(boto3.client("dynamodb", region_name="us-east-1"), "state")
        monkeypatch.setenv("SECRETWATCH_STORE", "dynamodb://state?region=us-east-1")
        monkeypatch.setenv("SECRETWATCH_SINKS", f"jsonl://{alert_file}")
        from functions.aws import handler

        def deliver(events: list[dict[str, Any]]) -> None:
            handler.pipeline.cache_clear()  # each delivery may land on a fresh container
            handler.handler(eks_lambda_event(events, cluster="prod"), None)  # type: ignore[arg-type]

        yield deliver
        handler.pipeline.cache_clear()


@pytest.fixture
def gcp_door(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, alert_file: Path) -> Deliver:
    functions_framework = pytest.importorskip("functions_framework")
    for name in ("K_SERVICE", "SECRETWATCH_LEARNING_PERIOD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SECRETWATCH_STORE", f"sqlite://{tmp_path}/gcp.db")
    monkeypatch.setenv("SECRETWATCH_SINKS", f"jsonl://{alert_file}")
    main = Path(__file__).resolve().parents[2] / "functions" / "gcp" / "main.py"
    client = functions_framework.create_app(
        target="handle_pubsub", source=str(main), signature_type="cloudevent"
    ).test_client()
    message_ids = iter(range(1, 10**6))

    def deliver(events: list[dict[str, Any]]) -> None:
        for event in events:  # a log sink publishes one LogEntry per message
            entry = gke_log_entry(event, cluster="prod", project="acme-prod", location="europe-west1")
            body = pubsub_push_body(entry, subscription="projects/acme-prod/subscriptions/sw",
                                    message_id=str(next(message_ids)))
            assert client.post("/", json=body).status_code == 200

    return deliver


SUBSCRIPTION = "0a1b2c3d-4e5f-6789-abcd-ef0123456789"


@pytest.fixture
def azure_door(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, alert_file: Path) -> Iterator[Deliver]:
    func = pytest.importorskip("azure.functions")
    from functions.azure import function_app

    monkeypatch.delenv("SECRETWATCH_LEARNING_PERIOD", raising=False)
    monkeypatch.setenv("SECRETWATCH_STORE", f"sqlite://{tmp_path}/azure.db")
    monkeypatch.setenv("SECRETWATCH_SINKS", f"jsonl://{alert_file}")
    from tests.functions.test_azure_function import aks_function  # indexed once: the worker refuses twice

    function = aks_function()
    sequence = iter(range(1, 10**6))

    def deliver(events: list[dict[str, Any]]) -> None:
        records = [aks_record(event, cluster="prod", subscription_id=SUBSCRIPTION, resource_group="rg")
                   for event in events]
        body = aks_eventhub_body(records)
        number = next(sequence)
        hub_event = func.EventHubEvent(body=orjson.dumps(body), enqueued_time=T0, sequence_number=number,
                                       offset=str(number * 2048))
        function_app.reset_pipeline()
        function.get_user_function()([hub_event])

    function_app.reset_pipeline()
    yield deliver
    function_app.reset_pipeline()


@pytest.fixture
def cli_door(tmp_path: Path, alert_file: Path) -> Deliver:
    from core.cli import main

    def deliver(events: list[dict[str, Any]]) -> None:
        batch = tmp_path / "batch.jsonl"
        batch.write_bytes(b"\n".join(orjson.dumps(event) for event in events) + b"\n")
        code = main(["scan", str(batch), "--state", f"sqlite:{tmp_path}/cli.db", "--output", "jsonl",
                     "--sink", f"jsonl://{alert_file}"])
        assert code == 0

    return deliver


DOORS = ["lambda_door", "gcp_door", "azure_door", "cli_door"]


@pytest.mark.parametrize("door", DOORS)
def test_a_batch_redelivered_after_the_window_moved_on_raises_no_second_alert(
    door: str, request: pytest.FixtureRequest, alert_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    deliver: Deliver = request.getfixturevalue(door)
    first = burst(range(20), timedelta(0))
    deliver(first)
    deliver([denial(100, timedelta(minutes=16))])
    deliver(first)

    denied = [a for a in alerts_in(alert_file) if a["rule_id"] == "secret-access-denied"]
    assert [a["event_count"] for a in denied] == [20]


@pytest.mark.parametrize("door", DOORS)
def test_ten_and_ten_in_two_windows_stay_quiet_when_the_first_ten_are_redelivered(
    door: str, request: pytest.FixtureRequest, alert_file: Path
) -> None:
    deliver: Deliver = request.getfixturevalue(door)
    first = burst(range(10), timedelta(0))
    deliver(first)
    deliver(burst(range(10, 20), timedelta(minutes=16)))
    deliver(first)

    assert [a for a in alerts_in(alert_file) if a["rule_id"] == "secret-access-denied"] == []
