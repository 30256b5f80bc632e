"""Typed reads over untrusted JSON: a value of the wrong type reads as missing and nothing raises."""

from __future__ import annotations

import binascii
import hashlib
import re
from typing import Any

import msgspec
import orjson

from core.sources import lazy
from core.sources.items import Skip
from core.sources.limits import MAX_PARSED_BYTES

#: What a typed msgspec reader may raise on text it cannot read; it then steps aside for the general way.
DECODE_ERRORS = (msgspec.MsgspecError, ValueError, RecursionError)
#: orjson reads integers in [-2**63, 2**64) as int and any other as a float, which is no status code.
ORJSON_INT_RANGE = range(-(2**63), 2**64)
#: Shared stand-in for an absent JSON object, so lookups need no None checks.
NOTHING: dict[str, Any] = {}

_TOKEN = re.compile(r"[\w.:/@$+-]{1,64}")
_AUDIT_ID = re.compile(rb'"auditID"\s*:\s*"([0-9A-Za-z._-]{1,64})"')


def as_dict(value: object) -> dict[str, Any] | None:
    return value if isinstance(value, dict) else None


def as_str(value: object) -> str | None:
    """A non-empty string, else None: the audit formats omit empty fields, so "" means absent."""
    return value if isinstance(value, str) and value else None


def as_int(value: object) -> int | None:
    """An integer; a JSON boolean is not one, and neither is a float."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def as_str_tuple(value: object) -> tuple[str, ...]:
    """The non-empty strings of a JSON array, in order; anything else reads as empty."""
    if not isinstance(value, list | tuple):
        return ()
    return tuple(item for item in value if isinstance(item, str) and item)


def json_type(value: object) -> str:
    """The JSON name of a value's type, for Skip details that must not echo the value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    return "object" if isinstance(value, dict) else type(value).__name__


def token(value: object) -> str:
    """An identifier-like input value (a category, a stream name) fit for a Skip detail, else its type."""
    if isinstance(value, str) and _TOKEN.fullmatch(value):
        return value
    return f"<{json_type(value)}>"


def audit_id_hint(text: str | bytes) -> str:
    """The auditID of an event too broken to parse, recovered by pattern (as Falco's EKS reader does)."""
    data = text.encode("utf-8", "replace") if isinstance(text, str) else text
    found = _AUDIT_ID.search(data)
    return f"auditID {found.group(1).decode()}" if found else "no auditID found"


def load_json(data: bytes | bytearray | memoryview | str, *, cloud: str | None, what: str) -> Any:
    """Parse JSON text, or return Skip(invalid_json) naming `what` was not JSON (never the text itself).

    Text over MAX_PARSED_BYTES is read by core.sources.lazy: an envelope's records come back as msgspec.Raw
    (see `loaded`), and anything but an envelope of records is a too_large Skip.
    """
    if len(data) > MAX_PARSED_BYTES:
        return lazy.load(data, cloud=cloud, what=what)
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as error:
        detail = f"{what} is not JSON (at char {error.pos})"
        return Skip("invalid_json", malformed=True, cloud=cloud, detail=detail)


def loaded(record: object, *, cloud: str | None, what: str) -> Any:
    """A record of an envelope, parsed now if the envelope was read lazily (a msgspec.Raw), else itself."""
    return load_json(memoryview(record), cloud=cloud, what=what) if type(record) is msgspec.Raw else record


def b64decode(text: str) -> bytes | None:
    """Strict standard base64, or None (base64.b64decode(validate=True) without its wrapper's cost)."""
    try:
        return binascii.a2b_base64(text, strict_mode=True)
    except (binascii.Error, ValueError):
        return None


def fingerprint(record: dict[str, Any]) -> str | None:
    """`sha256:` + the hash of the record's canonical JSON, so identical hand-written events share an id.

    None when the record cannot be serialised (deeper than orjson's limit, or non-JSON values).
    """
    try:
        canonical = orjson.dumps(record, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:
        return None
    return "sha256:" + hashlib.sha256(canonical).hexdigest()
