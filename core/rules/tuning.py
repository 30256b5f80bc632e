"""Tuning without forking: a file that enables, disables and re-parameterises rules and adds expiring exceptions.

    rules:
      secret-access-denied: {threshold: {count: 10}}     # a parameter block, overridden key by key
    exceptions:
      - rule: secret-access-unusual-user-agent           # a rule id, or "*" for every rule
        reason: the backup job reads secrets with its own client
        expires: 2027-01-31                              # a UTC date, inclusive
        when: {field: username, equals: "system:serviceaccount:backup:velero"}

An excepted event does not match the rule: it neither counts nor alerts. Expiry is judged on the wall clock at
each match, so an exception lapses in a running function without a restart.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import msgspec
import yaml

from core.errors import ConfigError
from core.model import AuditEvent
from core.rules import bounded_yaml
from core.rules.conditions import Compiled, Predicate
from core.rules.loader import read_bounded
from core.rules.schema import BLOCKS, Condition, Rule, Text, compile_bounded, parse_rule
from core.rules.validation import Problems, SchemaError

Clock = Callable[[], datetime]
EVERY_RULE = "*"


def utc_now() -> datetime:
    return datetime.now(UTC)


class RuleTuning(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    enabled: bool | None = None
    threshold: dict[str, Any] | None = None
    cardinality: dict[str, Any] | None = None
    dedup: dict[str, Any] | None = None
    new_terms: dict[str, Any] | None = None


class ExceptionEntry(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    rule: Text
    reason: Text
    expires: date
    when: Condition


class _Sections(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A tuning file; each entry is converted on its own, so every malformed one is reported."""

    rules: dict[str, Any] = {}
    exceptions: list[Any] = []


@dataclass(frozen=True, slots=True)
class Exception_:
    rule: str
    reason: str
    #: the last day (UTC) the exception applies
    expires: date
    when: Compiled

    def lapsed(self, now: datetime) -> bool:
        return now.astimezone(UTC).date() > self.expires


@dataclass(frozen=True, slots=True)
class Tuning:
    path: str
    overrides: Mapping[str, RuleTuning]
    exceptions: tuple[Exception_, ...]

    def apply(self, rules: Sequence[Rule], clock: Clock = utc_now) -> list[Rule]:
        """New Rule objects: blocks overridden and validated again, predicates refusing excepted events."""
        tuned, problems = [], Problems()
        for rule in rules:
            try:
                overridden = _override(rule, self.overrides.get(rule.id))
            except SchemaError as exc:
                problems.items.extend(f"rules.{rule.id}.{problem}" for problem in exc.problems)
                continue
            applying = self.for_rule(rule.id)
            tuned.append(_excepting(overridden, applying, clock) if applying else overridden)
        _raise(self.path, problems)
        return tuned

    def for_rule(self, rule_id: str) -> tuple[Exception_, ...]:
        return tuple(entry for entry in self.exceptions if entry.rule in (rule_id, EVERY_RULE))


def load_tuning(path: Path, rules: Sequence[Rule]) -> Tuning:
    """Read and validate a tuning file against the loaded rules; ConfigError names the file, entry and key."""
    try:
        data = bounded_yaml.load(read_bounded(path, ConfigError))
    except (bounded_yaml.YamlBoundError, yaml.YAMLError, ValueError) as exc:
        raise ConfigError(f"{path}: not a valid tuning file: {str(exc).splitlines()[0]}") from exc
    problems = Problems()
    sections = problems.fields({} if data is None else data, _Sections) or {}
    by_id = {rule.id: rule for rule in rules}
    overrides: dict[str, RuleTuning] = {}
    for rule_id, item in sections.get("rules", {}).items():
        where = f"rules.{rule_id}"
        if (override := problems.convert(item, RuleTuning, where)) is None:
            continue
        if rule_id not in by_id:
            problems.add(where, f"unknown rule id; known: {', '.join(sorted(by_id))}")
            continue
        try:
            _override(by_id[rule_id], override)
        except SchemaError as exc:
            problems.items.extend(f"{where}.{problem}" for problem in exc.problems)
        overrides[rule_id] = override
    entries = []
    for index, item in enumerate(sections.get("exceptions", [])):
        where = f"exceptions[{index}]"
        if (entry := problems.convert(item, ExceptionEntry, where)) is None:
            continue
        if entry.rule != EVERY_RULE and entry.rule not in by_id:
            problems.add(f"{where}.rule", f"unknown rule id {entry.rule!r}; use {EVERY_RULE!r} or a loaded rule's id")
        if (when := compile_bounded(entry.when, f"{where}.when", problems)) is not None:
            entries.append(Exception_(entry.rule, entry.reason, entry.expires, when))
    _raise(str(path), problems)
    return Tuning(str(path), overrides, tuple(entries))


def _raise(path: str, problems: Problems) -> None:
    if problems.items:
        raise ConfigError("\n".join(f"{path}: {problem}" for problem in problems.items))


def _override(rule: Rule, tuning: RuleTuning | None) -> Rule:
    if tuning is None:
        return rule
    document, problems = dict(rule.document), Problems()
    if tuning.enabled is not None:
        document["enabled"] = tuning.enabled
    for block, owner in BLOCKS.items():
        if (keys := getattr(tuning, block)) is None:
            continue
        base = document.get(block)
        if base is None and owner != rule.type:
            problems.add(block, f"{rule.id} is a {rule.type} rule; it has no {block} block")
        else:
            document[block] = {**(base if isinstance(base, Mapping) else {}), **keys}
    try:
        tuned = parse_rule(document, rule.path)
    except SchemaError as exc:
        problems.items.extend(exc.problems)
    problems.raise_any()
    return tuned


def _excepting(rule: Rule, exceptions: tuple[Exception_, ...], clock: Clock) -> Rule:
    matches = rule.condition.predicate

    def predicate(event: AuditEvent) -> bool:
        if not matches(event):
            return False
        today = clock().astimezone(UTC).date()  # only events the rule matches pay for the clock
        return not any(today <= entry.expires and entry.when.predicate(event) for entry in exceptions)

    wrapped: Predicate = predicate
    return dataclasses.replace(rule, condition=dataclasses.replace(rule.condition, predicate=wrapped))
