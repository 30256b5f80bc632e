"""The engine never raises on any event a source can produce, however extreme its time or values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from core.engine import Engine
from core.model import AuditEvent
from core.state.memory import MemoryStore
from tests.unit.engine_helpers import DENIED, UNUSUAL, sliding

extreme_times = st.one_of(
    st.datetimes(timezones=st.just(UTC)),
    st.sampled_from([datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC)]),
    st.integers(0, 10**6).map(lambda us: datetime.max.replace(tzinfo=UTC) - timedelta(microseconds=us)),
    st.integers(0, 10**6).map(lambda us: datetime.min.replace(tzinfo=UTC) + timedelta(microseconds=us)),
)
texts = st.one_of(st.none(), st.text(max_size=40), st.sampled_from(["secrets", "get", "list", "", "kube-system"]))

events = st.builds(
    AuditEvent,
    cloud=st.sampled_from(["aws", "gcp", "azure", "k8s"]),
    timestamp=extreme_times,
    audit_id=st.text(min_size=1, max_size=20),
    stage=st.sampled_from([None, "ResponseComplete", "RequestReceived"]),
    verb=st.sampled_from([None, "get", "list", "watch"]),
    resource=st.sampled_from([None, "secrets", "configmaps"]),
    namespace=texts,
    username=texts,
    user_agent=texts,
    source_ips=st.lists(st.text(max_size=15), max_size=3).map(tuple),
    response_code=st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1)),
    failed=st.one_of(st.none(), st.booleans()),
)


@settings(max_examples=300, deadline=None)
@given(batches=st.lists(st.lists(events, max_size=12), min_size=1, max_size=4))
def test_any_sequence_of_batches_of_extreme_events_is_evaluated_without_raising(
    batches: list[list[AuditEvent]],
) -> None:
    engine = Engine([DENIED, sliding(), UNUSUAL], MemoryStore(), learning_period=timedelta(days=1))
    for batch in batches:
        engine.evaluate(batch)
