"""What state costs: DynamoDB requests per batch, counted under moto (no AWS account, no network).

Every call the store makes is counted from botocore's own events, by operation and by the kind of key it
reads or writes (`nt|` new-terms terms, `thr|` threshold groups, `sent|` the delivery ledger, `learn|`).
Batches are EKS Lambda events delivered one per `process` call, as the Lambda runs them.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from bench.speed import DiscardSink
from core.demo.envelopes import eks_lambda_event
from core.demo.traffic import audit_events
from core.pipeline import Pipeline
from core.rules.schema import Rule
from core.timeutil import parse_time

REGION = "eu-west-1"
TABLE = "secretwatch-bench"
START = datetime(2026, 11, 2, tzinfo=UTC)
#: 10 requests a second: a small cluster. The refresh rewrites each known term at most once an hour, so the
#: writes per 1000 events fall as traffic grows; at this rate they are already well under the target.
STEADY_RATE = 10
BATCH = 100  # events per Lambda event


@dataclass(frozen=True, slots=True)
class Cost:
    name: str
    events: int
    calls: dict[str, int]  # by operation and key kind, e.g. "PutItem nt|": 3

    @property
    def requests(self) -> int:
        return sum(self.calls.values())

    def per_1000(self) -> float:
        return self.requests * 1000 / self.events if self.events else 0.0

    def writes(self, kind: str) -> int:
        return self.calls.get(f"PutItem {kind}", 0)


class RequestCounter:
    """Counts the DynamoDB API calls a boto3 client makes, by operation and key kind."""

    def __init__(self, client: Any) -> None:
        self.calls: Counter[str] = Counter()
        client.meta.events.register("provide-client-params.dynamodb", self._count)

    def _count(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name == "PutItem":
            self.calls[f"PutItem {_kind(params['Item']['pk']['S'])}"] += 1
        elif model.name == "BatchGetItem":
            keys = [key["pk"]["S"] for request in params["RequestItems"].values() for key in request["Keys"]]
            self.calls[f"BatchGetItem {'+'.join(sorted({_kind(key) for key in keys}))}"] += 1
        else:
            self.calls[model.name] += 1

    @contextmanager
    def counting(self) -> Iterator[Counter[str]]:
        before = Counter(self.calls)
        found: Counter[str] = Counter()
        yield found
        found.update(self.calls - before)


def _kind(key: str) -> str:
    return key.split("|", 1)[0] + "|"


def measure(rules: Sequence[Rule]) -> list[Cost]:
    """Steady state, a cold container, one new term and threshold groups, each on its own table."""
    with _mocked_aws():
        import boto3

        from core.state.dynamodb import DynamoDBStore, create_table

        client = boto3.client("dynamodb", region_name=REGION)
        create_table(client, TABLE)
        counter = RequestCounter(client)

        def pipeline() -> Pipeline:
            store = DynamoDBStore(TABLE, client=client)
            return Pipeline(rules, store, [DiscardSink()], learning_period=timedelta(hours=1))

        warm = pipeline()
        learning, steady = _steady_traffic()
        _process(warm, learning)
        costs = [_run("steady state: known clients, no denials (warm container)", warm, steady, counter)]
        costs.append(_run("the first 1000 events in a new container (cold cache)", pipeline(), steady[:10], counter))
        template = _template()
        costs.append(_run("one new term (a new client reads a secret)", warm, [_new_term(template)], counter))
        costs.append(_run("threshold: 30 + 25 denials, 2 groups, 1 batch", warm, [_denials(template)], counter))
    return costs


@contextmanager
def _mocked_aws() -> Iterator[None]:
    from moto import mock_aws

    fake = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION}
    saved = {name: os.environ.get(name) for name in fake}
    os.environ.update(fake)
    try:
        with mock_aws():
            yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _run(name: str, pipeline: Pipeline, batches: Sequence[tuple[bytes, int]], counter: RequestCounter) -> Cost:
    with counter.counting() as calls:
        _process(pipeline, batches)
    return Cost(name, sum(count for _, count in batches), dict(sorted(calls.items())))


def _process(pipeline: Pipeline, batches: Sequence[tuple[bytes, int]]) -> None:
    for document, _ in batches:
        pipeline.process([document])


def _steady_traffic() -> tuple[list[tuple[bytes, int]], list[tuple[bytes, int]]]:
    """Two hours of benign traffic at STEADY_RATE as EKS Lambda events of 100 events: the learning hour, then
    the hour after. The demo cast's clients all read a secret early in the learning hour, so every term is
    known after it. Events are wrapped as they are made: only the compressed documents are kept."""
    hours, boundary = 2, START + timedelta(hours=1)
    stream = audit_events(
        start=START, hours=hours, events=STEADY_RATE * 3600 * hours, seed=11, secret_share=0.03,
        denied_share=0.0, attacks=False, learning_hours=1,
    )  # fmt: skip
    phases: tuple[list[tuple[bytes, int]], list[tuple[bytes, int]]] = ([], [])
    pending: list[dict[str, Any]] = []
    phase = 0
    for _, event in stream:
        now = 1 if (parse_time(event.get("stageTimestamp")) or START) >= boundary else 0
        if pending and (now != phase or len(pending) == BATCH):
            phases[phase].append(_lambda_event(pending))
            pending = []
        phase = now
        pending.append(event)
    phases[phase].append(_lambda_event(pending))
    return phases


def _template() -> dict[str, Any]:
    """A realistic secret read by a known client, to vary for the single-purpose batches."""
    for _, event in audit_events(start=START, hours=1, events=200, seed=3, secret_share=1.0, attacks=False,
                                 denied_share=0.0, learning_hours=0):  # fmt: skip
        if event.get("verb") == "get" and event.get("objectRef", {}).get("resource") == "secrets":
            return event
    raise RuntimeError("the demo generator made no secret read")


def _event(template: dict[str, Any], n: int, at: datetime, **changes: Any) -> dict[str, Any]:
    stamp = at.isoformat().replace("+00:00", "Z")
    return {**template, "auditID": f"bench-{n:06d}", "requestReceivedTimestamp": stamp, "stageTimestamp": stamp,
            **changes}  # fmt: skip


def _lambda_event(events: list[dict[str, Any]]) -> tuple[bytes, int]:
    return orjson.dumps(eks_lambda_event(events, cluster="bench")), len(events)


def _new_term(template: dict[str, Any]) -> tuple[bytes, int]:
    at = START + timedelta(hours=2, minutes=30)
    return _lambda_event([_event(template, 1, at, sourceIPs=["198.51.100.99"], userAgent="curl/8.9.1")])


def _denials(template: dict[str, Any]) -> tuple[bytes, int]:
    at = START + timedelta(hours=2, minutes=40)
    denied = {"code": 403, "status": "Failure", "reason": "Forbidden"}
    users = ["mallory@example.com"] * 30 + ["eve@example.com"] * 25
    events = [
        _event(template, 100 + n, at + timedelta(seconds=n), responseStatus=denied,
               annotations={"authorization.k8s.io/decision": "forbid"},
               user={"username": user, "groups": ["system:authenticated"]},
               objectRef={**template["objectRef"], "namespace": "payments", "name": f"guess-{n}"})
        for n, user in enumerate(users)
    ]  # fmt: skip
    return _lambda_event(events)
