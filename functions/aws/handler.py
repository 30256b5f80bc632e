"""AWS Lambda entry: EKS audit logs delivered by a CloudWatch Logs subscription filter.

Configuration (environment, validated at cold start): SECRETWATCH_STORE (e.g. dynamodb://TABLE),
SECRETWATCH_SINKS (comma-separated, e.g. sns://TOPIC_ARN,ses://FROM?to=A,B), SECRETWATCH_LEARNING_PERIOD.

The event goes to the core as it came: core.sources.eks decodes `awslogs.data` (base64, then gzip under a cap
on the inflated size, so a decompression bomb is refused before it takes the memory it asks for).

Failure policy:
- Record-level problems (bad base64 or gzip, non-audit log lines, messages cut at 256 KB) are counted in
  the summary and the metrics; the invocation succeeds.
- A store or sink outage raises after bounded retries. CloudWatch Logs invokes Lambda asynchronously, so
  Lambda retries the batch twice and then sends it to the on-failure destination (an SQS queue).
- A retried or duplicated delivery raises no second alert and counts nothing twice: counters are sets of
  audit ids and a ledger in the store remembers which alert ids were sent.
"""

from __future__ import annotations

import functools
import os
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.typing import LambdaContext

from core.bootstrap import pipeline_from_env
from core.pipeline import Pipeline, Summary

#: Each stack sets POWERTOOLS_SERVICE_NAME to its own name, so its no-data alarm watches its own Events metric
#: (a metric dimension shared by two stacks would hide one stack's silence behind the other's traffic).
SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME") or "secretwatch"
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "secretwatch"
logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)


@functools.cache
def pipeline() -> Pipeline:
    """Built once per warm container, so clients and the cache of known terms are reused (tests: cache_clear)."""
    return pipeline_from_env(logger.error)


@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    summary = pipeline().process([event])
    _publish(summary)
    logger.info("batch processed", extra={"summary": summary.as_dict()})
    return summary.as_dict()


def _publish(summary: Summary) -> None:
    metrics.add_metric(name="Events", unit=MetricUnit.Count, value=summary.event_total)
    metrics.add_metric(name="Matches", unit=MetricUnit.Count, value=sum(summary.matches.values()))
    metrics.add_metric(name="Alerts", unit=MetricUnit.Count, value=sum(summary.alerts.values()))
    metrics.add_metric(name="Skipped", unit=MetricUnit.Count, value=sum(summary.malformed.values()))
    metrics.add_metric(
        name="StateRequests", unit=MetricUnit.Count, value=summary.state_reads + summary.state_writes
    )
    for reason, count in summary.malformed.items():
        with single_metric(
            name="SkippedByReason", unit=MetricUnit.Count, value=count, namespace=NAMESPACE
        ) as metric:
            metric.add_dimension(name="reason", value=reason)


if os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):  # in Lambda: fail during init, not at the first event
    pipeline()
