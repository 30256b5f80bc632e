"""Which events each rule's condition matches, remembered by the values the conditions read.

Most events a rule is asked about repeat one another in everything its condition reads (the same workload
reading the same secrets from the same address); only their audit ids and times differ, which no condition
reads. So the conditions are run once per distinct tuple of the attributes they read, and their answers are
looked up for every other event with that tuple. Sound because a compiled condition is a pure function of the
attributes it reads (core.rules.conditions.Compiled.pure_reads), and values equal in Python are alike to
every operator. A condition that is no longer its compiled expression alone (tuning's exceptions read the
clock and other fields) is run on every event.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import compress
from operator import attrgetter, itemgetter

from core.model import AuditEvent
from core.rules.conditions import Predicate
from core.rules.schema import Rule

#: Distinct tuples remembered at most; the memory is cleared when full (traffic whose every event differs in
#: what the conditions read fills it, and gains nothing from it).
MEMO_SIZE = 8_192
#: When more than this share of a batch's events were new tuples, the next REST batches run every condition on
#: every event (remembering costs about a third of running them; measured on bench.raw_cli's distinct clients).
_RARELY = 0.5
REST = 4
#: Properties keyed by the attribute they are read from (a property call costs several attribute reads).
_STORED = {"source_ip": "source_ips"}


class Matcher:
    """The events each of `rules` matches, in the order given, for one engine's whole life: at most `size` tuples
    remembered, and `rest` batches run without them after one that was mostly new tuples."""

    def __init__(self, rules: Sequence[Rule], size: int = MEMO_SIZE, rest: int = REST) -> None:
        self._predicates = [rule.condition.predicate for rule in rules]
        reads = [rule.condition.pure_reads() for rule in rules]
        self._remembered = [index for index, read in enumerate(reads) if read]
        self._run_each = [index for index, read in enumerate(reads) if not read]
        names = sorted({_STORED.get(name, name) for read in reads if read for name in read})
        self._key = attrgetter(*names) if names else None
        self._memo: dict[object, tuple[bool, ...]] = {}
        self._size, self._rest = size, rest
        #: batches left to run every condition on every event, after one where remembering rarely paid
        self._resting = 0

    def matched(self, events: Sequence[AuditEvent]) -> list[list[AuditEvent]]:
        """Per rule, the events its condition matches."""
        found: list[list[AuditEvent]] = [[] for _ in self._predicates]
        if not events:
            return found
        run_each: Sequence[int] = self._run_each
        if self._resting:
            self._resting -= 1
            run_each = range(len(self._predicates))
        elif self._remembered:
            answers = self._answers(events)
            for position, index in enumerate(self._remembered):
                found[index] = list(compress(events, map(itemgetter(position), answers)))
        for index in run_each:
            found[index] = list(filter(self._predicates[index], events))
        return found

    def _answers(self, events: Sequence[AuditEvent]) -> list[tuple[bool, ...]]:
        """For each event, the remembered rules' answers, in their order."""
        assert self._key is not None
        key, memo = self._key, self._memo
        predicates: list[Predicate] = [self._predicates[index] for index in self._remembered]
        answers, misses = [], 0
        for event in events:
            values = key(event)
            answer = memo.get(values)
            if answer is None:
                misses += 1
                if len(memo) >= self._size:
                    memo.clear()
                answer = memo[values] = tuple([bool(predicate(event)) for predicate in predicates])
            answers.append(answer)
        if misses > len(events) * _RARELY:
            self._resting = self._rest
        return answers
