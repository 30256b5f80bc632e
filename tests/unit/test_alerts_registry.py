"""Sinks are opened by URI; every mistake is one actionable line that never repeats a secret."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from core.alerts import registry
from core.alerts.base import Sink
from core.alerts.jsonl import JsonlSink
from core.alerts.registry import SinkEntry, open_sink, open_sinks, split_uris
from core.errors import ConfigError


def config_error(uri: str) -> str:
    with pytest.raises(ConfigError) as raised:
        open_sink(uri)
    message = str(raised.value)
    assert "\n" not in message
    return message


def test_jsonl_stdout() -> None:
    sink = open_sink("jsonl://-")

    assert isinstance(sink, JsonlSink)
    assert isinstance(sink, Sink)
    assert sink.label == "jsonl:-"


def test_jsonl_file(tmp_path: Path) -> None:
    sink = open_sink(f" jsonl://{tmp_path}/alerts.jsonl ")

    assert isinstance(sink, JsonlSink)
    assert sink.path == tmp_path / "alerts.jsonl"


def test_every_known_scheme_points_at_a_sink_module_and_class() -> None:
    assert set(registry.SINKS) == {"jsonl", "sns", "ses", "smtp", "smtps", "https", "http", "env"}
    for entry in registry.SINKS.values():
        module, _, class_name = entry.target.partition(":")
        assert module.startswith("core.alerts.")
        assert class_name[:1].isupper()
    assert registry.SINKS["sns"].extra == registry.SINKS["ses"].extra == "aws"


def test_an_unknown_scheme_lists_the_known_ones() -> None:
    message = config_error("kafka://broker:9092/alerts")

    assert message == (
        "unknown sink scheme: use one of jsonl://, sns://, ses://, smtp://, smtps://, https://, http://, env://"
        " (e.g. jsonl://-)"
    )


def test_an_unknown_scheme_close_to_a_known_one_suggests_it() -> None:
    assert config_error("smpt://mail.example.com").startswith("unknown sink scheme (did you mean smtp?): use one of")


def test_a_uri_without_scheme_says_so() -> None:
    assert config_error("stdout").startswith("sink URI has no scheme: use one of jsonl://")


def test_a_malformed_uri_is_a_config_error() -> None:
    message = config_error("smtp://[::1:25?password=hunter2")

    assert message == "sink URI is malformed: '[' and ']' may only enclose an IPv6 address, as in smtp://[::1]:25"
    assert "hunter2" not in message


def test_a_sink_whose_sdk_is_missing_names_the_extra_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "cloudy_sink.py").write_text("import boto3\n\n\nclass CloudySink:\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(sys.modules, "boto3", None)  # as if the aws extra were not installed
    monkeypatch.setitem(registry.SINKS, "cloudy", SinkEntry("cloudy_sink:CloudySink", extra="aws"))

    message = config_error("cloudy://topic")

    assert message == (
        "sink scheme 'cloudy' needs the 'aws' extra: pip install 'secretwatch[aws]' (missing module boto3)"
    )


def test_sns_without_boto3_names_the_aws_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    if importlib.util.find_spec("core.alerts.sns") is None:
        pytest.skip("core/alerts/sns.py is not written yet")
    monkeypatch.setitem(sys.modules, "boto3", None)
    monkeypatch.delitem(sys.modules, "core.alerts.sns", raising=False)

    assert "pip install 'secretwatch[aws]'" in config_error(
        "sns://arn:aws:sns:eu-west-1:123456789012:secretwatch"
    )


def test_a_sink_module_missing_from_the_installation_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.SINKS, "gone", SinkEntry("core.alerts.no_such_module:GoneSink"))

    message = config_error("gone://x")

    assert message == (
        "sink scheme 'gone' is not available in this installation of secretwatch (core.alerts.no_such_module)"
    )


@pytest.mark.parametrize(
    "uri",
    [
        "smtp://mail.example.com:587?from=sw@example.com&to=sec@example.com&password=hunter2",
        "smtp://mail.example.com:587?from=sw@example.com&Password=hunter2",
        "jsonl://-?password=hunter2",
        "nosuchscheme://host?password=hunter2",
    ],
)
def test_a_password_parameter_is_refused_without_repeating_it(uri: str) -> None:
    message = config_error(uri)

    assert "password= parameter is refused" in message
    assert "password_env=NAME" in message
    assert "hunter2" not in message


def test_a_password_in_the_user_info_is_refused_without_repeating_it() -> None:
    message = config_error("smtp://alerts:hunter2@mail.example.com:587?from=a@example.com&to=b@example.com")

    assert message.startswith("sink 'smtp://': a password in the URI")
    assert "password_env=NAME" in message
    assert "hunter2" not in message


def test_a_blank_sink_list_opens_nothing() -> None:
    assert open_sinks("") == []
    assert open_sinks(" , ") == []


def test_a_sink_list_opens_each_sink_in_order(tmp_path: Path) -> None:
    sinks = open_sinks(f"jsonl://-, jsonl://{tmp_path}/alerts.jsonl")

    assert [sink.label for sink in sinks] == ["jsonl:-", f"jsonl:{tmp_path}/alerts.jsonl"]


def test_commas_inside_a_uri_stay_with_it() -> None:
    uris = "ses://sw@example.com?to=a@example.com,b@example.com,jsonl://-,smtp://mx:25?from=f&to=c,d"

    assert split_uris(uris) == [
        "ses://sw@example.com?to=a@example.com,b@example.com",
        "jsonl://-",
        "smtp://mx:25?from=f&to=c,d",
    ]


def test_a_bad_uri_in_a_list_fails_the_whole_list() -> None:
    with pytest.raises(ConfigError, match="unknown sink scheme: use one of"):
        open_sinks("jsonl://-,stdout://")
