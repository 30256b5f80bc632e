"""Every test and scenario written in the rule files passes, and the Panther seed's tests are there verbatim."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from core.rules.loader import BUILTIN_DIR, load_rules
from core.rules.schema import Rule
from core.scenarios import check_scenario, check_unit_test

RULES = {rule.id: rule for rule in load_rules()}


def _cases(kind: str) -> list[tuple[Rule, object]]:
    return [
        pytest.param(rule, case, id=f"{rule.id}:{case.name}")
        for rule in RULES.values()
        for case in (rule.tests if kind == "test" else rule.scenarios)
    ]


def test_the_pack_ships_every_rule_with_its_type_and_default() -> None:
    assert {rule_id: (rule.type, rule.enabled) for rule_id, rule in RULES.items()} == {
        "secret-access-unusual-user-agent": ("new_terms", True),
        "secret-access-denied": ("threshold", True),
        "secrets-list-cluster-wide": ("match", True),
        "secret-bulk-access": ("cardinality", False),
        "secret-get-burst": ("cardinality", True),
        "secret-access-suspicious-user-agent": ("match", True),
        "secret-access-by-node-or-pod-sa": ("match", True),
    }


def test_the_pack_parameters_are_upstreams() -> None:
    bulk, burst = RULES["secret-bulk-access"].cardinality, RULES["secret-get-burst"].cardinality
    assert bulk is not None
    assert burst is not None
    assert (bulk.group_by, bulk.distinct, bulk.count, bulk.window.total_seconds()) == (
        ("username",), "access_target", 15, 1800
    )
    assert (burst.group_by, burst.distinct, burst.count, burst.window.total_seconds()) == (
        ("username", "source_ip", "user_agent"), "name", 3, 300
    )
    dedups = {rule_id: RULES[rule_id].dedup for rule_id in (
        "secrets-list-cluster-wide", "secret-access-suspicious-user-agent", "secret-access-by-node-or-pod-sa"
    )}  # fmt: skip
    assert {rule_id: (spec.group_by, spec.window.total_seconds()) for rule_id, spec in dedups.items() if spec} == {
        "secrets-list-cluster-wide": (("username",), 3600),
        "secret-access-suspicious-user-agent": (("username", "source_ip", "user_agent"), 3600),
        "secret-access-by-node-or-pod-sa": (("username", "user_agent"), 86400),
    }


def test_every_rule_has_tests_and_scenarios() -> None:
    assert all(rule.tests and rule.scenarios for rule in RULES.values())


@pytest.mark.parametrize(("rule", "case"), _cases("test"))
def test_rule_unit_test_passes(rule: Rule, case: object) -> None:
    assert check_unit_test(rule, case) == []  # type: ignore[arg-type]


@pytest.mark.parametrize(("rule", "case"), _cases("scenario"))
def test_rule_scenario_passes(rule: Rule, case: object) -> None:
    assert check_scenario(rule, case) == []  # type: ignore[arg-type]


def test_panther_seed_tests_are_included_verbatim(shared_dir: Path) -> None:
    text = (shared_dir / "seeds" / "003_84b1bd99d7da7308.txt").read_text()
    upstream = yaml.safe_load(text[text.index("AnalysisType: rule") : text.index("\nDetection logic")])[
        "Tests"
    ]
    ours = yaml.safe_load((BUILTIN_DIR / "secret_access_denied.yml").read_text())["tests"]
    assert len(upstream) == 9
    assert ours[:9] == upstream


@pytest.mark.parametrize(
    ("upstream_file", "rule_file", "count"),
    [
        ("k8s_secrets_dump_all_namespaces.yml", "secrets_list_cluster_wide.yml", 9),
        ("k8s_secret_enumeration.yml", "secret_bulk_access.yml", 7),
    ],
)
def test_panther_pack_tests_are_included_verbatim(
    shared_dir: Path, upstream_file: str, rule_file: str, count: int
) -> None:
    upstream = yaml.safe_load((shared_dir / "research" / "upstream-rules" / upstream_file).read_text())["Tests"]
    ours = yaml.safe_load((BUILTIN_DIR / rule_file).read_text())["tests"]
    assert len(upstream) == count
    assert ours[:count] == upstream


def test_thresholds_and_windows_are_the_seeds() -> None:
    denied = RULES["secret-access-denied"].threshold
    terms = RULES["secret-access-unusual-user-agent"].new_terms
    assert denied is not None
    assert terms is not None
    assert (denied.group_by, denied.count, denied.window.total_seconds(), denied.mode) == (
        ("namespace", "username"),
        20,
        900,
        "fixed",
    )
    assert (terms.fields, terms.history_window.days) == (("source_ip", "username", "user_agent"), 7)
