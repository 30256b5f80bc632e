"""The rule file schema: validated once at load time into frozen objects the engine reads per event.

A rule file may be hostile (loaded from a pull request), and what it sets is paid for later at every event or
alert, so each part that becomes a template, a pattern, a key or a loop is bounded here, not where it runs.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from core.model import FIELDS
from core.rules.conditions import MAX_GLOB, Compiled, ConditionError, compile_condition
from core.timeutil import parse_duration

RuleType = Literal["match", "threshold", "new_terms"]
SEVERITIES = ("info", "low", "medium", "high", "critical")
_TOP_KEYS = {
    "id",
    "title",
    "description",
    "severity",
    "risk_score",
    "type",
    "mitre",
    "references",
    "runbook",
    "match",
    "threshold",
    "new_terms",
    "alert_title",
    "tests",
    "scenarios",
    "upstream",
}
_TITLE_FIELDS = frozenset(FIELDS) | {"count"}
MAX_TITLE_TEMPLATE = 200
#: Part of every state key and alert id (`thr|ID|...`), so no `|` and nothing a terminal would interpret.
_RULE_ID = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
MAX_CONDITIONS = 256
#: Glob characters per rule: each event's value is matched against every pattern.
MAX_GLOB_CHARS = 8 * MAX_GLOB
MAX_DURATION = timedelta(days=366)
MAX_STEP_COUNT = 10_000
MAX_SCENARIO_LOGS = 100_000


class SchemaError(ValueError):
    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True, slots=True)
class ThresholdSpec:
    group_by: tuple[str, ...]
    count: int
    window: timedelta
    mode: Literal["fixed", "sliding"]


@dataclass(frozen=True, slots=True)
class NewTermsSpec:
    fields: tuple[str, ...]
    history_window: timedelta
    #: how stale a stored last-seen may get before a sighting rewrites it (bounds writes for steady traffic)
    refresh: timedelta


@dataclass(frozen=True, slots=True)
class UnitTest:
    """A Panther-format single-log test: does the rule's match condition select this log?"""

    name: str
    expected: bool
    log: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Scenario:
    """A stateful test: timed copies of logs replayed through the engine, and the alerts expected."""

    name: str
    steps: tuple[Mapping[str, Any], ...]
    expect: tuple[Mapping[str, Any], ...]
    learning_period: timedelta
    deliver_twice: bool
    batch_size: int | None


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    title: str
    description: str
    severity: str
    risk_score: int
    type: RuleType
    mitre: tuple[str, ...]
    references: tuple[str, ...]
    runbook: str
    condition: Compiled
    alert_title: str
    threshold: ThresholdSpec | None
    new_terms: NewTermsSpec | None
    tests: tuple[UnitTest, ...]
    scenarios: tuple[Scenario, ...]
    path: str


def parse_rule(data: object, path: str) -> Rule:
    """Validate one rule document; raises SchemaError naming the key that is wrong."""
    if not isinstance(data, Mapping):
        raise SchemaError("(top)", "a rule file must hold one mapping")
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise SchemaError("(top)", f"unknown keys {sorted(unknown)}; allowed: {sorted(_TOP_KEYS)}")
    kind = _choice(data, "type", ("match", "threshold", "new_terms"))
    for block in ("threshold", "new_terms"):
        if block in data and block != kind:
            raise SchemaError(block, f"only allowed when type is {block}")
    return Rule(
        id=_rule_id(data),
        title=_text(data, "title"),
        description=_text(data, "description"),
        severity=_choice(data, "severity", SEVERITIES),
        risk_score=_int(data, "risk_score", 0, 100),
        type=kind,  # type: ignore[arg-type]
        mitre=_text_list(data, "mitre"),
        references=_text_list(data, "references", required=False),
        runbook=_text(data, "runbook"),
        condition=_condition(data.get("match")),
        alert_title=_title(data),
        threshold=_threshold(data.get("threshold")) if kind == "threshold" else None,
        new_terms=_new_terms(data.get("new_terms")) if kind == "new_terms" else None,
        tests=tuple(_unit_test(item, f"tests[{i}]") for i, item in enumerate(_list(data, "tests"))),
        scenarios=tuple(_scenario(item, f"scenarios[{i}]") for i, item in enumerate(_list(data, "scenarios"))),
        path=path,
    )


def _rule_id(data: Mapping[str, Any]) -> str:
    value = _text(data, "id")
    if not _RULE_ID.fullmatch(value):
        raise SchemaError("id", "1 to 64 of a-z, 0-9, '.', '_' and '-', starting with a letter or digit")
    return value


def _condition(node: object) -> Compiled:
    if (size := _conditions(node)) > MAX_CONDITIONS:
        raise SchemaError("match", f"{size:,} conditions; a rule may have at most {MAX_CONDITIONS}")
    try:
        condition = compile_condition(node)
    except ConditionError as exc:
        raise SchemaError("match", str(exc)) from exc
    if condition.glob_chars > MAX_GLOB_CHARS:
        raise SchemaError(
            "match", f"glob patterns of {condition.glob_chars:,} characters; a rule may have at most {MAX_GLOB_CHARS:,}"
        )
    return condition


def _conditions(node: object) -> int:
    """Mappings in a match block: the conditions and the all/any/not around them."""
    if isinstance(node, list):
        return sum(_conditions(item) for item in node)
    if isinstance(node, Mapping):
        return 1 + sum(_conditions(value) for value in node.values())
    return 0


def _threshold(node: object) -> ThresholdSpec:
    block = _block(node, "threshold", {"group_by", "count", "window", "mode"})
    return ThresholdSpec(
        group_by=_field_list(block, "group_by", "threshold"),
        count=_int(block, "count", 1, 100_000, where="threshold.count"),
        window=_duration(block, "window", "threshold", positive=True),
        mode=_choice(block, "mode", ("fixed", "sliding"), default="fixed", where="threshold.mode"),  # type: ignore[arg-type]
    )


def _new_terms(node: object) -> NewTermsSpec:
    block = _block(node, "new_terms", {"fields", "history_window", "refresh"})
    spec = NewTermsSpec(
        fields=_field_list(block, "fields", "new_terms"),
        history_window=_duration(block, "history_window", "new_terms", positive=True),
        refresh=_duration(block, "refresh", "new_terms", default="1h", positive=True),
    )
    if spec.refresh >= spec.history_window:
        raise SchemaError("new_terms.refresh", "must be shorter than history_window")
    return spec


def _unit_test(node: object, where: str) -> UnitTest:
    block = _block(node, where, {"Name", "ExpectedResult", "Log"})
    if not isinstance(block.get("ExpectedResult"), bool) or not isinstance(block.get("Log"), Mapping):
        raise SchemaError(where, "needs ExpectedResult (true/false) and Log (a mapping)")
    return UnitTest(_text(block, "Name", where=where), block["ExpectedResult"], block["Log"])


def _scenario(node: object, where: str) -> Scenario:
    block = _block(node, where, {"name", "steps", "expect", "learning_period", "deliver_twice", "batch_size"})
    steps = _list(block, "steps", where=where, required=True)
    logs = sum(_step(step, f"{where}.steps[{index}]") for index, step in enumerate(steps))
    if logs > MAX_SCENARIO_LOGS:
        raise SchemaError(f"{where}.steps", f"{logs:,} logs; a scenario may replay at most {MAX_SCENARIO_LOGS:,}")
    expect = _list(block, "expect", where=where)
    for index, item in enumerate(expect):
        for key in ("at", "last_at"):
            if isinstance(item, Mapping) and key in item:
                _duration(item, key, f"{where}.expect[{index}]")
    batch = block.get("batch_size")
    if batch is not None and (not isinstance(batch, int) or batch < 1):
        raise SchemaError(f"{where}.batch_size", "must be a positive integer")
    return Scenario(
        name=_text(block, "name", where=where),
        steps=tuple(steps),
        expect=tuple(_block(item, f"{where}.expect", None) for item in expect),
        learning_period=_duration(block, "learning_period", where, default="0s"),
        deliver_twice=bool(block.get("deliver_twice", False)),
        batch_size=batch,
    )


def _step(node: object, where: str) -> int:
    """Check one scenario step; returns how many logs it replays."""
    step = _block(node, where, {"log", "at", "count", "every", "set", "new_ids"})
    count = _int(step, "count", 1, MAX_STEP_COUNT, where=f"{where}.count") if "count" in step else 1
    for key in ("log", "set"):
        if key in step and not (isinstance(step[key], Mapping) and all(isinstance(k, str) for k in step[key])):
            raise SchemaError(f"{where}.{key}", "must be a mapping with string keys")
    last = _duration(step, "at", where, default="0s") + _duration(step, "every", where, default="1s") * (count - 1)
    if last > MAX_DURATION:
        raise SchemaError(where, f"its last log would come {last.days:,} days in; at most {MAX_DURATION.days}")
    return count


def _title(data: Mapping[str, Any]) -> str:
    """Only plain `{field}` placeholders: a format spec or conversion runs at every alert (`{count:>300000000}`
    builds a 300 MB title, `{count:{namespace}}` raises), and attributes or indexes reach into objects."""
    title = _text(data, "alert_title")
    if len(title) > MAX_TITLE_TEMPLATE:
        raise SchemaError("alert_title", f"{len(title):,} characters; at most {MAX_TITLE_TEMPLATE}")
    try:
        parts = list(string.Formatter().parse(title))
    except ValueError as exc:
        raise SchemaError("alert_title", f"{exc}; write {{{{ or }}}} for a literal brace") from exc
    for _, name, spec, conversion in parts:
        if name is None:
            continue
        if not name.isidentifier() or spec or conversion:
            shown = "{" + name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
            raise SchemaError(
                "alert_title",
                f"{shown} is not allowed: placeholders are plain {{field}}, without format specs, conversions, "
                "attributes or indexes",
            )
        if name not in _TITLE_FIELDS:
            raise SchemaError(
                "alert_title", f"unknown placeholder {{{name}}}; use {{count}} or an event field ({', '.join(FIELDS)})"
            )
    return title


def _block(node: object, where: str, allowed: set[str] | None) -> Mapping[str, Any]:
    if not isinstance(node, Mapping):
        raise SchemaError(where, "must be a mapping")
    if allowed is not None and (unknown := set(node) - allowed):
        raise SchemaError(where, f"unknown keys {sorted(unknown)}; allowed: {sorted(allowed)}")
    return node


def _text(data: Mapping[str, Any], key: str, *, where: str = "") -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise SchemaError(f"{where}.{key}" if where else key, "required, a non-empty string")
    return value


def _int(data: Mapping[str, Any], key: str, low: int, high: int, *, where: str = "") -> int:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise SchemaError(where or key, f"required, a whole number from {low} to {high}")
    return value


def _choice(
    data: Mapping[str, Any],
    key: str,
    options: tuple[str, ...],
    *,
    default: str | None = None,
    where: str = "",
) -> str:
    value = data.get(key, default)
    if value not in options:
        raise SchemaError(where or key, f"must be one of {', '.join(options)}; got {value!r}")
    return str(value)


def _list(data: Mapping[str, Any], key: str, *, where: str = "", required: bool = False) -> list[Any]:
    value = data.get(key, [] if not required else None)
    if not isinstance(value, list) or (required and not value):
        raise SchemaError(
            f"{where}.{key}" if where else key, "must be a non-empty list" if required else "must be a list"
        )
    return value


def _text_list(data: Mapping[str, Any], key: str, *, required: bool = True) -> tuple[str, ...]:
    value = _list(data, key, required=required)
    if not all(isinstance(item, str) and item for item in value):
        raise SchemaError(key, "must be a list of non-empty strings")
    return tuple(value)


def _field_list(block: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = block.get(key)
    if not isinstance(value, list) or not value or any(item not in FIELDS for item in value):
        raise SchemaError(f"{where}.{key}", f"must be a non-empty list of event fields ({', '.join(FIELDS)})")
    return tuple(value)


def _duration(
    block: Mapping[str, Any], key: str, where: str, *, default: str | None = None, positive: bool = False
) -> timedelta:
    value = block.get(key, default)
    try:
        duration = parse_duration(value)
    except ValueError as exc:
        raise SchemaError(f"{where}.{key}", str(exc)) from exc
    except OverflowError as exc:  # more days than a timedelta holds
        raise SchemaError(f"{where}.{key}", f"{value!r} is longer than {MAX_DURATION.days}d") from exc
    if duration > MAX_DURATION:
        raise SchemaError(f"{where}.{key}", f"{value!r} is longer than {MAX_DURATION.days}d")
    if positive and duration <= timedelta(0):
        raise SchemaError(f"{where}.{key}", "must be longer than 0s")
    return duration
