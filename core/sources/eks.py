"""EKS: a CloudWatch Logs subscription, as the Lambda `awslogs` event or the decoded DATA_MESSAGE."""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterator
from itertools import islice
from typing import Any

from msgspec import Raw

from core.prefilter import admit_all
from core.sources import k8s, k8s_text
from core.sources.items import Origin, Output, Prefiltered, Skip, internal_error
from core.sources.limits import MAX_DOCUMENT_BYTES, MAX_RECORDS, cut_name, too_many_records
from core.sources.values import as_dict, as_str, audit_id_hint, b64decode, load_json, loaded, token
from core.timeutil import from_epoch_ms

#: The inflated DATA_MESSAGE is a document like any other (see limits.MAX_DOCUMENT_BYTES for why 32 MiB);
#: output beyond it is refused as soon as it is inflated, so a decompression bomb costs no more.
MAX_INFLATED_BYTES = MAX_DOCUMENT_BYTES
#: gzip or zlib, detected from the header (CloudWatch sends gzip; Powertools' own fixture is zlib).
_GZIP_OR_ZLIB = zlib.MAX_WBITS | 32
_LOG_GROUP = re.compile(r"/aws/eks/([^/]+)/cluster")
AUDIT_STREAM = "kube-apiserver-audit"
#: Other control-plane streams in the same log group. `kube-apiserver-` also prefixes the audit stream,
#: so the audit prefix is checked first.
_OTHER_STREAMS = (
    "kube-apiserver-",
    "authenticator-",
    "kube-controller-manager-",
    "cloud-controller-manager-",
    "kube-scheduler-",
)
#: CloudWatch cuts entries over 256 KB and appends this marker, leaving invalid JSON.
_TRUNCATED = "[Truncated...]"


def lambda_event(document: dict[str, Any], origin: Origin) -> Iterator[Output]:
    """`{"awslogs": {"data": base64(gzip(JSON))}}`."""
    awslogs = as_dict(document.get("awslogs"))
    data = as_str(awslogs.get("data")) if awslogs else None
    if data is None:
        yield _bad("missing_fields", "awslogs.data is missing or not a string")
        return
    compressed = b64decode(data)
    if compressed is None:
        yield _bad("bad_base64", "awslogs.data is not valid base64")
        return
    payload = inflate(compressed)
    if isinstance(payload, Skip):
        yield payload
        return
    message = load_json(payload, cloud="aws", what="decompressed awslogs.data")
    if isinstance(message, Skip):
        yield message
    elif isinstance(message, dict):
        yield from data_message(message, origin)
    else:
        yield _bad("wrong_type", "decompressed awslogs.data is not a JSON object")


def inflate(compressed: bytes) -> bytes | Skip:
    """Decompress gzip or zlib, refusing truncated streams and output beyond MAX_INFLATED_BYTES."""
    inflater = zlib.decompressobj(_GZIP_OR_ZLIB)
    try:
        payload = inflater.decompress(compressed, MAX_INFLATED_BYTES)
    except zlib.error:
        return _bad("bad_compression", "awslogs.data is not gzip or zlib")
    if inflater.unconsumed_tail:
        return _bad("bad_compression", f"awslogs.data inflates beyond {MAX_INFLATED_BYTES} bytes")
    if not inflater.eof:
        return _bad("bad_compression", "awslogs.data is a truncated stream")
    return payload


def data_message(document: dict[str, Any], origin: Origin) -> Iterator[Output]:
    """A DATA_MESSAGE holds one log stream's events; each message is one audit Event as a JSON string. Past
    MAX_RECORDS (CloudWatch's own maximum), one Skip counts the rest."""
    message_type = document.get("messageType")
    if message_type == "CONTROL_MESSAGE":
        yield _ignored("control_message", "CloudWatch Logs reachability probe")
        return
    if message_type not in (None, "DATA_MESSAGE"):
        yield _bad("unknown_format", f"messageType {token(message_type)}")
        return
    log_events = document.get("logEvents")
    if not isinstance(log_events, list):
        yield _bad("wrong_type", "logEvents is missing or not an array")
        return
    stream = document.get("logStream")
    if _is_other_stream(stream):
        skip = _ignored("other_log_stream", f"log stream {token(stream)}")
        yield from (skip for _ in islice(log_events, MAX_RECORDS))
    else:
        yield from _log_events(document, log_events, origin)
    if len(log_events) > MAX_RECORDS:
        yield too_many_records(len(log_events), "logEvents", "aws")


def _log_events(document: dict[str, Any], log_events: list[Any], origin: Origin) -> Iterator[Output]:
    # Without the envelope's time: `k8s_text.read` reads only events that carry their own.
    inner = Origin(origin.received_at, "aws", _cluster(document.get("logGroup")), None, origin.prefilter)
    admits = origin.prefilter.text.admits if origin.prefilter is not None else admit_all
    skipped = 0
    for item in islice(log_events, MAX_RECORDS):
        try:
            log_event = item if type(item) is not Raw else loaded(item, cloud="aws", what="logEvents item")
            # Inline, not a helper: this runs for every record, and most records end here.
            message = log_event.get("message") if isinstance(log_event, dict) else None
            if isinstance(message, str) and not admits(message):
                skipped += 1
                continue
            output = _log_event(log_event, inner)
        except Exception as error:  # noqa: BLE001 - one record's trouble never ends its envelope
            output = internal_error(error, "aws")
        yield output
    if skipped:
        yield Prefiltered("aws", skipped)


def _is_other_stream(stream: object) -> bool:
    """Known non-audit control-plane streams; unknown names are parsed defensively instead."""
    if not isinstance(stream, str) or stream.startswith(AUDIT_STREAM):
        return False
    return stream.startswith(_OTHER_STREAMS)


def _cluster(log_group: object) -> str | None:
    found = _LOG_GROUP.fullmatch(log_group) if isinstance(log_group, str) else None
    return cut_name(found.group(1)) if found else None


def _log_event(log_event: object, inner: Origin) -> Output:
    if isinstance(log_event, Skip):
        return log_event
    if not isinstance(log_event, dict):
        return _bad("wrong_type", "logEvents item is not an object")
    message = log_event.get("message")
    if not isinstance(message, str):
        return _bad("wrong_type", "logEvents message is missing or not a string")
    if message.rstrip().endswith(_TRUNCATED):
        return _bad("truncated_message", f"CloudWatch truncated the event; {audit_id_hint(message)}")
    event = k8s_text.read(message, inner)
    if event is not None:
        return event
    origin = Origin(inner.received_at, "aws", inner.cluster, from_epoch_ms(log_event.get("timestamp")), inner.prefilter)
    record = load_json(message, cloud="aws", what="logEvents message")
    return record if isinstance(record, Skip) else k8s.decoded(record, origin)


def _bad(reason: str, detail: str) -> Skip:
    return Skip(reason, malformed=True, cloud="aws", detail=detail)


def _ignored(reason: str, detail: str) -> Skip:
    return Skip(reason, malformed=False, cloud="aws", detail=detail)
