"""The webhook sink against a real HTTP server on 127.0.0.1: bodies, signatures, Slack, retries, exactly once."""

from __future__ import annotations

import hashlib
import hmac
import socketserver
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson
import pytest

from core.alerts.ocsf import detection_finding
from core.alerts.registry import open_sink
from core.alerts.render import alert_to_dict
from core.alerts.webhook import ATTEMPTS, RETRY_AFTER_LIMIT, SIGNATURE_HEADER, WebhookSink
from core.delivery import Delivery
from core.errors import ConfigError, DeliveryError
from core.model import Link
from core.state.memory import MemoryStore
from tests.unit.alerts_factory import HOSTILE, hostile_alert, make_alert, make_context

KEY = "whsec-5f2b9c0d1e7a4c3b"


@dataclass
class Receiver:
    """What the server received, and the answers it gives: (status, headers) in turn, then 200 for ever."""

    url: str
    answers: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    requests: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)

    def bodies(self) -> list[object]:
        return [orjson.loads(body) for _, _, body in self.requests]


def answer(status: int, **headers: str) -> tuple[int, dict[str, str]]:
    """An answer the receiver gives: a status and headers (retry_after= is sent as Retry-After)."""
    return status, {name.replace("_", "-").title(): value for name, value in headers.items()}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver("")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.requests.append((self.path, dict(self.headers.items()), body))
            status, headers = state.answers.pop(0) if state.answers else answer(200)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/secretwatch"
    yield state
    server.shutdown()
    server.server_close()


class Sleeps(list[float]):
    """Records each wait instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def test_each_alert_is_one_post_of_its_json(receiver: Receiver) -> None:
    alerts = [make_alert(alert_id="sw-1"), hostile_alert()]

    open_sink(receiver.url).send(alerts)

    assert receiver.bodies() == [alert_to_dict(alert) for alert in alerts]
    path, headers, _ = receiver.requests[0]
    assert path == "/hooks/secretwatch"
    assert headers["Content-Type"] == "application/json"
    assert SIGNATURE_HEADER not in headers


def test_format_ocsf_posts_the_detection_finding(receiver: Receiver) -> None:
    alert = make_alert()

    open_sink(f"{receiver.url}?format=ocsf").send([alert])

    assert receiver.bodies() == [detection_finding(alert)]


def test_the_signature_is_an_hmac_sha256_of_the_raw_body_a_receiver_can_verify(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SW_WEBHOOK_KEY", KEY)

    open_sink(f"{receiver.url}?secret_env=SW_WEBHOOK_KEY").send([make_alert()])

    [(_, headers, body)] = receiver.requests
    # What a receiver does: recompute over the bytes it got, compare in constant time.
    expected = "sha256=" + hmac.new(KEY.encode(), body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers[SIGNATURE_HEADER], expected)


def test_format_slack_posts_text_and_blocks_with_log_values_made_inert(receiver: Receiver) -> None:
    alert = make_alert(make_context(name="<!channel> *urgent* <https://evil.example|click>"), title=HOSTILE)

    open_sink(f"{receiver.url}?format=slack").send([alert])

    [message] = receiver.bodies()
    assert isinstance(message, dict)
    assert set(message) == {"text", "blocks"}
    assert "<" not in message["text"]
    assert "\x1b" not in message["text"]
    assert "&lt;script&gt;" in message["text"]
    assert [block["type"] for block in message["blocks"]] == ["header", "section", "section"]
    texts = [block["text"] for block in message["blocks"]]
    assert all(text["type"] == "plain_text" for text in texts)  # Slack parses no mention or link in plain_text
    assert len(texts[0]["text"]) <= 150
    assert "Name: <!channel> *urgent* <https://evil.example|click>" in texts[1]["text"]
    assert texts[2]["text"].startswith("Runbook:\n1. Ask the owner")
    assert not any(char in text["text"] for text in texts for char in "\x1b\r\u202e")


def test_a_429_is_retried_after_the_wait_it_asks_for(receiver: Receiver) -> None:
    receiver.answers = [answer(429, retry_after="3"), answer(429, retry_after="3600")]
    sleeps = Sleeps()

    WebhookSink(receiver.url, sleep=sleeps).send([make_alert()])

    assert sleeps == [3.0, RETRY_AFTER_LIMIT]
    assert len(receiver.requests) == 3
    assert receiver.requests[0][2] == receiver.requests[2][2]


def test_a_5xx_is_retried_with_growing_waits(receiver: Receiver) -> None:
    receiver.answers = [answer(502), answer(503)]
    sleeps = Sleeps()

    WebhookSink(receiver.url, sleep=sleeps).send([make_alert()])

    assert sleeps == [0.5, 1.0]
    assert len(receiver.requests) == 3


def test_a_receiver_failing_for_ever_is_a_delivery_error_naming_what_was_posted(receiver: Receiver) -> None:
    receiver.answers = [answer(200)] + [answer(500)] * ATTEMPTS
    sleeps = Sleeps()

    with pytest.raises(DeliveryError) as raised:
        WebhookSink(receiver.url, sleep=sleeps).send([make_alert(alert_id="sw-1"), make_alert(alert_id="sw-2")])

    assert raised.value.delivered == frozenset({"sw-1"})
    assert str(raised.value) == ("sink webhook:127.0.0.1: still failing after 4 attempts (HTTP 500); retried later")
    assert len(receiver.requests) == 1 + ATTEMPTS
    assert len(sleeps) == ATTEMPTS - 1


def test_a_4xx_is_not_retried_and_the_error_does_not_show_the_path(receiver: Receiver) -> None:
    receiver.answers = [answer(404)]

    with pytest.raises(DeliveryError) as raised:
        WebhookSink(receiver.url, sleep=Sleeps()).send([make_alert()])

    assert len(receiver.requests) == 1
    assert "HTTP 404" in str(raised.value)
    assert "hooks" not in str(raised.value)


def test_a_receiver_that_does_not_speak_http_is_retried_then_a_delivery_error() -> None:
    class Garbage(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            self.rfile.readline()
            self.wfile.write(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")

    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), Garbage) as server:
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        sleeps = Sleeps()
        with pytest.raises(DeliveryError) as raised:
            WebhookSink(f"http://127.0.0.1:{server.server_address[1]}/a", sleep=sleeps).send([make_alert()])
        server.shutdown()

    assert "still failing after 4 attempts (BadStatusLine" in str(raised.value)
    assert len(sleeps) == ATTEMPTS - 1


def test_a_redirect_is_not_followed(receiver: Receiver) -> None:
    receiver.answers = [answer(307, location="http://127.0.0.1:9/elsewhere")]

    with pytest.raises(DeliveryError) as raised:
        WebhookSink(receiver.url, sleep=Sleeps()).send([make_alert()])

    assert "redirect (HTTP 307)" in str(raised.value)
    assert len(receiver.requests) == 1


def test_a_retried_batch_posts_only_what_the_receiver_did_not_get(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("core.alerts.webhook._wait", lambda seconds: None)
    receiver.answers = [answer(200), answer(200)] + [answer(503)] * ATTEMPTS
    store = MemoryStore()
    raised = [make_alert(alert_id=f"sw-{number}") for number in range(4)]

    with pytest.raises(DeliveryError):
        Delivery(store, [open_sink(receiver.url)]).deliver(raised)
    Delivery(store, [open_sink(receiver.url)]).deliver(raised)

    posted = [body["alert_id"] for body in receiver.bodies() if isinstance(body, dict)]
    assert posted == ["sw-0", "sw-1"] + ["sw-2"] * ATTEMPTS + ["sw-2", "sw-3"]


def test_the_label_names_the_host_never_the_path() -> None:
    sink = open_sink("https://hooks.slack.com/services/T000/B000/XXXXSECRET?format=slack")

    assert sink.label == "webhook:hooks.slack.com"


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("http://hooks.example.com/alerts", "plain http is only for a loopback host"),
        ("http://10.0.0.1/alerts", "plain http is only for a loopback host"),
        ("https://hooks.example.com/a?format=xml", "parameter 'format' must be one of json, ocsf, slack"),
        ("https://hooks.example.com/a?secret_env=SW_NOT_SET_ANYWHERE", "named by secret_env is not set or empty"),
        ("https://hooks.example.com/a?secret_env=not-a-name", "'secret_env' must be an environment variable name"),
        ("https:///alerts", "the host is missing"),
    ],
)
def test_a_bad_webhook_uri_is_one_config_error_line(uri: str, expected: str) -> None:
    with pytest.raises(ConfigError) as raised:
        open_sink(uri)

    assert expected in str(raised.value)


def test_http_is_accepted_for_loopback_hosts() -> None:
    for uri in ("http://127.0.0.1:8080/a", "http://[::1]:8080/a", "http://localhost/a"):
        assert isinstance(open_sink(uri), WebhookSink)


def test_format_slack_shows_console_links_as_link_buttons(receiver: Receiver) -> None:
    url = "https://console.cloud.google.com/logs/query;query=a%3D%22b%22?project=acme-prod"
    alert = make_alert(links=(Link("Cloud Logging", url), Link("Too long", "https://example.com/" + "x" * 3000)))

    open_sink(f"{receiver.url}?format=slack").send([alert])

    [message] = receiver.bodies()
    assert isinstance(message, dict)
    assert [block["type"] for block in message["blocks"]] == ["header", "section", "actions", "section"]
    assert message["blocks"][2]["elements"] == [
        {"type": "button", "text": {"type": "plain_text", "text": "Cloud Logging", "emoji": False}, "url": url}
    ]


class Clock:
    """A monotonic clock that each wait moves on (and a test's slow POSTs)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_a_slow_receiver_cannot_hold_a_batch_past_its_budget(receiver: Receiver) -> None:
    clock = Clock()
    receiver.answers = [answer(200)] * 5
    alerts = [make_alert(alert_id=f"sw-{n}") for n in range(5)]
    sink = WebhookSink(receiver.url, sleep=clock.sleep, clock=clock)
    original = sink._post

    def slow_post(body: bytes, deadline: float) -> None:
        original(body, deadline)
        clock.now += 15.0  # each POST takes 15 s

    sink._post = slow_post  # type: ignore[method-assign]
    with pytest.raises(DeliveryError) as raised:
        sink.send(alerts)

    assert raised.value.delivered == frozenset({"sw-0", "sw-1", "sw-2"})  # 45 s: the 40 s budget is spent
    assert "the batch's 40 s were spent; retried later" in str(raised.value)
    assert len(receiver.requests) == 3


def test_retries_stop_when_their_wait_would_pass_the_budget(receiver: Receiver) -> None:
    clock = Clock()
    receiver.answers = [answer(429, retry_after="30")] * ATTEMPTS
    sink = WebhookSink(receiver.url, sleep=clock.sleep, clock=clock)

    with pytest.raises(DeliveryError) as raised:
        sink.send([make_alert()])

    assert str(raised.value) == (
        "sink webhook:127.0.0.1: still failing (HTTP 429) as the batch's time ran out; retried later"
    )
    assert len(receiver.requests) == 2  # waited 30 s once; another 30 would pass 40
