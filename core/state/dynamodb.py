"""DynamoDB store: one on-demand table, one item per key, each write one conditional PutItem.

Item layout (partition key `pk`, a string; no sort key):

    pk      S  the store key (long keys hashed: see `partition_key`)
    v       S  the value as JSON text
    ver     N  the version, 1 on create
    exp_us  N  the exact expiry, integer microseconds since the epoch: reads and conditions use it
    exp     N  the expiry rounded up to whole epoch seconds: the table's TTL attribute

Atomicity: `put` is one PutItem whose ConditionExpression checks the stored version and expiry, and
DynamoDB evaluates the condition and applies the write atomically for that item, so concurrent
writers in any number of processes cannot lose an update. `get_many` reads with strongly consistent
BatchGetItem (100 keys a call); it is not a snapshot across keys, which the protocol does not ask for.

TTL: DynamoDB deletes expired items in the background, typically within two days, and moto never
does; an expired item is therefore filtered out on read by the store's own clock, and a create
(version None) may overwrite it. `exp` is rounded up so TTL never deletes an item before it expires,
and it is an integer because TTL ignores values not in whole epoch seconds.

Throttling is retried by botocore (standard mode, 5 attempts in all); any other driver failure, or
throttling that outlasts the retries, raises StateError with one line saying what to fix.
"""

from __future__ import annotations

import hashlib
import random
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult

import boto3
import orjson
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

from core.errors import ConfigError, StateError
from core.state.base import Item, JSONValue
from core.state.registry import uri_params
from core.timeutil import utcnow
from core.uris import AWS_REGION, HTTP_ENDPOINT, checked, where

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef, KeysAndAttributesUnionTypeDef

KEY_LIMIT = 2048  # bytes of UTF-8: DynamoDB's limit on a partition key
TTL_ATTRIBUTE = "exp"
MAX_ATTEMPTS = 5  # per request, the first included (botocore's total_max_attempts)
BATCH_SIZE = 100  # BatchGetItem's limit on keys per call
UNPROCESSED_ATTEMPTS = 5  # BatchGetItem calls per chunk while DynamoDB leaves keys unprocessed

_CLIENT_CONFIG = Config(retries={"mode": "standard", "total_max_attempts": MAX_ATTEMPTS})
_TABLE_NAME = re.compile(r"[A-Za-z0-9_.-]{3,255}")
_DIGEST_MARK = "#sha256:"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_THROTTLING_CODES = frozenset(
    {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"}
)
_CREDENTIAL_CODES = frozenset(
    {
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "ExpiredTokenException",
        "MissingAuthenticationTokenException",
    }
)

_RawItem = Mapping[str, "AttributeValueTypeDef"]


class DynamoDBStore:
    def __init__(
        self,
        table: str,
        *,
        client: DynamoDBClient | None = None,
        region: str | None = None,
        endpoint_url: str | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        """An injected `client` is used as given and left open by `close`; else one is built on first use."""
        self.table = table
        self.region = region
        self.label = f"dynamodb://{table}?region={region}" if region else f"dynamodb://{table}"
        self._endpoint_url = endpoint_url
        self._clock = clock
        self._client = client
        self._owns_client = client is None
        self._client_lock = threading.Lock()

    @classmethod
    def from_uri(cls, uri: SplitResult, *, clock: Callable[[], datetime] = utcnow) -> DynamoDBStore:
        """`dynamodb://TABLE?region=R`; region defaults to the AWS environment; endpoint_url is for tests."""
        params = uri_params(uri, optional=("region", "endpoint_url"))
        if not _TABLE_NAME.fullmatch(uri.netloc) or uri.path or uri.fragment:
            raise ConfigError(
                "store 'dynamodb://' needs a table name of 3-255 letters, digits, '_', '-' or '.' "
                "and nothing else before the '?': write dynamodb://TABLE?region=R"
            )
        store = where("store", "dynamodb")
        region = checked(params, "region", AWS_REGION, where=store, expected="an AWS region like eu-west-1")
        endpoint_url = checked(
            params, "endpoint_url", HTTP_ENDPOINT, where=store, expected="an http:// or https:// URL of a host and port"
        )
        return cls(uri.netloc, region=region, endpoint_url=endpoint_url, clock=clock)

    def get_many(self, keys: Sequence[str]) -> dict[str, Item]:
        wanted = {partition_key(key): key for key in keys}
        pks = list(wanted)
        now = _micros(self._clock())
        found: dict[str, Item] = {}
        for start in range(0, len(pks), BATCH_SIZE):
            for raw in self._batch_get(pks[start : start + BATCH_SIZE]):
                if int(raw["exp_us"]["N"]) > now:
                    found[wanted[raw["pk"]["S"]]] = _item(raw)
        return found

    def put(
        self, key: str, value: Mapping[str, JSONValue], *, expires_at: datetime, version: int | None
    ) -> bool:
        expires = _micros(expires_at)
        item: dict[str, AttributeValueTypeDef] = {
            "pk": {"S": partition_key(key)},
            "v": {"S": orjson.dumps(dict(value)).decode()},
            "ver": {"N": str((version or 0) + 1)},
            "exp_us": {"N": str(expires)},
            TTL_ATTRIBUTE: {"N": str(-(-expires // 1_000_000))},  # whole seconds, rounded up
        }
        condition, names, values = _put_condition(version, now=_micros(self._clock()))
        try:
            self._dynamodb().put_item(
                TableName=self.table,
                Item=item,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if _error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise self._failure(exc, "PutItem") from exc
        except BotoCoreError as exc:
            raise self._failure(exc, "PutItem") from exc
        return True

    def close(self) -> None:
        with self._client_lock:
            if self._owns_client and self._client is not None:
                self._client.close()
                self._client = None

    def _batch_get(self, pks: Sequence[str]) -> list[_RawItem]:
        request: Mapping[str, KeysAndAttributesUnionTypeDef] = {
            self.table: {"Keys": [{"pk": {"S": pk}} for pk in pks], "ConsistentRead": True}
        }
        items: list[_RawItem] = []
        for attempt in range(UNPROCESSED_ATTEMPTS):
            if attempt:
                time.sleep(random.uniform(0, 0.05 * 2**attempt))  # full jitter, at most 0.8 s
            try:
                response = self._dynamodb().batch_get_item(RequestItems=request)
            except (ClientError, BotoCoreError) as exc:
                raise self._failure(exc, "BatchGetItem") from exc
            items.extend(response.get("Responses", {}).get(self.table, []))
            request = response.get("UnprocessedKeys", {})
            if not request:
                return items
        left = len(request[self.table]["Keys"])
        raise StateError(
            f"DynamoDB left {left} keys unread in table {self.table} after {UNPROCESSED_ATTEMPTS} "
            "BatchGetItem calls: the table is throttled; the batch will be retried, "
            "and if this persists check its capacity"
        )

    def _dynamodb(self) -> DynamoDBClient:
        with self._client_lock:
            if self._client is None:
                self._client = self._build_client()
            return self._client

    def _build_client(self) -> DynamoDBClient:
        try:
            return make_client(region=self.region, endpoint_url=self._endpoint_url)
        except BotoCoreError as exc:
            raise self._failure(exc, "client setup") from exc

    def _failure(self, exc: ClientError | BotoCoreError, action: str) -> StateError:
        region = self.region or (self._client.meta.region_name if self._client else None) or "(unset)"
        return StateError(describe_failure(exc, table=self.table, region=region, action=action))


def make_client(*, region: str | None = None, endpoint_url: str | None = None) -> DynamoDBClient:
    """A DynamoDB client with the store's retry policy: botocore's standard mode, 5 attempts in all.

    Region and credentials default to the AWS environment; `endpoint_url` is for local test servers.
    """
    # A session per client: boto3's default session is not safe to share between threads.
    client: DynamoDBClient = boto3.session.Session().client(
        "dynamodb", region_name=region, endpoint_url=endpoint_url, config=_CLIENT_CONFIG
    )
    return client


def create_table(client: DynamoDBClient, name: str) -> None:
    """Create an on-demand table with the store's key schema and TTL on `exp`; wait until it is active.

    For tests, and for operators without the deployment stack:
    `create_table(make_client(region="eu-west-1"), "secretwatch-state")`.
    """
    region = client.meta.region_name or "(unset)"
    try:
        client.create_table(
            TableName=name,
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
        client.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 2, "MaxAttempts": 60})
        client.update_time_to_live(
            TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE}
        )
    except (ClientError, BotoCoreError) as exc:
        raise StateError(describe_failure(exc, table=name, region=region, action="CreateTable")) from exc


def partition_key(key: str) -> str:
    """The item's `pk`: the key itself, or if it is empty or over 2048 bytes, a readable prefix and a hash.

    The hashed form is deterministic, so every process maps a key to the same item. A key written
    verbatim could equal another key's hashed form only if someone wrote that exact string on purpose.
    """
    encoded = key.encode()
    if 0 < len(encoded) <= KEY_LIMIT:
        return key
    mark = _DIGEST_MARK + hashlib.sha256(encoded).hexdigest()
    prefix = encoded[: KEY_LIMIT - len(mark)].decode(errors="ignore")  # never split a character
    return prefix + mark


def describe_failure(exc: ClientError | BotoCoreError, *, table: str, region: str, action: str) -> str:
    """One line saying what went wrong with a DynamoDB call and what to do about it."""
    if isinstance(exc, NoRegionError):
        return (
            f"no AWS region for DynamoDB table {table}: add ?region=R to the store URI "
            "(SECRETWATCH_STORE, or scan --state) or set AWS_REGION"
        )
    if isinstance(exc, NoCredentialsError):
        return (
            f"no AWS credentials for DynamoDB table {table}: run under a role, "
            "or set AWS_PROFILE or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        )
    if not isinstance(exc, ClientError):
        return (
            f"DynamoDB {action} on table {table} in region {region} failed: {exc}; "
            "check network access to DynamoDB"
        )
    code, message = _error_code(exc), exc.response.get("Error", {}).get("Message", "")
    if code == "ResourceNotFoundException":
        return (
            f"DynamoDB table {table} does not exist in region {region}: "
            "deploy the stack or fix SECRETWATCH_STORE"
        )
    if code == "AccessDeniedException":
        return (
            f"access denied to DynamoDB table {table} in region {region}: "
            f"grant the function's role dynamodb:{action} on that table"
        )
    if code in _THROTTLING_CODES:
        return (
            f"DynamoDB throttled {action} on table {table} after {MAX_ATTEMPTS} attempts ({code}): the batch "
            "will be retried; if this persists, check the table's on-demand limits or provisioned capacity"
        )
    if code in _CREDENTIAL_CODES:
        return (
            f"AWS rejected the credentials for DynamoDB table {table} ({code}): "
            "check the role or the AWS_* settings"
        )
    return f"DynamoDB {action} on table {table} in region {region} failed: {code}: {message}"


def _put_condition(
    version: int | None, *, now: int
) -> tuple[str, dict[str, str], dict[str, AttributeValueTypeDef]]:
    """A create needs the key absent or expired; an update needs it live (expiring after now) at `version`."""
    at_now: AttributeValueTypeDef = {"N": str(now)}
    if version is None:
        names = {"#pk": "pk", "#exp_us": "exp_us"}
        return "attribute_not_exists(#pk) OR #exp_us <= :now", names, {":now": at_now}
    names = {"#ver": "ver", "#exp_us": "exp_us"}
    return "#ver = :version AND #exp_us > :now", names, {":version": {"N": str(version)}, ":now": at_now}


def _error_code(exc: Any) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _micros(moment: datetime) -> int:
    return (moment - _EPOCH) // _MICROSECOND


def _item(raw: _RawItem) -> Item:
    expires_at = _EPOCH + int(raw["exp_us"]["N"]) * _MICROSECOND
    return Item(orjson.loads(raw["v"]["S"]), int(raw["ver"]["N"]), expires_at)
