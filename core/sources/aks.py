"""AKS: Azure diagnostic records from Event Hub (`{"records": [...]}`), the audit Event in properties.log."""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from itertools import islice
from typing import Any

from msgspec import Raw

from core.model import AuditEvent
from core.prefilter import admit_all
from core.sources import k8s, k8s_text
from core.sources.items import Nested, Origin, Output, Prefiltered, Skip, internal_error
from core.sources.kinds import is_plain_aks_record
from core.sources.limits import MAX_RECORDS, cut_name, too_many_records
from core.sources.values import as_dict, as_str, audit_id_hint, json_type, load_json, loaded, token
from core.timeutil import parse_time

#: `kube-audit-admin` leaves out get and list, so secret reads only appear under `kube-audit`.
AUDIT_CATEGORIES = frozenset({"kube-audit", "kube-audit-admin"})


def body(document: dict[str, Any], origin: Origin) -> Iterator[Output]:
    """One Event Hub event; each record is decoded on its own so a bad one loses nothing else. Past MAX_RECORDS,
    one Skip counts the rest."""
    records = document.get("records")
    if not isinstance(records, list):
        yield _bad("wrong_type", "records is not an array")
        return
    inner = Origin(origin.received_at, "azure", origin.cluster, origin.time, origin.prefilter)
    admits = origin.prefilter.text.admits if origin.prefilter is not None else admit_all
    readers: dict[str, Origin] = {}
    skipped = 0
    for entry in islice(records, MAX_RECORDS):
        try:
            item = entry if type(entry) is not Raw else loaded(entry, cloud="azure", what="records item")
            if isinstance(item, Skip):
                output: Output = item
            elif not isinstance(item, dict):
                output = _bad("wrong_type", f"records item is a JSON {json_type(item)}, not an object")
            elif (log := _audit_log_text(item)) is None:
                output = Nested(item, inner, "aks")
            elif not admits(log):
                skipped += 1
                continue
            else:
                output = _audit_record(item, log, inner, _reader(readers, item, inner))
        except Exception as error:  # noqa: BLE001 - one record's trouble never ends its envelope
            output = internal_error(error, "azure")
        yield output
    if skipped:
        yield Prefiltered("azure", skipped)
    if len(records) > MAX_RECORDS:
        yield too_many_records(len(records), "records", "azure")


def _audit_log_text(item: dict[str, Any]) -> str | None:
    """properties.log of an audit record as text, when `detect` would name the item an AKS record, else None."""
    category = item.get("category")
    if not isinstance(category, str) or category not in AUDIT_CATEGORIES or not is_plain_aks_record(item):
        return None
    properties = item.get("properties")
    log = properties.get("log") if isinstance(properties, dict) else None
    return log if isinstance(log, str) else None


def record(document: dict[str, Any], origin: Origin) -> tuple[AuditEvent | Skip | Nested]:
    """One diagnostic record; other categories (klog text from kube-apiserver, guard, ...) are skipped."""
    category = document.get("category")
    if category is not None and not isinstance(category, str):
        return (_bad("wrong_type", "category is not a string"),)
    if category is not None and category not in AUDIT_CATEGORIES:
        return (_ignored("other_category", f"category {token(category)}"),)
    properties = as_dict(document.get("properties"))
    log = properties.get("log") if properties else None
    if isinstance(log, str):
        return (_audit_record(document, log, origin),)
    event = _audit_log(log)
    return (event,) if isinstance(event, Skip) else (k8s.decoded(event, _inner(document, origin)),)


def _audit_record(
    document: dict[str, Any], log: str, origin: Origin, reader: Origin | None = None
) -> AuditEvent | Skip | Nested:
    """A kube-audit record whose properties.log is text: read straight into an event when it can be.

    `reader` is the Origin k8s_text.read takes (see _reader_origin), when the caller has made it already.
    """
    event = k8s_text.read(log, reader or _reader_origin(document, origin))
    if event is not None:
        return event
    parsed = _audit_log(log)
    return parsed if isinstance(parsed, Skip) else k8s.decoded(parsed, _inner(document, origin))


def _reader_origin(document: dict[str, Any], origin: Origin) -> Origin:
    """The record's cluster and no envelope time: k8s_text.read never uses one."""
    return Origin(origin.received_at, "azure", _cluster(document) or origin.cluster, None, origin.prefilter)


def _reader(readers: dict[str, Origin], item: dict[str, Any], origin: Origin) -> Origin:
    """_reader_origin, made once per resourceId in a body (every record of a cluster repeats it). A record
    with a source label is not cached: the label names its cluster when the resourceId does not."""
    resource_id = item.get("resourceId")
    if not isinstance(resource_id, str) or "p_source_label" in item:
        return _reader_origin(item, origin)
    reader = readers.get(resource_id)
    if reader is None:
        reader = readers[resource_id] = _reader_origin(item, origin)
    return reader


def _inner(document: dict[str, Any], origin: Origin) -> Origin:
    cluster = _cluster(document) or origin.cluster
    return Origin(origin.received_at, "azure", cluster, parse_time(document.get("time")), origin.prefilter)


def _audit_log(log: object) -> object:
    """properties.log: a JSON string (maybe ending in a newline) or, in storage exports, an object."""
    if isinstance(log, dict):
        return log
    if log is None:
        return _bad("missing_fields", "record without properties.log")
    if not isinstance(log, str):
        return _bad("wrong_type", f"properties.log is a {json_type(log)}")
    text = log.lstrip()
    if not text.startswith(("{", "[")):
        return _bad("invalid_json", "properties.log is not JSON (klog text?)")
    parsed = load_json(text, cloud="azure", what="properties.log")
    if isinstance(parsed, Skip):
        # AKS cuts properties.log at 16 KiB, leaving the start of a JSON document (Azure/AKS#4635).
        return _bad("cut_off_log", f"properties.log is cut off; {audit_id_hint(text[:4096])}")
    return parsed


def _cluster(document: dict[str, Any]) -> str | None:
    """The last segment of resourceId (Azure writes it in upper case), else Panther's source label."""
    resource_id = as_str(document.get("resourceId"))
    return (_cluster_name(resource_id) if resource_id else None) or cut_name(as_str(document.get("p_source_label")))


@lru_cache(maxsize=64)  # every record of a cluster repeats its resourceId
def _cluster_name(resource_id: str) -> str | None:
    return cut_name(resource_id.rstrip("/").rsplit("/", 1)[-1].lower() or None)


def _bad(reason: str, detail: str) -> Skip:
    return Skip(reason, malformed=True, cloud="azure", detail=detail)


def _ignored(reason: str, detail: str) -> Skip:
    return Skip(reason, malformed=False, cloud="azure", detail=detail)
