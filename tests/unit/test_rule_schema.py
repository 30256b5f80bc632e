"""Rule files as typed data: every problem in one pass with its path, the new keys, and the JSON Schema."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from core.cli import main
from core.errors import RuleError
from core.rules.loader import BUILTIN_DIR, load_rules
from core.rules.schema import CardinalitySpec, DedupSpec, rule_json_schema

GOOD = (BUILTIN_DIR / "secret_access_denied.yml").read_text()
THRESHOLD = "threshold:\n  group_by: [namespace, username]\n  count: 20\n  window: 15m\n  mode: fixed\n"


def load(tmp_path: Path, text: str) -> list[str]:
    """The problems loading `text` reports, one per line, without the file's path; [] when it loads."""
    path = tmp_path / "rule.yml"
    path.write_text(text)
    try:
        load_rules([path])
    except RuleError as exc:
        lines = str(exc).splitlines()
        assert all(line.startswith(f"{path}: ") for line in lines)
        return [line.removeprefix(f"{path}: ") for line in lines]
    return []


def test_every_problem_in_a_file_is_reported_at_once_each_with_its_path(tmp_path: Path) -> None:
    text = (
        GOOD.replace("severity: medium", "severity: urgent")
        .replace("window: 15m", "window: soon")
        .replace("ExpectedResult: false", "ExpectedResult: nope", 1)
        .replace("        count: 19\n        every: 30s", "        count: 0\n        every: 30s", 1)
        .replace("{field: verb, equals: get}", "{field: verbb, equals: get}", 1)
    )
    problems = load(tmp_path, text)
    assert problems == [
        "severity: must be one of info, low, medium, high, critical; got 'urgent'",
        "tests[5].ExpectedResult: expected bool, got str",
        "scenarios[0].steps[0].count: expected int >= 1",
        "match.all[0].field: unknown field 'verbb'; known fields: " + problems[3].split("known fields: ")[1],
        "threshold.window: bad duration 'soon': use numbers with units ms, s, m, h, d, w (e.g. 15m, 7d, 14m59s)",
    ]


def test_a_missing_key_and_an_unknown_one_are_both_named(tmp_path: Path) -> None:
    problems = load(tmp_path, GOOD.replace("severity: medium\n", "sevrity: medium\n"))
    assert "severity: required" in problems
    assert any(problem.startswith("unknown keys ['sevrity']") for problem in problems)


def test_a_nested_condition_error_names_its_path_once(tmp_path: Path) -> None:
    (problem,) = load(tmp_path, GOOD.replace("in: [masterclient, aksService]", "in: []"))
    assert problem.startswith("match.all[4].not.in: must be a list of 1 to 1,000")


def rule(kind: str, block: str, extra: str = "") -> str:
    """The good rule turned into a rule of `kind` with `block` for its parameters."""
    return GOOD.replace("type: threshold", f"type: {kind}").replace(THRESHOLD, block + extra).split("\nscenarios:")[0]


CARDINALITY = "cardinality:\n  group_by: [username]\n  distinct: name\n  count: 15\n  window: 30m\n"
DEDUP = "dedup:\n  group_by: [username]\n  window: 1h\n"


def test_a_cardinality_rule_and_a_deduplicated_match_rule_load_as_the_engine_reads_them(tmp_path: Path) -> None:
    (tmp_path / "card.yml").write_text(rule("cardinality", CARDINALITY, "enabled: false\n"))
    (tmp_path / "dedup.yml").write_text(
        rule("match", DEDUP, "upstream: [Panther Kubernetes.X, Elastic b4c8e2a1]\n").replace(
            "id: secret-access-denied", "id: deduped"
        )
    )
    card, dedup = load_rules([tmp_path])
    assert (card.type, card.enabled, card.threshold, card.dedup) == ("cardinality", False, None, None)
    assert card.cardinality == CardinalitySpec(("username",), "name", 15, timedelta(minutes=30))
    assert dedup.dedup == DedupSpec(("username",), timedelta(hours=1))
    assert (dedup.enabled, dedup.cardinality) == (True, None)
    assert dedup.upstream == ("Panther Kubernetes.X", "Elastic b4c8e2a1")


def test_a_plain_match_rule_has_no_dedup_and_one_upstream_string_is_a_tuple_of_one(tmp_path: Path) -> None:
    (tmp_path / "m.yml").write_text(rule("match", "", "upstream: Panther Kubernetes.X\n"))
    (loaded,) = load_rules([tmp_path / "m.yml"])
    assert (loaded.dedup, loaded.upstream) == (None, ("Panther Kubernetes.X",))


BAD_BLOCKS = {
    "distinct not a field": (
        "cardinality",
        CARDINALITY.replace("distinct: name", "distinct: secret"),
        "cardinality.distinct: unknown field 'secret'",
    ),
    "count 0": ("cardinality", CARDINALITY.replace("count: 15", "count: 0"), "cardinality.count: expected int >= 1"),
    "empty window": (
        "cardinality",
        CARDINALITY.replace("window: 30m", "window: 0s"),
        "cardinality.window: must be longer than 0s",
    ),
    "endless window": (
        "match",
        DEDUP.replace("window: 1h", "window: 400d"),
        "dedup.window: '400d' is longer than 366d",
    ),
    "group field": ("match", DEDUP.replace("[username]", "[user]"), "dedup.group_by: unknown field 'user'"),
    "empty group": ("match", DEDUP.replace("[username]", "[]"), "dedup.group_by: expected list of length >= 1"),
    "block missing": ("cardinality", "", "cardinality: required when type is cardinality"),
    "dedup on threshold": ("threshold", THRESHOLD + DEDUP, "dedup: only allowed when type is match"),
    "unknown key": ("cardinality", CARDINALITY + "  per: 1\n", "cardinality: unknown keys ['per']"),
    "enabled not bool": ("match", "enabled: maybe\n", "enabled: expected bool, got str"),
    "upstream list of numbers": ("match", "upstream: [1]\n", "upstream[0]: expected str, got int"),
}


@pytest.mark.parametrize(("kind", "block", "message"), BAD_BLOCKS.values(), ids=BAD_BLOCKS.keys())
def test_a_bad_new_key_is_refused_naming_it(tmp_path: Path, kind: str, block: str, message: str) -> None:
    problems = load(tmp_path, rule(kind, block))
    assert any(problem.startswith(message) for problem in problems), problems


# --- the JSON Schema -----------------------------------------------------------------------------------------


def test_rules_schema_prints_the_json_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "--schema"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == rule_json_schema()
    assert printed["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    rule_file = printed["$defs"]["RuleFile"]
    assert {"id", "type", "match", "alert_title"} <= set(rule_file["required"])
    assert {"enabled", "dedup", "cardinality", "upstream"} <= set(rule_file["properties"])
    assert rule_file["properties"]["type"]["enum"] == sorted(["match", "threshold", "cardinality", "new_terms"])


@pytest.mark.parametrize("path", sorted(BUILTIN_DIR.glob("*.yml")), ids=lambda path: path.name)
def test_every_built_in_rule_file_validates_against_the_schema(path: Path) -> None:
    schema = rule_json_schema()
    assert violations(yaml.safe_load(path.read_text()), schema, schema) == []


def test_the_schema_catches_what_the_loader_refuses() -> None:
    schema = rule_json_schema()
    document = yaml.safe_load(GOOD)
    assert violations({**document, "owner": "me"}, schema, schema) == ["$: unknown key owner"]
    document["threshold"] = {**document["threshold"], "count": 0}
    assert violations(document, schema, schema) == ["$.threshold: no branch of anyOf matches"]


_TYPES = {"object": dict, "array": list, "string": str, "integer": int, "boolean": bool, "null": type(None)}


def violations(value: Any, node: dict[str, Any], root: dict[str, Any], where: str = "$") -> list[str]:
    """The draft 2020-12 keywords msgspec emits, checked (jsonschema is not a dependency)."""
    if "$ref" in node:
        node = {**root["$defs"][node["$ref"].rsplit("/", 1)[1]], **{k: v for k, v in node.items() if k != "$ref"}}
    if "anyOf" in node:
        ok = any(not violations(value, branch, root, where) for branch in node["anyOf"])
        return [] if ok else [f"{where}: no branch of anyOf matches"]
    kind = node.get("type")
    if kind and not (isinstance(value, _TYPES[kind]) and not (kind == "integer" and isinstance(value, bool))):
        return [f"{where}: not {kind}"]
    found = [f"{where}: {value!r} not in enum"] if "enum" in node and value not in node["enum"] else []
    checks = [
        ("minimum", lambda v, n: v >= n),
        ("maximum", lambda v, n: v <= n),
        ("minLength", lambda v, n: len(v) >= n),
        ("maxLength", lambda v, n: len(v) <= n),
        ("minItems", lambda v, n: len(v) >= n),
        ("pattern", lambda v, n: re.search(n, v) is not None),
    ]
    found += [f"{where}: fails {key}" for key, test in checks if key in node and not test(value, node[key])]
    if kind == "object":
        properties = node.get("properties", {})
        found += [f"{where}: {key} required" for key in node.get("required", []) if key not in value]
        if properties:
            found += [f"{where}: unknown key {key}" for key in value if key not in properties]
        for key, item in value.items():
            if key in properties:
                found += violations(item, properties[key], root, f"{where}.{key}")
    if kind == "array" and "items" in node:
        for index, item in enumerate(value):
            found += violations(item, node["items"], root, f"{where}[{index}]")
    return found
