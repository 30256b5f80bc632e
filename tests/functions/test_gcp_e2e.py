"""End to end on this machine: Pub/Sub emulator push -> functions-framework -> Firestore emulator and SMTP.

The function runs as on Cloud Run: `functions-framework` in its own process (K_SERVICE set, so it builds the
pipeline at start), state in the Firestore emulator, alerts mailed to an aiosmtpd server. The Pub/Sub
emulator pushes each published LogEntry to it through a push subscription, as Pub/Sub does for real.
Skips, saying why, when the Cloud SDK emulators, Java, functions-framework or the client libraries are
missing. Every process started here is stopped with its whole process group, also when a test fails.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest

from core.engine import new_terms, threshold
from core.rules.loader import load_rules
from core.rules.schema import Rule
from tests.emulators import emulator_in_environment
from tests.functions.gke_messages import (
    DENIED,
    ENUMERATED_NAMESPACE,
    ENUMERATOR,
    SUBSCRIPTION,
    THIEF,
    TOPIC,
    UNUSUAL_AGENT,
    alerted_rules,
    enumeration_entries,
    event_counts,
    fixture_entry,
    json_lines,
    log_data,
    stolen_token_entry,
)
from tests.smtp_server import SmtpServer, free_port

pytestmark = pytest.mark.timeout(120)

REPO = Path(__file__).resolve().parents[2]
FUNCTIONS_FRAMEWORK = Path(sys.executable).with_name("functions-framework")
STATE_PROJECT = "secretwatch-e2e"
_START_TIMEOUT_S = 30.0
_PROCESSING_TIMEOUT_S = 30.0
_STOP_TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True)
class Function:
    """A functions-framework server: its URL, its process (leader of its own group) and its stdout log."""

    url: str
    process: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path

    def log(self) -> list[dict[str, Any]]:
        """The JSON lines written so far (a line still being written is left for the next read)."""
        text = self.stdout.read_text()
        return json_lines(text[: text.rfind("\n") + 1])

    def summaries(self) -> list[dict[str, Any]]:
        return [line["summary"] for line in self.log() if line.get("message") == "message processed"]

    def stderr_tail(self, lines: int = 15) -> str:
        return "\n".join(self.stderr.read_text(errors="replace").splitlines()[-lines:])


def functions_framework_command(port: int) -> list[str]:
    return [
        str(FUNCTIONS_FRAMEWORK), "--target", "handle_pubsub", "--signature-type", "cloudevent",
        "--host", "127.0.0.1", "--port", str(port), "--source", "functions/gcp/main.py",
    ]


def function_environment(**settings: str) -> dict[str, str]:
    """This process's environment (with the emulators' addresses), as on Cloud Run, plus `settings`."""
    return {**os.environ, "K_SERVICE": "secretwatch", "PYTHONUNBUFFERED": "1", **settings}


def stop_group(process: subprocess.Popen[bytes]) -> None:
    """End the process and every process of its group (gunicorn's master and workers); idempotent."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=_STOP_TIMEOUT_S)
            return


@contextmanager
def serving_function(settings: dict[str, str], logs: Path) -> Iterator[Function]:
    port = free_port()
    stdout, stderr = logs / "function.stdout", logs / "function.stderr"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(
            functions_framework_command(port), cwd=REPO, env=function_environment(**settings),
            stdin=subprocess.DEVNULL, stdout=out, stderr=err, start_new_session=True,
        )
    function = Function(f"http://127.0.0.1:{port}/", process, stdout, stderr)
    try:
        wait_for(lambda: listening(port, process), _START_TIMEOUT_S, "functions-framework to listen",
                 function)
        yield function
    finally:
        stop_group(process)


def listening(port: int, process: subprocess.Popen[bytes]) -> bool:
    if process.poll() is not None:
        raise AssertionError(f"functions-framework exited with status {process.returncode}")
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
    except OSError:
        return False
    return True


def wait_for(condition: Callable[[], bool], timeout_s: float, what: str, function: Function) -> float:
    """Seconds until `condition` held; fails the test, with the function's stderr, after `timeout_s`."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout_s:
            tail = function.stderr_tail()
            pytest.fail(f"waited {timeout_s:.0f} s for {what}; the function's stderr ends:\n{tail}")
        time.sleep(0.05)
    return time.monotonic() - start


@pytest.fixture
def pubsub() -> Iterator[tuple[Any, Any]]:
    """A publisher and a subscriber client of the Pub/Sub emulator (PUBSUB_EMULATOR_HOST must be set)."""
    pubsub_v1 = pytest.importorskip("google.cloud.pubsub_v1", reason="google-cloud-pubsub is not installed")
    publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
    try:
        yield publisher, subscriber
    finally:
        publisher.stop()
        publisher.transport.close()
        subscriber.close()


@pytest.fixture
def emulators() -> Iterator[None]:
    if not FUNCTIONS_FRAMEWORK.is_file():
        pytest.skip(f"functions-framework is not installed beside {sys.executable} (the gcp extra)")
    pytest.importorskip("google.cloud.firestore", reason="google-cloud-firestore is not installed")
    with emulator_in_environment("firestore"), emulator_in_environment("pubsub"):
        yield


#: A message someone else published to the topic: not a LogEntry, not even JSON.
STRAY_MESSAGE = b"deploy finished\n"


def publish(publisher: Any, entries: Sequence[dict[str, Any]]) -> int:
    """One message per LogEntry, with the attribute the Cloud Logging sink sets, and a stray message.

    Returns how many messages were published.
    """
    futures = [
        publisher.publish(TOPIC, log_data(entry), **{"logging.googleapis.com/timestamp": entry["timestamp"]})
        for entry in entries
    ]
    futures.append(publisher.publish(TOPIC, STRAY_MESSAGE))
    for future in futures:
        future.result(timeout=10)
    return len(futures)


def traffic() -> list[dict[str, Any]]:
    """GKE traffic with both attacks in it, a controller's routine read and an entry of another service."""
    return [
        fixture_entry("controller_secret_get_status_code0"),
        *enumeration_entries(),
        fixture_entry("container_api_set_node_pool_size"),
        stolen_token_entry(),
    ]


def total(summaries: Sequence[dict[str, Any]], counter: str) -> Counter[str]:
    return sum((Counter(summary[counter]) for summary in summaries), Counter())


def rule(rule_id: str) -> Rule:
    return next(candidate for candidate in load_rules() if candidate.id == rule_id)


def enumeration_counter_key() -> str:
    """The state key of the denied-secrets count for the enumerating user in the enumerated namespace."""
    denied = rule(DENIED)
    assert denied.threshold is not None
    group = {"namespace": ENUMERATED_NAMESPACE, "username": ENUMERATOR}
    return threshold.state_key(denied, [group[name] for name in denied.threshold.group_by])


def stolen_token_term() -> tuple[str, ...]:
    """The (source address, user, user agent) term of the stolen token's read."""
    unusual = rule(UNUSUAL_AGENT)
    assert unusual.new_terms is not None
    thief = {"source_ip": THIEF.source_ips[0], "username": THIEF.username, "user_agent": THIEF.user_agent}
    return tuple(thief[name] for name in unusual.new_terms.fields)


def document_id(key: str) -> str:
    """The id of a state key's Firestore document (imported here: the module needs google-cloud-firestore)."""
    from core.state.firestore import document_id

    return document_id(key)


def stored_value(collection: Any, key: str) -> dict[str, Any]:
    snapshot = collection.document(document_id(key)).get()
    assert snapshot.exists, f"no document for state key {key!r}"
    value: dict[str, Any] = orjson.loads(snapshot.get("v"))
    return value


def versions(collection: Any) -> dict[str, tuple[int, Any]]:
    """Every document's version and last update time."""
    return {snapshot.id: (snapshot.get("ver"), snapshot.update_time) for snapshot in collection.stream()}


@pytest.fixture
def state(emulators: None) -> Iterator[tuple[str, Any]]:
    """A fresh collection of the Firestore emulator: its store URI, and the collection to read it back."""
    from google.cloud import firestore  # the emulators fixture skips when it is not installed

    name = f"e2e-{uuid.uuid4().hex[:12]}"
    client: Any = firestore.Client(project=STATE_PROJECT)
    try:
        yield f"firestore://{name}?project={STATE_PROJECT}", client.collection(name)
    finally:
        client.close()


def test_pushed_gke_audit_logs_alert_once_and_redelivery_changes_nothing(
    state: tuple[str, Any], pubsub: tuple[Any, Any], smtp_server: SmtpServer, tmp_path: Path
) -> None:
    started = time.monotonic()
    store_uri, collection = state
    publisher, subscriber = pubsub
    entries = traffic()
    settings = {"SECRETWATCH_STORE": store_uri, "SECRETWATCH_SINKS": smtp_server.uri()}
    with serving_function(settings, tmp_path) as function:
        ready = time.monotonic() - started
        publisher.create_topic(name=TOPIC)
        subscriber.create_subscription(
            request={
                "name": SUBSCRIPTION,
                "topic": TOPIC,
                "push_config": {"push_endpoint": function.url},
                "ack_deadline_seconds": 60,  # one message at a time per instance: let the others wait
            }
        )

        first = publish(publisher, entries)
        first_round = wait_for(
            lambda: len(function.summaries()) >= first, _PROCESSING_TIMEOUT_S, "the first round", function
        )

        assert alerted_rules(smtp_server.mails) == {DENIED: 1, UNUSUAL_AGENT: 2}
        assert event_counts(smtp_server.mails, DENIED) == [20]
        (window,) = stored_value(collection, enumeration_counter_key())["w"]
        assert (len(window["ids"]), window["t"] is not None) == (20, True)
        term = stolen_token_term()
        assert stored_value(collection, new_terms.state_key(rule(UNUSUAL_AGENT), term))["term"] == list(term)
        before = versions(collection)
        assert sum(doc_id.startswith(document_id("sent|")) for doc_id in before) == 3  # the delivery ledger

        again = publish(publisher, entries)  # the same messages again, as a redelivery brings them
        second_round = wait_for(
            lambda: len(function.summaries()) >= first + again,
            _PROCESSING_TIMEOUT_S, "the redelivery", function,
        )

        assert alerted_rules(smtp_server.mails) == {DENIED: 1, UNUSUAL_AGENT: 2}
        assert versions(collection) == before
        summaries = function.summaries()
        assert all(summary["alerts"] == {} for summary in summaries[first:])
        assert total(summaries, "ignored") == {"not_k8s_api": 2}  # the cluster-management entry, twice
        assert total(summaries, "malformed") == {"invalid_json": 2}  # the stray message, acknowledged twice
        assert all(line["severity"] in {"INFO", "WARNING"} for line in function.log())

    print(
        f"\ngcp e2e: {first + again} messages published ({first}, then the same {again} again), "
        f"{len(smtp_server.mails)} alert mails ({dict(alerted_rules(smtp_server.mails))}), "
        f"{len(before)} Firestore documents; function ready in {ready:.1f} s, "
        f"first round {first_round:.1f} s, redelivery {second_round:.1f} s, "
        f"whole run {time.monotonic() - started:.1f} s"
    )


def test_bad_configuration_stops_the_function_at_start_with_one_clear_line() -> None:
    if not FUNCTIONS_FRAMEWORK.is_file():
        pytest.skip(f"functions-framework is not installed beside {sys.executable} (the gcp extra)")
    process = subprocess.Popen(
        functions_framework_command(free_port()), cwd=REPO,
        env=function_environment(SECRETWATCH_SINKS="", SECRETWATCH_STORE="memory://"),
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
    )
    try:
        stdout, _ = process.communicate(timeout=_START_TIMEOUT_S)
    finally:
        stop_group(process)

    assert process.returncode != 0
    [line] = json_lines(stdout.decode())
    assert line["severity"] == "CRITICAL"
    assert line["message"].startswith("secretwatch is misconfigured: SECRETWATCH_SINKS is empty")
