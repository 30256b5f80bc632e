"""bench.raw_cli's inputs are what it says: API server lines, distinct clients, copies with fresh ids a day apart;
and its child runs the real `secretwatch scan` (nothing here is timed)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import orjson

from bench.raw_cli import RawCliCost, raw_lines, repeated, run_cli, shape_lines, table, write_lines
from bench.traffic import SCENARIOS


def test_lines_are_audit_events_and_distinct_clients_never_repeat_a_term() -> None:
    events = [orjson.loads(line) for line in shape_lines("distinct-clients", 300)]

    assert all(event["kind"] == "Event" and event["apiVersion"] == "audit.k8s.io/v1" for event in events)
    terms = {(event["sourceIPs"][0], event["user"]["username"], event["userAgent"]) for event in events}
    assert len(terms) == len(events)


def test_copies_have_fresh_audit_ids_one_day_later_each() -> None:
    base = list(raw_lines(SCENARIOS[0], 50))
    size = sum(len(line) + 1 for line in base)

    copies = [orjson.loads(line) for line in repeated(base, 3 * size)]

    assert len(copies) == 3 * len(base)
    assert len({event["auditID"] for event in copies}) == len(copies)
    first, third = copies[0], copies[2 * len(base)]
    assert date.fromisoformat(third["stageTimestamp"][:10]) == date.fromisoformat(first["stageTimestamp"][:10]) + (
        timedelta(days=2)
    )
    assert third["stageTimestamp"][10:] == first["stageTimestamp"][10:]


def test_the_child_runs_the_real_scan_and_reports_alerts_and_its_peak(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    write_lines(path, shape_lines("distinct-clients", 200))

    run = run_cli(path)

    assert run.alerts > 0
    assert run.cpu_s > run.scan_s > 0
    assert 10 < run.peak_mb < 1000


def test_the_read_only_child_reads_the_same_file_and_evaluates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    write_lines(path, shape_lines("distinct-clients", 200))

    run = run_cli(path, read_only=True)

    assert run.alerts == 0
    assert run.cpu_s > run.scan_s > 0


def test_the_table_shows_each_shape_its_ratio_and_the_peaks() -> None:
    row = RawCliCost("mix", 50_000, 53.3, 0.15, 0.30, 0.5, 60, 33.0, 0.1, 1.5)

    text = table([row], [(50, 33.0), (500, 43.0)])

    assert "mix                 50,000    53.3     0.150    0.300  0.50x      60       33        0.100  1.50x" in text
    assert "peak RSS, mix at 500 MB: 43 MB" in text
