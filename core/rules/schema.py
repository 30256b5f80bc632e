"""The rule file schema: validated once at load time into frozen objects the engine reads per event.

A rule file's shape is the `RuleFile` Struct (its JSON Schema is `secretwatch rules --schema`); every problem in
a file is reported in one pass, each with its path. A rule file may be hostile (loaded from a pull request), and
what it sets is paid for later at every event or alert, so each part that becomes a template, a pattern, a key
or a loop is bounded here, not where it runs.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Annotated, Any, Literal, get_args

import msgspec
from msgspec import Meta

from core.model import FIELDS
from core.rules.conditions import MAX_GLOB, Compiled, ConditionError, compile_condition
from core.rules.validation import Problems, SchemaError
from core.timeutil import parse_duration

__all__ = ["SchemaError", "parse_rule", "rule_json_schema"]

RuleType = Literal["match", "threshold", "cardinality", "new_terms"]
Severity = Literal["info", "low", "medium", "high", "critical"]
RULE_TYPES: tuple[str, ...] = get_args(RuleType)
SEVERITIES: tuple[str, ...] = get_args(Severity)
#: The parameter blocks, and the rule type each belongs to.
BLOCKS = {"threshold": "threshold", "cardinality": "cardinality", "new_terms": "new_terms", "dedup": "match"}
_TITLE_FIELDS = frozenset(FIELDS) | {"count"}
MAX_TITLE_TEMPLATE = 200
#: Part of every state key and alert id (`thr|ID|...`), so no `|` and nothing a terminal would interpret.
_RULE_ID = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
MAX_CONDITIONS = 256
#: Glob characters per rule: each event's value is matched against every pattern.
MAX_GLOB_CHARS = 8 * MAX_GLOB
MAX_DURATION = timedelta(days=366)
MAX_COUNT = 100_000
MAX_STEP_COUNT = 10_000
MAX_SCENARIO_LOGS = 100_000

# --- the file format -----------------------------------------------------------------------------------------

_DURATION_PATTERN = r"^( *[0-9]+(\.[0-9]+)?(ms|s|m|h|d|w))+ *$"
Text = Annotated[str, Meta(min_length=1)]
Duration = Annotated[str, Meta(extra_json_schema={"pattern": _DURATION_PATTERN, "description": "e.g. 15m, 7d, 14m59s"})]
FieldName = Annotated[str, Meta(extra_json_schema={"enum": list(FIELDS)})]
Fields = Annotated[list[FieldName], Meta(min_length=1)]
Count = Annotated[int, Meta(ge=1, le=MAX_COUNT)]
Condition = Annotated[
    dict[str, Any],
    Meta(extra_json_schema={"description": "all/any/not/failed, or {field: NAME, OP: VALUE}; see the README"}),
]


class ThresholdBlock(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    group_by: Fields
    count: Count
    window: Duration
    mode: Literal["fixed", "sliding"] = "fixed"


class CardinalityBlock(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    group_by: Fields
    distinct: FieldName
    count: Count
    window: Duration


class DedupBlock(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    group_by: Fields
    window: Duration


class NewTermsBlock(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    fields: Fields
    history_window: Duration
    refresh: Duration = "1h"


class TestCase(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A Panther-format single-log test, keys as Panther writes them."""

    Name: Text
    ExpectedResult: bool
    Log: dict[str, Any]


class Step(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    log: dict[str, Any] = {}
    at: Duration = "0s"
    count: Annotated[int, Meta(ge=1, le=MAX_STEP_COUNT)] = 1
    every: Duration = "1s"
    set: dict[str, Any] = {}
    new_ids: bool = True


class ScenarioBlock(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: Text
    steps: Annotated[list[Step], Meta(min_length=1)]
    expect: list[dict[str, Any]] = []
    learning_period: Duration = "0s"
    deliver_twice: bool = False
    batch_size: Annotated[int, Meta(ge=1)] | None = None


class RuleFile(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One rule file."""

    id: Annotated[str, Meta(extra_json_schema={"pattern": "^" + _RULE_ID.pattern + "$"})]
    title: Text
    description: Text
    severity: Severity
    risk_score: Annotated[int, Meta(ge=0, le=100)]
    type: RuleType
    mitre: Annotated[list[Text], Meta(min_length=1)]
    runbook: Text
    match: Condition
    alert_title: Annotated[str, Meta(extra_json_schema={"maxLength": MAX_TITLE_TEMPLATE})]
    enabled: bool = True
    references: list[Text] = []
    upstream: Text | list[Text] | None = None
    threshold: ThresholdBlock | None = None
    cardinality: CardinalityBlock | None = None
    dedup: DedupBlock | None = None
    new_terms: NewTermsBlock | None = None
    tests: list[TestCase] = []
    scenarios: list[ScenarioBlock] = []


def rule_json_schema() -> dict[str, Any]:
    """The JSON Schema of a rule file, for editors (YAML language servers read it)."""
    schema: dict[str, Any] = msgspec.json.schema(RuleFile)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": "secretwatch rule", **schema}


# --- what the engine reads -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ThresholdSpec:
    group_by: tuple[str, ...]
    count: int
    window: timedelta
    mode: Literal["fixed", "sliding"]


@dataclass(frozen=True, slots=True)
class CardinalitySpec:
    """Alert when `count` distinct values of `distinct` are seen per group within `window`."""

    group_by: tuple[str, ...]
    distinct: str
    count: int
    window: timedelta


@dataclass(frozen=True, slots=True)
class DedupSpec:
    """A match rule alerts once per group per `window`."""

    group_by: tuple[str, ...]
    window: timedelta


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
    enabled: bool = True
    cardinality: CardinalitySpec | None = None
    dedup: DedupSpec | None = None
    upstream: tuple[str, ...] = ()
    #: the rule file's data, for tuning to override blocks key by key and validate the result again
    document: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)


def parse_rule(data: object, path: str) -> Rule:
    """Validate one rule document; raises SchemaError naming every key that is wrong."""
    problems = Problems()
    doc = problems.fields(data, RuleFile)
    if doc is None:
        problems.items = ["(top): a rule file must hold one mapping"]
        problems.raise_any()
    assert isinstance(data, Mapping)
    assert doc is not None
    kind = doc.get("type")
    for block, owner in BLOCKS.items():
        if data.get(block) is not None and kind is not None and kind != owner:
            problems.add(block, f"only allowed when type is {owner}")
    if kind in BLOCKS and kind != "match" and data.get(kind) is None:
        problems.add(kind, f"required when type is {kind}")
    for key in ("id", "title", "description", "runbook", "alert_title"):
        if isinstance(doc.get(key), str) and not doc[key].strip():
            problems.add(key, "required, a non-empty string")
    if isinstance(doc.get("id"), str) and doc["id"].strip() and not _RULE_ID.fullmatch(doc["id"]):
        problems.add("id", "1 to 64 of a-z, 0-9, '.', '_' and '-', starting with a letter or digit")
    condition = compile_bounded(data["match"], "match", problems) if "match" in doc else None
    if isinstance(doc.get("alert_title"), str):
        _title(doc["alert_title"], problems)
    specs = {
        "threshold": _threshold(doc.get("threshold"), problems),
        "cardinality": _cardinality(doc.get("cardinality"), problems),
        "dedup": _dedup(doc.get("dedup"), problems),
        "new_terms": _new_terms(doc.get("new_terms"), problems),
    }
    scenarios = [
        _scenario(block, data["scenarios"][index], f"scenarios[{index}]", problems)
        for index, block in enumerate(doc.get("scenarios") or [])
    ]
    problems.raise_any()
    assert condition is not None
    upstream = doc.get("upstream")
    return Rule(
        id=doc["id"],
        title=doc["title"],
        description=doc["description"],
        severity=doc["severity"],
        risk_score=doc["risk_score"],
        type=doc["type"],
        mitre=tuple(doc["mitre"]),
        references=tuple(doc["references"]),
        runbook=doc["runbook"],
        condition=condition,
        alert_title=doc["alert_title"],
        threshold=specs["threshold"],  # type: ignore[arg-type]
        new_terms=specs["new_terms"],  # type: ignore[arg-type]
        tests=tuple(UnitTest(test.Name, test.ExpectedResult, test.Log) for test in doc["tests"]),
        scenarios=tuple(scenario for scenario in scenarios if scenario is not None),
        path=path,
        enabled=doc["enabled"],
        cardinality=specs["cardinality"],  # type: ignore[arg-type]
        dedup=specs["dedup"],  # type: ignore[arg-type]
        upstream=(upstream,) if isinstance(upstream, str) else tuple(upstream or ()),
        document=data,
    )


def compile_bounded(node: object, where: str, problems: Problems) -> Compiled | None:
    """A condition (a rule's `match`, a tuning exception's `when`) compiled within the bounds."""
    if (size := _conditions(node)) > MAX_CONDITIONS:
        problems.add(where, f"{size:,} conditions; a rule may have at most {MAX_CONDITIONS}")
        return None
    try:
        condition = compile_condition(node, where)
    except ConditionError as exc:
        problems.add("", str(exc))
        return None
    if condition.glob_chars > MAX_GLOB_CHARS:
        problems.add(
            where, f"glob patterns of {condition.glob_chars:,} characters; a rule may have at most {MAX_GLOB_CHARS:,}"
        )
        return None
    return condition


def _conditions(node: object) -> int:
    """Mappings in a match block: the conditions and the all/any/not around them."""
    if isinstance(node, list):
        return sum(_conditions(item) for item in node)
    if isinstance(node, Mapping):
        return 1 + sum(_conditions(value) for value in node.values())
    return 0


def _threshold(block: ThresholdBlock | None, problems: Problems) -> ThresholdSpec | None:
    if block is None:
        return None
    window = _duration(block.window, "threshold.window", problems, positive=True)
    fields = _fields(block.group_by, "threshold.group_by", problems)
    if window is None or fields is None:
        return None
    return ThresholdSpec(fields, block.count, window, block.mode)


def _cardinality(block: CardinalityBlock | None, problems: Problems) -> CardinalitySpec | None:
    if block is None:
        return None
    window = _duration(block.window, "cardinality.window", problems, positive=True)
    fields = _fields(block.group_by, "cardinality.group_by", problems)
    distinct = _fields([block.distinct], "cardinality.distinct", problems)
    if window is None or fields is None or distinct is None:
        return None
    return CardinalitySpec(fields, distinct[0], block.count, window)


def _dedup(block: DedupBlock | None, problems: Problems) -> DedupSpec | None:
    if block is None:
        return None
    window = _duration(block.window, "dedup.window", problems, positive=True)
    fields = _fields(block.group_by, "dedup.group_by", problems)
    return DedupSpec(fields, window) if window is not None and fields is not None else None


def _new_terms(block: NewTermsBlock | None, problems: Problems) -> NewTermsSpec | None:
    if block is None:
        return None
    fields = _fields(block.fields, "new_terms.fields", problems)
    history = _duration(block.history_window, "new_terms.history_window", problems, positive=True)
    refresh = _duration(block.refresh, "new_terms.refresh", problems, positive=True)
    if fields is None or history is None or refresh is None:
        return None
    if refresh >= history:
        problems.add("new_terms.refresh", "must be shorter than history_window")
        return None
    return NewTermsSpec(fields, history, refresh)


def _scenario(block: ScenarioBlock, data: Mapping[str, Any], where: str, problems: Problems) -> Scenario | None:
    before = len(problems.items)
    logs = 0
    for index, step in enumerate(block.steps):
        logs += step.count
        at = _duration(step.at, f"{where}.steps[{index}].at", problems)
        every = _duration(step.every, f"{where}.steps[{index}].every", problems)
        if at is not None and every is not None and (last := at + every * (step.count - 1)) > MAX_DURATION:
            problems.add(
                f"{where}.steps[{index}]", f"its last log would come {last.days:,} days in; at most {MAX_DURATION.days}"
            )
    if logs > MAX_SCENARIO_LOGS:
        problems.add(f"{where}.steps", f"{logs:,} logs; a scenario may replay at most {MAX_SCENARIO_LOGS:,}")
    for index, item in enumerate(block.expect):
        for key in ("at", "last_at"):
            if key in item:
                _duration(item[key], f"{where}.expect[{index}].{key}", problems)
    learning = _duration(block.learning_period, f"{where}.learning_period", problems)
    if learning is None or len(problems.items) > before:
        return None
    return Scenario(
        name=block.name,
        steps=tuple(data["steps"]),
        expect=tuple(block.expect),
        learning_period=learning,
        deliver_twice=block.deliver_twice,
        batch_size=block.batch_size,
    )


def _title(title: str, problems: Problems) -> None:
    """Only plain `{field}` placeholders: a format spec or conversion runs at every alert (`{count:>300000000}`
    builds a 300 MB title, `{count:{namespace}}` raises), and attributes or indexes reach into objects."""
    if len(title) > MAX_TITLE_TEMPLATE:
        problems.add("alert_title", f"{len(title):,} characters; at most {MAX_TITLE_TEMPLATE}")
        return
    try:
        parts = list(string.Formatter().parse(title))
    except ValueError as exc:
        problems.add("alert_title", f"{exc}; write {{{{ or }}}} for a literal brace")
        return
    for _, name, spec, conversion in parts:
        if name is None:
            continue
        if not name.isidentifier() or spec or conversion:
            shown = "{" + name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
            problems.add(
                "alert_title",
                f"{shown} is not allowed: placeholders are plain {{field}}, without format specs, conversions, "
                "attributes or indexes",
            )
        elif name not in _TITLE_FIELDS:
            problems.add(
                "alert_title", f"unknown placeholder {{{name}}}; use {{count}} or an event field ({', '.join(FIELDS)})"
            )


def _fields(names: list[str], where: str, problems: Problems) -> tuple[str, ...] | None:
    unknown = [name for name in names if name not in FIELDS]
    for name in unknown:
        problems.add(where, f"unknown field {name!r}; known fields: {', '.join(FIELDS)}")
    return None if unknown else tuple(names)


def _duration(value: object, where: str, problems: Problems, *, positive: bool = False) -> timedelta | None:
    try:
        duration = parse_duration(value)
    except ValueError as exc:
        problems.add(where, str(exc))
        return None
    except OverflowError:  # more days than a timedelta holds
        duration = MAX_DURATION + MAX_DURATION
    if duration > MAX_DURATION:
        problems.add(where, f"{value!r} is longer than {MAX_DURATION.days}d")
        return None
    if positive and duration <= timedelta(0):
        problems.add(where, "must be longer than 0s")
        return None
    return duration
