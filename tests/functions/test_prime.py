"""`secretwatch scan --prime`: baselines built from archived history before a deployment's first event.

End to end, as an operator runs it: the CLI primes the deployment's DynamoDB table (moto) from a kube-apiserver
audit log and its rotated, gzipped sibling covering the last 8 days; then the Lambda handler, configured as the
stacks deploy it (learning period 7d), receives a live batch through a CloudWatch Logs subscription. Only the
client that history never saw raises an alert. Without priming, the same batch raises nothing (the learning
period); with neither priming nor a learning period, every client alerts.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from core.cli import main
from core.demo.envelopes import eks_lambda_event
from core.timeutil import isoformat

NOW = datetime.now(UTC).replace(microsecond=0)
RULE = "secret-access-unusual-user-agent"
TABLE = "dynamodb://state?region=us-east-1"

# (source IP, user, user agent) of each client
BUILD_BOT = ("10.0.4.12", "system:serviceaccount:ci:builder", "Go-http-client/2.0")
BACKUP = ("10.0.7.30", "system:serviceaccount:velero:velero", "velero/v1.14.0 (linux/amd64) 2bd4c7d")
ADMIN = ("198.51.100.20", "alice@example.com", "Lens/2024.11.1")
STALE = ("10.0.9.9", "system:serviceaccount:old:sync", "python-requests/2.31.0")  # last seen 8 days ago
INTRUDER = ("203.0.113.66", "alice@example.com", "curl/8.5.0")


def secret_get(n: int, client: tuple[str, str, str], at: datetime) -> dict[str, Any]:
    source_ip, username, user_agent = client
    when = isoformat(at)
    return {
        "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata", "auditID": f"5e1f{n:04d}-prime",
        "stage": "ResponseComplete", "requestURI": "/api/v1/namespaces/payments/secrets/db", "verb": "get",
        "user": {"username": username, "groups": ["system:authenticated"]}, "sourceIPs": [source_ip],
        "userAgent": user_agent, "objectRef": {"resource": "secrets", "namespace": "payments", "name": "db",
        "apiVersion": "v1"}, "responseStatus": {"metadata": {}, "code": 200},
        "requestReceivedTimestamp": when, "stageTimestamp": when,
    }  # fmt: skip


def write_audit_logs(folder: Path) -> Path:
    """The apiserver's --audit-log-path file and one rotated, compressed backup (--audit-log-compress)."""
    older = [secret_get(1, STALE, NOW - timedelta(days=8)), secret_get(2, BUILD_BOT, NOW - timedelta(days=7, hours=1))]
    recent = [
        secret_get(3, BACKUP, NOW - timedelta(days=3)),
        secret_get(4, ADMIN, NOW - timedelta(days=1)),
        secret_get(5, BUILD_BOT, NOW - timedelta(hours=5)),
        secret_get(6, ADMIN, NOW - timedelta(hours=2)),
    ]
    folder.mkdir()
    with gzip.open(folder / "audit-2026-11-28T09-00-00.000.log.gz", "wb") as backup:
        backup.write(b"".join(orjson.dumps(event) + b"\n" for event in older))
    (folder / "audit.log").write_bytes(b"".join(orjson.dumps(event) + b"\n" for event in recent))
    return folder


LIVE = [
    secret_get(10, BUILD_BOT, NOW - timedelta(minutes=3)),
    secret_get(11, ADMIN, NOW - timedelta(minutes=2)),
    secret_get(12, STALE, NOW - timedelta(minutes=2)),
    secret_get(13, INTRUDER, NOW - timedelta(minutes=1)),
]


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Callable[[str], list[tuple[str, ...]]]]:
    """A fresh moto DynamoDB table; yields `deliver(learning_period)` sending LIVE through the Lambda handler."""
    moto = pytest.importorskip("moto")
    import boto3

    from core.state.dynamodb import create_table

    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "us-east-1"}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    alerts = tmp_path / "alerts.jsonl"
    with moto.mock_aws():
        create_table(boto3.client("dynamodb", region_name="us-east-1"), "state")
        monkeypatch.setenv("SECRETWATCH_STORE", TABLE)
        monkeypatch.setenv("SECRETWATCH_SINKS", f"jsonl://{alerts}")
        from functions.aws import handler

        def deliver(learning_period: str) -> list[tuple[str, ...]]:
            monkeypatch.setenv("SECRETWATCH_LEARNING_PERIOD", learning_period)
            handler.pipeline.cache_clear()
            handler.handler(eks_lambda_event(LIVE, cluster="prod"), None)  # type: ignore[arg-type]
            raised = [orjson.loads(line) for line in alerts.read_bytes().splitlines()] if alerts.exists() else []
            return sorted(_client(alert["context"]) for alert in raised if alert["rule_id"] == RULE)

        yield deliver
        handler.pipeline.cache_clear()


def test_a_primed_deployment_alerts_at_once_and_only_on_clients_history_never_saw(
    aws: Callable[[str], list[tuple[str, ...]]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    logs = write_audit_logs(tmp_path / "apiserver")

    assert main(["scan", "--prime", "--state", TABLE, str(logs)]) == 0

    assert "4 terms learned" in next(line for line in capsys.readouterr().out.splitlines() if RULE in line)
    assert aws("7d") == sorted([INTRUDER, STALE])


def test_priming_reports_the_terms_it_learned_per_rule_and_nothing_the_second_time(
    aws: Callable[[str], list[tuple[str, ...]]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    logs = write_audit_logs(tmp_path / "apiserver")

    main(["scan", "--prime", "--state", TABLE, str(logs)])
    first = capsys.readouterr()
    main(["scan", "--prime", "--state", TABLE, str(logs)])
    second = capsys.readouterr()

    assert "4 terms learned" in next(line for line in first.out.splitlines() if RULE in line)  # all 4 clients
    assert "0 terms learned" in next(line for line in second.out.splitlines() if RULE in line)
    assert "alerts:   none" in first.err


def test_without_priming_the_learning_period_hides_every_client(aws: Callable[[str], list[tuple[str, ...]]]) -> None:
    assert aws("7d") == []


def test_without_priming_or_learning_every_client_is_new(aws: Callable[[str], list[tuple[str, ...]]]) -> None:
    assert aws("0s") == sorted([ADMIN, BUILD_BOT, INTRUDER, STALE])


def test_a_history_shorter_than_the_learning_period_keeps_learning_for_the_rest(
    aws: Callable[[str], list[tuple[str, ...]]], tmp_path: Path
) -> None:
    logs = tmp_path / "one-day"
    logs.mkdir()
    (logs / "audit.log").write_bytes(orjson.dumps(secret_get(4, ADMIN, NOW - timedelta(days=1))) + b"\n")

    main(["scan", "--prime", "--state", TABLE, str(logs)])

    assert aws("7d") == []  # six days of the learning period remain


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--sink", "jsonl://-"], "--prime raises no alerts, so it takes no --sink"),
        (["--state", "memory"], "--prime with --state memory learns into a store that ends with the run"),
        (["--tuning", "NO_NEW_TERMS"], "no new_terms rule is enabled"),
    ],
)
def test_priming_refuses_what_would_learn_nothing_lasting(
    extra: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    logs = write_audit_logs(tmp_path / "apiserver")
    state = [] if "--state" in extra else ["--state", f"sqlite://{tmp_path / 'state.db'}"]
    tuning = tmp_path / "tuning.yml"
    tuning.write_text(f"rules:\n  {RULE}: {{enabled: false}}\n")
    extra = [str(tuning) if arg == "NO_NEW_TERMS" else arg for arg in extra]

    code = main(["scan", "--prime", *state, *extra, str(logs)])

    assert code == 2
    assert message in capsys.readouterr().err


def _client(context: dict[str, Any]) -> tuple[str, ...]:
    return (context["source_ip"], context["username"], context["user_agent"])
