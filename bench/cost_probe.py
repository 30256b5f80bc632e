"""What bench/cost.py measures: each function entry's warm handler CPU, the demo traffic's wire facts, and
the store requests and alerts per event that bench/results.json holds.

`measure_entries` drives each entry (Lambda, Cloud Run function, Azure Function) as its platform does, with
the memory store and its log lines sent to a temporary file, on one pinned core, and keeps the least process
CPU time of the rounds after a warm-up run. `traffic_facts` reads the demo mix as each cloud delivers it: the
share each cloud-side filter passes and the bytes an event takes. `state_facts` reads the steady-state rows.
"""

from __future__ import annotations

import base64
import math
import os
import statistics
import sys
import tempfile
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

BENCH = Path(__file__).resolve().parent

# --- what the traffic and results.json say -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TrafficFacts:
    """Measured from the demo's realistic mix, as each cloud delivers it."""

    events: int
    eks_filter_passes: float  # share with objectRef.resource == "secrets"
    gke_filter_passes: float  # share of LogEntries whose methodName holds "io.k8s.core.v1.secrets."
    event_bytes: float  # mean audit Event JSON
    pubsub_message_bytes: float  # mean Pub/Sub message volume: data, attributes, 20-byte timestamp, message id
    aks_records_per_body: float
    aks_ingress_units_per_event: float  # 64 KB units, counted per Event Hub body


def traffic_facts(events: int) -> TrafficFacts:
    from bench.traffic import SCENARIOS, wire_documents

    mix = SCENARIOS[0]
    eks = [orjson.loads(m["message"]) for doc in wire_documents(mix, "eks", events=events) for m in _log_events(doc)]
    gke = [orjson.loads(doc)["message"] for doc in wire_documents(mix, "gke", events=events)]
    entries = [orjson.loads(base64.b64decode(message["data"])) for message in gke]
    bodies = list(wire_documents(mix, "aks", events=events))
    records = sum(len(orjson.loads(body)["records"]) for body in bodies)
    return TrafficFacts(
        events=len(eks),
        eks_filter_passes=sum(_ref(event).get("resource") == "secrets" for event in eks) / len(eks),
        gke_filter_passes=sum("io.k8s.core.v1.secrets." in e["protoPayload"]["methodName"] for e in entries)
        / len(entries),
        event_bytes=statistics.fmean(len(orjson.dumps(event)) for event in eks),
        pubsub_message_bytes=statistics.fmean(_pubsub_volume(message) for message in gke),
        aks_records_per_body=records / len(bodies),
        aks_ingress_units_per_event=sum(math.ceil(len(body) / 65_536) for body in bodies) / records,
    )


def _log_events(document: bytes) -> list[dict[str, Any]]:
    data = base64.b64decode(orjson.loads(document)["awslogs"]["data"])
    events: list[dict[str, Any]] = orjson.loads(zlib.decompress(data, zlib.MAX_WBITS | 32))["logEvents"]
    return events


def _ref(event: dict[str, Any]) -> dict[str, Any]:
    ref = event.get("objectRef")
    return ref if isinstance(ref, dict) else {}


def _pubsub_volume(message: dict[str, Any]) -> int:
    attributes = sum(len(key) + len(str(value)) for key, value in message.get("attributes", {}).items())
    return len(base64.b64decode(message["data"])) + attributes + 20 + len(message["messageId"])


@dataclass(frozen=True, slots=True)
class StateFacts:
    """From bench/results.json: steady-state store requests and alerts, per audit event."""

    reads_per_event: float
    writes_per_event: float
    alerts_per_event: float
    rules: str


def state_facts(results: dict[str, Any], *, pack: bool = True) -> StateFacts:
    steady = results["state_cost_pack" if pack else "state_cost"][0]
    reads = sum(count for call, count in steady["calls"].items() if call.split()[0] in _READS)
    writes = steady["requests"] - reads
    mix = [row for row in results["speed"]["rows"] if row["scenario"] == "mix"]
    alerts = sum(sum(row["alerts"].values()) for row in mix) / sum(row["events"] for row in mix)
    return StateFacts(reads / steady["events"], writes / steady["events"], alerts,
                      "the pack, every enabled rule" if pack else "the two seed rules")


_READS = frozenset({"BatchGetItem", "GetItem", "Query", "Scan"})

# --- measuring the entries -----------------------------------------------------------------------------------

Deliver = Callable[[Sequence[bytes]], None]  # the documents of one invocation


@dataclass(frozen=True, slots=True)
class EntryCpu:
    """Warm handler CPU seconds on one core: fixed per invocation, and per event of a delivery."""

    per_invocation_s: float
    per_event_s: float
    single_s: float  # mean of a one-event delivery (what GCP's one-message invocations cost)
    log_bytes: float = 0.0  # what the handler logs per invocation (summary line, metrics)


def measure_entries(*, singles: int, bulk: int, rounds: int) -> dict[str, dict[str, EntryCpu]]:
    """Each entry's CPU for the mix (what arrives with the filter off) and for events on secrets (with it on)."""
    from bench.machine import pin_to_one_core

    pin_to_one_core()
    entries = _entries()
    found: dict[str, dict[str, EntryCpu]] = {}
    for scenario, share in (("mix", 0.03), ("secrets", 1.0)):
        events = _events(share, singles + bulk)
        for cloud, (deliver, wrap) in entries.items():
            one = [wrap(events[i : i + 1]) for i in range(singles)]
            many = wrap(events[singles:])
            single, logged = (value / singles for value in _best(deliver, one, rounds))
            batch = single if cloud == "gcp" else _best(deliver, [many], rounds)[0]
            per_event = max(0.0, (batch - single) / (len(events) - singles - 1)) if cloud != "gcp" else 0.0
            found.setdefault(cloud, {})[scenario] = EntryCpu(max(0.0, single - per_event), per_event, single,
                                                             logged)
    return found


def _entries() -> dict[str, tuple[Deliver, Callable[[Sequence[dict[str, Any]]], list[bytes]]]]:
    from bench.entries import SETTINGS

    os.environ.update(SETTINGS)
    with _silenced():
        return {"aws": (_lambda(), _eks), "gcp": (_gcp(), _gke), "azure": (_azure(), _aks)}


def _lambda() -> Deliver:
    from functions.aws import handler

    def deliver(documents: Sequence[bytes]) -> None:
        (document,) = documents
        handler.handler(orjson.loads(document), None)

    return deliver


def _gcp() -> Deliver:
    os.environ.update(K_SERVICE="secretwatch", FUNCTION_TARGET="handle_pubsub", FUNCTION_SIGNATURE_TYPE="cloudevent")
    import functions_framework

    source = BENCH.parent / "functions" / "gcp" / "main.py"
    app = functions_framework.create_app("handle_pubsub", str(source), "cloudevent")  # type: ignore[no-untyped-call]
    client = app.test_client()

    def deliver(documents: Sequence[bytes]) -> None:
        (document,) = documents
        response = client.post("/", data=document, content_type="application/json")
        if response.status_code != 204 and response.status_code >= 300:
            raise RuntimeError(f"the GCP entry answered HTTP {response.status_code}")

    return deliver


def _azure() -> Deliver:
    from datetime import UTC, datetime

    import azure.functions as func

    from functions.azure import function_app

    (function,) = function_app.app.get_functions()
    user_function = function.get_user_function()

    def deliver(documents: Sequence[bytes]) -> None:
        now = datetime.now(UTC)
        user_function([func.EventHubEvent(body=body, enqueued_time=now, sequence_number=n, offset=str(n))
                       for n, body in enumerate(documents)])  # fmt: skip

    return deliver


def _events(secret_share: float, count: int) -> list[dict[str, Any]]:
    from bench.traffic import LEARNING_HOURS, START
    from core.demo.traffic import audit_events

    stream = audit_events(start=START, hours=24, events=count * 2, seed=13, secret_share=secret_share,
                          denied_share=0.03, learning_hours=LEARNING_HOURS)  # fmt: skip
    usable = (event for _, event in stream if event.get("stage") != "RequestReceived")  # GKE logs no such stage
    return [event for _, event in zip(range(count), usable, strict=False)]


def _cluster(cloud: str) -> Any:
    from core.demo.clusters import demo_clusters

    return next(cluster for cluster in demo_clusters() if cluster.cloud == cloud)


def _eks(events: Sequence[dict[str, Any]]) -> list[bytes]:
    from core.demo.envelopes import eks_lambda_event

    return [orjson.dumps(eks_lambda_event(events, cluster=_cluster("aws").name))]


def _gke(events: Sequence[dict[str, Any]]) -> list[bytes]:
    from core.demo.envelopes import gke_log_entry, pubsub_push_body

    cluster = _cluster("gcp")
    entries = [gke_log_entry(event, cluster=cluster.name, project=cluster.account, location=cluster.location)
               for event in events[:1]]  # fmt: skip
    subscription = f"projects/{cluster.account}/subscriptions/secretwatch-audit"
    return [orjson.dumps(pubsub_push_body(entry, subscription=subscription, message_id="11482305000000001"))
            for entry in entries]  # fmt: skip


def _aks(events: Sequence[dict[str, Any]], per_body: int = 50) -> list[bytes]:
    from core.demo.envelopes import aks_eventhub_body, aks_record

    cluster = _cluster("azure")
    records = [aks_record(event, cluster=cluster.name, subscription_id=cluster.account,
                          resource_group=cluster.resource_group) for event in events]  # fmt: skip
    return [orjson.dumps(aks_eventhub_body(records[i : i + per_body])) for i in range(0, len(records), per_body)]


def _best(deliver: Deliver, deliveries: Sequence[list[bytes]], rounds: int) -> tuple[float, float]:
    """Least process CPU time of `rounds` runs of every delivery, after a warm-up run (known terms cached,
    alerts sent), so each run is the warm steady state; and the bytes the handlers logged in a run."""
    times = []
    with tempfile.TemporaryFile() as log, _silenced(log.fileno()):
        for round_ in range(rounds + 1):
            if round_ == 1:
                logged = _flushed_size(log.fileno())
            started = time.process_time()
            for documents in deliveries:
                deliver(documents)
            if round_:
                times.append(time.process_time() - started)
        per_run = (_flushed_size(log.fileno()) - logged) / rounds
    return min(times), per_run


def _flushed_size(fd: int) -> int:
    sys.stdout.flush()
    sys.stderr.flush()
    return os.fstat(fd).st_size


@contextmanager
def _silenced(target: int | None = None) -> Iterator[None]:
    """The handlers' log lines and metrics go to `target` (else /dev/null), at the file descriptors their
    handlers hold."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null if target is None else target, 1)
        os.dup2(null if target is None else target, 2)
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (null, *saved):
            os.close(fd)
