"""Cloud Functions (2nd gen) entry: GKE audit logs routed by a Cloud Logging sink to a Pub/Sub topic.

Entry point `handle_pubsub`, a CloudEvent function. infra/gcp deploys it behind a Pub/Sub push
subscription that Terraform owns (so it can carry the retry and dead-letter policies an Eventarc-created
subscription cannot); functions-framework turns the raw push body into a CloudEvent whose data is
MessagePublishedData, `{"message": {"data": base64 LogEntry, ...}, "subscription": ...}`, the same shape an
Eventarc Pub/Sub trigger delivers. A Cloud Logging sink publishes one LogEntry per message. Locally:
`functions-framework --target handle_pubsub --signature-type cloudevent`.

Configuration (environment, validated at instance start): SECRETWATCH_STORE (e.g.
firestore://COLLECTION?project=P), SECRETWATCH_SINKS (comma-separated, e.g.
smtp://HOST:587?from=F&to=A&starttls=1&username=U&password_env=NAME or jsonl://-),
SECRETWATCH_LEARNING_PERIOD.

Failure policy:
- Record-level problems (bad base64 or JSON, entries from other services) are counted in the logged
  summary; the function returns normally, so Pub/Sub acknowledges the message.
- A store or sink outage raises after bounded retries: functions-framework answers 500 and Pub/Sub
  redelivers the message with backoff (the subscription's retry policy), then moves it to the dead-letter topic
  after the subscription's maximum delivery attempts (both configured in infra/gcp).
- A redelivered or duplicated message raises no second alert and counts nothing twice: counters are sets of
  audit ids and a ledger in the store remembers which alert ids were sent.
- Bad configuration fails the instance at start with one logged line saying what to fix.

An instance processes one message at a time (the platform's default concurrency of 1, kept by a lock if it
is raised); instances share only the store, whose conditional writes keep the counts exact.

Logs: one JSON object per line on stdout ("severity", "message", the run summary) for Cloud Logging. They
hold counts and reasons, never log content.
"""

from __future__ import annotations

import functools
import logging
import os
import threading

import functions_framework
import orjson
from cloudevents.http import CloudEvent

from core.bootstrap import pipeline_from_env
from core.errors import SecretwatchError
from core.pipeline import Document, Pipeline
from functions.gcp.logs import configure_json_logging, json_fields

log = logging.getLogger("secretwatch.gcp")
_one_at_a_time = threading.Lock()


@functools.cache
def pipeline() -> Pipeline:
    """Built once per instance and reused with its clients and known terms; `cache_clear()` forgets it."""
    return pipeline_from_env(log.critical)


@functions_framework.cloud_event
def handle_pubsub(cloud_event: CloudEvent) -> None:
    """Process one Pub/Sub message; returning acknowledges it, raising makes Pub/Sub redeliver it."""
    with _one_at_a_time:
        processor = pipeline()  # under the lock too: two first messages must not build two pipelines
        try:
            summary = processor.process([payload(cloud_event)])
        except SecretwatchError as exc:
            log.error(
                "message not processed; Pub/Sub will redeliver it",
                extra=json_fields(event_id=cloud_event["id"], error=str(exc)),
            )
            raise
    severity = logging.WARNING if summary.malformed else logging.INFO
    fields = json_fields(event_id=cloud_event["id"], summary=summary.as_dict())
    log.log(severity, "message processed", extra=fields)


def payload(cloud_event: CloudEvent) -> Document:
    """The event's data: MessagePublishedData, or the LogEntry itself from an audit-log trigger.

    Data of any other JSON type is handed on re-encoded, for the core to count as malformed.
    """
    data = cloud_event.get_data()
    if isinstance(data, bytes | str | dict | list):
        return data
    return orjson.dumps(data)


def _on_cloud_run() -> bool:
    """Cloud Functions (2nd gen) run on Cloud Run, which names the service in K_SERVICE."""
    return "K_SERVICE" in os.environ


configure_json_logging(log.name)
if _on_cloud_run():
    configure_json_logging("")  # the root logger: the core's warnings (e.g. SMTP retries) as JSON lines too
    pipeline()  # fail while the instance starts, not at the first message
