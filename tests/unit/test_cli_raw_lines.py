"""`secretwatch scan` over the API server's own audit log (JSON Lines of audit.k8s.io/v1 Events) alerts the same
whichever way each line is decoded: the fast way (pre-filter on the bytes, then the typed reader), the general
way (parse, detect, normalize) with the pre-filter, and the general way with no pre-filter at all."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

import core.sources
from core.cli import main
from core.demo.traffic import audit_events
from core.prefilter import Prefilter
from tests.unit.sources_wire import fixture

SECRET_GET = fixture("k8s/secret_get_denied.json")


def api_server_log(path: Path) -> Path:
    """A day of generated traffic as the log backend writes it, with the odd lines real files hold."""
    start = datetime(2026, 11, 2, tzinfo=UTC)
    events = audit_events(start=start, hours=24, events=3000, seed=3, secret_share=0.3, learning_hours=0)
    lines = [orjson.dumps(event) for _, event in events]
    lines[10:10] = [
        b'{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"cut","verb":"get","objectRef":{"resource":"secr',
        orjson.dumps({"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "items": [SECRET_GET]}),
        orjson.dumps({**SECRET_GET, "userAgent": "kubectl/ü", "auditID": "non-ascii"}),
        orjson.dumps({**SECRET_GET, "p_log_type": "Amazon.EKS.Audit", "auditID": "panther"}),
        lines[5],  # a duplicate
        b"",
        b"I0514 09:12:44.123456 1 audit.go:1] not JSON",
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


@dataclass(frozen=True, slots=True)
class Scan:
    alerts: list[bytes]
    summary: str


def scan(path: Path, capsys: pytest.CaptureFixture[str]) -> Scan:
    assert main(["scan", str(path), "--state", "memory", "--output", "jsonl"]) == 0
    out, err = capsys.readouterr()
    return Scan(sorted(out.encode().splitlines()), err)


def test_alerts_are_identical_fast_general_and_without_the_prefilter(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    log = api_server_log(tmp_path / "audit.log")

    fast = scan(log, capsys)
    monkeypatch.setattr(core.sources, "_one_event", lambda *_: None)  # every line the general way
    general = scan(log, capsys)
    monkeypatch.setattr(Prefilter, "for_rules", classmethod(lambda cls, rules: None))
    unfiltered = scan(log, capsys)

    assert len(fast.alerts) > 10
    assert fast.alerts == general.alerts == unfiltered.alerts
    assert fast.summary == general.summary  # the same counts, prefiltered ones included
    assert "prefiltered" in fast.summary
    assert "prefiltered" not in unfiltered.summary
    assert "invalid_json 2" in fast.summary
