"""Read JSON text too large to parse whole (over MAX_PARSED_BYTES) without an object per record at once.

The documents that are legitimately that large are envelopes of many records: a JSON array, an EventList, an
EKS DATA_MESSAGE and an AKS Event Hub body. msgspec reads one into the envelope's own fields, parsed, and its
records, one msgspec.Raw each: a view of the text, parsed only when its record is decoded (values.loaded), so at
most MAX_RECORDS of them ever are. Keys no decoding step reads are skipped unread. Anything else that large is
refused as too_large, and so is an envelope whose records could number over MAX_SPLIT_VALUES: memory is bounded
by the text's size and never depends on its shape.

`load` gives what orjson.loads would, except that the records array holds Raws and that unread keys are left out.
"""

from __future__ import annotations

from typing import Any

import msgspec
import orjson

from core.sources.items import Skip
from core.sources.kinds import DETECT_KEYS, detect
from core.sources.limits import MAX_DOCUMENT_BYTES, MAX_PARSED_BYTES, MAX_SPLIT_VALUES, too_large

#: The kinds of envelope read this way, and the key of each one's records.
RECORDS_KEY = {"k8s_list": "items", "eks_data": "logEvents", "aks": "records"}
_RECORDS_KEYS = frozenset(RECORDS_KEY.values())
#: What detect and the envelopes' decoding steps read (eks.data_message, aks.body, k8s.event_list).
_READ_KEYS = sorted(DETECT_KEYS | _RECORDS_KEYS | {"logGroup", "logStream"})
_ABSENT = msgspec.Raw()
_Envelope = msgspec.defstruct("_Envelope", [(key, msgspec.Raw, _ABSENT) for key in _READ_KEYS], gc=False)
_ENVELOPE = msgspec.json.Decoder(_Envelope)
_ARRAY = msgspec.json.Decoder(list[msgspec.Raw])
_JSON_SPACE = b" \t\r\n"


def load(text: bytes | bytearray | memoryview | str, *, cloud: str | None, what: str) -> Any:
    """The envelope or array `text` holds, its records as msgspec.Raw, or a malformed Skip."""
    size = len(text)
    if size > MAX_DOCUMENT_BYTES:
        return too_large(f"{what} is {size:,} bytes; documents of at most {MAX_DOCUMENT_BYTES:,} are read", cloud)
    data = text.encode() if isinstance(text, str) else bytes(text)
    head = data[:64].lstrip(_JSON_SPACE)[:1]
    try:
        if head == b"[":
            return _split(data, data, what, cloud)
        if head == b"{":
            return _envelope(data, what, cloud)
        return orjson.loads(data)  # a scalar: no larger than its text
    except (msgspec.DecodeError, orjson.JSONDecodeError, RecursionError):
        return Skip("invalid_json", malformed=True, cloud=cloud, detail=f"{what} is not JSON")


def _envelope(data: bytes, what: str, cloud: str | None) -> Any:
    envelope = _ENVELOPE.decode(data)
    raw: dict[str, msgspec.Raw] = {key: value for key in _READ_KEYS if (value := getattr(envelope, key))}
    fields = {key: value for key, value in raw.items() if key not in _RECORDS_KEYS}
    if _size(fields) > MAX_PARSED_BYTES:
        return _besides(what, cloud)
    parsed: dict[str, Any] = {key: _parse(value) for key, value in fields.items()}
    # detect reads whether a records key is present, never its value: the Raw stands in for it.
    records_key = RECORDS_KEY.get(detect(parsed | {key: raw[key] for key in _RECORDS_KEYS & raw.keys()}))
    if records_key is None:
        return too_large(f"{what} is over {MAX_PARSED_BYTES:,} bytes and not an envelope of records", cloud)
    records = raw.pop(records_key, None)
    others = {key: raw[key] for key in _RECORDS_KEYS & raw.keys()}
    if records is not None and not _is_array(records):
        others[records_key] = records  # parsed whole, for its step to count as the wrong type
        records = None
    if _size(fields) + _size(others) > MAX_PARSED_BYTES:
        return _besides(what, cloud)
    parsed.update((key, _parse(value)) for key, value in others.items())
    if records is not None:
        split = _split(data, records, what, cloud)
        if isinstance(split, Skip):
            return split
        parsed[records_key] = split
    return parsed


def _split(data: bytes, array: msgspec.Raw | bytes, what: str, cloud: str | None) -> list[msgspec.Raw] | Skip:
    """The items of `array` (part of `data`), unless its commas show it could hold over MAX_SPLIT_VALUES."""
    if data.count(b",") >= MAX_SPLIT_VALUES and bytes(array).count(b",") >= MAX_SPLIT_VALUES:
        return too_large(f"{what} could hold over {MAX_SPLIT_VALUES:,} records; refused unread", cloud)
    return _ARRAY.decode(memoryview(array))


def _parse(value: msgspec.Raw) -> Any:
    return orjson.loads(memoryview(value))


def _is_array(value: msgspec.Raw) -> bool:
    return bytes(memoryview(value)[:1]) == b"["


def _size(values: dict[str, msgspec.Raw]) -> int:
    return sum(map(len, values.values()))


def _besides(what: str, cloud: str | None) -> Skip:
    return too_large(f"{what} holds over {MAX_PARSED_BYTES:,} bytes besides its records", cloud)
