"""A compiled condition decides every event as the grammar in core.rules.conditions says, read literally."""

from __future__ import annotations

import fnmatch
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.model import AuditEvent
from core.rules.conditions import ConditionError, compile_condition

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TUPLE_FIELDS = ("groups", "source_ips")
#: Few values per field, so that random conditions and events often agree.
VALUES: dict[str, list[Any]] = {
    "verb": ["get", "list", "watch", ""],
    "resource": ["secrets", "configmaps"],
    "namespace": ["kube-system", "payments", ""],
    "username": ["system:serviceaccount:kube-system:x", "system:node:n1", "eks:admin", "alice@example.com"],
    "user_agent": ["curl/8.5.0", "kube-controller-manager/v1.29 kubernetes/$Format", "kubectl/v1.30.2", ""],
    "source_ip": ["10.0.0.1", "203.0.113.7"],
    "response_code": [200, 403, 404],
    "groups": ["system:masters", "system:authenticated", ""],
    "source_ips": ["10.0.0.1", "203.0.113.7"],
}
STRING_FIELDS = [name for name in VALUES if name != "response_code"]


def ev(**fields: Any) -> AuditEvent:
    return AuditEvent("aws", T0, "id-1", **fields)


def meets(node: dict[str, Any], event: AuditEvent) -> bool:
    """The grammar of the module docstring, applied by hand."""
    if "field" in node:
        name = node["field"]
        op = next(key for key in node if key != "field")
        actual = getattr(event, name)
        if name in TUPLE_FIELDS:
            if op == "exists":
                return bool(actual) is node[op]
            return any(value_meets(op, node[op], item) for item in actual)
        return value_meets(op, node[op], actual)
    ((key, value),) = node.items()
    if key == "all":
        return all(meets(part, event) for part in value)
    if key == "any":
        return any(meets(part, event) for part in value)
    if key == "not":
        return not meets(value, event)
    return event.failed is value


def value_meets(op: str, value: Any, actual: Any) -> bool:
    if op == "exists":
        return (actual is not None and actual != "") is value
    if op == "equals":
        return bool(actual == value)
    if op == "in":
        return actual in value
    strings = [value] if isinstance(value, str) else value
    if not isinstance(actual, str):
        return False
    if op == "glob":
        return any(fnmatch.fnmatchcase(actual, pattern) for pattern in strings)
    if op == "prefix":
        return actual.startswith(tuple(strings))
    return any(text in actual for text in strings)


def events() -> st.SearchStrategy[AuditEvent]:
    def text(name: str) -> st.SearchStrategy[Any]:
        return st.none() | st.sampled_from(VALUES[name])

    def strings(name: str) -> st.SearchStrategy[tuple[str, ...]]:
        return st.lists(st.sampled_from([value for value in VALUES[name] if value]), max_size=2).map(tuple)

    return st.builds(
        lambda verb, resource, namespace, username, agent, code, failed, groups, ips: AuditEvent(
            "aws", T0, "id-1", verb=verb, resource=resource, namespace=namespace, username=username,
            user_agent=agent, response_code=code, failed=failed, groups=groups, source_ips=ips,
        ),
        text("verb"), text("resource"), text("namespace"), text("username"), text("user_agent"),
        st.none() | st.sampled_from(VALUES["response_code"]), st.none() | st.booleans(),
        strings("groups"), strings("source_ips"),
    )  # fmt: skip


def field_nodes() -> st.SearchStrategy[dict[str, Any]]:
    def for_field(name: str) -> st.SearchStrategy[dict[str, Any]]:
        values = [value for value in VALUES[name] if value != ""]
        scalar = st.sampled_from(values)
        some = st.lists(scalar, min_size=1, max_size=3, unique=True)
        ops: list[st.SearchStrategy[dict[str, Any]]] = [
            st.fixed_dictionaries({"equals": scalar}),
            st.fixed_dictionaries({"in": some}),
            st.fixed_dictionaries({"exists": st.booleans()}),
        ]
        if name in STRING_FIELDS:
            pieces = st.sampled_from(["curl/", "system:", "kubernetes/$Format", "*kubernetes/$Format", "eks:", "a*"])
            piece_or_list = pieces | st.lists(pieces, min_size=1, max_size=3)
            ops += [
                st.fixed_dictionaries({"prefix": piece_or_list}),
                st.fixed_dictionaries({"contains": piece_or_list}),
                st.fixed_dictionaries({"glob": piece_or_list}),
            ]
        return st.one_of(ops).map(lambda op: {"field": name, **op})

    return st.sampled_from(list(VALUES)).flatmap(for_field)


CONDITIONS = st.recursive(
    field_nodes() | st.fixed_dictionaries({"failed": st.booleans()}),
    lambda inner: (
        st.fixed_dictionaries({"all": st.lists(inner, min_size=1, max_size=3)})
        | st.fixed_dictionaries({"any": st.lists(inner, min_size=1, max_size=3)})
        | st.fixed_dictionaries({"not": inner})
    ),
    max_leaves=6,
)


@settings(max_examples=300, deadline=None)
@given(node=CONDITIONS, batch=st.lists(events(), min_size=1, max_size=6))
def test_a_compiled_condition_decides_as_the_grammar_says(node: dict[str, Any], batch: list[AuditEvent]) -> None:
    predicate = compile_condition(node).predicate

    for event in batch:
        assert predicate(event) is meets(node, event), (node, event)


@pytest.mark.parametrize(
    ("node", "event", "expected"),
    [
        ({"field": "groups", "exists": True}, ev(groups=("system:masters",)), True),
        ({"field": "groups", "exists": False}, ev(), True),
        ({"field": "user_agent", "exists": True}, ev(user_agent=""), False),
        ({"field": "source_ip", "equals": "10.0.0.1"}, ev(source_ips=("10.0.0.1", "x")), True),
        ({"field": "response_code", "in": [403, 404]}, ev(response_code=404), True),
        ({"field": "user_agent", "glob": "*kubernetes/$Format"}, ev(user_agent="a\nkubernetes/$Format"), True),
        ({"field": "username", "contains": "it's \"quoted\"\\"}, ev(username="x it's \"quoted\"\\ y"), True),
        ({"not": {"failed": True}}, ev(failed=None), True),
    ],
)  # fmt: skip
def test_edge_cases_of_each_operator(node: dict[str, Any], event: AuditEvent, expected: bool) -> None:
    assert compile_condition(node).predicate(event) is expected is meets(node, event)


def test_a_value_that_is_no_literal_is_refused_before_anything_is_compiled() -> None:
    with pytest.raises(ConditionError, match=r"match\.equals: must be a string, number or boolean"):
        compile_condition({"field": "verb", "equals": ["__import__('os')"]})
    with pytest.raises(ConditionError, match="unknown field"):
        compile_condition({"field": "verb.__class__", "equals": "get"})


def test_absurdly_deep_nesting_is_a_condition_error_not_a_crash() -> None:
    node: dict[str, Any] = {"failed": True}
    for _ in range(300):
        node = {"all": [node]}

    with pytest.raises(ConditionError, match="nested too deeply"):
        compile_condition(node)


def test_a_long_chain_of_nots_still_decides_correctly() -> None:
    node: dict[str, Any] = {"failed": True}
    for _ in range(300):
        node = {"not": node}

    assert compile_condition(node).predicate(ev(failed=True)) is True


# -- globs: `*text*`, `text*`, `*text` and `text` are plain string tests; any other glob is a regex --------------


@pytest.mark.parametrize(
    ("pattern", "matching", "not_matching"),
    [
        ("*kali-amd64", ["Debian kali-amd64", "kali-amd64"], ["kali-amd64 (x)", "kali-arm64"]),
        ("curl/*", ["curl/8.5.0", "curl/"], ["xcurl/8", "Curl/8"]),
        ("*distrib#kali*", ["a distrib#kali b", "distrib#kali"], ["distrib#Kali", "distrib kali"]),
        ("kubectl", ["kubectl"], ["kubectl/v1", "xkubectl"]),
        ("*", ["", "anything\nat all"], []),
        ("**", ["", "x"], []),
        ("*[*]*", ["a*b", "*"], ["ab", ""]),
        ("[*]*", ["*b"], ["b*"]),
        ("*[?]", ["why?"], ["why"]),
        ("*[[]*", ["a[b"], ["ab"]),
        ("*a?c*", ["xabcx", "a\nc"], ["ac", "abbc"]),
        ("*[ab]x", ["-ax", "bx"], ["cx", "x"]),
        ("*[!a]x", ["bx"], ["ax", "x"]),
        ("a*c", ["ac", "abc", "a\nc"], ["acd", "bc"]),
        ("*a[*", ["xa[", "a["], ["a*"]),
        ("*kubernetes/$Format*", ["kube-probe kubernetes/$Format x"], ["kubernetes/v1.29"]),
    ],
)  # fmt: skip
def test_each_glob_shape_matches_as_fnmatch_does(pattern: str, matching: list[str], not_matching: list[str]) -> None:
    predicate = compile_condition({"field": "user_agent", "glob": pattern}).predicate

    for agent in matching + not_matching:
        assert predicate(ev(user_agent=agent)) is (agent in matching) is fnmatch.fnmatchcase(agent, pattern), agent


@pytest.mark.parametrize("pattern", ["*kali-amd64", "curl/*", "*distrib#kali*", "kubectl", "*[*]*", "*[?]", "*"])
def test_a_glob_with_only_a_leading_or_trailing_star_is_no_regex(pattern: str) -> None:
    compiled = compile_condition({"field": "user_agent", "glob": [pattern, "*also*"]})

    assert compiled.constants == {}  # a regex (or its memo) would be a constant the expression names


def test_a_general_glob_is_answered_alike_from_its_memo_and_for_values_too_long_to_remember() -> None:
    predicate = compile_condition({"field": "user_agent", "glob": ["*a?c*", "*kali-amd64"]}).predicate
    long_agent = "x" * 100_000 + "abc"

    for _ in range(2):
        assert predicate(ev(user_agent="xabcx")) is True
        assert predicate(ev(user_agent="xacx")) is False
        assert predicate(ev(user_agent="Debian kali-amd64")) is True
        assert predicate(ev(user_agent=long_agent)) is True
        assert predicate(ev(user_agent=None)) is False


@settings(max_examples=400, deadline=None)
@given(
    patterns=st.lists(st.text("ab*?[]!", min_size=1, max_size=6), min_size=1, max_size=3),
    agents=st.lists(st.text("ab*?[]!\n", max_size=6), min_size=1, max_size=5),
)
def test_any_glob_decides_as_fnmatch_does(patterns: list[str], agents: list[str]) -> None:
    predicate = compile_condition({"field": "user_agent", "glob": patterns}).predicate

    for agent in agents:
        expected = any(fnmatch.fnmatchcase(agent, pattern) for pattern in patterns)
        assert predicate(ev(user_agent=agent)) is expected, (patterns, agent)
        assert compile_condition({"field": "groups", "glob": patterns}).predicate(ev(groups=(agent,))) is expected
