"""Compile a rule's declarative `match` block into a predicate over AuditEvent.

Grammar (each node is a one-key or field mapping):
    {all: [node, ...]}  {any: [node, ...]}  {not: node}
    {failed: true|false}                          HTTP >= 400, or gRPC 1..16 on GKE (AuditEvent.failed)
    {field: NAME, OP: VALUE}                      OP one of: equals, in, glob, prefix, contains, exists
Tuple fields (groups, source_ips) match when any element matches; `exists` means non-empty there.
String comparisons are exact and case-sensitive, as Kubernetes values are.

Predicates are pure, so `all` and `any` try their cheapest parts first (see `Compiled.cost`); the order
never changes a result.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from fnmatch import translate
from operator import attrgetter
from typing import Any

from core.model import FIELDS, AuditEvent

Predicate = Callable[[AuditEvent], bool]
#: At least one of these (field, text) pairs holds: the field's value (an element, for tuple fields) contains text.
Clause = frozenset[tuple[str, str]]
OPERATORS = ("equals", "in", "glob", "prefix", "contains", "exists")
_SCALAR = str | int | bool
_TUPLE_FIELDS = ("groups", "source_ips")
#: Operators whose every accepted value contains one of the condition's strings.
_CONTAINING_OPS = ("equals", "in", "prefix", "contains")
_OP_COST = {"exists": 2, "equals": 2, "in": 2, "prefix": 3, "contains": 3, "glob": 4}


class ConditionError(ValueError):
    """A malformed match node; `where` is a dotted path inside the rule file."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True, slots=True)
class Compiled:
    predicate: Predicate
    #: fields the condition reads, for pre-filters and documentation
    fields: frozenset[str]
    #: Clauses every event the predicate accepts satisfies (a conjunction), for byte-level pre-filters.
    requires: frozenset[Clause] = frozenset()
    #: Rough relative cost of one predicate call.
    cost: int = 1


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
        return Compiled(lambda event: not test(event), inner.fields, cost=inner.cost + 1)
    if key == "failed":
        if not isinstance(value, bool):
            raise ConditionError(f"{where}.failed", "must be true or false")
        return Compiled(lambda event: event.failed is value, frozenset({"response_code"}))
    raise ConditionError(where, f"unknown key {key!r}: use all, any, not, failed or field")


def _compile_group(key: str, value: object, where: str) -> Compiled:
    if not isinstance(value, list) or not value:
        raise ConditionError(where, "must be a non-empty list of conditions")
    parts = [compile_condition(item, f"{where}[{index}]") for index, item in enumerate(value)]
    tests = tuple(part.predicate for part in sorted(parts, key=lambda part: part.cost))
    fields = frozenset().union(*(part.fields for part in parts))
    cost = sum(part.cost for part in parts)
    if key == "all":
        return Compiled(_every(tests), fields, frozenset().union(*(part.requires for part in parts)), cost)
    return Compiled(_some(tests), fields, _either(parts), cost)


def _every(tests: tuple[Predicate, ...]) -> Predicate:
    def every(event: AuditEvent) -> bool:
        for test in tests:  # noqa: SIM110 - a loop runs in half the time of all() over a generator
            if not test(event):
                return False
        return True

    return every


def _some(tests: tuple[Predicate, ...]) -> Predicate:
    def some(event: AuditEvent) -> bool:
        for test in tests:  # noqa: SIM110 - as in _every
            if test(event):
                return True
        return False

    return some


def _either(parts: list[Compiled]) -> frozenset[Clause]:
    """What an `any` requires: when every branch requires something, one clause joining a clause of each."""
    if not all(part.requires for part in parts):
        return frozenset()
    return frozenset({frozenset().union(*(min(part.requires, key=_size) for part in parts))})


def _size(clause: Clause) -> tuple[int, list[tuple[str, str]]]:
    return len(clause), sorted(clause)


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
    fields, requires, cost = frozenset({name}), _requires(name, op, node[op]), _OP_COST[op]
    if name in _TUPLE_FIELDS:
        return Compiled(_any_element(name, op, test), fields, requires, cost + 1)
    return Compiled(_field_test(name, op, node[op], test), fields, requires, cost)


def _field_test(name: str, op: str, value: Any, test: Callable[[Any], bool]) -> Predicate:
    read = attrgetter(name)
    if op == "exists":
        return lambda event: test(read(event))
    # Values are never None (the schema refuses null), so None compares unequal and is in no set.
    if op == "equals":
        return lambda event: read(event) == value
    if op == "in":
        options = frozenset(value)
        return lambda event: read(event) in options
    return lambda event: (actual := read(event)) is not None and test(actual)


def _any_element(name: str, op: str, test: Callable[[Any], bool]) -> Predicate:
    read = attrgetter(name)
    if op == "exists":
        return lambda event: test(read(event) or None)
    return lambda event: any(test(item) for item in read(event))


def _requires(name: str, op: str, value: object) -> frozenset[Clause]:
    """The (field, text) clause an accepted value satisfies: it equals, starts with or contains one of the texts."""
    texts = value if isinstance(value, list) else [value]
    strings = [text for text in texts if isinstance(text, str)]
    if op not in _CONTAINING_OPS or len(strings) != len(texts):
        return frozenset()
    return frozenset({frozenset((name, text) for text in strings)})


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
