"""env://NAME: a sink URI that is itself a secret (a Slack incoming webhook) comes whole from the environment."""

from __future__ import annotations

import pytest

from core.alerts.registry import open_sink, open_sinks
from core.alerts.webhook import WebhookSink
from core.errors import ConfigError

SLACK = "https://hooks.slack.com/services/T0000/B0000/XXXXXXXXXXXXXXXXXXXXXXXX?format=slack"


def test_env_reference_opens_the_sink_whose_uri_the_variable_holds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_WEBHOOK_URL", SLACK)

    sink = open_sink("env://SLACK_WEBHOOK_URL")

    assert isinstance(sink, WebhookSink)
    assert (sink.fmt, sink.label) == ("slack", "webhook:hooks.slack.com")
    assert sink.url == SLACK.removesuffix("?format=slack")


def test_env_reference_takes_its_place_in_a_list_of_sinks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_WEBHOOK_URL", SLACK)

    sinks = open_sinks("jsonl://-,env://SLACK_WEBHOOK_URL")

    assert [type(sink).__name__ for sink in sinks] == ["JsonlSink", "WebhookSink"]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, "not set or empty"),
        ("  ", "not set or empty"),
        ("env://OTHER", "holds another env:// URI"),
        ("https://hooks.slack.com/services/T0000/B0000/XXXX?format=teams", "is refused: sink 'https://'"),
    ],
)
def test_env_reference_errors_say_what_to_set_and_repeat_no_value(
    monkeypatch: pytest.MonkeyPatch, value: str | None, message: str
) -> None:
    if value is None:
        monkeypatch.delenv("SLACK_WEBHOOK_URL", raising=False)
    else:
        monkeypatch.setenv("SLACK_WEBHOOK_URL", value)

    with pytest.raises(ConfigError, match=message) as refused:
        open_sink("env://SLACK_WEBHOOK_URL")

    assert "XXXX" not in str(refused.value)
    assert "\n" not in str(refused.value)


@pytest.mark.parametrize("uri", ["env://", "env://SLACK-URL", "env://SLACK_URL/x", "env://SLACK_URL?format=slack"])
def test_env_reference_is_only_a_variable_name(uri: str) -> None:
    with pytest.raises(ConfigError, match=r"write env://NAME"):
        open_sink(uri)
