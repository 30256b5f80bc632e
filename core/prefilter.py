"""Skip audit records no rule can match by searching their raw text, before parsing them.

The sources apply it to each record's text after its envelope is decoded: EKS logEvents messages, AKS
properties.log strings, Pub/Sub data after base64, and a document that is one audit Event. Skipped records
are counted (core.sources.items.Prefiltered), never parsed, normalized or evaluated.

Each rule's compiled condition lists clauses every event it accepts satisfies (`Compiled.requires`): "field F
contains one of these strings", from `equals`, `in`, `prefix` and `contains` reached through `all` and `any`
(never through `not`). For the fields below, every source copies the event's value verbatim out of one JSON
string of the record (GKE splits resourceName and methodName, which keeps each part verbatim), so the string
is in the record's raw text too. A record whose text lacks, for every rule, some clause's strings cannot
match any rule, and the sources count it as prefiltered instead of parsing it.

Not verbatim, so never used: cloud and cluster (from the envelope), audit_id (may be a hash), request_uri,
response_code and decision (GKE rebuilds them from resourceName, gRPC codes and grants).

Assumption: producers do not \\u-escape ASCII letters and digits in JSON strings. Encoders escape quotes,
backslashes and control characters, and some escape `/`, `<`, `>`, `&` or all non-ASCII text (Go's
encoding/json, Python's json), so only the longest run of ASCII letters and digits of each string is
searched for; a string without one makes its clause unusable. When any rule has no usable clause, nothing
can be skipped and `for_rules` returns None.

Only text that looks like an audit record is ever skipped: shaped like one JSON object (`{...}`, maybe with a
final newline) and naming `k8s.io`, as the apiVersion `audit.k8s.io/v1` of current audit Events and the
serviceName of GKE entries do (a record without it is simply parsed). So klog text, a message CloudWatch cut
off, a bare `{"kind": "Event"}` or a LogEntry of another Google service is still parsed and counted as
malformed or ignored. A broken record that does look like an audit record is skipped unparsed and counted as
a prefiltered event; duplicates among skipped records are not detected.

The same clauses are tested again on every decoded event's fields (`FieldTest`, in core.pipeline's consume),
each with its whole text and on any field (the text test can use only verbatim fields, and only their longest
run of letters and digits): a `watch` of a secret in namespace `budget` holds "secrets" and "get" but no rule
reading `verb` can match it, so it is counted as prefiltered there too, before its timestamp is checked or it
is deduplicated. So counts do not depend on how a record was read: a reader may apply the field test itself,
earlier (core.sources.k8s_text.read_lines tests the fields it has read before decoding the rest).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import AnyStr, Generic, TypeVar

from core.model import FIELDS
from core.rules.conditions import Clause
from core.rules.schema import Rule

#: Fields whose value is a tuple of strings: a clause on one holds when an element contains its text.
TUPLE_FIELDS = frozenset({"groups", "source_ips"})
#: How FieldTest reads each field of an AuditEvent `e`: source_ip, the first of source_ips, as any of them (a
#: clause holding for the first holds for some element).
EVENT_SUBJECTS: Mapping[str, str] = {
    **{name: f"e.{name}" for name in FIELDS if name != "source_ip"},
    "source_ip": "e.source_ips",
}

#: Fields whose value is a verbatim part of one JSON string in the record (an element, for tuple fields).
VERBATIM_FIELDS = frozenset({
    "stage", "verb", "resource", "subresource", "namespace", "name", "api_group", "api_version", "username",
    "impersonated_user", "groups", "source_ips", "source_ip", "user_agent", "response_message",
})  # fmt: skip
#: Any text holding an envelope whose payload is base64 or gzip (Pub/Sub `data`, CloudEvent `data_base64`,
#: `awslogs.data`) has this key in plain JSON, so such text is never skipped where envelopes are decoded.
ENCODED_PAYLOAD_KEY = '"data'
#: In every audit record's text (see above); records without it are always parsed.
AUDIT_MARK = "k8s.io"
#: How a record's text may end: its closing brace, then the end of its line as Unix or Windows writes it.
_CLOSINGS = ("}", "}\n", "}\r", "}\r\n")
_SAFE_RUN = re.compile(r"[A-Za-z0-9]+")

Needles = tuple[tuple[str, ...], ...]  # every clause must find one of its strings
#: A rule's needs as `_weakest` compares them: its needles, or its clauses as sorted (field, text) pairs.
Needs = TypeVar("Needs", Needles, tuple[tuple[tuple[str, str], ...], ...])


@dataclass(frozen=True, slots=True)
class Search(Generic[AnyStr]):
    """The tests in one text type (str or bytes); `shared` clauses are required by every rule."""

    shared: tuple[tuple[AnyStr, ...], ...]
    #: Per rule, its other clauses; empty when some rule needs nothing beyond `shared`.
    rest: tuple[tuple[tuple[AnyStr, ...], ...], ...]
    payload_key: AnyStr
    audit_mark: AnyStr
    opening: AnyStr
    closings: tuple[AnyStr, ...]

    #: False only for text that looks like an audit record and that no rule can match (see `_compile`).
    admits: Callable[[AnyStr], bool] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "admits", _compile(self))

    def __reduce__(self) -> tuple[type[Search[AnyStr]], tuple[object, ...]]:
        """Pickled as its strings (for `--jobs` workers): its compiled test is built again where unpickled."""
        return Search, (self.shared, self.rest, self.payload_key, self.audit_mark, self.opening, self.closings)

    def admits_document(self, text: AnyStr) -> bool:
        """Like `admits`, for text that may still be an envelope: kept when it may hold an encoded payload."""
        return self.admits(text) or self.payload_key in text


def _compile(search: Search[AnyStr]) -> Callable[[AnyStr], bool]:
    """The test as one expression with every search written out, e.g. for the built-in rules

        lambda t: ('secrets' in t and ('list' in t or 'get' in t)) or 'k8s.io' not in t or not (...)

    It runs once per audit record, and loops over the clauses took a fifth longer. Each string is written
    as its repr, so any needle reads back as the same literal.
    """
    may_match = _all_of(search.shared)
    if search.rest:
        may_match += " and (" + " or ".join(map(_all_of, search.rest)) + ")"
    looks_like_record = f"t.startswith({search.opening!r}) and t.endswith({search.closings!r})"
    source = f"lambda t: ({may_match}) or {search.audit_mark!r} not in t or not ({looks_like_record})"
    test: Callable[[AnyStr], bool] = eval(source, {"__builtins__": {}})  # built from reprs only
    return test


def _all_of(clauses: tuple[tuple[AnyStr, ...], ...]) -> str:
    if not clauses:
        return "True"
    return " and ".join("(" + " or ".join(f"{needle!r} in t" for needle in clause) + ")" for clause in clauses)


@dataclass(frozen=True, slots=True)
class FieldTest:
    """Whether a record's fields, already read, may satisfy every clause of some rule: False only when no rule can
    match it. The same clauses as the text test, but tested on the values themselves (every clause, on any field,
    with its whole text), so it skips records the text test cannot: a `watch` of a secret in namespace `budget`
    holds "secrets" and "get", and no rule reading `verb` can match it.

    `subjects` says how to read each field from the record `e`, as an expression; a clause naming a field not
    there (one the reader leaves unread) counts as holding, so the test stays a sound shortcut for such readers.
    """

    per_rule: tuple[frozenset[Clause], ...]
    subjects: Mapping[str, str]
    test: Callable[[object], bool] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "test", _compile_fields(self.per_rule, self.subjects))

    def __reduce__(self) -> tuple[type[FieldTest], tuple[object, ...]]:
        """Pickled as its clauses, as Search is."""
        return FieldTest, (self.per_rule, dict(self.subjects))


def _compile_fields(per_rule: tuple[frozenset[Clause], ...], subjects: Mapping[str, str]) -> Callable[[object], bool]:
    """The test as one expression, e.g. for the built-in rules (as an AuditEvent is read)

        lambda e: ((isinstance(v := e.resource, str) and ('secrets' in v)) and (...)) or ...

    Each text is written as its repr, each field as its subject from `subjects`.
    """
    rules = []
    for requires in _weakest(tuple(map(_ordered, per_rule))):
        clauses = [_clause_test(clause, subjects) for clause in requires]
        rules.append(" and ".join(clause for clause in clauses if clause != "True") or "True")
    source = "lambda e: " + (" or ".join(f"({rule})" for rule in rules) if "True" not in rules else "True")
    test: Callable[[object], bool] = eval(source, {"__builtins__": {"any": any, "isinstance": isinstance, "str": str}})
    return test


def _ordered(requires: frozenset[Clause]) -> tuple[tuple[tuple[str, str], ...], ...]:
    """A rule's clauses as sorted tuples, which `_weakest` can sort and compare."""
    return tuple(sorted(tuple(sorted(clause)) for clause in requires))


def _clause_test(clause: Iterable[tuple[str, str]], subjects: Mapping[str, str]) -> str:
    """One clause: some (field, text) of it holds; "True" when it names a field `subjects` lacks."""
    texts: dict[str, list[str]] = {}
    for name, text in sorted(clause):
        texts.setdefault(name, []).append(text)
    if not all(name in subjects for name in texts):
        return "True"
    tests = []
    for name, found in texts.items():
        contains = " or ".join(f"{text!r} in v" for text in found)
        if name in TUPLE_FIELDS or name == "source_ip":
            tests.append(f"any(isinstance(v, str) and ({contains}) for v in ({subjects[name]} or ()))")
        else:
            tests.append(f"(isinstance(v := {subjects[name]}, str) and ({contains}))")
    return "(" + " or ".join(tests) + ")"


@dataclass(frozen=True, slots=True)
class Prefilter:
    """Text tests derived from the loaded rules; build with `Prefilter.for_rules`."""

    #: Per rule, the strings its clauses need (shown by tests and documentation).
    needles: tuple[Needles, ...]
    #: The tests for str records (EKS messages, AKS logs) and for bytes ones (Pub/Sub data, raw lines).
    text: Search[str]
    raw: Search[bytes]
    #: The clauses of each rule, tested on a decoded event's fields (core.pipeline tests each event so).
    fields: FieldTest

    def subjects(self, subjects: Mapping[str, str]) -> FieldTest:
        """The field test for records read another way, each field by its expression in `subjects`."""
        return FieldTest(self.fields.per_rule, subjects)

    @classmethod
    def for_rules(cls, rules: Sequence[Rule]) -> Prefilter | None:
        per_rule = tuple(needles_of(rule.condition.requires) for rule in rules)
        if not per_rule or not all(per_rule):
            return None
        weakest = _weakest(per_rule)
        text = _search(weakest, (ENCODED_PAYLOAD_KEY, AUDIT_MARK, "{", _CLOSINGS))
        raw = _search(
            tuple(map(_encoded, weakest)),
            (ENCODED_PAYLOAD_KEY.encode(), AUDIT_MARK.encode(), b"{", tuple(map(str.encode, _CLOSINGS))),
        )
        fields = FieldTest(tuple(rule.condition.requires for rule in rules), EVENT_SUBJECTS)
        return cls(per_rule, text, raw, fields)

    def admits(self, record: str | bytes) -> bool:
        """False when the text looks like an audit record and no rule can match it."""
        return self.raw.admits(record) if isinstance(record, bytes) else self.text.admits(record)


def needles_of(requires: Iterable[Clause]) -> Needles:
    """The usable clauses as strings to search for: clauses by their shortest string, longest first (longer
    strings are rarer, so a record fails sooner); within a clause, shortest first (a text missing the clause
    is searched for all of them anyway, and a text holding it is likelier to hold a short one, found sooner)."""
    found = []
    for clause in requires:
        needles = {_needle(text) for _, text in clause}
        if all(field in VERBATIM_FIELDS for field, _ in clause) and "" not in needles:
            found.append(tuple(sorted(needles, key=lambda needle: (len(needle), needle))))
    return tuple(sorted(found, key=lambda clause: (-min(map(len, clause)), clause)))


def _weakest(per_rule: tuple[Needs, ...]) -> tuple[Needs, ...]:
    """The rules' needs (needles, or clauses) without those of any rule whose needs imply another's: either may
    match only if the weaker one may, so testing the weaker alone gives the same answer with less work."""
    kept: list[Needs] = []
    for needles in sorted(set(per_rule)):
        if any(_implies(needles, other) for other in kept):
            continue
        kept = [other for other in kept if not _implies(other, needles)] + [needles]
    return tuple(kept)


def _implies(stronger: Sequence[Iterable[object]], weaker: Sequence[Iterable[object]]) -> bool:
    """Every clause of `weaker` holds whenever all of `stronger` do: some clause of `stronger` is a subset of it."""
    return all(any(set(clause) <= set(other) for clause in stronger) for other in weaker)


def _needle(text: str) -> str:
    """The longest run of ASCII letters and digits in `text` (the first of equal ones), or ""."""
    return max(_SAFE_RUN.findall(text), key=len, default="")


def _encoded(needles: Needles) -> tuple[tuple[bytes, ...], ...]:
    return tuple(tuple(needle.encode("ascii") for needle in clause) for clause in needles)


def _search(
    per_rule: tuple[tuple[tuple[AnyStr, ...], ...], ...],
    marks: tuple[AnyStr, AnyStr, AnyStr, tuple[AnyStr, ...]],
) -> Search[AnyStr]:
    """`marks`: the encoded-payload key, the audit mark, and the opening and closings of a JSON object."""
    shared = tuple(clause for clause in per_rule[0] if all(clause in clauses for clauses in per_rule[1:]))
    rest = tuple(tuple(clause for clause in clauses if clause not in shared) for clauses in per_rule)
    return Search(shared, rest if all(rest) else (), *marks)


def admit_all(record: str | bytes) -> bool:
    """The test used without a pre-filter: every record is parsed."""
    return True
