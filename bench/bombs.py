"""Hostile single deliveries for the memory bench, each written to a file in its entry's wire format.

Each is something one invocation can be handed: a decompression bomb, an envelope of millions of empty
records, the largest Pub/Sub message, a huge user agent, a first line nested 100k deep. Big payloads are
written in pieces, so generating them costs the bench little memory.
"""

from __future__ import annotations

import base64
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from core.demo.envelopes import aks_eventhub_body, aks_record, eks_lambda_event, gke_log_entry, pubsub_push_body
from core.sources.eks import MAX_INFLATED_BYTES

GIB = 1 << 30
#: Pub/Sub's largest message.
PUBSUB_MAX_BYTES = 10_000_000
USER_AGENT_BYTES = 450 * 1024
CLUSTER, PROJECT, REGION = "shop-prod", "acme-prod", "europe-west1"
SUBSCRIPTION = f"projects/{PROJECT}/subscriptions/secretwatch-audit"
_AZURE_SUBSCRIPTION = "3f2b1c9e-7d4a-4e21-9b0c-5a6d8e7f1a2b"
_CHUNK = 1 << 22


@dataclass(frozen=True, slots=True)
class Bomb:
    name: str
    #: what it is, for the table
    claim: str
    #: the wire format: lambda-event, pubsub-push, eventhub-body or audit-lines (what the CLI reads)
    fmt: str
    path: Path


def gzip_zeros(directory: Path, inflated: int = GIB) -> Bomb:
    """A Lambda event whose awslogs.data is base64(gzip(`inflated` zero bytes)): about 1 MB for 1 GiB."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, 31)  # wbits 31: a gzip stream
    chunk = bytes(min(_CHUNK, inflated))
    parts = [compressor.compress(chunk[: min(_CHUNK, inflated - done)]) for done in range(0, inflated, _CHUNK)]
    compressed = b"".join(parts) + compressor.flush()
    path = _write_event(directory / "gzip-zeros.json", compressed)
    claim = f"awslogs.data: {_size(len(compressed))} of gzip, {_size(inflated)} of zeros"
    return Bomb("gzip-zeros", claim, "lambda-event", path)


def empty_log_events(directory: Path, cap: int = MAX_INFLATED_BYTES, events: int | None = None) -> Bomb:
    """A gzipped DATA_MESSAGE of `events` empty log events (`{}`); by default as many as fit under the core's
    inflate cap."""
    head = (
        b'{"messageType":"DATA_MESSAGE","owner":"111122223333","logGroup":"/aws/eks/' + CLUSTER.encode()
        + b'/cluster","logStream":"kube-apiserver-audit-0","subscriptionFilters":["secretwatch"],"logEvents":['
    )  # fmt: skip
    tail = b"{}]}"
    count = events or (cap - len(head) - 2) // 3  # inflated: head, count - 1 times `{},`, tail: under the cap
    compressor = zlib.compressobj(6, zlib.DEFLATED, 31)
    parts = [compressor.compress(head)]
    parts += [compressor.compress(b"{}," * size) for size in _pieces(count - 1, _CHUNK // 3)]
    compressed = b"".join([*parts, compressor.compress(tail), compressor.flush()])
    name = "empty-log-events" if events is None else f"empty-log-events-{_short(count)}"
    path = _write_event(directory / f"{name}.json", compressed)
    claim = f"{count:,} empty log events, {len(head) + 3 * count + 1:,} bytes inflated (cap {cap:,})"
    return Bomb(name, claim, "lambda-event", path)


def aks_empty_records(directory: Path, records: int = 2_000_000) -> Bomb:
    """One Event Hub body `{"records": [{}, {}, ...]}`."""
    path = directory / "aks-empty-records.json"
    with path.open("wb") as file:
        file.write(b'{"records":[{}')
        for size in _pieces(records - 1, _CHUNK // 3):
            file.write(b",{}" * size)
        file.write(b"]}")
    claim = f"{records:,} empty records in one {_size(path.stat().st_size)} body"
    return Bomb("aks-empty-records", claim, "eventhub-body", path)


def pubsub_huge_data(directory: Path, size: int = PUBSUB_MAX_BYTES) -> Bomb:
    """A push body whose message data is one GKE LogEntry of `size` bytes, padded with a request of empty objects."""
    entry = gke_log_entry(secret_read(agent="kubectl/v1.30.2"), cluster=CLUSTER, project=PROJECT, location=REGION)
    entry["protoPayload"]["request"] = "PAD"
    text = orjson.dumps(entry, option=orjson.OPT_SORT_KEYS)
    count = (size - len(text) + 4) // 3  # `"PAD"` becomes `[` + count - 1 times `{},` + `{}]`
    data = text.replace(b'"PAD"', b"[" + b"{}," * (count - 1) + b"{}]")
    body = pubsub_push_body(entry, subscription=SUBSCRIPTION, message_id="1")
    body["message"]["data"] = "DATA"
    path = directory / "pubsub-huge-data.json"
    path.write_bytes(orjson.dumps(body).replace(b'"DATA"', b'"' + base64.b64encode(data) + b'"'))
    return Bomb("pubsub-huge-data", f"message data of {len(data):,} bytes (one LogEntry)", "pubsub-push", path)


def user_agent(directory: Path, fmt: str, length: int = USER_AGENT_BYTES) -> Bomb:
    """One secret read by a new client whose user agent is `length` bytes: it matches, alerts and is stored."""
    event = secret_read(agent="curl/8.5.0 " + "A" * (length - 11))
    document = _WRAP[fmt](event)
    path = directory / f"user-agent-{fmt}.json"
    path.write_bytes(orjson.dumps(document) + b"\n")
    return Bomb(f"user-agent ({fmt})", f"a {_size(length)} user agent on a secret read that alerts", fmt, path)


def deep_first_line(directory: Path, depth: int = 100_000, good: int = 1_000) -> Bomb:
    """JSON Lines whose first line is an array nested `depth` deep, then `good` audit events."""
    path = directory / "deep-first-line.jsonl"
    with path.open("wb") as file:
        file.write(b"[" * depth + b"]" * depth + b"\n")
        for index in range(good):
            file.write(orjson.dumps(secret_read(agent="kubectl/v1.30.2", index=index)) + b"\n")
    claim = f"first line nested {depth:,} deep, then {good:,} audit events"
    return Bomb("deep-first-line", claim, "audit-lines", path)


def secret_read(*, agent: str, index: int = 0) -> dict[str, Any]:
    """A successful secret get, a minute ago (times must be plausible next to the receipt time)."""
    when = (datetime.now(UTC) - timedelta(minutes=1, milliseconds=index)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return {
        "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata", "auditID": f"bench-{index:08d}",
        "stage": "ResponseComplete", "requestURI": "/api/v1/namespaces/payments/secrets/stripe", "verb": "get",
        "user": {"username": "system:serviceaccount:payments:api", "groups": ["system:serviceaccounts"]},
        "sourceIPs": ["203.0.113.77"], "userAgent": agent,
        "objectRef": {"resource": "secrets", "namespace": "payments", "name": "stripe", "apiVersion": "v1"},
        "responseStatus": {"metadata": {}, "code": 200},
        "requestReceivedTimestamp": when, "stageTimestamp": when,
    }  # fmt: skip


_WRAP: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "lambda-event": lambda event: eks_lambda_event([event], cluster=CLUSTER),
    "pubsub-push": lambda event: pubsub_push_body(
        gke_log_entry(event, cluster=CLUSTER, project=PROJECT, location=REGION),
        subscription=SUBSCRIPTION,
        message_id="1",
    ),
    "eventhub-body": lambda event: aks_eventhub_body(
        [aks_record(event, cluster=CLUSTER, subscription_id=_AZURE_SUBSCRIPTION, resource_group="shop-prod-rg")]
    ),
    "audit-lines": lambda event: event,
}
FORMATS = tuple(_WRAP)


def _write_event(path: Path, compressed: bytes) -> Path:
    path.write_bytes(b'{"awslogs":{"data":"' + base64.b64encode(compressed) + b'"}}')
    return path


def _pieces(total: int, size: int) -> Iterator[int]:
    for done in range(0, total, size):
        yield min(size, total - done)


def _short(count: int) -> str:
    return f"{count // 1_000_000}m" if count % 1_000_000 == 0 else f"{count:,}"


def _size(count: int) -> str:
    for unit, scale in (("GiB", GIB), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if count >= scale:
            return f"{count / scale:.0f} {unit}" if count % scale == 0 else f"{count / scale:.1f} {unit}"
    return f"{count} B"
