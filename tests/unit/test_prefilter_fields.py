"""The pre-filter never skips a record for a condition on pod_name, node_name or access_target.

access_target is built ("list:payments") and a name over its limit ends in a marker, so neither need be in the
record's text as the event holds it; the pre-filter searches only the fields it lists as verbatim.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
import pytest

from core.model import AuditEvent
from core.prefilter import Prefilter
from core.rules.conditions import Compiled, compile_condition
from tests.unit.sources_wire import fixture, only_event

LIST = "k8s/secret_list_allowed_python_requests.json"
BOUND = "k8s/secret_get_bound_token_replayed.json"


def long_pod() -> dict[str, Any]:
    """The bound-token event with a 600-character pod name, which normalization cuts and marks."""
    record: dict[str, Any] = fixture(BOUND)
    record["user"]["extra"]["authentication.kubernetes.io/pod-name"] = ["p" * 600]
    return record


@dataclass(frozen=True)
class _Rule:
    """What Prefilter.for_rules reads of a rule."""

    condition: Compiled


@pytest.mark.parametrize(
    ("record", "condition"),
    [
        (fixture(LIST), {"field": "access_target", "equals": "list:payments"}),
        (fixture(LIST), {"field": "access_target", "prefix": "list:"}),
        (fixture(BOUND), {"field": "pod_name", "in": ["payments-api-7d9f8b6c5-x2x7q"]}),
        (fixture(BOUND), {"field": "node_name", "contains": "eu-west-1"}),
        # A name over its limit ends in a marker the record's text does not hold.
        (long_pod(), {"field": "pod_name", "contains": "truncated"}),
    ],
)
def test_a_record_a_rule_matches_through_a_new_field_is_never_skipped(
    record: dict[str, Any], condition: object
) -> None:
    event = only_event(record)
    alone = compile_condition(condition)
    with_resource = compile_condition({"all": [{"field": "resource", "equals": "secrets"}, condition]})

    assert alone.predicate(event)
    assert with_resource.predicate(event)
    text = orjson.dumps(record)
    for compiled in (alone, with_resource):
        prefilter = Prefilter.for_rules([_Rule(compiled)])  # type: ignore[list-item]
        assert prefilter is None or (prefilter.admits(text) and prefilter.admits(text.decode()))
    assert Prefilter.for_rules([_Rule(with_resource)]) is not None  # type: ignore[list-item]


def test_an_access_target_absent_from_the_text_still_matches() -> None:
    event: AuditEvent = only_event(fixture(LIST))

    assert event.access_target == "list:payments"
    assert b"list:payments" not in orjson.dumps(fixture(LIST))
