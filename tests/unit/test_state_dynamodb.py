"""DynamoDBStore specifics the shared contract cannot see: table layout, TTL, request counts, keys, errors.

Its Store behaviour (versions, expiry, keys, concurrency) is specified in tests/contract/, against a
moto server over HTTP. Here moto runs in the test process (`mock_aws`): botocore's whole request path
runs, and moto answers each request where it would go out on the wire.
"""

from __future__ import annotations

import io
import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from core.errors import ConfigError, StateError
from core.state.base import Item, get_one
from core.state.registry import open_store

pytest.importorskip("boto3", reason="boto3 is not installed (pip install 'secretwatch[aws]')")
moto = pytest.importorskip("moto", reason="moto is not installed")

from botocore.awsrequest import AWSResponse  # noqa: E402
from botocore.retries.standard import ExponentialBackoff  # noqa: E402

from core.state.dynamodb import MAX_ATTEMPTS, DynamoDBStore, create_table, make_client  # noqa: E402

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)
TABLE = "secretwatch-state"
REGION = "us-east-1"
# Nothing listens there: a request that got past a test's hook would fail, never reach a real endpoint.
UNREACHABLE = "http://127.0.0.1:9"
FAKE_AWS_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_EC2_METADATA_DISABLED": "true",
}


@pytest.fixture
def fake_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in FAKE_AWS_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def aws(fake_credentials: None) -> Iterator[None]:
    with moto.mock_aws():
        yield


@pytest.fixture
def client(aws: None) -> DynamoDBClient:
    client = make_client(region=REGION)
    create_table(client, TABLE)
    return client


class OperationCounter:
    """Counts the DynamoDB API calls a client makes, by operation name (botocore's retries not included)."""

    def __init__(self, client: DynamoDBClient) -> None:
        self.calls: Counter[str] = Counter()
        client.meta.events.register("before-call.dynamodb", self._count)

    def _count(self, model: Any, **_: Any) -> None:
        self.calls[model.name] += 1


class AnswerEveryRequestWith:
    """A botocore before-send hook: answers every HTTP attempt with one DynamoDB error, and counts them."""

    def __init__(self, client: DynamoDBClient, status: int, error_type: str, message: str) -> None:
        self.attempts = 0
        self._status = status
        self._body = json.dumps({"__type": error_type, "message": message}).encode()
        client.meta.events.register("before-send.dynamodb", self._answer)

    def _answer(self, request: Any, **_: Any) -> AWSResponse:
        self.attempts += 1
        headers = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": f"req-{self.attempts}"}
        return AWSResponse(request.url, self._status, headers, RawBody(self._body))


class RawBody(io.BytesIO):
    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.read()


def raw_items(client: DynamoDBClient) -> dict[str, dict[str, Any]]:
    """The table's items as DynamoDB holds them, by partition key."""
    items = client.scan(TableName=TABLE, ConsistentRead=True)["Items"]
    return {item["pk"]["S"]: dict(item) for item in items}


# --- the table ----------------------------------------------------------------------------------


def test_create_table_makes_an_on_demand_table_keyed_by_pk_with_ttl_on_exp(client: DynamoDBClient) -> None:
    table = client.describe_table(TableName=TABLE)["Table"]
    ttl = client.describe_time_to_live(TableName=TABLE)["TimeToLiveDescription"]

    assert table["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    assert table["AttributeDefinitions"] == [{"AttributeName": "pk", "AttributeType": "S"}]
    assert table.get("BillingModeSummary", {}).get("BillingMode") == "PAY_PER_REQUEST"
    assert (ttl.get("TimeToLiveStatus"), ttl.get("AttributeName")) == ("ENABLED", "exp")


def test_an_item_holds_json_text_its_version_and_its_expiry_exact_and_in_whole_ttl_seconds(
    client: DynamoDBClient,
) -> None:
    store = DynamoDBStore(TABLE, client=client, clock=lambda: NOW)
    expires_at = LATER + timedelta(milliseconds=250)

    store.put(
        "term",
        {"first_seen": "2024-05-01T12:00:00Z", "ips": ["10.0.0.1"]},
        expires_at=expires_at,
        version=None,
    )
    store.put("term", {"first_seen": "2024-05-01T12:00:00Z", "ips": []}, expires_at=expires_at, version=1)

    item = raw_items(client)["term"]
    assert json.loads(item["v"]["S"]) == {"first_seen": "2024-05-01T12:00:00Z", "ips": []}
    assert item["ver"] == {"N": "2"}
    assert item["exp_us"] == {"N": str(int(LATER.timestamp()) * 1_000_000 + 250_000)}
    assert item["exp"] == {"N": str(int(LATER.timestamp()) + 1)}  # rounded up: TTL never deletes early


def test_an_expired_item_is_invisible_though_moto_keeps_it_in_the_table(client: DynamoDBClient) -> None:
    now = NOW
    store = DynamoDBStore(TABLE, client=client, clock=lambda: now)
    store.put("old", {"n": 1}, expires_at=NOW + timedelta(seconds=1), version=None)

    now = NOW + timedelta(days=3)  # past any TTL sweep DynamoDB would make

    assert store.get_many(["old"]) == {}
    assert set(raw_items(client)) == {"old"}


# --- requests -----------------------------------------------------------------------------------


def test_get_many_of_250_keys_makes_3_batch_get_item_calls(client: DynamoDBClient) -> None:
    store = DynamoDBStore(TABLE, client=client, clock=lambda: NOW)
    keys = [f"key-{n:03d}" for n in range(250)]
    for key in keys[::50]:
        store.put(key, {"key": key}, expires_at=LATER, version=None)
    counter = OperationCounter(client)

    found = store.get_many(keys)

    assert sorted(found) == keys[::50]
    assert counter.calls == {"BatchGetItem": 3}


def test_get_many_of_no_keys_makes_no_call(client: DynamoDBClient) -> None:
    store = DynamoDBStore(TABLE, client=client, clock=lambda: NOW)
    counter = OperationCounter(client)

    assert store.get_many([]) == {}
    assert counter.calls == {}


def test_a_put_makes_one_put_item_call_whether_it_succeeds_or_conflicts(client: DynamoDBClient) -> None:
    store = DynamoDBStore(TABLE, client=client, clock=lambda: NOW)
    counter = OperationCounter(client)

    assert store.put("k", {"n": 1}, expires_at=LATER, version=None) is True
    assert counter.calls == {"PutItem": 1}
    assert store.put("k", {"n": 1}, expires_at=LATER, version=None) is False
    assert counter.calls == {"PutItem": 2}


def test_keys_dynamodb_leaves_unprocessed_are_read_again(client: DynamoDBClient) -> None:
    """DynamoDB, and moto, stop a BatchGetItem response at 16 MB and return the rest as UnprocessedKeys."""
    store = DynamoDBStore(TABLE, client=client, clock=lambda: NOW)
    keys = [f"big-{n:02d}" for n in range(45)]
    for key in keys:  # 45 items of ~390 KB: about 17.5 MB
        store.put(key, {"blob": key * 65_000}, expires_at=LATER, version=None)
    counter = OperationCounter(client)

    found = store.get_many(keys)

    assert {key: item.value for key, item in found.items()} == {key: {"blob": key * 65_000} for key in keys}
    assert counter.calls == {"BatchGetItem": 2}


# --- keys ---------------------------------------------------------------------------------------


def test_keys_over_2048_bytes_get_items_of_their_own_under_a_readable_prefix(client: DynamoDBClient) -> None:
    store = DynamoDBStore(TABLE, client=client, clock=lambda: NOW)
    long_keys = ["k" * 3000 + "a", "k" * 3000 + "b", "🔑" * 600]  # the last: 600 characters of 4 bytes
    for key in long_keys:
        assert store.put(key, {"key": key}, expires_at=LATER, version=None) is True

    found = store.get_many(long_keys)

    assert {key: item.value for key, item in found.items()} == {key: {"key": key} for key in long_keys}
    pks = sorted(raw_items(client), key=len)
    assert len(pks) == 3
    assert all(len(pk.encode()) <= 2048 for pk in pks)
    assert pks[0].startswith("🔑" * 490)
    assert all(pk.startswith("k" * 1900) for pk in pks[1:])


def test_the_empty_key_round_trips(client: DynamoDBClient) -> None:
    """DynamoDB refuses an empty partition key, so the store stores it under a hash."""
    store = DynamoDBStore(TABLE, client=client, clock=lambda: NOW)

    assert store.put("", {"n": 1}, expires_at=LATER, version=None) is True

    assert get_one(store, "") == Item({"n": 1}, 1, LATER)
    assert "" not in raw_items(client)


# --- errors -------------------------------------------------------------------------------------


def test_a_missing_table_raises_state_error_naming_table_region_and_fix(aws: None) -> None:
    store = DynamoDBStore("no-such-table", region=REGION)

    expected = (
        "DynamoDB table no-such-table does not exist in region us-east-1: "
        "deploy the stack or fix SECRETWATCH_STORE"
    )
    with pytest.raises(StateError) as on_write:
        store.put("k", {"n": 1}, expires_at=LATER, version=None)
    with pytest.raises(StateError) as on_read:
        store.get_many(["k"])
    assert str(on_write.value) == str(on_read.value) == expected


def test_throttling_is_retried_by_botocore_then_raises_state_error(
    fake_credentials: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """moto never throttles, so a before-send hook answers every attempt as throttled DynamoDB does.

    botocore's own retry handler runs on those answers; only its backoff is set to zero to keep the test fast.
    """
    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0.0)
    client = make_client(region=REGION, endpoint_url=UNREACHABLE)
    throttled = AnswerEveryRequestWith(
        client,
        400,
        "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
        "The level of configured provisioned throughput for the table was exceeded.",
    )
    store = DynamoDBStore(TABLE, client=client, clock=lambda: NOW)

    with pytest.raises(
        StateError, match=r"^DynamoDB throttled PutItem on table secretwatch-state after 5 attempts"
    ):
        store.put("k", {"n": 1}, expires_at=LATER, version=None)
    assert throttled.attempts == MAX_ATTEMPTS == 5


def test_access_denied_names_the_permission_the_role_lacks(fake_credentials: None) -> None:
    """moto does not enforce IAM by default: a before-send hook answers as DynamoDB does without a grant."""
    client = make_client(region=REGION, endpoint_url=UNREACHABLE)
    AnswerEveryRequestWith(
        client, 400, "com.amazon.coral.service#AccessDeniedException", "User is not authorized to perform"
    )
    store = DynamoDBStore(TABLE, client=client, clock=lambda: NOW)

    with pytest.raises(StateError, match="grant the function's role dynamodb:BatchGetItem on that table"):
        store.get_many(["k"])


def test_a_value_over_the_item_size_limit_raises_state_error_with_dynamodb_reason(
    client: DynamoDBClient,
) -> None:
    store = DynamoDBStore(TABLE, client=client, clock=lambda: NOW)

    with pytest.raises(StateError, match=r"PutItem on table secretwatch-state .*Item size has exceeded"):
        store.put("k", {"blob": "x" * 500_000}, expires_at=LATER, version=None)


@pytest.fixture
def no_aws_configuration(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in [
        "AWS_PROFILE",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        *FAKE_AWS_ENVIRONMENT,
    ]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.mark.usefixtures("no_aws_configuration")
def test_without_credentials_the_error_says_where_to_get_them() -> None:
    store = DynamoDBStore(TABLE, region=REGION, endpoint_url=UNREACHABLE)

    with pytest.raises(
        StateError, match=r"^no AWS credentials for DynamoDB table secretwatch-state: run under a role"
    ):
        store.put("k", {"n": 1}, expires_at=LATER, version=None)


@pytest.mark.usefixtures("no_aws_configuration")
def test_without_a_region_the_error_says_how_to_give_one() -> None:
    store = DynamoDBStore(TABLE)

    hint = r"add \?region=R to the store URI \(SECRETWATCH_STORE, or scan --state\) or set AWS_REGION"
    with pytest.raises(StateError, match=hint):
        store.get_many(["k"])


# --- the URI ------------------------------------------------------------------------------------


def test_the_uri_names_the_table_and_region_and_the_label_repeats_them() -> None:
    store = open_store("dynamodb://secretwatch-state?region=eu-west-1")

    assert isinstance(store, DynamoDBStore)
    assert (store.table, store.region, store.label) == (
        "secretwatch-state",
        "eu-west-1",
        "dynamodb://secretwatch-state?region=eu-west-1",
    )


@pytest.mark.parametrize(
    "uri",
    [
        "dynamodb://?region=eu-west-1",
        "dynamodb://ab?region=eu-west-1",
        "dynamodb://table/extra?region=eu-west-1",
        "dynamodb://tab!e?region=eu-west-1",
        "dynamodb://table?region=eu-west-1#fragment",
    ],
)
def test_a_uri_without_a_valid_table_name_is_a_config_error(uri: str) -> None:
    with pytest.raises(ConfigError, match=r"write dynamodb://TABLE\?region=R"):
        open_store(uri)


def test_an_unknown_uri_parameter_is_a_config_error_listing_the_accepted_ones() -> None:
    with pytest.raises(ConfigError, match=r"\(did you mean region\?\); it accepts region, endpoint_url$"):
        open_store("dynamodb://secretwatch-state?regoin=eu-west-1")


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("region=Hunter2", "parameter 'region' must be an AWS region like eu-west-1"),
        ("endpoint_url=Hunter2", "parameter 'endpoint_url' must be an http:// or https:// URL of a host and port"),
    ],
)
def test_a_malformed_region_or_endpoint_is_refused_at_start_without_echo(query: str, says: str) -> None:
    with pytest.raises(ConfigError, match=says) as raised:
        open_store(f"dynamodb://secretwatch-state?{query}")

    assert "hunter2" not in str(raised.value).lower()
