"""The cost model of bench/cost.py: its arithmetic against hand-computed bills, the filter's effect, the
platforms' rounding; the provenance of every price in bench/prices.py; the facts bench/cost_probe.py reads from
results.json and the demo traffic. No timing is asserted."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import date
from typing import Any

import pytest

from bench import cost, cost_probe, prices
from bench.cost import (
    CLOUD_RUN,
    CONSUMPTION,
    LAMBDA,
    Assumptions,
    Platform,
    Workload,
    aws_cost,
    azure_cost,
    billed_seconds,
    gcp_cost,
)
from bench.cost_probe import EntryCpu, TrafficFacts
from bench.prices import AWS, AZURE, GCP, NOT_REVERIFIED

#: The parts of bench/results.json (written by `make bench`, not kept in git) the model reads, as a real run wrote
#: them: the steady-state rows of the state-cost bench, and the speed rows' alerts on the mix.
RESULTS: dict[str, Any] = {
    "state_cost_pack": [{"name": "steady state: known clients, no denials (warm container)", "events": 35859,
                         "calls": {"BatchGetItem card|": 1, "BatchGetItem sent|": 16, "PutItem card|": 144,
                                   "PutItem dedup|": 1, "PutItem nt|": 25, "PutItem sent|": 32},
                         "requests": 219, "per_1000": 6.11}],
    "state_cost": [{"name": "steady state: known clients, no denials (warm container)", "events": 35859,
                    "calls": {"PutItem nt|": 25}, "requests": 25, "per_1000": 0.7}],
    "speed": {"rows": [
        {"scenario": "mix", "format": fmt, "events": events,
         "alerts": {"secret-access-unusual-user-agent": 1, "secret-access-denied": 1}}
        for fmt, events in (("eks", 40000), ("gke", 39743), ("aks", 40000))
    ] + [{"scenario": "all-secrets", "format": "eks", "events": 40000, "alerts": {"secret-get-burst": 9}}]},
}  # fmt: skip

#: 100 events an invocation; 1 ms fixed CPU and 0.1 ms an event on a full core; one store write per 1000 events.
BATCHED = Workload(
    passed=1.0, events_per_invocation=100, cpu_per_invocation_s=0.001, cpu_per_event_s=0.0001,
    store_reads_per_event=0.0, store_writes_per_event=0.001, store_latency_s=0.005, alerts_per_event=0.0,
    wire_bytes_per_event=1500.0, ingress_units_per_event=0.025,
)  # fmt: skip
#: One event a message, as Pub/Sub pushes a GKE LogEntry: 2 ms of CPU, no store traffic.
SINGLE = replace(BATCHED, events_per_invocation=1, cpu_per_invocation_s=0.002, cpu_per_event_s=0.0,
                 store_writes_per_event=0.0)  # fmt: skip


def test_lambda_bill_is_invocations_times_billed_duration_times_gb_plus_requests_and_writes() -> None:
    # 11 ms of CPU at 512/1769 of a vCPU is 38.006 ms, plus 0.1 write x 5 ms: 38.506 ms, billed 39 ms.
    bill = aws_cost(BATCHED)

    assert bill.invocations == 10_000
    assert bill.billed_s == pytest.approx(0.039)
    assert bill.usd("compute") == pytest.approx(10_000 * 0.039 * 0.5 * 0.0000133334)
    assert bill.usd("invocations") == pytest.approx(10_000 * 0.20 / 1e6)
    assert bill.usd("store") == pytest.approx(1_000 * 0.625 / 1e6)
    assert bill.total == pytest.approx(0.0026000 + 0.002 + 0.000625, rel=1e-4)


def test_lambda_cpu_stretches_by_1769_over_512_on_one_thread() -> None:
    no_store = replace(BATCHED, store_writes_per_event=0.0)

    assert cost.invocation_seconds(no_store, LAMBDA) == pytest.approx(0.011 * 1769 / 512)


def test_cloud_run_bills_every_request_at_least_100_ms_of_a_third_of_a_vcpu_and_512m() -> None:
    bill = gcp_cost(SINGLE)
    per_second = 0.333 * 0.000024 + (512e6 / 2**30) * 0.0000025

    assert bill.invocations == 1_000_000
    assert bill.billed_s == pytest.approx(0.1)  # 2 ms / 0.333 = 6 ms, rounded up to 100 ms
    assert bill.usd("compute") == pytest.approx(1_000_000 * 0.1 * per_second)
    assert bill.usd("invocations") == pytest.approx(0.40)
    # published as sent (the sink batches), pushed one 1500-byte message a request: $40 a TiB both ways
    assert bill.usd("messaging") == pytest.approx(2 * 1_000_000 * 1500 * 40 / 2**40)


def test_a_push_smaller_than_1000_bytes_is_billed_as_1000() -> None:
    small = replace(SINGLE, wire_bytes_per_event=400.0)

    assert gcp_cost(small).usd("messaging") == pytest.approx(1_000_000 * (400 + 1000) * 40 / 2**40)


@pytest.mark.parametrize(
    ("duration_s", "billed_s"),
    [(0.001, 0.1), (0.1, 0.1), (0.1000001, 0.2), (0.30000000000000004, 0.3), (0.25, 0.3), (1.01, 1.1)],
)
def test_cloud_run_rounds_up_to_100_ms(duration_s: float, billed_s: float) -> None:
    assert billed_seconds(duration_s, CLOUD_RUN) == pytest.approx(billed_s)


@pytest.mark.parametrize(("duration_s", "billed_s"), [(0.0004, 0.001), (0.0381, 0.039), (0.039, 0.039)])
def test_lambda_rounds_up_to_1_ms(duration_s: float, billed_s: float) -> None:
    assert billed_seconds(duration_s, LAMBDA) == pytest.approx(billed_s)


def test_azure_consumption_bills_at_least_100_ms_an_execution_and_each_64_kb_ingress_event() -> None:
    bill = azure_cost(BATCHED)

    assert bill.billed_s == pytest.approx(0.1)  # 11 ms of CPU on a full vCPU + 0.5 ms of store
    assert bill.usd("compute") == pytest.approx(10_000 * 0.1 * 0.5 * 0.000016)
    assert bill.usd("invocations") == pytest.approx(10_000 * 0.20 / 1e6)
    assert bill.usd("messaging") == pytest.approx(1_000_000 * 0.025 * 0.028 / 1e6)
    assert bill.usd("store") == pytest.approx(1_000 * 0.00036 / 10_000)


def test_switching_the_filter_on_scales_what_is_delivered_but_not_the_store_or_the_alerts() -> None:
    on = replace(SINGLE, passed=0.03, store_writes_per_event=0.006, alerts_per_event=0.00005)
    off = replace(on, passed=1.0)

    for bill in (gcp_cost, aws_cost, azure_cost):
        filtered, unfiltered = bill(on), bill(off)
        assert filtered.invocations == pytest.approx(0.03 * unfiltered.invocations)
        assert filtered.usd("invocations") == pytest.approx(0.03 * unfiltered.usd("invocations"))
        assert filtered.usd("store") == unfiltered.usd("store")
        assert filtered.usd("alerts") == unfiltered.usd("alerts")
    assert gcp_cost(on).usd("messaging") == pytest.approx(0.03 * gcp_cost(off).usd("messaging"))
    assert gcp_cost(on).usd("compute") == pytest.approx(0.03 * gcp_cost(off).usd("compute"))


def test_with_the_filter_on_each_invocation_waits_for_the_store_requests_of_the_events_filtered_out() -> None:
    on = replace(BATCHED, passed=0.05, cpu_per_invocation_s=0.0, cpu_per_event_s=0.0)

    # 100 delivered events stand for 2000 audit events: 2 store writes of 5 ms each
    assert cost.invocation_seconds(on, LAMBDA) == pytest.approx(0.010)


def test_the_functions_own_log_lines_are_billed_per_invocation_at_each_clouds_ingestion_price() -> None:
    logged = replace(BATCHED, log_bytes_per_invocation=2_000.0)

    assert aws_cost(logged).usd("own logs") == pytest.approx(10_000 * 2_000 * 0.50 / 1e9)
    assert gcp_cost(replace(logged, events_per_invocation=1)).usd("own logs") == pytest.approx(
        1_000_000 * 2_000 * 0.50 / 2**30
    )
    assert azure_cost(logged).usd("own logs") == pytest.approx(10_000 * 2_000 * 2.30 / 1e9)


def test_larger_batches_never_cost_more() -> None:
    totals = [aws_cost(replace(BATCHED, events_per_invocation=n)).total for n in (1, 10, 100, 1000)]

    assert totals == sorted(totals, reverse=True)


def test_the_managed_services_are_priced_as_published() -> None:
    assert cost.guardduty_per_million() == pytest.approx(1.60)
    # 16 vCores x $6.8693 over 10 events a second for 730 hours (26.28 million events)
    assert cost.defender_per_million(16, 10) == pytest.approx(16 * 6.8693 / 26.28)


def test_every_price_names_its_source_and_the_unverified_ones_say_so() -> None:
    listed = dict(prices.all_prices())

    assert len(listed) == 21
    for name, price in listed.items():
        assert price.usd > 0, name
        assert price.per, name
        assert "http" in price.source or price.source.startswith(NOT_REVERIFIED), name
        assert re.search(r"20\d\d", price.source), f"{name}: no date in {price.source!r}"
    assert date.fromisoformat(prices.PRICE_DATE) <= date(2026, 12, 31)
    assert all(table.region for table in (AWS, GCP, AZURE))


def test_dynamodb_on_demand_is_priced_after_the_november_2024_cut() -> None:
    assert AWS.dynamodb_writes.usd * 1e6 == pytest.approx(0.625)
    assert AWS.dynamodb_reads.usd * 1e6 == pytest.approx(0.125)


def test_the_platforms_are_the_deployed_ones() -> None:
    assert LAMBDA.memory_gb == 0.5
    assert LAMBDA.cpu_share == pytest.approx(512 / 1769)
    assert CLOUD_RUN.cpu_share == pytest.approx(0.333)
    assert CONSUMPTION.minimum_s == pytest.approx(0.1)
    assert isinstance(CONSUMPTION, Platform)


def test_store_requests_come_from_the_steady_state_rows_of_results_json() -> None:
    results = RESULTS
    pack = cost_probe.state_facts(results)
    seeds = cost_probe.state_facts(results, pack=False)

    steady = results["state_cost_pack"][0]
    assert (pack.reads_per_event + pack.writes_per_event) * 1000 == pytest.approx(steady["per_1000"], abs=0.01)
    assert seeds.reads_per_event == 0.0  # the seed rules only write known terms back in the steady state
    assert seeds.writes_per_event * 1000 == pytest.approx(results["state_cost"][0]["per_1000"], abs=0.01)
    assert pack.alerts_per_event == pytest.approx(6 / (40000 + 39743 + 40000))  # the mix rows only


def test_the_two_cloud_side_filters_pass_the_same_share_of_the_mix() -> None:
    facts = cost_probe.traffic_facts(events=3_000)

    assert 0.01 < facts.eks_filter_passes < 0.06
    assert facts.gke_filter_passes == pytest.approx(facts.eks_filter_passes, abs=0.01)
    assert facts.aks_ingress_units_per_event * facts.aks_records_per_body >= 1  # each body is one 64 KB unit or more


def test_the_report_is_generated_from_the_numbers_it_writes() -> None:
    cpu = {cloud: {scenario: EntryCpu(0.0003, 0.00001, 0.00031) for scenario in ("mix", "secrets")}
           for cloud in ("aws", "gcp", "azure")}  # fmt: skip
    traffic = TrafficFacts(events=1000, eks_filter_passes=0.03, gke_filter_passes=0.03, event_bytes=1000.0,
                           pubsub_message_bytes=1300.0, aks_records_per_body=60.0,
                           aks_ingress_units_per_event=0.03)  # fmt: skip
    state = cost_probe.state_facts(RESULTS)

    text, found = cost.report(cpu, traffic, state, Assumptions())

    for cloud in ("aws", "gcp", "azure"):
        off, on = found["costs"][cloud]["off"]["total"], found["costs"][cloud]["on"]["total"]
        assert f"| **total** | **${off:,.4f}** | **${on:,.4f}** |" in text
    assert found["costs"]["azure"]["on"] == found["costs"]["azure"]["off"]  # Azure has no cloud-side filter
    assert found["costs"]["gcp"]["on"]["total"] < found["costs"]["gcp"]["off"]["total"]
    assert "| AWS GuardDuty EKS Protection, audit log monitoring | $1.6000 |" in text
    assert json.loads(json.dumps(found)) == found
