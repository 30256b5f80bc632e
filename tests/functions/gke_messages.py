"""GKE audit traffic as it reaches the Cloud Function, and readers for what the function produced.

LogEntries are the project's GKE fixtures (tests/fixtures/gke/) or the demo's audit Events wrapped by
core.demo.envelopes.gke_log_entry, the way GKE writes them. A Cloud Logging sink publishes one LogEntry per
Pub/Sub message; the envelopes around it are built as Pub/Sub and Eventarc build them (constructed: see
tests/fixtures/README.md).
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from core.demo.attacks import THIEF_AGENT, THIEF_IP, enumeration
from core.demo.cast import act, named
from core.demo.clusters import gke
from core.demo.draw import Draw
from core.demo.envelopes import gke_log_entry, pubsub_push_body
from core.demo.events import audit_event

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "gke"
PROJECT = gke.PROJECT
TOPIC = f"projects/{PROJECT}/topics/gke-audit"
SUBSCRIPTION = f"projects/{PROJECT}/subscriptions/secretwatch-audit"
#: Eventarc's CloudEvent type for a Pub/Sub trigger.
MESSAGE_PUBLISHED = "google.cloud.pubsub.topic.v1.messagePublished"
#: When the demo's attacks start: any time works, the rules count by event time.
ATTACK_TIME = datetime(2026, 11, 2, 14, 0, tzinfo=UTC)

DENIED = "secret-access-denied"
UNUSUAL_AGENT = "secret-access-unusual-user-agent"
#: The enumeration: riley.chen@acme.example guesses secret names in namespace airflow, every get denied.
ENUMERATOR, ENUMERATED_NAMESPACE = gke.RILEY.username, "airflow"
#: The stolen token: analytics-api's service account read with curl from an address it never used.
THIEF = replace(gke.ANALYTICS_API, source_ips=(THIEF_IP,), user_agent=THIEF_AGENT)

_RULE_LINE = re.compile(r"^\s+Rule\s+(\S+)$", re.MULTILINE)
_EVENTS_LINE = re.compile(r"^\s+Events\s+(\d+)$", re.MULTILINE)


def fixture_entry(name: str) -> dict[str, Any]:
    """A LogEntry from tests/fixtures/gke/, e.g. "secret_get_denied"."""
    entry: dict[str, Any] = orjson.loads((FIXTURES / f"{name}.json").read_bytes())
    return entry


def enumeration_entries(seed: int = 7) -> list[dict[str, Any]]:
    """The demo's enumeration attack: 40 denied secret gets by one user in one namespace within 4 minutes."""
    at_us = _epoch_us(ATTACK_TIME)
    _, timed = enumeration(Draw(random.Random(seed)), at_us)
    return [_log_entry(event) for _, _, event in timed]


def stolen_token_entry(seed: int = 7) -> dict[str, Any]:
    """One secret read with a user agent and address never seen for that service account."""
    activity = act(THIEF, "get", "secrets", named("analytics", "analytics-bq-credentials"))
    request = Draw(random.Random(seed)).request(activity, _epoch_us(ATTACK_TIME) + 3_600_000_000)
    return _log_entry(audit_event(request))


def log_data(entry: Mapping[str, Any]) -> bytes:
    """A message's data as the Cloud Logging sink publishes it: the LogEntry's JSON and a newline."""
    return orjson.dumps(entry, option=orjson.OPT_SORT_KEYS) + b"\n"


def push_body(entry: Mapping[str, Any], message_id: int) -> dict[str, Any]:
    """The body Pub/Sub POSTs to a push endpoint (Eventarc's MessagePublishedData has the same shape)."""
    return pubsub_push_body(entry, subscription=SUBSCRIPTION, message_id=str(message_id))


def garbage_push_body(message_id: int) -> dict[str, Any]:
    body = push_body(fixture_entry("secret_get_denied"), message_id)
    body["message"]["data"] = "not base64 at all: %%%"
    return body


def cloud_event_attributes(body: Mapping[str, Any]) -> dict[str, str]:
    """The CloudEvent attributes Eventarc sets around MessagePublishedData."""
    message = body["message"]
    return {
        "type": MESSAGE_PUBLISHED,
        "source": f"//pubsub.googleapis.com/{TOPIC}",
        "id": message["messageId"],
        "time": message["publishTime"],
        "datacontenttype": "application/json",
    }


def alerted_rules(mails: Iterable[Any]) -> Counter[str]:
    """How many alerts of each rule the mails carry (read from the "Rule" line of each plain-text alert)."""
    return Counter(rule for mail in mails for rule in _RULE_LINE.findall(plain_text(mail)))


def event_counts(mails: Iterable[Any], rule_id: str) -> list[int]:
    """The "Events" figure of every alert of `rule_id` in the mails."""
    counts: list[int] = []
    for mail in mails:
        text = plain_text(mail)
        for block in text.split("\n\n"):
            if _RULE_LINE.findall(block) == [rule_id]:
                counts.extend(int(value) for value in _EVENTS_LINE.findall(block))
    return counts


def plain_text(mail: Any) -> str:
    """The text/plain part of a received mail, with SMTP's CRLF line ends made plain newlines."""
    part = mail.message.get_body(preferencelist=("plain",))
    assert part is not None, "the alert mail has no text/plain part"
    text: str = part.get_content()
    return text.replace("\r\n", "\n")


def json_lines(text: str) -> list[dict[str, Any]]:
    """Every line of a log as parsed JSON; a line that is not a JSON object fails the test."""
    parsed = []
    for line in text.splitlines():
        entry = orjson.loads(line)
        assert isinstance(entry, dict), line
        parsed.append(entry)
    return parsed


def _log_entry(event: Mapping[str, Any]) -> dict[str, Any]:
    return gke_log_entry(event, cluster=gke.NAME, project=gke.PROJECT, location=gke.LOCATION)


def _epoch_us(moment: datetime) -> int:
    return int(moment.timestamp()) * 1_000_000
