"""What it costs: dollars per million Kubernetes audit events on each cloud, from measured figures and list prices.

`python -m bench.cost` measures, in this process on one pinned core, each function entry's warm handler CPU time
for a one-event delivery (the fixed cost of an invocation) and for a 2,000-event delivery (the cost of each more
event), driven as its platform drives it, with the memory store and a sink to /dev/null. It reads the store
requests per event and the alerts per event from bench/results.json, measures from the demo traffic the share of
events each cloud-side filter lets through and the bytes each event takes on the wire, then prices a million
audit events with the model below: a markdown table per cloud, filter on and off, and the managed detection
services beside them. The figures go to bench/cost.json.

The model is pure arithmetic on `Workload`, `Platform` and the price tables, so tests can check it by hand.
The prices and their sources are in bench/prices.py; the measuring, in bench/cost_probe.py.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from bench.cost_probe import EntryCpu, StateFacts, TrafficFacts, measure_entries, state_facts, traffic_facts
from bench.prices import AWS, AZURE, GCP, MILLION, PRICE_DATE, AwsPrices, AzurePrices, GcpPrices, all_prices

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results.json"
OUTPUT = BENCH / "cost.json"

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
        f"Prices as published by {PRICE_DATE} (per price: bench/prices.py); rules: {state.rules}.",
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
    if not RESULTS.exists():
        raise SystemExit(f"{RESULTS} is missing: bench.cost reads the state and alert figures `make bench` writes")
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
