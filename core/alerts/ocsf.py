"""An alert as an OCSF Detection Finding (class 2004, schema 1.3.0), for SIEMs and data lakes that read OCSF.

Only what secretwatch knows goes in; nothing is invented to fill an optional attribute. Values are the alert's
own, unchanged (a consumer gets exact data; render.safe_json escapes what could drive a terminal).
"""

from __future__ import annotations

from datetime import datetime
from importlib import metadata
from typing import Any

from core.alerts.render import safe_json
from core.model import Alert

SCHEMA_VERSION = "1.3.0"
CLASS_UID = 2004  # Detection Finding
CATEGORY_UID = 2  # Findings
ACTIVITY_CREATE = 1
TYPE_UID = CLASS_UID * 100 + ACTIVITY_CREATE
#: Our severities to OCSF severity_id (0 Unknown, 1 Informational, 2 Low, 3 Medium, 4 High, 5 Critical).
SEVERITY_IDS = {"info": 1, "low": 2, "medium": 3, "high": 4, "critical": 5}
_SEVERITY_NAMES = {0: "Unknown", 1: "Informational", 2: "Low", 3: "Medium", 4: "High", 5: "Critical"}
_PROVIDERS = {"aws": "AWS", "gcp": "GCP", "azure": "Azure"}
_FINDING_TYPE = "Kubernetes Secret Access"


def detection_finding(alert: Alert) -> dict[str, Any]:
    """The OCSF Detection Finding for `alert`: required attributes always, the others when the log had them."""
    severity_id = SEVERITY_IDS.get(alert.severity.lower(), 0)
    finding: dict[str, Any] = {
        "class_uid": CLASS_UID,
        "class_name": "Detection Finding",
        "category_uid": CATEGORY_UID,
        "category_name": "Findings",
        "activity_id": ACTIVITY_CREATE,
        "activity_name": "Create",
        "type_uid": TYPE_UID,
        "type_name": "Detection Finding: Create",
        "severity_id": severity_id,
        "severity": _SEVERITY_NAMES[severity_id],
        "time": epoch_ms(alert.last_seen),
        "start_time": epoch_ms(alert.first_seen),
        "end_time": epoch_ms(alert.last_seen),
        "status_id": 1,
        "status": "New",
        "is_alert": True,
        "message": alert.title,
        "risk_score": alert.risk_score,
        "count": alert.event_count,
        "metadata": _metadata(alert),
        "finding_info": _finding_info(alert),
        "cloud": {"provider": _PROVIDERS.get(alert.cloud, alert.cloud)},
        "resources": [_resource(alert)],
    }
    context = alert.context
    if context.username:
        finding["actor"] = {"user": {"name": context.username}}
    if context.source_ip:
        finding["src_endpoint"] = {"ip": context.source_ip}
    if context.user_agent:
        finding["http_request"] = {"user_agent": context.user_agent}
    if alert.runbook:
        finding["remediation"] = {"desc": alert.runbook}
    return finding


def ocsf_json(alert: Alert) -> bytes:
    """detection_finding(alert) as one line of UTF-8 JSON, without a newline."""
    return safe_json(detection_finding(alert))


def epoch_ms(moment: datetime) -> int:
    """OCSF's timestamp_t: milliseconds since the epoch."""
    return int(moment.timestamp() * 1000)


def attacks(mitre: tuple[str, ...]) -> list[dict[str, Any]]:
    """OCSF attack objects for our MITRE ids, "TA0006:T1552.007" (tactic:technique) or a bare technique."""
    found: list[dict[str, Any]] = []
    for entry in mitre:
        tactic, _, technique = entry.rpartition(":")
        attack: dict[str, Any] = {"technique": {"uid": technique}}
        if tactic:
            attack["tactic"] = {"uid": tactic}
        found.append(attack)
    return found


def _metadata(alert: Alert) -> dict[str, Any]:
    product = {"name": "secretwatch", "vendor_name": "secretwatch", "version": _version()}
    return {"version": SCHEMA_VERSION, "product": product, "uid": alert.alert_id, "correlation_uid": alert.dedup_key}


def _finding_info(alert: Alert) -> dict[str, Any]:
    info: dict[str, Any] = {
        "uid": alert.alert_id,
        "title": alert.title,
        "types": [_FINDING_TYPE],
        "analytic": {"uid": alert.rule_id, "name": alert.rule_id, "type_id": 1, "type": "Rule"},
        "first_seen_time": epoch_ms(alert.first_seen),
        "last_seen_time": epoch_ms(alert.last_seen),
        "related_events_count": alert.event_count,
    }
    if alert.mitre:
        info["attacks"] = attacks(alert.mitre)
    if alert.links:
        info["src_url"] = alert.links[0].url  # the console page with the logs around the finding
    return info


def _resource(alert: Alert) -> dict[str, Any]:
    context = alert.context
    resource: dict[str, Any] = {"type": context.resource or "secrets"}
    if context.name:
        resource["name"] = context.name
    if context.namespace:
        resource["namespace"] = context.namespace
    if alert.cluster:
        resource["group"] = {"name": alert.cluster}
    return resource


def _version() -> str:
    try:
        return metadata.version("secretwatch")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"
