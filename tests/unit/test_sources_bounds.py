"""Bounded input: records per envelope, documents too large to parse whole, and the memory one delivery takes.

A document over MAX_PARSED_BYTES is read lazily (core.sources.lazy): the envelope's own fields parsed, each
record a msgspec.Raw parsed when it is decoded. These tests make documents that large by padding their JSON with
whitespace, which changes nothing else, and check that the lazy way gives what the whole parse gives.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.model import AuditEvent
from core.sources import FORMATS, Format, Skip, detect, lazy, limits
from core.sources.limits import MAX_PARSED_BYTES, MAX_RECORDS
from tests.unit.sources_wire import awslogs_event, decode_all, fixture
from tests.unit.test_sources_fuzz import JSON_VALUES, REAL, SHAPED

PADDING = b" " * (MAX_PARSED_BYTES + 1)
LAZY = settings(
    max_examples=int(os.environ.get("SECRETWATCH_FUZZ_EXAMPLES", "150")) // 3,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def outcomes(items: list[AuditEvent | Skip]) -> list[object]:
    """Events whole; Skips by reason, kind and cloud (the lazy way words a JSON error without its position)."""
    return [item if isinstance(item, AuditEvent) else (item.reason, item.malformed, item.cloud) for item in items]


def reasons(items: list[AuditEvent | Skip]) -> list[str]:
    return [item.reason if isinstance(item, Skip) else "event" for item in items]


def data_message(log_events: list[Any], stream: str = "kube-apiserver-audit-1") -> dict[str, Any]:
    return {
        "messageType": "DATA_MESSAGE",
        "logGroup": "/aws/eks/c/cluster",
        "logStream": stream,
        "logEvents": log_events,
    }


def padded_lambda_event(message: dict[str, Any]) -> dict[str, Any]:
    """The Lambda event whose DATA_MESSAGE inflates past MAX_PARSED_BYTES (gzip of spaces is tiny)."""
    packer = zlib.compressobj(6, zlib.DEFLATED, 31)
    packed = packer.compress(orjson.dumps(message) + PADDING) + packer.flush()
    event = awslogs_event({})
    event["awslogs"]["data"] = base64.b64encode(packed).decode()
    return event


EMPTY_LOG_EVENT = {"id": "", "timestamp": 0, "message": ""}
ENVELOPES: dict[str, tuple[Any, str]] = {
    "EKS DATA_MESSAGE": (lambda n: data_message([EMPTY_LOG_EVENT] * n), "invalid_json"),
    "EKS other log stream": (lambda n: data_message([EMPTY_LOG_EVENT] * n, "authenticator-1"), "other_log_stream"),
    "AKS Event Hub body": (lambda n: {"records": [{}] * n}, "unknown_format"),
    "k8s EventList": (lambda n: {"kind": "EventList", "items": [{}] * n}, "not_audit_event"),
    "JSON array": (lambda n: [{}] * n, "unknown_format"),
}


@pytest.mark.parametrize("envelope", ENVELOPES)
@pytest.mark.parametrize("lazily", [False, True], ids=["parsed whole", "read lazily"])
def test_records_past_the_limit_are_one_skip_counting_them(envelope: str, lazily: bool) -> None:
    build, each = ENVELOPES[envelope]
    text = orjson.dumps(build(MAX_RECORDS + 2345)) + (PADDING if lazily else b"")

    items = decode_all(text)

    assert reasons(items) == [each] * MAX_RECORDS + ["too_many_records"]
    assert isinstance(items[-1], Skip)
    assert items[-1].malformed
    assert items[-1].detail.startswith(f"2,345 of {MAX_RECORDS + 2345:,} ")
    assert items[-1].detail.endswith(f"refused: at most {MAX_RECORDS:,} are read per envelope")


def test_a_full_envelope_is_read_whole() -> None:
    items = decode_all(data_message([EMPTY_LOG_EVENT] * MAX_RECORDS))

    assert reasons(items) == ["invalid_json"] * MAX_RECORDS


def test_an_inflated_cloudwatch_payload_too_large_to_parse_whole_is_read_lazily() -> None:
    batch = fixture("eks/data_message_audit.json")

    assert outcomes(decode_all(padded_lambda_event(batch))) == outcomes(decode_all(awslogs_event(batch)))


def test_a_bomb_of_empty_log_events_reads_ten_thousand_and_counts_the_rest() -> None:
    items = decode_all(padded_lambda_event(data_message([EMPTY_LOG_EVENT] * 50_000)))

    assert reasons(items) == ["invalid_json"] * MAX_RECORDS + ["too_many_records"]
    assert isinstance(items[-1], Skip)
    assert items[-1].detail.startswith("40,000 of 50,000 logEvents refused")


@pytest.mark.parametrize(
    ("document", "detail"),
    [
        (fixture("k8s/secret_get_denied.json"), "document is over 4,194,304 bytes and not an envelope of records"),
        ({"records": [], "category": "x" * (MAX_PARSED_BYTES + 1)}, "besides its records"),
        ({"kind": "EventList", "items": [], "logEvents": [0] * (MAX_PARSED_BYTES // 2)}, "besides its records"),
    ],
)
def test_a_large_document_that_is_not_an_envelope_of_records_is_too_large(document: Any, detail: str) -> None:
    (skip,) = decode_all(orjson.dumps(document) + PADDING)

    assert isinstance(skip, Skip)
    assert (skip.reason, skip.malformed) == ("too_large", True)
    assert detail in skip.detail


def test_a_document_over_the_largest_read_is_too_large_unread() -> None:
    (skip,) = decode_all(b"[" + b" " * limits.MAX_DOCUMENT_BYTES + b"]")

    assert isinstance(skip, Skip)
    assert (skip.reason, skip.detail) == (
        "too_large",
        "document is 33,554,434 bytes; documents of at most 33,554,432 are read",
    )


def test_records_that_could_number_over_the_split_limit_are_refused_unread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lazy, "MAX_SPLIT_VALUES", 1000)

    (skip,) = decode_all(orjson.dumps({"records": [0] * 1001}) + PADDING)

    assert isinstance(skip, Skip)
    assert (skip.reason, skip.detail) == ("too_large", "document could hold over 1,000 records; refused unread")


def test_a_large_document_that_is_not_json_is_invalid_json() -> None:
    (skip,) = decode_all(b'{"records": [1, 2' + PADDING)

    assert isinstance(skip, Skip)
    assert (skip.reason, skip.malformed, skip.detail) == ("invalid_json", True, "document is not JSON")


def test_a_large_record_inside_a_lazy_envelope_is_read_lazily_too() -> None:
    records = [{"records": [{}, {}]}, {"records": [{}] * 3, "pad": " " * (MAX_PARSED_BYTES + 1)}]

    items = decode_all(orjson.dumps(records) + PADDING)

    assert reasons(items) == ["unknown_format"] * 5


LAZY_KINDS = frozenset({"array", "k8s_list", "eks_data", "aks"})


def accepts(fmt: Format, kind: str) -> bool:
    """Whether decoding under `fmt` reads the records of a document of this kind (as decode's _ACCEPTS says)."""
    return fmt == "auto" or kind == "array" or (fmt, kind) in {("k8s", "k8s_list"), ("eks", "eks_data"), ("aks", "aks")}


@LAZY
@given(document=JSON_VALUES | SHAPED | st.sampled_from(REAL), fmt=st.sampled_from(FORMATS))
def test_the_lazy_way_gives_what_the_whole_parse_gives(document: Any, fmt: Format) -> None:
    text = json.dumps(document).encode()  # orjson refuses integers beyond 64 bits
    kind = detect(document)

    lazily = decode_all(text + PADDING, fmt)

    whole = outcomes(decode_all(text, fmt))
    if not isinstance(document, dict) or (kind in LAZY_KINDS and accepts(fmt, kind)):
        assert outcomes(lazily) == whole
    elif kind not in LAZY_KINDS:  # too large, unless a typed reader reads it whole (a Pub/Sub push body)
        assert outcomes(lazily) in ([("too_large", True, None)], whole)
    assert all(not isinstance(item, Skip) or item.reason != "internal_error" for item in lazily)


BOMB = """
import base64, zlib
from datetime import UTC, datetime
from pathlib import Path
from core.sources import decode

def peak_mb():  # VmHWM: this process image's own peak (ru_maxrss would carry the parent's across exec)
    status = Path("/proc/self/status").read_text().splitlines()
    return int(next(line for line in status if line.startswith("VmHWM:")).split()[1]) // 1024

item = b'{"id":"","timestamp":0,"message":""},'
head = b'{"messageType":"DATA_MESSAGE","logGroup":"/aws/eks/c/cluster","logEvents":['
count = (32 * 1024 * 1024 - len(head) - 1) // len(item)  # the largest DATA_MESSAGE the inflate cap lets in
packer = zlib.compressobj(6, zlib.DEFLATED, 31)
chunks = [packer.compress(head)]
chunks += [packer.compress(item * 10_000) for _ in range((count - 1) // 10_000)]
chunks.append(packer.compress(item * ((count - 1) % 10_000) + item[:-1] + b"]}") + packer.flush())
event = {"awslogs": {"data": base64.b64encode(b"".join(chunks)).decode()}}
before = peak_mb()
reasons = {}
for found in decode(event, received_at=datetime.now(UTC)):
    reasons[found.reason] = reasons.get(found.reason, 0) + 1
print(before, peak_mb(), count, reasons)
"""


def test_a_bomb_of_a_million_empty_log_events_stays_far_under_256_mb() -> None:
    """Measured in a child process, whose peak is its own; building the payload costs little."""
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", BOMB], capture_output=True, text=True, check=True, cwd=root)

    before, peak, count, found = done.stdout.split(maxsplit=3)
    assert json.loads(found.replace("'", '"')) == {"invalid_json": MAX_RECORDS, "too_many_records": 1}
    assert int(count) > 900_000
    assert int(peak) <= 256, (before, peak)
