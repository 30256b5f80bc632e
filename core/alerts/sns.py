"""Amazon SNS: one message per alert, published up to ten at a time (``sns://arn:aws:sns:REGION:ACCOUNT:NAME``).

Each message is published with ``MessageStructure: json``: programs (SQS, Lambda, HTTPS subscribers) get
``default``, the alert's JSON (render.alert_json) or, with ``?format=ocsf``, its OCSF Detection Finding;
e-mail subscribers get ``email``, the alert as text (render.render_text, cut to EMAIL_LIMIT characters).
render.subject is the Subject, and the String message attributes ``rule_id`` and ``severity`` let
subscription filter policies match. On a FIFO
topic (a name ending in ``.fifo``) the message group is the rule id and the deduplication id is the alert
id, so SNS drops a copy that a retried batch publishes within its five-minute deduplication window.

SNS refuses a message over 256 KiB (both keys, subject and attributes). A larger alert is trimmed, never
dropped: audit ids are dropped from the end, then the runbook is shortened, and as a last resort every text
value is cut to 1024 characters. A trimmed message also holds ``"truncated": true``, ``"audit_ids_dropped": N``
and ``"runbook_truncated": true|false`` (in OCSF, inside ``unmapped``).

``?region=R&endpoint_url=URL`` send the calls elsewhere than the topic's region: for local testing only.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any, Protocol
from urllib.parse import SplitResult, unquote

import boto3
import orjson
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from core.alerts import render
from core.alerts.aws_errors import explain_local
from core.alerts.base import alert_format, encode, uri_params
from core.alerts.ocsf import ocsf_json
from core.errors import ConfigError, DeliveryError
from core.model import Alert, AlertContext
from core.uris import AWS_REGION, HTTP_ENDPOINT, checked, where

#: Most bytes SNS takes for one message, and for all the messages of one PublishBatch together.
MESSAGE_LIMIT = 262_144
#: Most characters of the text e-mail subscribers get (at most four bytes each in UTF-8).
EMAIL_LIMIT = 16_000
#: Most messages in one PublishBatch.
BATCH_SIZE = 10
#: Attempts per API call (botocore standard retry mode: throttling, 5xx and connection errors).
MAX_ATTEMPTS = 5
#: Rounds of PublishBatch for entries that SNS failed on its side while accepting the rest of the batch.
ENTRY_ROUNDS = 3

_RETRY_DELAY = 0.2
# Last-resort trimming: at most this many characters per text value and items per list, which keeps an
# alert far below MESSAGE_LIMIT even if every character is written as a six-byte \uXXXX escape.
_VALUE_LIMIT = 1024
_ITEMS_LIMIT = 8
_TOPIC_ARN = re.compile(
    r"arn:aws[a-z-]*:sns:(?P<region>[a-z]{2}(?:-[a-z]+)+-\d+):\d{12}:[A-Za-z0-9_-]{1,256}(?:\.fifo)?"
)
_ENDPOINT = "an http:// or https:// URL of a host and port, like http://127.0.0.1:4566"
_CLIENT_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": MAX_ATTEMPTS}, connect_timeout=5, read_timeout=20
)
_ACCESS_DENIED = frozenset({"AuthorizationError", "AccessDenied", "AccessDeniedException"})
_BAD_CREDENTIALS = frozenset(
    {"InvalidClientTokenId", "UnrecognizedClientException", "ExpiredToken", "ExpiredTokenException",
     "SignatureDoesNotMatch", "InvalidSignatureException"}
)


class SnsClient(Protocol):
    """The part of boto3's SNS client this sink uses."""

    def publish_batch(
        self, *, TopicArn: str, PublishBatchRequestEntries: list[dict[str, Any]]
    ) -> dict[str, Any]: ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Topic:
    arn: str
    region: str

    @property
    def fifo(self) -> bool:
        return self.arn.endswith(".fifo")

    @classmethod
    def parse(cls, arn: str) -> Topic | None:
        found = _TOPIC_ARN.fullmatch(arn)
        return cls(arn, found["region"]) if found else None


class SnsSink:
    """Publishes each alert as one SNS message; `client` (a boto3 SNS client) is made from the ARN if None."""

    def __init__(
        self,
        topic_arn: str,
        *,
        region: str | None = None,
        endpoint_url: str | None = None,
        client: SnsClient | None = None,
        fmt: str = "json",
    ) -> None:
        topic = Topic.parse(topic_arn)
        if topic is None:
            raise ConfigError(
                f"{where('sink', 'sns')}: what follows sns:// is not an SNS topic ARN; "
                "use sns://arn:aws:sns:REGION:ACCOUNT_ID:TOPIC_NAME"
            )
        self.topic = topic
        self.label = f"sns:{topic_arn}"
        self.fmt = fmt
        self._owns_client = client is None
        self.client: SnsClient = client or boto3.client(
            "sns", region_name=region or topic.region, endpoint_url=endpoint_url, config=_CLIENT_CONFIG
        )

    @classmethod
    def from_uri(cls, uri: SplitResult) -> SnsSink:
        params = uri_params(uri, allowed=("region", "endpoint_url", "format"))
        sink = where("sink", "sns")
        region = checked(params, "region", AWS_REGION, where=sink, expected="an AWS region like eu-west-1")
        endpoint_url = checked(params, "endpoint_url", HTTP_ENDPOINT, where=sink, expected=_ENDPOINT)
        fmt = alert_format(params, "sns")
        return cls(unquote(uri.netloc + uri.path), region=region, endpoint_url=endpoint_url, fmt=fmt)

    def send(self, alerts: Sequence[Alert]) -> None:
        """Publish in batches of ten; on failure, the DeliveryError names the alerts that did go out."""
        entries = [self._entry(alert, index) for index, alert in enumerate(alerts)]
        published: set[str] = set()
        for batch in _batches(entries):
            try:
                self._publish(batch)
            except DeliveryError as exc:
                published.update(alerts[int(entry_id)].alert_id for entry_id in exc.delivered)
                raise DeliveryError(self.label, exc.reason, delivered=frozenset(published)) from exc
            published.update(alerts[int(entry["Id"])].alert_id for entry in batch)

    def close(self) -> None:
        if self._owns_client:
            self.client.close()

    def _entry(self, alert: Alert, index: int) -> dict[str, Any]:
        subject = render.subject([alert])
        attributes = {
            name: {"DataType": "String", "StringValue": value}
            for name, value in (("rule_id", alert.rule_id), ("severity", alert.severity))
            if value  # SNS refuses an empty attribute value
        }
        room = MESSAGE_LIMIT - len(subject) - _attributes_size(attributes)
        entry: dict[str, Any] = {
            "Id": str(index),
            "Message": structured_message(alert, room, fmt=self.fmt).decode(),
            "MessageStructure": "json",
            "Subject": subject,
            "MessageAttributes": attributes,
        }
        if self.topic.fifo:
            entry["MessageGroupId"] = alert.rule_id
            entry["MessageDeduplicationId"] = alert.alert_id
        return entry

    def _publish(self, batch: list[dict[str, Any]]) -> None:
        """PublishBatch, publishing again (a bounded number of times) the entries SNS failed on its side.

        A DeliveryError's `delivered` holds the entry ids SNS accepted before it gave up.
        """
        pending, accepted = batch, frozenset[str]()
        for round_number in range(1, ENTRY_ROUNDS + 1):
            try:
                failed = self._publish_batch(pending)
            except DeliveryError as exc:
                raise DeliveryError(self.label, exc.reason, delivered=accepted) from exc
            failed_ids = {failure["Id"] for failure in failed}
            accepted |= {entry["Id"] for entry in pending if entry["Id"] not in failed_ids}
            if not failed:
                return
            refused = [failure for failure in failed if failure.get("SenderFault")]
            if refused:
                raise DeliveryError(self.label, f"SNS refused {_failures(refused, len(pending))}", delivered=accepted)
            if round_number == ENTRY_ROUNDS:
                failures = _failures(failed, len(pending))
                raise DeliveryError(
                    self.label,
                    f"SNS failed {failures} in {ENTRY_ROUNDS} rounds; the batch will be retried",
                    delivered=accepted,
                )
            pending = [entry for entry in pending if entry["Id"] in failed_ids]
            time.sleep(_RETRY_DELAY * round_number)

    def _publish_batch(self, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        try:
            response = self.client.publish_batch(TopicArn=self.topic.arn, PublishBatchRequestEntries=entries)
        except ClientError as exc:
            raise DeliveryError(self.label, self._explain(exc)) from exc
        except BotoCoreError as exc:
            raise DeliveryError(self.label, explain_local(exc, service="SNS", attempts=MAX_ATTEMPTS)) from exc
        failed: list[dict[str, Any]] = response.get("Failed", [])
        return failed

    def _explain(self, exc: ClientError) -> str:
        """What went wrong and what to change, in one line."""
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "unknown"))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        said = f"{code}: {render.clean_text(error.get('Message'), limit=300)}"
        arn = self.topic.arn
        if code in {"NotFound", "NotFoundException"}:
            return f"topic {arn} does not exist ({said}); create it, or fix the ARN in the sns:// URI"
        if code in _BAD_CREDENTIALS:
            return f"AWS rejected the credentials ({said}); check the role or the AWS_* environment variables"
        if code in _ACCESS_DENIED or status == 403:
            return f"access denied ({said}); allow sns:Publish on {arn} to the role secretwatch runs as"
        if code.startswith("KMS"):
            return (
                f"the topic's KMS key cannot be used ({said}); allow kms:GenerateDataKey and kms:Decrypt on "
                "it to the role secretwatch runs as, and check that the key is enabled"
            )
        if status in {429, 500, 502, 503, 504} or "Throttl" in code:
            return f"SNS still failed after {MAX_ATTEMPTS} attempts ({said}); the batch will be retried"
        return f"SNS refused the request ({said})"


def structured_message(alert: Alert, limit: int, *, fmt: str = "json") -> bytes:
    """The JSON object of a ``MessageStructure: json`` message, at most `limit` bytes: ``default`` and ``email``."""
    email = render.truncate(render.render_text([alert]), EMAIL_LIMIT)

    def wrap(body: bytes) -> bytes:
        return orjson.dumps({"default": body.decode(), "email": email})

    return wrap(message_body(alert, limit, fmt=fmt, wrap=wrap))


def message_body(
    alert: Alert, limit: int, *, fmt: str = "json", wrap: Callable[[bytes], bytes] = lambda body: body
) -> bytes:
    """The alert in `fmt` if wrap(it) fits in `limit` bytes, else the alert trimmed to fit and marked (see above)."""
    body = encode(alert, fmt)
    return body if len(wrap(body)) <= limit else _trimmed(alert, limit, fmt, wrap)


def _trimmed(alert: Alert, limit: int, fmt: str, wrap: Callable[[bytes], bytes]) -> bytes:
    def marked(candidate: Alert) -> bytes:
        return _marked_json(candidate, alert, fmt)

    def fits(candidate: Alert) -> bool:
        return len(wrap(marked(candidate))) <= limit

    # Each shrinker makes a smaller alert the smaller its argument; the first one that fits at 0 is used.
    audit_ids, runbook = alert.audit_ids, alert.runbook
    shrinkers: list[tuple[int, Callable[[int], Alert]]] = [
        (len(audit_ids), lambda kept: replace(alert, audit_ids=audit_ids[:kept])),
        (len(runbook), lambda kept: replace(alert, audit_ids=(), runbook=render.truncate(runbook, kept))),
    ]
    for most, shrink in shrinkers:
        if fits(shrink(0)):
            return marked(shrink(_largest(most, shrink, fits)))
    return marked(_clipped(replace(alert, audit_ids=(), runbook="")))


def _largest(most: int, shrink: Callable[[int], Alert], fits: Callable[[Alert], bool]) -> int:
    """The largest n in 0..most for which shrink(n) fits, given that shrink(0) does (binary search)."""
    low, high = 0, most
    while low < high:
        middle = (low + high + 1) // 2
        if fits(shrink(middle)):
            low = middle
        else:
            high = middle - 1
    return low


def _marked_json(trimmed: Alert, original: Alert, fmt: str) -> bytes:
    marker = {
        "truncated": True,
        "audit_ids_dropped": len(original.audit_ids) - len(trimmed.audit_ids),
        "runbook_truncated": trimmed.runbook != original.runbook,
    }
    # Both are JSON objects: the marker's members go in before the alert's closing brace, so the alert keeps
    # alert_json's escaping. OCSF keeps what its schema does not define under "unmapped".
    if fmt == "ocsf":
        return ocsf_json(trimmed)[:-1] + b',"unmapped":' + orjson.dumps(marker) + b"}"
    return render.alert_json(trimmed)[:-1] + b"," + orjson.dumps(marker)[1:]


def _clipped(alert: Alert) -> Alert:
    """The alert with every text value cut to _VALUE_LIMIT characters and every list to _ITEMS_LIMIT items."""
    return replace(alert, context=replace(alert.context, **_clips(alert.context)), **_clips(alert))


def _clips(record: Alert | AlertContext) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for field in fields(record):
        value = getattr(record, field.name)
        if isinstance(value, str):
            changes[field.name] = render.truncate(value, _VALUE_LIMIT)
        elif isinstance(value, tuple):
            # Links (core.links) are kept whole: a cut URL opens nothing.
            changes[field.name] = tuple(
                render.truncate(item, _VALUE_LIMIT) if isinstance(item, str) else item for item in value[:_ITEMS_LIMIT]
            )
    return changes


def _attributes_size(attributes: dict[str, dict[str, str]]) -> int:
    """What SNS counts for message attributes: each one's name, data type and value, in bytes."""
    return sum(
        len(name.encode()) + len(attribute["DataType"]) + len(attribute["StringValue"].encode())
        for name, attribute in attributes.items()
    )


def _entry_size(entry: dict[str, Any]) -> int:
    overhead = len(entry["Subject"]) + _attributes_size(entry["MessageAttributes"])
    return len(entry["Message"].encode()) + overhead


def _batches(entries: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """Consecutive entries, at most BATCH_SIZE per batch and MESSAGE_LIMIT bytes for a batch's messages."""
    batch: list[dict[str, Any]] = []
    size = 0
    for entry in entries:
        entry_size = _entry_size(entry)
        if batch and (len(batch) == BATCH_SIZE or size + entry_size > MESSAGE_LIMIT):
            yield batch
            batch, size = [], 0
        batch.append(entry)
        size += entry_size
    if batch:
        yield batch


def _failures(failed: list[dict[str, Any]], total: int) -> str:
    first = failed[0]
    said = render.clean_text(first.get("Message"), limit=300)
    return f"{len(failed)} of {total} messages (first: {first.get('Code', 'unknown')}: {said})"
