"""process(documents) -> Summary: the one entry every door (CLI, Lambda, Cloud Function, Azure Function) calls."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, cast

from core.alerts.base import Sink
from core.delivery import RETENTION_MARGIN, Delivery
from core.engine import Engine
from core.engine.evaluate import DEFAULT_LATENESS
from core.links import NO_CONSOLES, Consoles, with_links
from core.model import AuditEvent
from core.prefilter import Prefilter
from core.rules.schema import Rule
from core.sources import Format, Prefiltered, Skip, decode
from core.state.base import Store
from core.state.counting import CountingStore
from core.timeutil import utcnow

Document = bytes | str | dict[str, Any] | list[Any]
#: What decoding gives for each record of a document.
Item = AuditEvent | Skip | Prefiltered

#: Audit events before this are refused as `implausible_timestamp` (Kubernetes 1.0 shipped in 2015), and so are
#: events more than FUTURE_SLACK after the time of receipt: a clock that far off is a forgery or a broken clock.
PLAUSIBLE_SINCE = datetime(2014, 1, 1, tzinfo=UTC)
FUTURE_SLACK = timedelta(days=1)


@dataclass(slots=True)
class Summary:
    """What one run saw and did. Skips are split: `malformed` is bad input, `ignored` is expected non-audit input.

    `events` counts every audit record by cloud; `prefiltered` of them were skipped because their text, or once
    read their fields, show that no rule can match them (core.prefilter), so they are not deduplicated or checked
    for timestamps.
    """

    documents: int = 0
    events: Counter[str] = field(default_factory=Counter)
    prefiltered: int = 0
    duplicates: int = 0
    malformed: Counter[str] = field(default_factory=Counter)
    ignored: Counter[str] = field(default_factory=Counter)
    matches: Counter[str] = field(default_factory=Counter)
    without_term: Counter[str] = field(default_factory=Counter)
    too_late: Counter[str] = field(default_factory=Counter)
    alerts: Counter[str] = field(default_factory=Counter)
    #: with prime: terms per new_terms rule recorded as first seen (core.engine.Engine's prime)
    learned: Counter[str] = field(default_factory=Counter)
    inferred_timestamps: int = 0
    state_reads: int = 0
    state_writes: int = 0

    def skimmed(self, counted: Skimmed) -> None:
        self.documents += counted.documents
        self.prefiltered += counted.events
        self.events[counted.cloud] += counted.events

    @property
    def event_total(self) -> int:
        return sum(self.events.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "documents": self.documents,
            "events": dict(self.events),
            "prefiltered": self.prefiltered,
            "duplicates": self.duplicates,
            "malformed": dict(self.malformed),
            "ignored": dict(self.ignored),
            "matches": dict(self.matches),
            "without_term": dict(self.without_term),
            "too_late": dict(self.too_late),
            "alerts": dict(self.alerts),
            "learned": dict(self.learned),
            "inferred_timestamps": self.inferred_timestamps,
            "state_requests": {"reads": self.state_reads, "writes": self.state_writes},
        }


@dataclass(frozen=True, slots=True)
class Skimmed:
    """Documents that were each audit records the pre-filter skipped and nothing else, counted together.

    Order does not matter for them (they are neither deduplicated nor evaluated), so core.parallel's workers
    send one per cloud for a chunk, in place of one Prefiltered per document.
    """

    cloud: str
    documents: int
    events: int


@dataclass(frozen=True, slots=True)
class Decoder:
    """The decode stage of one run: a document -> its items. It pickles when its Prefilter does (core.parallel)."""

    fmt: str
    received_at: datetime
    prefilter: Prefilter | None = None

    def __call__(self, document: Document) -> Iterable[Item]:
        fmt = cast(Format, self.fmt)  # decode refuses a name outside core.sources.FORMATS
        return decode(document, fmt=fmt, received_at=self.received_at, prefilter=self.prefilter)


class Pipeline:
    """Decode, dedupe on (audit_id, stage), evaluate, deliver. Bad records are counted; infrastructure errors raise.

    `prefilter` (on by default) skips records no rule can match before parsing them; turning it off changes
    speed, the counts of prefiltered, malformed and duplicate records, and state requests (skipped records
    do not fill `batch_size`, so fewer, larger batches are evaluated), never a match or an alert.
    `consoles` says where the console links of each alert lead (core.links); GKE's need no setting.
    `prime` runs only the new_terms rules and records their sightings without alerting (core.engine.Engine).
    """

    def __init__(
        self,
        rules: Sequence[Rule],
        store: Store,
        sinks: Sequence[Sink],
        *,
        learning_period: timedelta = timedelta(0),
        lateness: timedelta = DEFAULT_LATENESS,
        clock: Callable[[], datetime] = utcnow,
        batch_size: int = 5000,
        max_alerts_per_rule: int = 100,
        prefilter: bool = True,
        consoles: Consoles = NO_CONSOLES,
        prime: bool = False,
    ) -> None:
        primed = [rule for rule in rules if rule.enabled and (rule.type == "new_terms" or not prime)]
        self.prefilter = Prefilter.for_rules(primed) if prefilter else None
        self.store = CountingStore(store)
        self.engine = Engine(
            rules, self.store, learning_period=learning_period, lateness=lateness, clock=clock, prime=prime
        )
        self.delivery = Delivery(
            self.store, sinks, max_per_rule=max_alerts_per_rule, retention=lateness + RETENTION_MARGIN, clock=clock
        )
        self.batch_size = batch_size
        self.consoles = consoles
        self._clock = clock

    def decoder(self, fmt: str = "auto") -> Decoder:
        """The decode stage of one run, received now; `consume` takes what it gives for each document."""
        return Decoder(fmt, self._clock(), self.prefilter)

    def process(
        self,
        documents: Iterable[Document],
        *,
        fmt: str = "auto",
        progress: Callable[[int], None] | None = None,
        on_skip: Callable[[str], None] | None = None,
    ) -> Summary:
        """Run `documents` through the rules; `on_skip` hears the reason for each record skipped, as it is."""
        decoder = self.decoder(fmt)  # one time of receipt per call, as one invocation receives its whole batch
        decoded = map(decoder, documents)
        return self.consume(decoded, received_at=decoder.received_at, progress=progress, on_skip=on_skip)

    def consume(
        self,
        decoded: Iterable[Iterable[Item] | Skimmed],
        *,
        received_at: datetime,
        progress: Callable[[int], None] | None = None,
        on_skip: Callable[[str], None] | None = None,
    ) -> Summary:
        """The consume stage: each document's items, in input order (from a `decoder` whose time of receipt is
        `received_at`), counted, deduplicated, batched and evaluated, as `process` does (core.parallel). Documents
        that were only prefiltered records may come counted together, as a Skimmed, anywhere among the others."""
        summary = Summary()
        latest = received_at + FUTURE_SLACK
        reads, writes = self.store.reads, self.store.writes
        batch: list[AuditEvent] = []
        seen: set[tuple[str, str | None]] = set()
        may_match = _any_event if self.prefilter is None else self.prefilter.fields.test
        skipped = on_skip or _unheard
        for items in decoded:
            if isinstance(items, Skimmed):
                summary.skimmed(items)
                continue
            summary.documents += 1
            for item in items:
                if isinstance(item, AuditEvent):
                    if not may_match(item):  # its fields show that no rule can match it
                        summary.prefiltered += 1
                        summary.events[item.cloud] += 1
                        continue
                    if not PLAUSIBLE_SINCE <= item.timestamp <= latest:
                        summary.malformed["implausible_timestamp"] += 1
                        skipped("implausible_timestamp")
                        continue
                    key = (item.audit_id, item.stage)
                    if key in seen:
                        summary.duplicates += 1
                        continue
                    seen.add(key)
                    batch.append(item)
                    if len(batch) >= self.batch_size:
                        self._flush(batch, summary)
                        batch, seen = [], set()
                elif isinstance(item, Prefiltered):
                    summary.prefiltered += item.count
                    summary.events[item.cloud] += item.count
                else:
                    (summary.malformed if item.malformed else summary.ignored)[item.reason] += 1
                    skipped(item.reason)
            if progress is not None:
                progress(summary.documents)
        self._flush(batch, summary)
        summary.state_reads = self.store.reads - reads
        summary.state_writes = self.store.writes - writes
        return summary

    def _flush(self, batch: list[AuditEvent], summary: Summary) -> None:
        if not batch:
            return
        summary.events.update(event.cloud for event in batch)
        summary.inferred_timestamps += sum("timestamp" in event.inferred for event in batch)
        evaluation = self.engine.evaluate(batch)
        summary.matches.update(evaluation.matches)
        summary.without_term.update(evaluation.without_term)
        summary.too_late.update(evaluation.too_late)
        summary.learned.update(evaluation.learned)
        # alerts are built, and given their links, only when sent (core.delivery)
        sent = self.delivery.deliver(evaluation.pending, prepare=partial(with_links, consoles=self.consoles))
        summary.alerts.update(alert.rule_id for alert in sent)


def _any_event(event: object) -> bool:
    """The field test without a pre-filter: every event is evaluated."""
    return True


def _unheard(reason: str) -> None:
    """Where skipped records are reported when no one listens."""
