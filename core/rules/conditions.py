"""Compile a rule's declarative `match` block into a predicate over AuditEvent.

Grammar (each node is a one-key or field mapping):
    {all: [node, ...]}  {any: [node, ...]}  {not: node}
    {failed: true|false}                          HTTP >= 400, or gRPC 1..16 on GKE (AuditEvent.failed)
    {field: NAME, OP: VALUE}                      OP one of: equals, in, glob, prefix, contains, exists
Tuple fields (groups, source_ips) match when any element matches; `exists` means non-empty there.
String comparisons are exact and case-sensitive, as Kubernetes values are. A glob is fnmatch's (case-sensitive,
`*` matching newlines too); one whose only wildcards are a leading and/or trailing `*` compiles to a string test.
Bounds, because every event that passes the pre-filter pays for the condition: a list holds at most MAX_VALUES
values, a string at most MAX_TEXT characters, a glob at most MAX_GLOB (matching costs the pattern's length
times the value's).

Predicates are pure, so `all` and `any` try their cheapest parts first (see `Compiled.cost`); the order
never changes a result.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from fnmatch import translate
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
_NAMES = itertools.count()
#: Fields read by an expression rather than by name: AuditEvent.source_ip is a property, and a property call
#: costs three times this (secret rules test it on every event).
_SUBJECTS = {"source_ip": "(e.source_ips[0] if e.source_ips else None)"}
_OP_COST = {"exists": 2, "equals": 2, "in": 2, "prefix": 3, "contains": 3, "glob": 4}
MAX_VALUES = 1_000
MAX_TEXT = 1_024
MAX_GLOB = 128


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
    #: The predicate as one Python expression over the event `e`, and the constants it names.
    expression: str = "True"
    constants: Mapping[str, object] = field(default_factory=dict)
    #: Characters of glob pattern the predicate may run per event (matching costs about this times the value).
    glob_chars: int = 0
    #: The AuditEvent attributes the expression reads (`failed` for a failed node, `source_ip` for its field).
    reads: frozenset[str] = frozenset()
    #: The predicate compiled from the expression, kept to tell whether `predicate` is still it.
    own: Predicate | None = field(default=None, repr=False, compare=False)

    def pure_reads(self) -> frozenset[str] | None:
        """The attributes the predicate is a pure function of (events equal in them match alike), while it is the
        expression's own; None once it was replaced (tuning wraps it with exceptions reading the clock)."""
        return self.reads if self.own is not None and self.predicate is self.own else None


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
        return _compiled(
            where,
            f"not {inner.expression}",
            inner.constants,
            inner.fields,
            cost=inner.cost + 1,
            glob_chars=inner.glob_chars,
            reads=inner.reads,
        )
    if key == "failed":
        if not isinstance(value, bool):
            raise ConditionError(f"{where}.failed", "must be true or false")
        return _compiled(
            where, f"(e.failed is {value!r})", {}, frozenset({"response_code"}), reads=frozenset({"failed"})
        )
    raise ConditionError(where, f"unknown key {key!r}: use all, any, not, failed or field")


def _compile_group(key: str, value: object, where: str) -> Compiled:
    if not isinstance(value, list) or not value:
        raise ConditionError(where, "must be a non-empty list of conditions")
    parts = [compile_condition(item, f"{where}[{index}]") for index, item in enumerate(value)]
    joined = f" {'and' if key == 'all' else 'or'} ".join(part.expression for part in sorted(parts, key=_cost))
    constants = {name: constant for part in parts for name, constant in part.constants.items()}
    fields = frozenset().union(*(part.fields for part in parts))
    requires = frozenset().union(*(part.requires for part in parts)) if key == "all" else _either(parts)
    cost, globs = sum(part.cost for part in parts), sum(part.glob_chars for part in parts)
    reads = frozenset().union(*(part.reads for part in parts))
    return _compiled(
        where, f"({joined})", constants, fields, requires=requires, cost=cost, glob_chars=globs, reads=reads
    )


def _cost(part: Compiled) -> int:
    return part.cost


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
        raise ConditionError(where, f"give exactly one operator of {', '.join(OPERATORS)}; got {ops or 'none'}")
    op = ops[0]
    value, constants = node[op], dict[str, object]()
    fields, requires, cost = frozenset({name}), _requires(name, op, value), _OP_COST[op]
    globs = sum(map(len, _strings(value, f"{where}.{op}", MAX_GLOB))) if op == "glob" else 0
    if name in _TUPLE_FIELDS:
        if op == "exists":
            expression = _exists(f"e.{name}", value, f"{where}.{op}", of_tuple=True)
        elif op == "in":  # some element in the set, without a Python-level loop over the elements
            expression = (
                f"(not {_constant(constants, frozenset(_scalars(value, f'{where}.{op}')))}.isdisjoint(e.{name}))"
            )
        else:
            expression = f"any({_value_test(op, value, 'x', constants, f'{where}.{op}')} for x in e.{name})"
        return _compiled(
            where, expression, constants, fields, requires=requires, cost=cost + 1, glob_chars=globs, reads=fields
        )
    # Values are never None (the schema refuses null), so None compares unequal and is in no set.
    expression = _value_test(op, value, _SUBJECTS.get(name, f"e.{name}"), constants, f"{where}.{op}")
    return _compiled(
        where, expression, constants, fields, requires=requires, cost=cost, glob_chars=globs, reads=fields
    )


def _compiled(
    where: str,
    expression: str,
    constants: Mapping[str, object],
    fields: frozenset[str],
    *,
    requires: frozenset[Clause] = frozenset(),
    cost: int = 1,
    glob_chars: int = 0,
    reads: frozenset[str] = frozenset(),
) -> Compiled:
    """A node whose predicate is its expression made into one function: a rule runs on every event that
    passes the pre-filter, and calls through a closure per node took twice as long.

    Safe to evaluate: field names are checked against FIELDS (identifiers), literals are reprs of strings,
    numbers and booleans, and every other constant is bound by name in the function's own namespace.
    """
    namespace: dict[str, Any] = {"__builtins__": {"any": any, "isinstance": isinstance, "str": str}, **constants}
    try:
        predicate: Predicate = eval(f"lambda e: {expression}", namespace)
    except (SyntaxError, RecursionError, MemoryError) as error:  # Python's parser nests about 200 deep
        raise ConditionError(where, "conditions are nested too deeply") from error
    return Compiled(predicate, fields, requires, cost, expression, constants, glob_chars, reads, predicate)


def _requires(name: str, op: str, value: object) -> frozenset[Clause]:
    """The (field, text) clause an accepted value satisfies: it equals, starts with or contains one of the texts."""
    texts = value if isinstance(value, list) else [value]
    strings = [text for text in texts if isinstance(text, str)]
    if op not in _CONTAINING_OPS or len(strings) != len(texts):
        return frozenset()
    return frozenset({frozenset((name, text) for text in strings)})


def _value_test(op: str, value: object, subject: str, constants: dict[str, object], where: str) -> str:
    """The test of `op` on the value named by the expression `subject`, as an expression; constants it needs
    (sets and compiled patterns) are added to `constants` under names no other node uses."""
    if op == "exists":
        return _exists(subject, value, where, of_tuple=False)
    if op == "equals":
        if not isinstance(value, _SCALAR) or (isinstance(value, str) and len(value) > MAX_TEXT):
            raise ConditionError(
                where, f"must be a string, number or boolean (a string of at most {MAX_TEXT:,} characters)"
            )
        return f"({subject} == {value!r})"
    if op == "in":
        return f"({subject} in {_constant(constants, frozenset(_scalars(value, where)))})"
    strings = tuple(_strings(value, where, MAX_GLOB if op == "glob" else MAX_TEXT))
    if op == "glob":
        return f"(isinstance({subject}, str) and {_glob_test(strings, subject, constants)})"
    if op == "prefix":
        return f"(isinstance({subject}, str) and {subject}.startswith({strings!r}))"
    found = " or ".join(f"{item!r} in {subject}" for item in strings)
    return f"(isinstance({subject}, str) and ({found}))"


def _glob_test(patterns: tuple[str, ...], subject: str, constants: dict[str, object]) -> str:
    """The test that the string named by `subject` matches one of the globs, as an expression. A glob whose only
    wildcards are a leading or trailing `*` is a test of equality, prefix, suffix or containment, no regex; the
    others are one regex, whose answers are remembered per value (user agents repeat)."""
    tests, general = [], []
    for pattern in patterns:
        simple = _simple_glob(pattern)
        if simple is None:
            general.append(pattern)
        elif simple == ("", "in"):  # `*`: every string
            return "True"
        else:
            tests.append(_LITERAL_TESTS[simple[1]].format(text=simple[0], subject=subject))
    if general:
        regex = re.compile("|".join(f"(?:{translate(item)})" for item in general), re.DOTALL)
        tests.append(f"{_constant(constants, _remembered(regex.match))}({subject})")
    return f"({' or '.join(tests)})"


#: Single-character classes that stand for the character itself: how a glob writes a literal `*`, `?` or `[`.
_ESCAPED = re.compile(r"(\[[*?[]\])")
_LITERAL_TESTS = {
    "=": "({subject} == {text!r})",
    "^": "{subject}.startswith({text!r})",
    "$": "{subject}.endswith({text!r})",
    "in": "({text!r} in {subject})",
}


def _simple_glob(pattern: str) -> tuple[str, str] | None:
    """(text, how) for a glob that is `text` ("="), `text*` ("^"), `*text` ("$") or `*text*` ("in"), with
    `[*]`, `[?]` and `[[]` read as the character; `*` alone is ("", "in"). None for any other glob."""
    leading = pattern.startswith("*")
    trailing = pattern.endswith("*") and len(pattern) > 1
    parts = _ESCAPED.split(pattern[int(leading) : len(pattern) - int(trailing)])
    if any(char in part for part in parts[::2] for char in "*?["):
        return None
    text = "".join(part[1] if index % 2 else part for index, part in enumerate(parts))
    if leading or trailing:
        return text, ("in" if (leading and trailing) or not text else "$" if leading else "^")
    return text, "="


#: Values longer than this are matched every time rather than remembered, and a memo holds at most MEMO_SIZE.
MEMO_LONGEST = 512
MEMO_SIZE = 4_096


def _remembered(match: Callable[[str], object]) -> Callable[[str], bool]:
    """`match(value) is not None`, remembered per value in a bounded dict (cleared when full)."""
    known: dict[str, bool] = {}

    def matches(value: str) -> bool:
        found = known.get(value)
        if found is None:
            found = match(value) is not None
            if len(value) <= MEMO_LONGEST:
                if len(known) >= MEMO_SIZE:
                    known.clear()
                known[value] = found
        return found

    return matches


def _exists(subject: str, value: object, where: str, *, of_tuple: bool) -> str:
    """A present value: not None and not "" (a scalar), or a non-empty tuple."""
    if not isinstance(value, bool):
        raise ConditionError(where, "must be true or false")
    present = f"({subject} != ())" if of_tuple else f"({subject} not in (None, ''))"  # one read of the field
    return present if value else f"(not {present})"


def _constant(constants: dict[str, object], value: object) -> str:
    name = f"_c{next(_NAMES)}"
    constants[name] = value
    return name


def _scalars(value: object, where: str) -> Iterable[_SCALAR]:
    if (
        not isinstance(value, list)
        or not 0 < len(value) <= MAX_VALUES
        or not all(isinstance(item, _SCALAR) and _short(item, MAX_TEXT) for item in value)
    ):
        raise ConditionError(
            where, f"must be a list of 1 to {MAX_VALUES:,} strings (at most {MAX_TEXT:,} characters) or numbers"
        )
    return value


def _strings(value: object, where: str, longest: int) -> Iterable[str]:
    items = [value] if isinstance(value, str) else value
    if (
        not isinstance(items, list)
        or not 0 < len(items) <= MAX_VALUES
        or not all(isinstance(item, str) and item and _short(item, longest) for item in items)
    ):
        raise ConditionError(
            where,
            f"must be a non-empty string of at most {longest:,} characters, or a list of 1 to {MAX_VALUES:,} of them",
        )
    return items


def _short(item: object, longest: int) -> bool:
    return not isinstance(item, str) or len(item) <= longest
