"""The alert JSON shape, clean_text, the subject and the email bodies, including hostile log values."""

from __future__ import annotations

import re
import sys
import unicodedata
from datetime import datetime, timedelta, timezone

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.alerts.render import (
    SUBJECT_LIMIT,
    alert_json,
    alert_to_dict,
    clean_text,
    render_html,
    render_text,
    subject,
)
from core.model import Link
from tests.unit.alerts_factory import RUNBOOK, hostile_alert, make_alert, make_context

ALERT_KEYS = [
    "alert_id", "rule_id", "title", "severity", "risk_score", "dedup_key", "event_count", "first_seen",
    "last_seen", "cloud", "cluster", "context", "audit_ids", "mitre", "runbook", "links",
]
CONTEXT_KEYS = [
    "username", "namespace", "source_ip", "source_ips", "user_agent", "verb", "resource", "name",
    "request_uri", "response_code", "pod_name", "node_name",
]
# Anything a terminal, a mail header or a bidi renderer would act on.
UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def test_alert_dict_has_exactly_the_documented_keys_in_order() -> None:
    document = alert_to_dict(make_alert())

    assert list(document) == ALERT_KEYS
    assert list(document["context"]) == CONTEXT_KEYS


def test_alert_dict_carries_every_value() -> None:
    document = alert_to_dict(make_alert())

    assert document["rule_id"] == "secret-access-unusual-user-agent"
    assert document["risk_score"] == 73
    assert document["cluster"] == "prod-eks"
    assert document["context"]["source_ips"] == ["203.0.113.9", "10.0.4.17"]
    assert document["context"]["response_code"] == 200
    assert document["audit_ids"] == ["0f6a1e52-7d0b-4a3c-9a55-0d7b1e0b8c11"]
    assert document["mitre"] == ["T1552.007"]
    assert document["runbook"] == RUNBOOK


def test_times_are_utc_with_microseconds_and_z() -> None:
    plus_two = timezone(timedelta(hours=2))
    alert = make_alert(first_seen=datetime(2024, 5, 1, 14, 0, 0, tzinfo=plus_two))

    document = alert_to_dict(alert)

    assert document["first_seen"] == "2024-05-01T12:00:00.000000Z"
    assert document["last_seen"] == "2024-05-01T12:04:30.250000Z"


def test_absent_values_are_null_and_empty_tuples_empty_lists() -> None:
    context = make_context(username=None, source_ip=None, source_ips=(), response_code=None)
    document = alert_to_dict(make_alert(context, cluster=None, mitre=()))

    assert document["cluster"] is None
    assert document["mitre"] == []
    assert document["context"]["username"] is None
    assert document["context"]["source_ips"] == []
    assert document["context"]["response_code"] is None


def test_the_pod_and_node_of_a_bound_token_are_in_the_json_and_null_without_one() -> None:
    workload = make_context(pod_name="payments-api-7d9f8b6c5-x2x7q", node_name="ip-10-0-4-17.ec2.internal")

    with_pod = alert_to_dict(make_alert(workload))["context"]
    without = alert_to_dict(make_alert())["context"]

    assert with_pod["pod_name"] == "payments-api-7d9f8b6c5-x2x7q"
    assert with_pod["node_name"] == "ip-10-0-4-17.ec2.internal"
    assert (without["pod_name"], without["node_name"]) == (None, None)


def test_alert_json_is_one_line_that_round_trips() -> None:
    alert = hostile_alert()

    line = alert_json(alert)

    assert b"\n" not in line
    assert b"\r" not in line
    assert orjson.loads(line) == alert_to_dict(alert)


def test_alert_json_escapes_c1_and_bidi_controls_without_changing_the_value() -> None:
    agent = "evil\u009b31m\u2028\u202eexe.cod\u2066"
    alert = make_alert(make_context(user_agent=agent))

    line = alert_json(alert)

    assert b"\xc2\x9b" not in line
    assert "\u202e".encode() not in line
    assert "\u2028".encode() not in line
    assert b"\\u202e" in line
    assert orjson.loads(line)["context"]["user_agent"] == agent


def test_alert_json_keeps_ordinary_unicode_as_utf8() -> None:
    line = alert_json(make_alert(make_context(username="José Müller")))

    assert "José Müller".encode() in line


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("kubectl/v1.29.2 (linux/amd64)", "kubectl/v1.29.2 (linux/amd64)"),
        ("a\x1b[2J\x1b[31mred\x1b[0m", "ared"),
        ("link\x1b]8;;https://evil.example\x07click\x1b]8;;\x07", "linkclick"),
        ("c1\x9b31mred", "c1red"),
        ("one\r\nBcc: victim@example.com", "one Bcc: victim@example.com"),
        ("tab\there", "tab here"),
        ("bidi\u202etxt.exe", "bidi\ufffdtxt.exe"),
        ("isolate\u2066x\u2069", "isolate\ufffdx\ufffd"),
        ("nul\x00bell\x07del\x7f", "nul\ufffdbell\ufffddel\ufffd"),
        ("trailing escape\x1b", "trailing escape\ufffd"),
        ("  padded  ", "padded"),
        (None, ""),
        (403, "403"),
    ],
)
def test_clean_text(raw: object, expected: str) -> None:
    assert clean_text(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("kube\u200bctl", "kubectl"),  # zero-width space
        ("a\u200cb\u200dc\u2060d\ufeffe\u180ef", "abcdef"),  # ZWNJ, ZWJ, word joiner, BOM, Mongolian separator
        ("curl/8.5.0" + "".join(map(chr, range(0xE0020, 0xE007F))), "curl/8.5.0"),  # a message in tag characters
        ("\U000e0001tagged\U000e007f", "tagged"),
        ("soft\u00adhyphen", "softhyphen"),
        ("invisible\u2062times\u2064plus", "invisibletimesplus"),
        ("selector\ufe0f\U000e0100", "selector"),  # variation selectors
        ("filler\u3164\u115f", "filler"),  # Hangul fillers, blank wherever they are shown
    ],
)
def test_clean_text_removes_zero_width_tag_and_other_invisible_format_characters(raw: str, expected: str) -> None:
    assert clean_text(raw) == expected


def test_clean_text_removes_every_format_character_unicode_knows() -> None:
    format_characters = "".join(
        chr(code) for code in range(sys.maxunicode + 1) if unicodedata.category(chr(code)) == "Cf"
    )

    cleaned = clean_text(f"<{format_characters}>", limit=10_000)

    assert cleaned.strip("<>\ufffd") == ""  # bidi controls show as U+FFFD, as before; the rest are gone


def test_clean_text_caps_length_with_an_ellipsis() -> None:
    cleaned = clean_text("x" * 5000, limit=100)

    assert len(cleaned) == 100
    assert cleaned.endswith("…")


@given(st.text(), st.integers(min_value=1, max_value=200))
def test_clean_text_never_returns_control_or_bidi_characters(raw: str, limit: int) -> None:
    cleaned = clean_text(raw, limit=limit)

    assert not UNSAFE.search(cleaned)
    assert not [char for char in cleaned if unicodedata.category(char) == "Cf"]
    assert len(cleaned) <= limit


def test_subject_of_one_alert_is_its_severity_and_title() -> None:
    alert = make_alert(title="Secret read", severity="high")

    assert subject([alert]) == "[secretwatch] HIGH Secret read"


def test_subject_of_several_alerts_counts_them_and_names_the_highest() -> None:
    alerts = [
        make_alert(title="Denied reads", severity="medium", risk_score=47),
        make_alert(title="New user agent", severity="high", risk_score=73),
        make_alert(title="Lower high", severity="high", risk_score=50),
    ]

    assert subject(alerts) == "[secretwatch] 3 alerts (highest: HIGH New user agent)"


def test_subject_is_cut_to_the_sns_limit() -> None:
    text = subject([make_alert(title="secret " * 40)])

    assert len(text) == SUBJECT_LIMIT < 100
    assert text.endswith("...")


def test_subject_is_printable_ascii_and_keeps_accented_letters_readable() -> None:
    text = subject([make_alert(title="Secret read by José Müller 用户")])

    assert text == "[secretwatch] HIGH Secret read by Jose Muller ??"


def test_subject_of_a_hostile_alert_cannot_inject_headers_or_escapes() -> None:
    text = subject([hostile_alert()])

    assert not UNSAFE.search(text)
    assert text.isascii()
    assert "curl/8" in text
    assert "alert(1)" in text


def test_text_body_has_every_fact_and_the_runbook() -> None:
    alert = make_alert(event_count=3)

    body = render_text([alert])

    for expected in [
        "[HIGH] Secret payments/db-password read by alice@example.com with a new user agent",
        "high (risk score 73)", "secret-access-unusual-user-agent", "2024-05-01T12:00:00.000000Z",
        "2024-05-01T12:04:30.250000Z", "Events         3", "aws", "prod-eks", "alice@example.com",
        "203.0.113.9, 10.0.4.17", "python-requests/2.31.0", "get secrets", "payments", "db-password",
        "/api/v1/namespaces/payments/secrets/db-password", "Response code  200", "T1552.007",
        "0f6a1e52-7d0b-4a3c-9a55-0d7b1e0b8c11", "sw-5b1f0c3e9a7d4e21",
        "203.0.113.9|alice@example.com|python-requests/2.31.0",
        "    1. Ask the owner of alice@example.com whether this client is theirs.",
        "    2. If not, rotate payments/db-password and revoke the user's credentials.",
    ]:
        assert expected in body


def test_text_body_shows_a_dash_for_absent_values() -> None:
    body = render_text([make_alert(make_context(username=None, response_code=None), cluster=None)])

    assert "  User           -\n" in body
    assert "  Cluster        -\n" in body
    assert "  Response code  -\n" in body


def test_text_body_names_the_pod_and_node_only_when_the_log_did() -> None:
    workload = make_context(pod_name="payments-api-7d9f8b6c5-x2x7q", node_name="ip-10-0-4-17.ec2.internal")

    with_pod = render_text([make_alert(workload)])
    without = render_text([make_alert()])

    assert "  Pod            payments-api-7d9f8b6c5-x2x7q\n" in with_pod
    assert "  Node           ip-10-0-4-17.ec2.internal\n" in with_pod
    assert with_pod.index("  Response code") < with_pod.index("  Pod ") < with_pod.index("  MITRE ATT&CK")
    assert "  Pod " not in without
    assert "  Node " not in without


def test_text_body_counts_and_lists_every_alert() -> None:
    body = render_text([make_alert(title="First alert"), make_alert(title="Second alert")])

    assert body.startswith("secretwatch raised 2 alerts.\n")
    assert "[HIGH] First alert" in body
    assert "[HIGH] Second alert" in body


def test_long_audit_id_lists_are_shortened_in_email() -> None:
    ids = tuple(f"audit-{number:03d}" for number in range(25))

    body = render_text([make_alert(audit_ids=ids, event_count=25)])

    assert "audit-019 (and 5 more)" in body
    assert "audit-020" not in body


def test_text_body_of_a_hostile_alert_keeps_each_value_on_its_line() -> None:
    body = render_text([hostile_alert()])

    assert "\x1b" not in body
    assert "\r" not in body
    assert not UNSAFE.search(body.replace("\n", ""))
    agent_line = next(line for line in body.splitlines() if line.startswith("  User agent"))
    assert agent_line.endswith("curl/8<script>alert(1)</script> Bcc: victim@example.com\ufffd")
    assert not any(line.startswith("Bcc:") for line in body.splitlines())


def test_html_body_has_every_fact_and_the_runbook() -> None:
    body = render_html([make_alert(event_count=3)])

    for expected in [
        "[HIGH] Secret payments/db-password read by alice@example.com with a new user agent",
        "high (risk score 73)", "secret-access-unusual-user-agent", "2024-05-01T12:00:00.000000Z",
        "2024-05-01T12:04:30.250000Z", ">3</td>", "prod-eks", "203.0.113.9, 10.0.4.17",
        "python-requests/2.31.0", "get secrets", "/api/v1/namespaces/payments/secrets/db-password",
        ">200</td>", "T1552.007", "0f6a1e52-7d0b-4a3c-9a55-0d7b1e0b8c11", "sw-5b1f0c3e9a7d4e21",
        "1. Ask the owner of alice@example.com whether this client is theirs.<br>",
        "2. If not, rotate payments/db-password and revoke the user&#x27;s credentials.",
    ]:
        assert expected in body


def test_html_body_names_the_pod_and_escapes_it() -> None:
    body = render_html([make_alert(make_context(pod_name="api-0<img src=x>", node_name="gke-pool-1-a1b2"))])

    assert ">Pod</th>" in body
    assert "api-0&lt;img src=x&gt;</td>" in body
    assert ">gke-pool-1-a1b2</td>" in body
    assert ">Pod</th>" not in render_html([make_alert()])


def test_html_body_uses_inline_css_only() -> None:
    body = render_html([make_alert()])

    assert body.startswith("<!DOCTYPE html>")
    assert "<style" not in body
    assert "<link" not in body
    assert 'style="' in body


def test_html_body_escapes_hostile_values() -> None:
    body = render_html([hostile_alert()])

    assert "<script" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "curl/8" in body
    assert "\x1b" not in body
    assert "\r" not in body
    assert "\u202e" not in body


def test_html_body_escapes_quotes_in_values() -> None:
    body = render_html([make_alert(make_context(name='x" onmouseover="alert(1)'))])

    assert 'x" onmouseover' not in body
    assert "x&quot; onmouseover=&quot;alert(1)</td>" in body


LOGS = Link("Cloud Logging", "https://console.cloud.google.com/logs/query;query=a%3D%22b%22;timeRange=x?project=p&x=1")


def test_console_links_are_in_the_json_and_the_mails_with_the_url_whole() -> None:
    alert = make_alert(links=(LOGS,))

    assert alert_to_dict(alert)["links"] == [{"name": "Cloud Logging", "url": LOGS.url}]
    assert alert_to_dict(make_alert())["links"] == []
    assert f"  Logs:\n    Cloud Logging: {LOGS.url}\n" in render_text([alert])
    assert "Logs:" not in render_text([make_alert()])
    escaped = LOGS.url.replace("&", "&amp;")
    assert f'Logs: <a href="{escaped}" style="color:#175cd3">Cloud Logging</a>' in render_html([alert])
    assert "Logs:" not in render_html([make_alert()])
