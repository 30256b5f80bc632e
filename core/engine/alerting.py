"""Build Alert objects: deterministic ids, titles from rule templates."""

from __future__ import annotations

import functools
import hashlib
import string
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from core.alerts.render import truncate
from core.model import FIELDS, Alert, AlertContext, AuditEvent
from core.rules.schema import Rule

#: Longest title, and longest value placed in one: log values are the requester's (a 450 KB user agent).
TITLE_LIMIT = 300


def alert_id(rule_id: str, *parts: str) -> str:
    """Same rule and same dedup parts give the same id, so sinks can drop redelivered duplicates."""
    return hashlib.sha256("\x1f".join((rule_id, *parts)).encode()).hexdigest()[:32]


def dedup_key(values: Sequence[object]) -> str:
    try:
        return "|".join(values)  # type: ignore[arg-type]  # the usual case: every value a str
    except TypeError:
        return "|".join("" if value is None else str(value) for value in values)


def render_title(rule: Rule, event: AuditEvent, count: int) -> str:
    """The rule's template (plain `{field}` placeholders only, checked at load) filled in, at most TITLE_LIMIT."""
    names = _placeholders(rule.alert_title)
    values: dict[str, object] = {
        name: count if name == "count" else _show(getattr(event, name))
        for name in (_TITLE_NAMES if names is None else names)
    }
    return truncate(rule.alert_title.format_map(values), TITLE_LIMIT)


_TITLE_NAMES = (*FIELDS, "count")


@functools.lru_cache(maxsize=1024)
def _placeholders(template: str) -> tuple[str, ...] | None:
    """The names a template's placeholders use, so only those are read and shown; None when one is not a
    plain known name (a template built without the loader's check): then every name is offered, as before."""
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError:
        return None
    return tuple(names) if names <= set(_TITLE_NAMES) else None


@dataclass(frozen=True, slots=True)
class Pending:
    """An alert not built yet: what delivery needs to choose which alerts go out and to fold the rest into a
    summary, and the means to build it. Building (title, context) costs more than all of these, and past a rule's
    cap per batch (core.delivery) alerts are only counted, so only those sent are built."""

    alert_id: str
    rule_id: str
    event_count: int
    first_seen: datetime
    last_seen: datetime
    audit_ids: tuple[str, ...]
    rule: Rule = field(repr=False)
    trigger: AuditEvent = field(repr=False)
    dedup_key: str = field(repr=False)

    def build(self) -> Alert:
        return _build(self)


def built(alert: Alert | Pending) -> Alert:
    return alert if isinstance(alert, Alert) else alert.build()


def pending_alert(
    rule: Rule,
    trigger: AuditEvent,
    *,
    key: str,
    id_parts: Sequence[str],
    count: int,
    first_seen: datetime,
    last_seen: datetime,
    audit_ids: Sequence[str],
) -> Pending:
    return Pending(
        alert_id(rule.id, *id_parts), rule.id, count, first_seen, last_seen, tuple(audit_ids), rule, trigger, key
    )


def _build(pending: Pending) -> Alert:
    rule, trigger, count = pending.rule, pending.trigger, pending.event_count
    return Alert(
        alert_id=pending.alert_id,
        rule_id=rule.id,
        title=render_title(rule, trigger, count),
        severity=rule.severity,
        risk_score=rule.risk_score,
        dedup_key=pending.dedup_key,
        event_count=count,
        first_seen=pending.first_seen,
        last_seen=pending.last_seen,
        cloud=trigger.cloud,
        cluster=trigger.cluster,
        context=AlertContext.of(trigger),
        audit_ids=pending.audit_ids,
        mitre=rule.mitre,
        runbook=rule.runbook,
    )


def _show(value: object) -> object:
    if value is None or value in ("", ()):
        return "-"
    if isinstance(value, tuple):
        value = ",".join(str(item) for item in value)
    return truncate(value, TITLE_LIMIT) if isinstance(value, str) else value
