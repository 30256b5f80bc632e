"""The jsonl sink: one alert JSON per line on stdout or appended to a file."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import orjson
import pytest

from core.alerts.jsonl import JsonlSink
from core.alerts.ocsf import detection_finding
from core.alerts.registry import open_sink
from core.alerts.render import alert_to_dict
from core.errors import ConfigError, DeliveryError
from tests.unit.alerts_factory import hostile_alert, make_alert, make_context


def test_stdout_sink_writes_one_json_line_per_alert_and_nothing_else(
    capsys: pytest.CaptureFixture[str],
) -> None:
    alerts = [make_alert(alert_id="sw-1"), hostile_alert()]

    JsonlSink.stdout().send(alerts)

    captured = capsys.readouterr()
    lines = captured.out.split("\n")
    assert lines[-1] == ""
    assert [orjson.loads(line) for line in lines[:-1]] == [alert_to_dict(alert) for alert in alerts]
    assert captured.err == ""


def test_stdout_sink_writes_non_ascii_values_as_utf8(capsys: pytest.CaptureFixture[str]) -> None:
    JsonlSink().send([make_alert(make_context(username="José Müller"))])

    assert orjson.loads(capsys.readouterr().out)["context"]["username"] == "José Müller"


def test_an_empty_batch_writes_nothing(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "alerts.jsonl"

    JsonlSink().send([])
    JsonlSink(path).send([])

    assert capsys.readouterr().out == ""
    assert not path.exists()


def test_file_sink_creates_directories_and_appends_batches(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "alerts.jsonl"
    sink = JsonlSink(path)

    sink.send([make_alert(alert_id="sw-1"), make_alert(alert_id="sw-2")])
    sink.send([make_alert(alert_id="sw-3")])
    sink.close()

    ids = [orjson.loads(line)["alert_id"] for line in path.read_bytes().splitlines()]
    assert ids == ["sw-1", "sw-2", "sw-3"]


def test_file_sink_keeps_what_the_file_already_held(tmp_path: Path) -> None:
    path = tmp_path / "alerts.jsonl"
    path.write_bytes(b'{"alert_id":"earlier"}\n')

    JsonlSink(path).send([make_alert(alert_id="sw-1")])

    assert [orjson.loads(line)["alert_id"] for line in path.read_bytes().splitlines()] == ["earlier", "sw-1"]


def test_a_write_failure_is_a_delivery_error_naming_the_sink(tmp_path: Path) -> None:
    sink = JsonlSink(tmp_path)  # a directory cannot be opened for appending

    with pytest.raises(DeliveryError, match=r"^sink jsonl:/.*: cannot write a batch of 1 alerts") as raised:
        sink.send([make_alert()])

    assert raised.value.sink == f"jsonl:{tmp_path}"


def test_labels_name_the_destination() -> None:
    assert JsonlSink().label == "jsonl:-"
    assert JsonlSink(Path("/var/log/sw/alerts.jsonl")).label == "jsonl:/var/log/sw/alerts.jsonl"


@pytest.mark.parametrize(
    ("uri", "path"),
    [
        ("jsonl://-", None),
        ("jsonl:///var/log/alerts.jsonl", Path("/var/log/alerts.jsonl")),
        ("jsonl:///tmp/my%20alerts.jsonl", Path("/tmp/my alerts.jsonl")),
    ],
)
def test_from_uri(uri: str, path: Path | None) -> None:
    assert JsonlSink.from_uri(urlsplit(uri)).path == path


@pytest.mark.parametrize("uri", ["jsonl://alerts.jsonl", "jsonl://-/x", "jsonl:relative.jsonl", "jsonl://"])
def test_from_uri_refuses_anything_but_stdout_or_an_absolute_path(uri: str) -> None:
    with pytest.raises(ConfigError, match=r"use jsonl://- for standard output, jsonl:///abs/path.jsonl"):
        JsonlSink.from_uri(urlsplit(uri))


def test_from_uri_refuses_unknown_parameters_without_echoing_their_values() -> None:
    unknown = r"^sink 'jsonl://': query parameter 1 is unknown; it accepts format$"
    with pytest.raises(ConfigError, match=unknown) as raised:
        JsonlSink.from_uri(urlsplit("jsonl://-?token=s3cr3t-value"))

    assert "s3cr3t-value" not in str(raised.value)


def test_a_relative_path_is_refused() -> None:
    with pytest.raises(ConfigError, match="must be absolute"):
        JsonlSink(Path("alerts.jsonl"))


def test_format_ocsf_writes_one_detection_finding_per_line(tmp_path: Path) -> None:
    path = tmp_path / "findings.jsonl"
    alerts = [make_alert(alert_id="sw-1"), hostile_alert()]

    open_sink(f"jsonl://{path}?format=ocsf").send(alerts)

    assert [orjson.loads(line) for line in path.read_bytes().splitlines()] == [
        detection_finding(alert) for alert in alerts
    ]


def test_an_unknown_format_is_refused_naming_the_choices() -> None:
    with pytest.raises(ConfigError, match=r"^sink 'jsonl://': parameter 'format' must be one of json, ocsf$"):
        JsonlSink.from_uri(urlsplit("jsonl://-?format=cef"))
