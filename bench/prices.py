"""The list prices bench/cost.py bills with: one table per cloud, each price with its unit, source and date.

Each `Price` says where its figure was read and when; the ones marked NOT_REVERIFIED are the 2025 list prices,
not checked against the provider's page (no network). `all_prices` walks every table, for the report's JSON and
for the test that checks every price names its source.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, fields

MILLION = 1_000_000
TIB = 2**40
NOT_REVERIFIED = "not re-verified (no network)"
UNDATED = "undated page, read 2026-12-05 in the search index"


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


def all_prices() -> Iterator[tuple[str, Price]]:
    for table in (AWS, GCP, AZURE):
        for item in fields(table):
            value = getattr(table, item.name)
            if isinstance(value, Price):
                yield f"{type(table).__name__.removesuffix('Prices').lower()}.{item.name}", value

