"""The memory bench's hostile payloads are what their claims say: size and shape, checked at small sizes.

Only the generators are tested here; the memory figures themselves come from `python -m bench.hostile`.
"""

from __future__ import annotations

import base64
import inspect
import zlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from bench import bombs
from core.model import AuditEvent
from core.sources import decode
from core.sources.eks import MAX_INFLATED_BYTES
from core.sources.limits import FIELD_LIMITS, cut


def awslogs_data(bomb: bombs.Bomb) -> bytes:
    event = orjson.loads(bomb.path.read_bytes())
    assert set(event) == {"awslogs"}
    return base64.b64decode(event["awslogs"]["data"], validate=True)


def inflated_size(compressed: bytes) -> int:
    """Streamed, so checking a large bomb does not hold what it inflates to."""
    inflater, total = zlib.decompressobj(zlib.MAX_WBITS | 32), 0
    data = compressed
    while data:
        total += len(inflater.decompress(data, 1 << 22))
        data = inflater.unconsumed_tail
    assert inflater.eof
    return total


def test_the_defaults_are_the_sizes_the_bench_reports() -> None:
    def default(function: Any, name: str) -> object:
        return inspect.signature(function).parameters[name].default

    assert default(bombs.gzip_zeros, "inflated") == 1 << 30
    assert default(bombs.empty_log_events, "cap") == MAX_INFLATED_BYTES
    assert default(bombs.aks_empty_records, "records") == 2_000_000
    assert default(bombs.pubsub_huge_data, "size") == 10_000_000
    assert default(bombs.user_agent, "length") == 450 * 1024
    assert default(bombs.deep_first_line, "depth") == 100_000


def test_gzip_zeros_inflates_a_thousand_times_its_size_to_zeros(tmp_path: Path) -> None:
    bomb = bombs.gzip_zeros(tmp_path, inflated=32 << 20)
    compressed = awslogs_data(bomb)
    assert compressed[:2] == b"\x1f\x8b"
    assert len(compressed) * 1000 < 32 << 20
    assert zlib.decompress(compressed, zlib.MAX_WBITS | 32) == bytes(32 << 20)


def test_empty_log_events_fill_the_inflate_cap_without_reaching_it(tmp_path: Path) -> None:
    small = bombs.empty_log_events(tmp_path, cap=3_000)
    message = orjson.loads(zlib.decompress(awslogs_data(small), zlib.MAX_WBITS | 32))
    assert message["messageType"] == "DATA_MESSAGE"
    assert set(map(orjson.dumps, message["logEvents"])) == {b"{}"}
    assert f"{len(message['logEvents']):,} empty log events" in small.claim

    full = bombs.empty_log_events(tmp_path)
    assert MAX_INFLATED_BYTES - 3 <= inflated_size(awslogs_data(full)) < MAX_INFLATED_BYTES

    counted = bombs.empty_log_events(tmp_path, events=2_000)
    assert len(orjson.loads(zlib.decompress(awslogs_data(counted), zlib.MAX_WBITS | 32))["logEvents"]) == 2_000
    assert counted.name == "empty-log-events-2,000"


def test_aks_empty_records_is_one_body_of_empty_records(tmp_path: Path) -> None:
    bomb = bombs.aks_empty_records(tmp_path, records=1_000)
    assert orjson.loads(bomb.path.read_bytes()) == {"records": [{}] * 1_000}


def test_pubsub_huge_data_carries_one_log_entry_of_the_size_claimed(tmp_path: Path) -> None:
    bomb = bombs.pubsub_huge_data(tmp_path, size=100_000)
    body = orjson.loads(bomb.path.read_bytes())
    data = base64.b64decode(body["message"]["data"], validate=True)
    assert 100_000 - 3 < len(data) <= 100_000
    entry = orjson.loads(data)
    assert entry["protoPayload"]["methodName"] == "io.k8s.core.v1.secrets.get"
    assert set(map(orjson.dumps, entry["protoPayload"]["request"])) == {b"{}"}


@pytest.mark.parametrize("fmt", bombs.FORMATS)
def test_the_user_agent_bomb_decodes_to_one_secret_read_with_that_user_agent(tmp_path: Path, fmt: str) -> None:
    bomb = bombs.user_agent(tmp_path, fmt, length=20_000)
    (event,) = decode(bomb.path.read_bytes(), received_at=datetime.now(UTC))
    assert isinstance(event, AuditEvent)
    assert (event.verb, event.resource) == ("get", "secrets")
    assert event.user_agent == cut("curl/8.5.0 " + "A" * (20_000 - 11), FIELD_LIMITS["user_agent"])  # bounded


def test_deep_first_line_nests_its_first_line_and_then_holds_good_events(tmp_path: Path) -> None:
    bomb = bombs.deep_first_line(tmp_path, depth=2_000, good=3)
    first, *rest = bomb.path.read_bytes().splitlines()
    assert first == b"[" * 2_000 + b"]" * 2_000
    assert [orjson.loads(line)["verb"] for line in rest] == ["get"] * 3
