"""An alert as an OCSF Detection Finding: the attributes OCSF 1.3.0 requires, then what each one holds."""

from __future__ import annotations

from datetime import UTC, datetime
from importlib import metadata
from typing import Any

import orjson
import pytest

from core.alerts.ocsf import detection_finding, ocsf_json
from core.model import Link
from tests.unit.alerts_factory import hostile_alert, make_alert, make_context

#: The required attributes of detection_finding in OCSF 1.3.0, by object path ("" is the event itself):
#: base_event and finding (the classes it extends), and the objects it holds.
REQUIRED = {
    "": ["activity_id", "category_uid", "class_uid", "finding_info", "metadata", "severity_id", "time", "type_uid"],
    "metadata": ["product", "version"],
    "finding_info": ["uid"],
    "finding_info.analytic": ["type_id"],
    "cloud": ["provider"],
}


def at(finding: dict[str, Any], path: str) -> dict[str, Any]:
    for key in filter(None, path.split(".")):
        finding = finding[key]
    return finding


@pytest.mark.parametrize(("path", "names"), REQUIRED.items())
def test_every_attribute_ocsf_requires_is_present_and_not_null(path: str, names: list[str]) -> None:
    found = at(detection_finding(make_alert()), path)

    assert [name for name in names if found.get(name) is None] == []


def test_the_event_is_a_detection_finding_being_created() -> None:
    finding = detection_finding(make_alert())

    assert (finding["class_uid"], finding["category_uid"], finding["activity_id"]) == (2004, 2, 1)
    assert finding["type_uid"] == 200401


def test_finding_info_names_the_alert_the_rule_and_when_it_was_seen() -> None:
    info = detection_finding(make_alert())["finding_info"]

    assert info["uid"] == "sw-5b1f0c3e9a7d4e21"
    assert info["title"] == "Secret payments/db-password read by alice@example.com with a new user agent"
    assert info["types"] == ["Kubernetes Secret Access"]
    assert info["analytic"] == {
        "uid": "secret-access-unusual-user-agent",
        "name": "secret-access-unusual-user-agent",
        "type_id": 1,
        "type": "Rule",
    }
    assert info["first_seen_time"] == 1714564800000
    assert info["last_seen_time"] == 1714565070250


def test_mitre_ids_become_tactic_and_technique_uids() -> None:
    alert = make_alert(mitre=("TA0006:T1552.007", "T1528"))

    assert detection_finding(alert)["finding_info"]["attacks"] == [
        {"technique": {"uid": "T1552.007"}, "tactic": {"uid": "TA0006"}},
        {"technique": {"uid": "T1528"}},
    ]


@pytest.mark.parametrize(
    ("severity", "severity_id"), [("info", 1), ("low", 2), ("medium", 3), ("high", 4), ("critical", 5), ("odd", 0)]
)
def test_severities_map_to_ocsf_severity_ids(severity: str, severity_id: int) -> None:
    assert detection_finding(make_alert(severity=severity))["severity_id"] == severity_id


def test_who_from_where_with_what_on_which_secret_in_which_cloud() -> None:
    finding = detection_finding(make_alert(last_seen=datetime(2024, 5, 1, 12, 4, 30, tzinfo=UTC)))

    assert finding["time"] == 1714565070000
    assert finding["actor"] == {"user": {"name": "alice@example.com"}}
    assert finding["src_endpoint"] == {"ip": "203.0.113.9"}
    assert finding["http_request"] == {"user_agent": "python-requests/2.31.0"}
    assert finding["resources"] == [
        {"type": "secrets", "name": "db-password", "namespace": "payments", "group": {"name": "prod-eks"}}
    ]
    assert finding["cloud"] == {"provider": "AWS"}
    assert finding["metadata"]["version"] == "1.3.0"
    assert finding["metadata"]["product"] == {
        "name": "secretwatch",
        "vendor_name": "secretwatch",
        "version": metadata.version("secretwatch"),
    }


def test_what_the_log_did_not_say_is_left_out_not_null() -> None:
    finding = detection_finding(make_alert(make_context(username=None, source_ip=None, user_agent=None)))

    assert {"actor", "src_endpoint", "http_request"}.isdisjoint(finding)


def test_the_json_line_keeps_hostile_values_exact_once_parsed_and_escapes_bidi_controls() -> None:
    alert = hostile_alert()

    line = ocsf_json(alert)

    assert b"\n" not in line
    assert "\u202e".encode() not in line
    assert orjson.loads(line) == detection_finding(alert)


def test_the_console_link_is_the_findings_src_url() -> None:
    url = "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#logsV2:logs-insights"

    finding = detection_finding(make_alert(links=(Link("CloudWatch Logs Insights", url),)))

    assert finding["finding_info"]["src_url"] == url
    assert "src_url" not in detection_finding(make_alert())["finding_info"]
