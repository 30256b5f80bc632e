"""Every test and scenario written in the rule files passes, and the Panther seed's tests are there verbatim."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from core.rules.loader import BUILTIN_DIR, load_rules
from core.rules.schema import Rule
from core.rules.testing import check_scenario, check_unit_test

RULES = {rule.id: rule for rule in load_rules()}


def _cases(kind: str) -> list[tuple[Rule, object]]:
    return [
        pytest.param(rule, case, id=f"{rule.id}:{case.name}")
        for rule in RULES.values()
        for case in (rule.tests if kind == "test" else rule.scenarios)
    ]


def test_both_seed_detections_ship_as_rules() -> None:
    assert set(RULES) == {"secret-access-denied", "secret-access-unusual-user-agent"}
    assert RULES["secret-access-denied"].type == "threshold"
    assert RULES["secret-access-unusual-user-agent"].type == "new_terms"


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
