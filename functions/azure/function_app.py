"""Azure Function entry: AKS audit logs streamed to an Event Hub by the cluster's diagnostic settings.

Trigger: Event Hubs, cardinality many, data type binary. Each event's body is one diagnostic-settings body,
`{"records": [...]}`; a record's `properties.log` holds one Kubernetes audit Event. Only the `kube-audit`
category carries secret reads (`kube-audit-admin` leaves out get and list).

App settings: EventHubConnection (the Event Hubs connection string, or
EventHubConnection__fullyQualifiedNamespace for a managed identity), SECRETWATCH_EVENT_HUB,
SECRETWATCH_CONSUMER_GROUP, SECRETWATCH_STORE (azuretables://TABLE?connection_setting=NAME; memory://
forgets everything when the worker stops), SECRETWATCH_SINKS (comma-separated, e.g.
smtp://HOST:587?from=F&to=A&starttls=1&username=U&password_env=NAME), SECRETWATCH_LEARNING_PERIOD (e.g. 7d).

Failure policy:
- Record-level problems (a body that is not JSON, a record that is not an object, klog text under an audit
  category, a properties.log cut at 16 KiB) are counted in the batch's summary line; the invocation
  succeeds. Records of other categories (kube-apiserver, guard, ...) are counted as ignored.
- A store or sink outage raises after that store's or sink's own bounded retries. An Event Hubs trigger
  checkpoints past a failed batch unless the function has a retry policy, so this one has one
  (exponential backoff, RETRY_* below): the host runs the same batch again, without checkpointing,
  for about an hour; after the last retry it moves on and the batch's alerts are lost, so alert on
  failed invocations in Application Insights.
- A retried or redelivered batch (a retry, a partition moving to another instance, a restart before the
  checkpoint) raises no second alert and counts nothing twice: counters are sets of audit ids, and a
  ledger in the store remembers which alert ids were sent.
- Bad configuration fails with one line saying what to fix. In Azure it fails at start-up: the worker
  cannot index the function, so no batch is read and none is checkpointed until the setting is fixed.
  Building the pipeline checks settings only; it makes no network call.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, List  # noqa: UP035 - see aks_audit

import azure.functions as func
import orjson

from core.bootstrap import pipeline_from_env
from core.pipeline import Pipeline, Summary
from core.timeutil import isoformat

EVENT_HUB_SETTING = "%SECRETWATCH_EVENT_HUB%"
CONSUMER_GROUP_SETTING = "%SECRETWATCH_CONSUMER_GROUP%"
CONNECTION_SETTING = "EventHubConnection"
#: Waits of 10 s, 20 s, 40 s ... capped at 15 min: ten retries span about an hour of outage.
RETRY_COUNT = 10
RETRY_MIN_INTERVAL = "00:00:10"
RETRY_MAX_INTERVAL = "00:15:00"
SUMMARY_MESSAGE = "batch processed %s"

log = logging.getLogger(__name__)
app = func.FunctionApp()

# The worker runs invocations for several partitions on a thread pool; the engine's cache of known terms
# is not shared safely between threads, so one worker process evaluates one batch at a time.
_evaluating = threading.Lock()


@functools.cache
def pipeline() -> Pipeline:
    """Built once per worker process, so store clients and the cache of known terms are reused."""
    return pipeline_from_env(log.error)


def reset_pipeline() -> None:
    """Close and forget the pipeline, so the next batch builds one from the settings as they are then."""
    if pipeline.cache_info().currsize:
        current = pipeline()
        current.store.close()
        for sink in current.delivery.sinks:
            sink.close()
    pipeline.cache_clear()


@app.retry(
    strategy="exponential_backoff",
    max_retry_count=str(RETRY_COUNT),
    minimum_interval=RETRY_MIN_INTERVAL,
    maximum_interval=RETRY_MAX_INTERVAL,
)
@app.event_hub_message_trigger(
    arg_name="events",
    event_hub_name=EVENT_HUB_SETTING,
    connection=CONNECTION_SETTING,
    cardinality=func.Cardinality.MANY,
    consumer_group=CONSUMER_GROUP_SETTING,
    data_type=func.DataType.BINARY,  # bodies arrive as the bytes sent, not parsed and re-serialised by the host
)
def aks_audit(events: List[func.EventHubEvent]) -> None:  # noqa: UP006 - the worker's converter refuses list[...]
    """One batch of Event Hub events, each body one `{"records": [...]}` document."""
    secretwatch = pipeline()
    with _evaluating:
        summary = secretwatch.process([event.get_body() for event in events], fmt="aks")
    log.info(SUMMARY_MESSAGE, summary_line(events, summary))


def summary_line(events: Sequence[func.EventHubEvent], summary: Summary) -> str:
    """The batch's position in the hub and what it held, as JSON: counts, reasons and rule ids only."""
    return orjson.dumps({"event_hub": _position(events), **summary.as_dict()}).decode()


def _position(events: Sequence[func.EventHubEvent]) -> dict[str, Any]:
    sequence = [event.sequence_number for event in events if event.sequence_number is not None]
    enqueued = [_as_utc(event.enqueued_time) for event in events if event.enqueued_time is not None]
    return {
        "events": len(events),
        "sequence_numbers": [min(sequence), max(sequence)] if sequence else None,
        "oldest_enqueued": isoformat(min(enqueued)) if enqueued else None,
    }


def _as_utc(stamp: datetime) -> datetime:
    """The worker gives enqueued times without a zone when the host sends them without one; they are UTC."""
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


if os.environ.get("FUNCTIONS_WORKER_RUNTIME"):  # in the Functions host: fail at indexing, not at a batch
    pipeline()
