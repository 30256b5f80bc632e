"""How `secretwatch scan` reads a file: JSON Lines line by line whatever the first line holds, or one document.

A bad line is one malformed record and its neighbours are read; a pretty-printed document is read whole.
"""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from core.cli import main
from tests.unit.sources_wire import FIXTURES, fixture


def scan(path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """The run's summary (stderr), after checking that it ran."""
    assert main(["scan", str(path), "--state", "memory", "--output", "jsonl"]) == 0
    return capsys.readouterr().err


def test_a_cloudwatch_truncated_first_line_costs_that_line_only(capsys: pytest.CaptureFixture[str]) -> None:
    summary = scan(FIXTURES / "k8s/truncated_first_line.jsonl", capsys)

    assert "3 documents, 2 events (k8s 2)" in summary
    assert "skipped, malformed input: invalid_json 1" in summary


def test_a_first_line_nested_100k_deep_costs_that_line_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "deep.jsonl"
    events = [fixture("k8s/secret_get_denied.json"), fixture("k8s/secret_list_allowed_python_requests.json")]
    path.write_bytes(b"[" * 100_000 + b"]" * 100_000 + b"\n" + b"\n".join(map(orjson.dumps, events)) + b"\n")

    summary = scan(path, capsys)

    assert "3 documents, 2 events (k8s 2)" in summary
    assert "skipped, malformed input: invalid_json 1" in summary


def test_a_klog_line_before_the_audit_lines_costs_that_line_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "mixed.jsonl"
    klog = b'I0514 09:12:44.121090       1 trace.go:236] Trace[1]: "Get" url:/api/v1/namespaces/payments/secrets'
    path.write_bytes(klog + b"\n" + (FIXTURES / "k8s/secret_get_two_stages.jsonl").read_bytes())

    summary = scan(path, capsys)

    assert "3 documents, 2 events (k8s 2)" in summary
    assert "skipped, malformed input: invalid_json 1" in summary


@pytest.mark.parametrize(
    ("relative", "expected"),
    [
        ("k8s/webhook_eventlist.json", "1 documents, 2 events (k8s 2)"),
        ("eks/data_message_audit.json", "1 documents, 3 events (aws 3)"),
        ("aks/eventhub_body.json", "1 documents, 3 events (azure 3)"),
    ],
)
def test_a_pretty_printed_document_is_still_read_whole(
    relative: str, expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert expected in scan(FIXTURES / relative, capsys)
