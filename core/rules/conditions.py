"""Compile a rule's declarative `match` block into a predicate over AuditEvent.

Grammar (each node is a one-key or field mapping):
    {all: [node, ...]}  {any: [node, ...]}  {not: node}
    {failed: true|false}                          HTTP >= 400, or gRPC 1..16 on GKE (AuditEvent.failed)
    {field: NAME, OP: VALUE}                      OP one of: equals, in, glob, prefix, contains, exists
Tuple fields (groups, source_ips) match when any element matches; `exists` means non-empty there.
String comparisons are exact and case-sensitive, as Kubernetes values are.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from fnmatch import translate
from typing import Any

from core.model import FIELDS, AuditEvent

Predicate = Callable[[AuditEvent], bool]
OPERATORS = ("equals", "in", "glob", "prefix", "contains", "exists")
_SCALAR = str | int | bool


class ConditionError(ValueError):
    """A malformed match node; `where` is a dotted path inside the rule file."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True, slots=True)
class Compiled:
    predicate: Predicate
    #: fields the condition reads, for pre-filters and documentation
    fields: frozenset[str]


def compile_condition(node: object, where: str = "match") -> Compiled:
    if not isinstance(node, Mapping) or not node:
        raise ConditionError(where, "expected a mapping such as {field: verb, equals: get}")
    if "field" in node:
        return _compile_field(node, where)
    if len(node) != 1:
        raise ConditionError(where, f"expected one of all/any/not/failed, got keys {sorted(node)}")
    ((key, value),) = node.items()
    if key in ("all", "any"):
        return _compile_group(key, value, f"{where}.{key}")
    if key == "not":
        inner = compile_condition(value, f"{where}.not")
        test = inner.predicate
        return Compiled(lambda event: not test(event), inner.fields)
    if key == "failed":
        if not isinstance(value, bool):
            raise ConditionError(f"{where}.failed", "must be true or false")
        return Compiled(lambda event: event.failed is value, frozenset({"response_code"}))
    raise ConditionError(where, f"unknown key {key!r}: use all, any, not, failed or field")


def _compile_group(key: str, value: object, where: str) -> Compiled:
    if not isinstance(value, list) or not value:
        raise ConditionError(where, "must be a non-empty list of conditions")
    parts = [compile_condition(item, f"{where}[{index}]") for index, item in enumerate(value)]
    tests = tuple(part.predicate for part in parts)
    fields = frozenset().union(*(part.fields for part in parts))
    if key == "all":
        return Compiled(lambda event: all(test(event) for test in tests), fields)
    return Compiled(lambda event: any(test(event) for test in tests), fields)


def _compile_field(node: Mapping[str, Any], where: str) -> Compiled:
    name = node["field"]
    if name not in FIELDS:
        raise ConditionError(f"{where}.field", f"unknown field {name!r}; known fields: {', '.join(FIELDS)}")
    ops = [key for key in node if key != "field"]
    if len(ops) != 1 or ops[0] not in OPERATORS:
        raise ConditionError(
            where, f"give exactly one operator of {', '.join(OPERATORS)}; got {ops or 'none'}"
        )
    op = ops[0]
    test = _value_test(op, node[op], f"{where}.{op}")
    if name in ("groups", "source_ips"):
        return Compiled(_any_element(name, op, test), frozenset({name}))
    if op == "exists":
        return Compiled(lambda event: test(event.get(name)), frozenset({name}))
    return Compiled(lambda event: (value := event.get(name)) is not None and test(value), frozenset({name}))


def _any_element(name: str, op: str, test: Callable[[Any], bool]) -> Predicate:
    if op == "exists":
        return lambda event: test(event.get(name) or None)
    return lambda event: any(test(item) for item in event.get(name))


def _value_test(op: str, value: object, where: str) -> Callable[[Any], bool]:
    if op == "exists":
        if not isinstance(value, bool):
            raise ConditionError(where, "must be true or false")
        return lambda actual: (actual is not None and actual != "") is value
    if op == "equals":
        if not isinstance(value, _SCALAR):
            raise ConditionError(where, "must be a string, number or boolean")
        return lambda actual: bool(actual == value)
    if op == "in":
        options = frozenset(_scalars(value, where))
        return lambda actual: actual in options
    strings = tuple(_strings(value, where))
    if op == "glob":
        pattern = re.compile("|".join(f"(?:{translate(item)})" for item in strings), re.DOTALL)
        return lambda actual: isinstance(actual, str) and pattern.match(actual) is not None
    if op == "prefix":
        return lambda actual: isinstance(actual, str) and actual.startswith(strings)
    return lambda actual: isinstance(actual, str) and any(item in actual for item in strings)


def _scalars(value: object, where: str) -> Iterable[_SCALAR]:
    if not isinstance(value, list) or not value or not all(isinstance(item, _SCALAR) for item in value):
        raise ConditionError(where, "must be a non-empty list of strings or numbers")
    return value


def _strings(value: object, where: str) -> Iterable[str]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(item, str) and item for item in items):
        raise ConditionError(where, "must be a non-empty string or list of non-empty strings")
    return items
