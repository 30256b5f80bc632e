"""What it costs: dollars per million Kubernetes audit events on each cloud, from measured figures and list prices.

`python -m bench.cost` measures, in this process on one pinned core, each function entry's warm handler CPU time
for a one-event delivery (the fixed cost of an invocation) and for a 2,000-event delivery (the cost of each more
event), driven as its platform drives it, with the memory store and a sink to /dev/null. It reads the store
requests per event and the alerts per event from bench/results.json, measures from the demo traffic the share of
events each cloud-side filter lets through and the bytes each event takes on the wire, then prices a million
audit events with the model below: a markdown table per cloud, filter on and off, and the managed detection
services beside them. The figures go to bench/cost.json.

The model is pure arithmetic on `Workload`, `Platform` and the price tables, so tests can check it by hand.
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import os
import statistics
import sys
import tempfile
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

import orjson

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results.json"
OUTPUT = BENCH / "cost.json"
MILLION = 1_000_000
TIB = 2**40
NOT_REVERIFIED = "not re-verified (no network)"
UNDATED = "undated page, read 2026-12-05 in the search index"

# --- prices ----------------------------------------------------------------------------------------------

#: The newest dated source read for these prices. Each price carries its own date and source; the ones marked
#: NOT_REVERIFIED are the list prices as known for 2025, not checked against the provider's page.
PRICE_DATE = "2026-10-07"


@dataclass(frozen=True, slots=True)
class Price:
    usd: float
    per: str
    source: str  # where the figure was read and when, or NOT_REVERIFIED and the date it is known for


@dataclass(frozen=True, slots=True)
class AwsPrices:
    region: str
    lambda_gb_second: Price
    lambda_requests: Price
    dynamodb_writes: Price
    dynamodb_reads: Price
    ses_emails: Price
    guardduty_eks_audit: Price
    cloudwatch_vended_ingest: Price


@dataclass(frozen=True, slots=True)
class GcpPrices:
    region: str
    cpu_second: Price
    gib_second: Price
    requests: Price
    pubsub_throughput: Price
    firestore_writes: Price
    firestore_reads: Price
    logging_ingest: Price


@dataclass(frozen=True, slots=True)
class AzurePrices:
    region: str
    gb_second: Price
    executions: Price
    eventhubs_ingress: Price
    eventhubs_throughput_unit_hour: Price
    table_transactions: Price
    log_analytics_ingest: Price
    defender_containers_vcore_month: Price


AWS = AwsPrices(
    region="us-east-1 (N. Virginia)",
    lambda_gb_second=Price(0.0000133334, "GB-second, arm64, first 7.5 billion GB-s a month",
                           "https://cloudchipr.com/blog/aws-lambda-pricing (2024, us-east-1 Arm tier 1); "
                           "aws.amazon.com/lambda/pricing renders its rates client-side"),
    lambda_requests=Price(0.20 / MILLION, "request", "https://cloudchipr.com/blog/aws-lambda-pricing (2024): "
                          "$0.20 per million requests"),
    dynamodb_writes=Price(0.625 / MILLION, "write request unit, on-demand",
                          "https://airbyte.com/data-engineering-resources/dynamodb-pricing (2025-07-21): "
                          "$0.625 per million WRU after the 50% cut of 2024-11-01"),
    dynamodb_reads=Price(0.125 / MILLION, "read request unit, on-demand",
                         "https://airbyte.com/data-engineering-resources/dynamodb-pricing (2025-07-21): "
                         "$0.125 per million RRU after the 50% cut of 2024-11-01"),
    ses_emails=Price(0.10 / 1000, "email sent", f"{NOT_REVERIFIED}; SES list price as of 2025"),
    guardduty_eks_audit=Price(1.60 / MILLION, "EKS audit log event, first 100 million a month ($0.80 next 100 M)",
                              "https://aws.amazon.com/guardduty/pricing/ as transcribed 2026-10-07 in "
                              "api-evangelist/amazon-guardduty plans/amazon-guardduty-plans-pricing.yml"),
    cloudwatch_vended_ingest=Price(0.50 / 1e9, "byte of Lambda or vended logs ingested (first 10 TB a month)",
                                   f"{NOT_REVERIFIED}; CloudWatch Logs list price as of 2025"),
)

GCP = GcpPrices(
    region="us-central1 (Tier 1)",
    cpu_second=Price(0.000024, "vCPU-second, CPU allocated during requests only",
                     f"https://cloud.google.com/run/pricing (Tier 1; billed time rounded up to 100 ms), {UNDATED}"),
    gib_second=Price(0.0000025, "GiB-second, CPU allocated during requests only",
                     "https://cloudwebschool.com/tools/cloud-run-cost-calculator/ ($0.0000025 per GB-second), "
                     f"{UNDATED}"),
    requests=Price(0.40 / MILLION, "request", "https://cloudwebschool.com/tools/cloud-run-cost-calculator/ "
                   f"($0.40 per million beyond the free 2 million), {UNDATED}"),
    pubsub_throughput=Price(40 / TIB, "byte published or delivered (minimum 1000 bytes per request)",
                            "https://cloud.google.com/pubsub/pricing: $40 per TiB, 1000-byte minimum per "
                            f"publish, push or pull request, {UNDATED}"),
    firestore_writes=Price(0.09 / 100_000, "document write, us-central1",
                           "https://airbyte.com/data-engineering-resources/google-firestore-pricing "
                           f"(US regions: $0.09 per 100,000 writes), {UNDATED}"),
    firestore_reads=Price(0.03 / 100_000, "document read, us-central1",
                          "https://airbyte.com/data-engineering-resources/google-firestore-pricing "
                          f"(US regions: $0.03 per 100,000 reads), {UNDATED}"),
    logging_ingest=Price(0.50 / 2**30, "byte of logs ingested beyond 50 GiB a month",
                         f"{NOT_REVERIFIED}; Cloud Logging list price as of 2025"),
)

AZURE = AzurePrices(
    region="East US",
    gb_second=Price(0.000016, "GB-second, Consumption plan (memory rounded up to 128 MB, 100 ms minimum)",
                    "https://gist.github.com/paulbatum/2b16c5f92351ed1c59e3a2b8a727ca97 (2022-07-12, "
                    "gbSecCost 0.000016); "
                    "128 MB rounding: MicrosoftDocs/azure-docs functions-consumption-costs.md (2024-05-05); "
                    f"100 ms minimum {NOT_REVERIFIED}"),
    executions=Price(0.20 / MILLION, "execution", "https://gist.github.com/paulbatum/2b16c5f92351ed1c59e3a2b8a727ca97 "
                     "(2022-07-12, executionCountCost 0.20 per million)"),
    eventhubs_ingress=Price(0.028 / MILLION, "ingress event of up to 64 KB, Standard tier",
                            f"{NOT_REVERIFIED}; US list price as of 2025 (64 KB unit: "
                            "https://www.azure.cn/en-us/pricing/details/event-hubs/)"),
    eventhubs_throughput_unit_hour=Price(0.03, "throughput unit hour, Standard tier",
                                         f"{NOT_REVERIFIED}; US list price as of 2025"),
    table_transactions=Price(0.00036 / 10_000, "Table storage transaction, LRS",
                             f"{NOT_REVERIFIED}; list price as of 2025"),
    log_analytics_ingest=Price(2.30 / 1e9, "byte ingested by Application Insights / Log Analytics",
                               f"{NOT_REVERIFIED}; pay-as-you-go Analytics Logs list price as of 2025"),
    defender_containers_vcore_month=Price(6.8693, "vCore of the cluster's nodes a month",
                                          f"{NOT_REVERIFIED}; list price as of 2025 (a secondary transcription, "
                                          "api-evangelist/microsoft-defender plans, says ~$7, $0.0095 an hour)"),
)

# --- the platforms -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Platform:
    """How one function platform bills an invocation of the deployed function."""

    memory_gb: float  # the memory the bill multiplies by, in the unit the price uses (GB or GiB)
    cpu_share: float  # vCPUs the function gets: single-threaded CPU time stretches by 1 / cpu_share
    granularity_s: float  # billed time is rounded up to a multiple of this
    minimum_s: float  # and is at least this


#: template.yaml: MemorySize 512, arm64. Lambda gives one vCPU at 1,769 MB and CPU in proportion below it.
LAMBDA = Platform(memory_gb=512 / 1024, cpu_share=512 / 1769, granularity_s=0.001, minimum_s=0.001)
#: infra/gcp: available_memory "512M" (512 * 10^6 bytes, in GiB); the docs' tier for 512 MiB is 0.333 vCPU
#: (https://cloud.google.com/functions/docs/configuring/memory). Cloud Run rounds each request up to 100 ms.
CLOUD_RUN = Platform(memory_gb=512e6 / 2**30, cpu_share=0.333, granularity_s=0.1, minimum_s=0.1)
#: Consumption (Y1) bills the memory the host and worker use, sampled and rounded up to 128 MB; 512 MB is
#: assumed here, as on the other two. An instance has one vCPU.
CONSUMPTION = Platform(memory_gb=512 / 1024, cpu_share=1.0, granularity_s=0.001, minimum_s=0.1)


def billed_seconds(duration_s: float, platform: Platform) -> float:
    """The duration the platform bills: rounded up to its granularity, and no less than its minimum."""
    steps = math.ceil(round(duration_s / platform.granularity_s, 9))
    return max(steps * platform.granularity_s, platform.minimum_s)


# --- the model -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Workload:
    """What a million audit events of a cluster ask of one cloud's function.

    Store requests and alerts are per audit event of the cluster: they come from events on secrets, which every
    filter passes, so they do not change when the filter is switched on.
    """

    passed: float  # share of the cluster's audit events the cloud-side filter delivers (1.0 without a filter)
    events_per_invocation: float
    cpu_per_invocation_s: float  # fixed handler CPU per delivery, on one full core
    cpu_per_event_s: float  # handler CPU for each more event in a delivery
    store_reads_per_event: float
    store_writes_per_event: float
    store_latency_s: float  # wall time each store round trip adds
    alerts_per_event: float
    wire_bytes_per_event: float  # Pub/Sub message volume (GCP) or Event Hubs body bytes (Azure)
    ingress_units_per_event: float = 0.0  # Event Hubs 64 KB ingress events per audit event (Azure)
    log_bytes_per_invocation: float = 0.0  # the function's own log lines, ingested by the cloud's logging


@dataclass(frozen=True, slots=True)
class Breakdown:
    """Dollars per million audit events, by item, and the invocations and billed seconds behind them."""

    items: tuple[tuple[str, float], ...]
    delivered: float
    invocations: float
    billed_s: float  # per invocation

    @property
    def total(self) -> float:
        return sum(usd for _, usd in self.items)

    def usd(self, item: str) -> float:
        return dict(self.items)[item]


def invocations(workload: Workload, events: float = MILLION) -> float:
    return events * workload.passed / workload.events_per_invocation


def invocation_seconds(workload: Workload, platform: Platform) -> float:
    """Wall time of one invocation: its CPU stretched by the platform's CPU share, plus its store round trips."""
    cpu = workload.cpu_per_invocation_s + workload.cpu_per_event_s * workload.events_per_invocation
    requests = (workload.store_reads_per_event + workload.store_writes_per_event) * (
        workload.events_per_invocation / workload.passed
    )
    return cpu / platform.cpu_share + requests * workload.store_latency_s


def aws_cost(workload: Workload, prices: AwsPrices = AWS, platform: Platform = LAMBDA) -> Breakdown:
    """EKS -> CloudWatch Logs subscription -> Lambda (+ DynamoDB, SES)."""
    calls = invocations(workload)
    billed = billed_seconds(invocation_seconds(workload, platform), platform)
    items = (
        ("compute", calls * billed * platform.memory_gb * prices.lambda_gb_second.usd),
        ("invocations", calls * prices.lambda_requests.usd),
        ("store", MILLION * (workload.store_writes_per_event * prices.dynamodb_writes.usd
                             + workload.store_reads_per_event * prices.dynamodb_reads.usd)),
        ("messaging", 0.0),  # the subscription filter's delivery to Lambda carries no charge of its own
        ("alerts", MILLION * workload.alerts_per_event * prices.ses_emails.usd),
        ("own logs", calls * workload.log_bytes_per_invocation * prices.cloudwatch_vended_ingest.usd),
    )
    return Breakdown(items, MILLION * workload.passed, calls, billed)


def gcp_cost(workload: Workload, prices: GcpPrices = GCP, platform: Platform = CLOUD_RUN) -> Breakdown:
    """GKE -> Cloud Logging sink -> Pub/Sub push (one LogEntry per message) -> Cloud Run function (+ Firestore)."""
    calls = invocations(workload)
    billed = billed_seconds(invocation_seconds(workload, platform), platform)
    per_second = platform.cpu_share * prices.cpu_second.usd + platform.memory_gb * prices.gib_second.usd
    delivered = MILLION * workload.passed
    pushed = calls * max(1000.0, workload.wire_bytes_per_event * workload.events_per_invocation)
    published = delivered * workload.wire_bytes_per_event  # the sink batches its publish requests
    items = (
        ("compute", calls * billed * per_second),
        ("invocations", calls * prices.requests.usd),
        ("store", MILLION * (workload.store_writes_per_event * prices.firestore_writes.usd
                             + workload.store_reads_per_event * prices.firestore_reads.usd)),
        ("messaging", (published + pushed) * prices.pubsub_throughput.usd),
        ("alerts", 0.0),  # sent through the operator's own SMTP server
        ("own logs", calls * workload.log_bytes_per_invocation * prices.logging_ingest.usd),
    )
    return Breakdown(items, delivered, calls, billed)


def azure_cost(workload: Workload, prices: AzurePrices = AZURE, platform: Platform = CONSUMPTION) -> Breakdown:
    """AKS -> diagnostic settings -> Event Hub -> Azure Function, Consumption plan (+ Table storage)."""
    calls = invocations(workload)
    billed = billed_seconds(invocation_seconds(workload, platform), platform)
    requests = workload.store_writes_per_event + workload.store_reads_per_event
    items = (
        ("compute", calls * billed * platform.memory_gb * prices.gb_second.usd),
        ("invocations", calls * prices.executions.usd),
        ("store", MILLION * requests * prices.table_transactions.usd),
        ("messaging", MILLION * workload.passed * workload.ingress_units_per_event * prices.eventhubs_ingress.usd),
        ("alerts", 0.0),  # sent through the operator's own SMTP server
        ("own logs", calls * workload.log_bytes_per_invocation * prices.log_analytics_ingest.usd),
    )
    return Breakdown(items, MILLION * workload.passed, calls, billed)


def guardduty_per_million(prices: AwsPrices = AWS) -> float:
    """GuardDuty EKS Protection reads every audit event of the cluster on its own stream: no filter applies."""
    return MILLION * prices.guardduty_eks_audit.usd


def defender_per_million(vcores: float, events_per_second: float, prices: AzurePrices = AZURE) -> float:
    """Defender for Containers bills vCores, not events: its price per million events for a cluster of `vcores`
    that writes `events_per_second` audit events, over a 730-hour month."""
    events = events_per_second * 730 * 3600
    return vcores * prices.defender_containers_vcore_month.usd / (events / MILLION)


def all_prices() -> Iterator[tuple[str, Price]]:
    for table in (AWS, GCP, AZURE):
        for item in fields(table):
            value = getattr(table, item.name)
            if isinstance(value, Price):
                yield f"{type(table).__name__.removesuffix('Prices').lower()}.{item.name}", value


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

# --- from measurements to workloads ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Assumptions:
    """What no bench here measures; each is a parameter of `python -m bench.cost`."""

    eks_events_per_invocation: float = 100  # CloudWatch Logs picks the batch; state_cost's EKS batches hold 100
    aks_bodies_per_invocation: float = 1  # host.json allows 100 bodies a batch; a quiet hub hands over ~1
    dynamodb_latency_s: float = 0.005
    tables_latency_s: float = 0.005
    firestore_latency_s: float = 0.010
    defender_vcores: float = 16  # an illustrative cluster for the per-vCore price
    defender_events_per_second: float = 10  # the audit rate bench.state_cost calls a small cluster


DEFAULTS = Assumptions()
CLOUDS = ("aws", "gcp", "azure")
NAMES = {"aws": "AWS", "gcp": "GCP", "azure": "Azure"}
FILTERS = ("off", "on")


def workloads(
    cpu: dict[str, dict[str, EntryCpu]], traffic: TrafficFacts, state: StateFacts, assume: Assumptions
) -> dict[str, dict[str, Workload]]:
    """Each cloud's workload with its cloud-side filter off (the mix arrives) and on (events on secrets arrive)."""
    common = {"store_reads_per_event": state.reads_per_event, "store_writes_per_event": state.writes_per_event,
              "alerts_per_event": state.alerts_per_event}  # fmt: skip
    found: dict[str, dict[str, Workload]] = {}
    for setting, scenario in (("off", "mix"), ("on", "secrets")):
        aws, gcp, azure = cpu["aws"][scenario], cpu["gcp"][scenario], cpu["azure"]["mix"]
        found.setdefault("aws", {})[setting] = Workload(
            passed=traffic.eks_filter_passes if setting == "on" else 1.0,
            events_per_invocation=assume.eks_events_per_invocation, cpu_per_invocation_s=aws.per_invocation_s,
            cpu_per_event_s=aws.per_event_s, store_latency_s=assume.dynamodb_latency_s,
            wire_bytes_per_event=traffic.event_bytes, log_bytes_per_invocation=aws.log_bytes, **common)  # fmt: skip
        found.setdefault("gcp", {})[setting] = Workload(
            passed=traffic.gke_filter_passes if setting == "on" else 1.0, events_per_invocation=1,
            cpu_per_invocation_s=gcp.single_s, cpu_per_event_s=0.0, store_latency_s=assume.firestore_latency_s,
            wire_bytes_per_event=traffic.pubsub_message_bytes, log_bytes_per_invocation=gcp.log_bytes,
            **common)  # fmt: skip
        found.setdefault("azure", {})[setting] = Workload(  # no cloud-side filter: every kube-audit record
            passed=1.0, events_per_invocation=assume.aks_bodies_per_invocation * traffic.aks_records_per_body,
            cpu_per_invocation_s=azure.per_invocation_s, cpu_per_event_s=azure.per_event_s,
            store_latency_s=assume.tables_latency_s, wire_bytes_per_event=traffic.event_bytes,
            ingress_units_per_event=traffic.aks_ingress_units_per_event, log_bytes_per_invocation=azure.log_bytes,
            **common)  # fmt: skip
    return found


COSTS: dict[str, Callable[[Workload], Breakdown]] = {"aws": aws_cost, "gcp": gcp_cost, "azure": azure_cost}
TITLES = {
    "aws": f"AWS: EKS -> CloudWatch Logs -> Lambda (arm64, 512 MB) + DynamoDB on-demand, {AWS.region}",
    "gcp": f"GCP: GKE -> Cloud Logging sink -> Pub/Sub -> Cloud Function 2nd gen (512M) + Firestore, {GCP.region}",
    "azure": f"Azure: AKS -> diagnostic settings -> Event Hub -> Function (Consumption Y1) + Tables, {AZURE.region}",
}
FILTER_NOTES = {
    "aws": 'subscription filter `{ $.objectRef.resource = "secrets" }`',
    "gcp": 'sink filter `protoPayload.methodName:"io.k8s.core.v1.secrets."`',
    "azure": "none: diagnostic settings send every kube-audit record",
}

# --- the report --------------------------------------------------------------------------------------------


def cost_table(cloud: str, costs: dict[str, Breakdown], work: dict[str, Workload]) -> str:
    off, on = costs["off"], costs["on"]
    on_label = "filter on" if cloud != "azure" else "filter on (none exists)"
    lines = [
        f"**{TITLES[cloud]}**. Cloud-side filter: {FILTER_NOTES[cloud]}.",
        "",
        f"| per million audit events | filter off | {on_label} |",
        "|---|---:|---:|",
        f"| events delivered to the function | {off.delivered:,.0f} | {on.delivered:,.0f} |",
        f"| invocations ({_batch(work['off'])} / {_batch(work['on'])} events each) "
        f"| {off.invocations:,.0f} | {on.invocations:,.0f} |",
        f"| billed time per invocation | {off.billed_s * 1000:,.0f} ms | {on.billed_s * 1000:,.0f} ms |",
    ]
    lines += [f"| {name} | {_usd(usd)} | {_usd(on.usd(name))} |" for name, usd in off.items]
    lines.append(f"| **total** | **{_usd(off.total)}** | **{_usd(on.total)}** |")
    return "\n".join(lines)


def managed_table(costs: dict[str, dict[str, Breakdown]], assume: Assumptions) -> str:
    defender = defender_per_million(assume.defender_vcores, assume.defender_events_per_second)
    ours = ", ".join(f"{NAMES[cloud]} {_usd(costs[cloud]['on'].total)}" for cloud in CLOUDS)
    return "\n".join([
        "| managed detection | $ per million audit events | comparable? |",
        "|---|---:|---|",
        f"| AWS GuardDuty EKS Protection, audit log monitoring | {_usd(guardduty_per_million())} | yes: priced "
        "per audit event, and it reads every event (no filter), the first 100 M a month; $0.80 the next 100 M |",
        f"| Microsoft Defender for Containers | {_usd(defender)} | no: priced per vCore of the nodes a month "
        f"(${AZURE.defender_containers_vcore_month.usd:.4f}); this figure assumes {assume.defender_vcores:g} "
        f"vCores writing {assume.defender_events_per_second:g} audit events a second |",
        "| GCP (Security Command Center threat detection for GKE) | n/a | no: no public per-event price |",
        f"| secretwatch, filter on where one exists | {ours} | the totals above |",
    ])  # fmt: skip


def sensitivity_table(work: dict[str, dict[str, Workload]], sizes: Sequence[float] = (1, 10, 100, 1000)) -> str:
    """Total by events per invocation: CloudWatch Logs and Event Hubs decide the batch, not the function."""
    lines = ["| events per invocation | AWS filter off | AWS filter on | Azure |", "|---:|---:|---:|---:|"]
    for size in sizes:
        row = [COSTS[cloud](replace(work[cloud][setting], events_per_invocation=size)).total
               for cloud, setting in (("aws", "off"), ("aws", "on"), ("azure", "off"))]  # fmt: skip
        lines.append(f"| {size:,g} | " + " | ".join(_usd(total) for total in row) + " |")
    return "\n".join(lines)


def _batch(workload: Workload) -> str:
    return f"{workload.events_per_invocation:,.0f}"


def _usd(value: float) -> str:
    return f"${value:,.4f}" if value < 100 else f"${value:,.0f}"


def report(
    cpu: dict[str, dict[str, EntryCpu]], traffic: TrafficFacts, state: StateFacts, assume: Assumptions
) -> tuple[str, dict[str, Any]]:
    work = workloads(cpu, traffic, state, assume)
    costs = {cloud: {setting: COSTS[cloud](work[cloud][setting]) for setting in FILTERS} for cloud in CLOUDS}
    text = "\n\n".join([
        f"Prices as published by {PRICE_DATE} (per price: bench/cost.py); rules: {state.rules}.",
        *(cost_table(cloud, costs[cloud], work[cloud]) for cloud in CLOUDS),
        managed_table(costs, assume),
        "Total per million audit events by events per invocation (CloudWatch Logs and Event Hubs pick the batch):",
        sensitivity_table(work),
    ])  # fmt: skip
    found = {
        "price_date": PRICE_DATE,
        "regions": {"aws": AWS.region, "gcp": GCP.region, "azure": AZURE.region},
        "prices": {name: asdict(price) for name, price in all_prices()},
        "platforms": {"aws": asdict(LAMBDA), "gcp": asdict(CLOUD_RUN), "azure": asdict(CONSUMPTION)},
        "assumptions": asdict(assume),
        "measured": {"cpu": {cloud: {k: asdict(v) for k, v in by.items()} for cloud, by in cpu.items()},
                     "traffic": asdict(traffic), "state": asdict(state)},
        "workloads": {cloud: {k: asdict(v) for k, v in by.items()} for cloud, by in work.items()},
        "costs": {cloud: {setting: {**asdict(b), "items": dict(b.items), "total": b.total}
                          for setting, b in by.items()} for cloud, by in costs.items()},
        "managed": {"guardduty_eks_audit": guardduty_per_million(),
                    "defender_containers": defender_per_million(assume.defender_vcores,
                                                                assume.defender_events_per_second)},
    }  # fmt: skip
    return text, found


def main(argv: Sequence[str] | None = None) -> None:
    options = _options(argv)
    assume = Assumptions(eks_events_per_invocation=options.eks_batch, aks_bodies_per_invocation=options.aks_bodies)
    results = json.loads(RESULTS.read_text())
    state = state_facts(results, pack=not options.seeds)
    traffic = traffic_facts(options.events)
    cpu = measure_entries(singles=options.singles, bulk=options.bulk, rounds=options.rounds)
    text, found = report(cpu, traffic, state, assume)
    print(text)
    found["settings"] = {"singles": options.singles, "bulk": options.bulk, "rounds": options.rounds,
                         "traffic_events": options.events, "clock": "process CPU time on one pinned core, "
                         "best of the rounds after a warm-up run"}  # fmt: skip
    options.output.write_text(json.dumps(found, indent=2) + "\n")
    print(f"\nWrote {options.output}.")


def _options(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.cost", description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=40_000, help="mix events for the filter shares and sizes")
    parser.add_argument("--singles", type=int, default=300, help="one-event deliveries timed per entry")
    parser.add_argument("--bulk", type=int, default=2_000, help="events in the one large delivery timed")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per timing; the least is kept")
    parser.add_argument("--eks-batch", type=float, default=DEFAULTS.eks_events_per_invocation,
                        help="events per Lambda invocation (CloudWatch Logs decides)")
    parser.add_argument("--aks-bodies", type=float, default=DEFAULTS.aks_bodies_per_invocation,
                        help="Event Hub bodies per Azure invocation (up to maxEventBatchSize 100)")
    parser.add_argument("--seeds", action="store_true", help="store requests of the two seed rules, not the pack")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="where to write the figures (JSON)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    main()
