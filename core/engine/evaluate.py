"""The engine: run every rule over a batch, one store read per rule and at most one write per changed key."""

from __future__ import annotations

from collections import Counter, OrderedDict, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from operator import attrgetter
from typing import Any

from core.engine import counting, new_terms, threshold
from core.engine.alerting import Pending, pending_alert
from core.engine.commit import Apply, Outcome, commit
from core.engine.matching import Matcher
from core.engine.windows import later
from core.model import Alert, AuditEvent
from core.rules.schema import Rule
from core.state.base import Item, Store, get_one
from core.timeutil import isoformat, parse_time, utcnow

#: How late an event may arrive behind its group's newest event and still count in its own window: it covers
#: the platforms' redelivery (Lambda's async retries, Pub/Sub's and Event Hubs' default 7-day retention).
DEFAULT_LATENESS = timedelta(days=7)

#: Events are applied to state in event-time order; the audit id breaks ties, so results do not depend on input order.
_EVENT_ORDER = attrgetter("timestamp", "audit_id")


@dataclass(slots=True)
class Evaluation:
    #: what the rules raised, built only when asked for (core.delivery builds only what it sends)
    pending: list[Pending] = field(default_factory=list)
    matches: Counter[str] = field(default_factory=Counter)
    #: matched events missing a field the rule keys on (a new_terms term field, a cardinality rule's distinct field)
    without_term: Counter[str] = field(default_factory=Counter)
    #: matched events older than the allowed lateness behind their group's newest event: dropped
    too_late: Counter[str] = field(default_factory=Counter)
    #: with prime: terms recorded as first seen, per new_terms rule
    learned: Counter[str] = field(default_factory=Counter)

    @property
    def alerts(self) -> list[Alert]:
        """Every alert raised, built."""
        return [pending.build() for pending in self.pending]


class Engine:
    """Holds the rules, the store and a warm cache of known terms (reused across batches in one container).

    `prime` builds baselines from history: only new_terms rules run, and they record every sighting without
    alerting, as in a learning period that never ends. Each primed rule's learning period is moved back to the
    earliest event primed, so a deployment whose history covers its learning period starts alerting at once.
    """

    def __init__(
        self,
        rules: Sequence[Rule],
        store: Store,
        *,
        learning_period: timedelta = timedelta(0),
        lateness: timedelta = DEFAULT_LATENESS,
        clock: Callable[[], datetime] = utcnow,
        cache_size: int = 100_000,
        prime: bool = False,
    ) -> None:
        self.rules = tuple(rule for rule in rules if rule.enabled and (rule.type == "new_terms" or not prime))
        self.prime = prime
        self.store = store
        self.learning_period = learning_period
        self.lateness = lateness
        self._clock = clock
        self._cache: OrderedDict[str, Item] = OrderedDict()
        self._cache_size = cache_size
        self._learning_start: dict[str, datetime] = {}
        self._windows = counting.Parsed(cache_size)
        self._matcher = Matcher(self.rules)

    def evaluate(self, events: Sequence[AuditEvent]) -> Evaluation:
        result = Evaluation()
        now = self._clock()
        ordered = sorted(events, key=_EVENT_ORDER)  # once: each rule's matches keep this order (sort is stable)
        for rule, matched in zip(self.rules, self._matcher.matched(ordered), strict=True):
            if not matched:
                continue
            result.matches[rule.id] += len(matched)
            if rule.type == "new_terms":
                result.pending.extend(self._new_terms(rule, matched, now, result))
            elif (spec := counting.counting_of(rule)) is not None:
                result.pending.extend(self._counted(rule, spec, matched, now, result))
            elif rule.type == "threshold":
                result.pending.extend(self._sliding(rule, matched, now, result))
            else:
                result.pending.extend(self._match(rule, matched))
        return result

    def _match(self, rule: Rule, matched: Sequence[AuditEvent]) -> list[Pending]:
        unique = {event.audit_id: event for event in reversed(matched)}
        return [
            pending_alert(
                rule,
                event,
                key=event.audit_id,
                id_parts=(event.audit_id,),
                count=1,
                first_seen=event.timestamp,
                last_seen=event.timestamp,
                audit_ids=[event.audit_id],
            )
            for event in unique.values()
        ]

    def _counted(
        self, rule: Rule, spec: counting.Counting, matched: Sequence[AuditEvent], now: datetime, result: Evaluation
    ) -> list[Pending]:
        return self._commit_groups(
            rule,
            counting.groups(rule, spec, matched),
            lambda group: partial(
                counting.apply, rule, spec, group, now=now, lateness=self.lateness, parsed=self._windows
            ),
            now,
            result,
        )

    def _sliding(self, rule: Rule, matched: Sequence[AuditEvent], now: datetime, result: Evaluation) -> list[Pending]:
        spec = rule.threshold
        assert spec is not None
        groups: dict[str, list[AuditEvent]] = defaultdict(list)
        for event in matched:
            groups[threshold.state_key(rule, threshold.group_values(spec, event))].append(event)
        return self._commit_groups(
            rule,
            groups,
            lambda group: partial(threshold.apply, rule, spec, group, now=now, lateness=self.lateness),
            now,
            result,
        )

    def _commit_groups(
        self,
        rule: Rule,
        groups: Mapping[str, Sequence[AuditEvent]],
        applier: Callable[[Sequence[AuditEvent]], Apply[counting.Raised]],
        now: datetime,
        result: Evaluation,
    ) -> list[Pending]:
        """One read for the groups' records not in the warm cache, then one conditional write per changed record.

        A cached record may be stale (another instance wrote since), which is safe: a window's values and alerts
        only grow and its floor only rises, so what a stale record says was counted or alerted is so, and a write
        it leads to fails its version check and is applied again to the record read afresh.
        """
        fetched = self.store.get_many([key for key in groups if self._cached(key, now) is None])
        alerts: list[Pending] = []
        for key, group in groups.items():
            known = self._cached(key, now) or fetched.get(key)
            raised, stored = commit(self.store, key, known, applier(group))
            self._remember(key, stored)
            alerts.extend(raised.alerts)
            if raised.too_late:
                result.too_late[rule.id] += raised.too_late
            if raised.without_value:
                result.without_term[rule.id] += raised.without_value
        return alerts

    def _new_terms(self, rule: Rule, matched: Sequence[AuditEvent], now: datetime, result: Evaluation) -> list[Pending]:
        assert rule.new_terms is not None
        terms: dict[tuple[str, ...], list[AuditEvent]] = defaultdict(list)
        term_of = new_terms.term_reader(rule.new_terms)
        for event in matched:
            term = term_of(event)
            if term is None:
                result.without_term[rule.id] += 1
            else:
                terms[term].append(event)
        if not terms:
            return []
        learning_until = (
            self._primed(rule, matched[0].timestamp) if self.prime else self._learning_until(rule, matched[0].timestamp)
        )
        keys = {term: new_terms.state_key(rule, term) for term in terms}
        missing = [key for key in keys.values() if key not in self._cache or self._cache[key].expires_at <= now]
        fetched = self.store.get_many(missing) if missing else {}
        alerts: list[Pending] = []
        for term, group in terms.items():
            key = keys[term]
            cached = self._cache.get(key)
            known = cached if cached is not None and cached.expires_at > now else fetched.get(key)
            raised, stored = commit(self.store, key, known, new_terms.applier(rule, term, group, now, learning_until))
            alerts.extend(raised)
            self._remember(key, stored)
            if _first_sighting(stored) != _first_sighting(known):
                result.learned[rule.id] += 1
        return alerts

    def _primed(self, rule: Rule, first_event: datetime) -> datetime:
        """Never alert; and start the rule's learning period no later than `first_event` (see the class)."""
        known = self._learning_start.get(rule.id)
        if known is None or first_event < known:
            key = new_terms.learning_key(rule)
            current = get_one(self.store, key)
            expires = self._clock() + new_terms.LEARNING_RECORD_TTL
            start, _ = commit(self.store, key, current, partial(_earlier_start, first_event, expires))
            self._learning_start[rule.id] = start
        return datetime.max.replace(tzinfo=UTC)

    def _learning_until(self, rule: Rule, first_event: datetime) -> datetime | None:
        """End of the learning period, which starts at the first event the store ever saw for this rule."""
        if not self.learning_period:
            return None
        if rule.id not in self._learning_start:
            key = new_terms.learning_key(rule)
            expires = self._clock() + new_terms.LEARNING_RECORD_TTL
            item = get_one(self.store, key)
            if item is None and self.store.put(
                key, {"start": isoformat(first_event)}, expires_at=expires, version=None
            ):
                item = Item({"start": isoformat(first_event)}, 1, expires)
            item = item or get_one(self.store, key)
            start = parse_time(item.value.get("start")) if item else None
            self._learning_start[rule.id] = start or first_event
        return later(self._learning_start[rule.id], self.learning_period)

    def _cached(self, key: str, now: datetime) -> Item | None:
        item = self._cache.get(key)
        return item if item is not None and item.expires_at > now else None

    def _remember(self, key: str, item: Item | None) -> None:
        if item is None:
            return
        self._cache[key] = item
        self._cache.move_to_end(key)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)


def _first_sighting(item: Item | None) -> object:
    return item.value.get("first") if item is not None else None


def _earlier_start(first_event: datetime, expires: datetime, value: Mapping[str, Any] | None) -> Outcome[datetime]:
    """A learning record starting at `first_event`, unless the stored one starts earlier already."""
    start = parse_time(value.get("start")) if value else None
    if start is not None and start <= first_event:
        return Outcome(None, None, start)
    return Outcome({"start": isoformat(first_event)}, expires, first_event)
