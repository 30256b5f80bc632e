"""The CLI table: one readable row per alert that fits the width and cannot drive the terminal."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from core.alerts.table import format_table
from core.model import Alert
from tests.unit.alerts_factory import hostile_alert, make_alert, make_context

HEADERS = [
    "TIME", "SEVERITY", "RULE", "CLUSTER", "USER", "SOURCE IP", "USER AGENT", "NAMESPACE/NAME", "EVENTS",
]
UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def short_alert(**changes: Any) -> Alert:
    context = make_context(username="alice", user_agent="curl/8.4.0", namespace="app", name="db")
    return make_alert(context, rule_id="ua-rule", cluster="prod", **changes)


def test_header_names_every_column_and_a_rule_underlines_it() -> None:
    header, rule = format_table([]).split("\n")

    assert [name.strip() for name in re.split(r"\s{2,}", header)] == HEADERS
    assert set(rule) <= {"-", " "}


def test_each_alert_is_one_row_with_its_values_in_full_when_they_fit() -> None:
    alert = short_alert(event_count=12)

    row = format_table([alert, alert]).split("\n")[2:]

    assert len(row) == 2
    assert re.split(r"\s{2,}", row[0]) == [
        "2024-05-01T12:04:30Z", "high", "ua-rule", "prod", "alice", "203.0.113.9", "curl/8.4.0", "app/db",
        "12",
    ]


def test_time_is_the_last_sighting_in_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    alert = short_alert(last_seen=datetime(2024, 5, 1, 16, 0, 0, tzinfo=plus_two))

    assert format_table([alert]).split("\n")[2].startswith("2024-05-01T14:00:00Z  ")


def test_absent_values_show_a_dash_and_the_target_joins_what_is_known() -> None:
    context = make_context(username=None, source_ip=None, source_ips=(), namespace="app", name=None)

    row = format_table([make_alert(context, cluster=None)]).split("\n")[2]

    cells = re.split(r"\s{2,}", row)
    assert cells[3:6] == ["-", "-", "-"]
    assert cells[7] == "app"


def test_event_counts_are_right_aligned() -> None:
    lines = format_table([short_alert(event_count=7), short_alert(event_count=1234)]).split("\n")

    assert lines[2].endswith("     7")
    assert lines[3].endswith("  1234")


@pytest.mark.parametrize("width", [104, 120, 160])
def test_long_values_are_cut_so_every_line_fits_the_width(width: int) -> None:
    context = make_context(
        username="system:serviceaccount:payments:ledger-reconciliation-worker",
        user_agent="Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0",
        name="very-long-secret-name-for-the-ledger-database-credentials",
    )

    lines = format_table([make_alert(context, cluster="arn:aws:eks:eu-west-1:123456789012:cluster/prod")],
                         width=width).split("\n")

    assert max(len(line) for line in lines) <= width
    assert "…" in lines[2]
    assert lines[2].startswith("2024-05-01T12:04:30Z  high  ")


def test_the_table_is_never_narrower_than_the_column_minimums() -> None:
    lines = format_table([hostile_alert()], width=40).split("\n")

    assert max(len(line) for line in lines) == 104


def test_hostile_values_cannot_break_rows_or_drive_the_terminal() -> None:
    table = format_table([hostile_alert(), short_alert()], width=200)

    lines = table.split("\n")
    assert len(lines) == 4
    assert not UNSAFE.search(table.replace("\n", ""))
    assert "curl/8<script>alert(1)</script" in lines[2]
