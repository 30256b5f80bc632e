"""Run the tests that live in rule files: Panther-format single-log tests and stateful scenarios.

Used by `secretwatch test` and by pytest (tests/unit/test_rule_files.py), so both judge rules the same way.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from core.alerts.memory import MemorySink
from core.alerts.render import alert_to_dict
from core.model import Alert, AuditEvent
from core.pipeline import Pipeline
from core.rules.schema import Rule, Scenario, UnitTest
from core.sources import decode
from core.state.memory import MemoryStore
from core.timeutil import isoformat, parse_duration

#: scenario time zero; offsets in steps (`at`) and expectations are measured from here
T0 = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Outcome:
    rule_id: str
    kind: str  # "test" | "scenario"
    name: str
    problems: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return not self.problems


def run_rule_tests(rule: Rule) -> Iterator[Outcome]:
    for test in rule.tests:
        yield Outcome(rule.id, "test", test.name, tuple(check_unit_test(rule, test)))
    for scenario in rule.scenarios:
        yield Outcome(rule.id, "scenario", scenario.name, tuple(check_scenario(rule, scenario)))


def check_unit_test(rule: Rule, test: UnitTest) -> list[str]:
    items = list(decode(dict(test.log), received_at=T0))
    events = [item for item in items if isinstance(item, AuditEvent)]
    if not events:
        reasons = ", ".join(getattr(item, "reason", "?") for item in items)
        return [f"the log did not decode into an audit event ({reasons})"]
    got = any(rule.condition.predicate(event) for event in events)
    return [] if got == test.expected else [f"expected {test.expected}, the rule's match gave {got}"]


def check_scenario(rule: Rule, scenario: Scenario) -> list[str]:
    try:
        documents = build_documents(scenario)
    except (KeyError, TypeError, ValueError) as exc:
        return [f"cannot build the scenario's logs: {exc}"]
    sink = MemorySink()
    # A rule that is off by default is still tested: its scenarios say what it does once turned on.
    enabled = replace(rule, enabled=True)
    pipeline = Pipeline([enabled], MemoryStore(), [sink], learning_period=scenario.learning_period)
    size = scenario.batch_size or len(documents)
    for start in range(0, len(documents), size):
        for _ in range(2 if scenario.deliver_twice else 1):
            pipeline.process(documents[start : start + size])
    return compare_alerts(sorted(sink.alerts, key=lambda a: (a.first_seen, a.alert_id)), scenario.expect)


def build_documents(scenario: Scenario) -> list[dict[str, Any]]:
    documents: list[dict[str, Any]] = []
    base: Mapping[str, Any] | None = None
    audit_id = ""
    slug = re.sub(r"[^a-z0-9]+", "-", scenario.name.lower()).strip("-")[:40]
    for step in scenario.steps:
        base = step.get("log", base)
        if not isinstance(base, Mapping):
            raise ValueError("the first step needs a `log`")
        log = with_overrides(base, step.get("set") or {})
        at, every = parse_duration(step.get("at", "0s")), parse_duration(step.get("every", "1s"))
        for index in range(int(step.get("count", 1))):
            if step.get("new_ids", True) or not audit_id:
                audit_id = f"{slug}-{len(documents):05d}"
            documents.append(stamp(log, T0 + at + index * every, audit_id))
    return documents


def with_overrides(log: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Copy `log` with dotted paths replaced; a null value removes the key."""
    result = copy.deepcopy(dict(log))
    for path, value in overrides.items():
        *parents, leaf = path.split(".")
        node = result
        for part in parents:
            node = node.setdefault(part, {})
        if value is None:
            node.pop(leaf, None)
        else:
            node[leaf] = value
    return result


def stamp(log: Mapping[str, Any], when: datetime, audit_id: str) -> dict[str, Any]:
    """Set the event time and audit id where the log's own format keeps them."""
    result = copy.deepcopy(dict(log))
    if "protoPayload" in result:
        result.update(
            timestamp=isoformat(when),
            insertId=audit_id,
            operation={"id": audit_id, "producer": "k8s.io", "first": True, "last": True},
        )
    elif isinstance(result.get("properties"), Mapping) and "log" in result["properties"]:
        inner = result["properties"]["log"]
        event = orjson.loads(inner) if isinstance(inner, str) else dict(inner)
        result["properties"] = {
            **result["properties"],
            "log": orjson.dumps(_stamp_k8s(event, when, audit_id)).decode(),
        }
    else:
        result = _stamp_k8s(result, when, audit_id)
    return result


def _stamp_k8s(event: dict[str, Any], when: datetime, audit_id: str) -> dict[str, Any]:
    return {
        **event,
        "auditID": audit_id,
        "requestReceivedTimestamp": isoformat(when),
        "stageTimestamp": isoformat(when),
    }


def compare_alerts(alerts: Sequence[Alert], expected: Sequence[Mapping[str, Any]]) -> list[str]:
    if len(alerts) != len(expected):
        titles = "; ".join(f"{a.title} at {isoformat(a.first_seen)}" for a in alerts) or "none"
        return [f"expected {len(expected)} alert(s), got {len(alerts)}: {titles}"]
    problems: list[str] = []
    for index, (alert, want) in enumerate(zip(alerts, expected, strict=True)):
        actual = alert_to_dict(alert)
        actual["at"], actual["last_at"] = _offset(alert.first_seen), _offset(alert.last_seen)
        wanted = {key: (_duration_key(value) if key in ("at", "last_at") else value) for key, value in want.items()}
        problems.extend(f"alert {index + 1}: {problem}" for problem in _mismatches(wanted, actual, ""))
    return problems


def _offset(moment: datetime) -> timedelta:
    return moment - T0


def _duration_key(value: object) -> timedelta:
    return parse_duration(str(value))


def _mismatches(want: Mapping[str, Any], actual: Mapping[str, Any], prefix: str) -> Iterator[str]:
    for key, expected in want.items():
        got = actual.get(key)
        if isinstance(expected, Mapping) and isinstance(got, Mapping):
            yield from _mismatches(expected, got, f"{prefix}{key}.")
        elif got != expected:
            yield f"{prefix}{key}: expected {expected!r}, got {got!r}"
