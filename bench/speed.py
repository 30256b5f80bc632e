"""Events per second on one core: the parse-only limit (a), the pipeline with the memory store (b), with SQLite (c).

Each figure is the best of several runs of the same documents, measured in CPU time of this process (pinned to
one core), so other work on the machine skews it as little as possible. The three are measured in turn within
each round, so their ratios compare like with like.
"""

from __future__ import annotations

import base64
import gc
import tempfile
import time
import zlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import orjson

from bench.traffic import LEARNING_HOURS
from core.model import Alert
from core.pipeline import Pipeline, Summary
from core.rules.schema import Rule
from core.state.base import Store
from core.state.memory import MemoryStore
from core.state.sqlite import SqliteStore

_GZIP_OR_ZLIB = zlib.MAX_WBITS | 32


class DiscardSink:
    """Takes alerts and keeps nothing, so delivery costs only what the pipeline itself does."""

    label = "discard"

    def send(self, alerts: Sequence[Alert]) -> None:
        del alerts

    def close(self) -> None:
        """Nothing to release."""


# --- (a) the parse-only limit ----------------------------------------------------------------------------

def parse_eks(documents: Sequence[bytes]) -> int:
    """orjson.loads of each Lambda event, base64 and gunzip of awslogs.data, the DATA_MESSAGE, every message."""
    count = 0
    for document in documents:
        data = orjson.loads(document)["awslogs"]["data"]
        message = orjson.loads(zlib.decompress(base64.b64decode(data), _GZIP_OR_ZLIB))
        for log_event in message["logEvents"]:
            orjson.loads(log_event["message"])
            count += 1
    return count


def parse_gke(documents: Sequence[bytes]) -> int:
    """orjson.loads of each push body, base64 of message.data, and the LogEntry inside."""
    for document in documents:
        orjson.loads(base64.b64decode(orjson.loads(document)["message"]["data"]))
    return len(documents)


def parse_aks(documents: Sequence[bytes]) -> int:
    """orjson.loads of each Event Hub body and of every record's properties.log string."""
    count = 0
    for document in documents:
        for record in orjson.loads(document)["records"]:
            orjson.loads(record["properties"]["log"])
            count += 1
    return count


PARSERS: dict[str, Callable[[Sequence[bytes]], int]] = {"eks": parse_eks, "gke": parse_gke, "aks": parse_aks}


# --- (b) and (c) the pipeline ----------------------------------------------------------------------------

@dataclass(slots=True)
class Totals:
    """What the pipeline runs of one round saw, summed over their process() calls."""

    events: Counter[str] = field(default_factory=Counter)
    prefiltered: int = 0
    matches: Counter[str] = field(default_factory=Counter)
    alerts: Counter[str] = field(default_factory=Counter)
    state_reads: int = 0
    state_writes: int = 0

    def add(self, summary: Summary) -> None:
        self.events.update(summary.events)
        self.prefiltered += summary.prefiltered
        self.matches.update(summary.matches)
        self.alerts.update(summary.alerts)
        self.state_reads += summary.state_reads
        self.state_writes += summary.state_writes


@dataclass(slots=True)
class Timings:
    """Best CPU seconds over the rounds for each measure, and what the last round's pipelines saw."""

    events: int
    best: dict[str, float] = field(default_factory=dict)
    totals: dict[str, Totals] = field(default_factory=dict)

    def per_event_us(self, measure: str) -> float:
        return self.best[measure] / self.events * 1e6


MEASURES = ("parse", "memory", "sqlite")


def measure(fmt: str, documents: Sequence[bytes], rules: Sequence[Rule], *, rounds: int, chunk_events: int) -> Timings:
    """Time (a), (b) and (c) over the same documents, chunk by chunk in turn, `rounds` times.

    Each round starts fresh pipelines and stores; each chunk (about `chunk_events` events) is one process()
    call, as one invocation of a cloud function would be. Taking the three in turn on every chunk exposes
    them to the same moments of load on a busy machine.
    """
    parse = PARSERS[fmt]
    timings = Timings(events=parse(documents))
    size = max(1, round(len(documents) * chunk_events / max(1, timings.events)))
    chunks = [documents[start : start + size] for start in range(0, len(documents), size)]
    with tempfile.TemporaryDirectory(prefix="secretwatch-bench-") as scratch:
        for round_ in range(rounds):
            sqlite = SqliteStore(Path(scratch) / f"state-{round_}.db")
            try:
                seconds, timings.totals = _round(parse, chunks, rules, sqlite)
            finally:
                sqlite.close()
            for name in MEASURES:
                timings.best[name] = min(seconds[name], timings.best.get(name, seconds[name]))
    return timings


def _round(
    parse: Callable[[Sequence[bytes]], int], chunks: Sequence[Sequence[bytes]], rules: Sequence[Rule], sqlite: Store
) -> tuple[dict[str, float], dict[str, Totals]]:
    pipelines = {"memory": _pipeline(rules, MemoryStore()), "sqlite": _pipeline(rules, sqlite)}
    seconds = dict.fromkeys(MEASURES, 0.0)
    totals = {name: Totals() for name in pipelines}
    gc.collect()
    for index, chunk in enumerate(chunks):
        for name in _rotated(index):
            started = time.process_time()
            if name == "parse":
                parse(chunk)
                seconds[name] += time.process_time() - started
            else:
                summary = pipelines[name].process(chunk)
                seconds[name] += time.process_time() - started
                totals[name].add(summary)
    return seconds, totals


def _pipeline(rules: Sequence[Rule], store: Store) -> Pipeline:
    return Pipeline(rules, store, [DiscardSink()], learning_period=timedelta(hours=LEARNING_HOURS))


def _rotated(index: int) -> tuple[str, ...]:
    """The measures in a different order on each chunk, so none always runs with a warm or a cold cache."""
    shift = index % len(MEASURES)
    return MEASURES[shift:] + MEASURES[:shift]
