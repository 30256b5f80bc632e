"""AKS: Azure diagnostic records from Event Hub (`{"records": [...]}`), the audit Event in properties.log."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from core.sources.items import Nested, Origin, Output, Skip
from core.sources.values import as_dict, as_str, audit_id_hint, json_type, load_json, token
from core.timeutil import parse_time

#: `kube-audit-admin` leaves out get and list, so secret reads only appear under `kube-audit`.
AUDIT_CATEGORIES = frozenset({"kube-audit", "kube-audit-admin"})


def body(document: dict[str, Any], origin: Origin) -> Iterator[Output]:
    """One Event Hub event; each record is decoded on its own so a bad one loses nothing else."""
    records = document.get("records")
    if not isinstance(records, list):
        yield _bad("wrong_type", "records is not an array")
        return
    inner = Origin(origin.received_at, "azure", origin.cluster, origin.time)
    for item in records:
        if isinstance(item, dict):
            yield Nested(item, inner, "aks")
        else:
            yield _bad("wrong_type", f"records item is a JSON {json_type(item)}, not an object")


def record(document: dict[str, Any], origin: Origin) -> tuple[Nested | Skip]:
    """One diagnostic record; other categories (klog text from kube-apiserver, guard, ...) are skipped."""
    category = document.get("category")
    if category is not None and not isinstance(category, str):
        return (_bad("wrong_type", "category is not a string"),)
    if category is not None and category not in AUDIT_CATEGORIES:
        return (_ignored("other_category", f"category {token(category)}"),)
    properties = as_dict(document.get("properties"))
    event = _audit_log(properties.get("log") if properties else None)
    if isinstance(event, Skip):
        return (event,)
    cluster = _cluster(document) or origin.cluster
    inner = Origin(origin.received_at, "azure", cluster, parse_time(document.get("time")))
    return (Nested(event, inner, "k8s"),)


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
    name = resource_id.rstrip("/").rsplit("/", 1)[-1] if resource_id else None
    return name.lower() if name else as_str(document.get("p_source_label"))


def _bad(reason: str, detail: str) -> Skip:
    return Skip(reason, malformed=True, cloud="azure", detail=detail)


def _ignored(reason: str, detail: str) -> Skip:
    return Skip(reason, malformed=False, cloud="azure", detail=detail)
