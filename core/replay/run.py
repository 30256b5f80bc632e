"""The replay loop: receive a batch, process it, delete it only once the pipeline returned."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import fields

from core.errors import SecretwatchError
from core.pipeline import Pipeline, Summary
from core.replay.base import Message, ReplayOutcome, Source

#: Messages given to one pipeline.process call (one SQS receive at most).
BATCH = 10


def replay(
    source: Source,
    pipeline: Pipeline,
    *,
    fmt: str = "auto",
    summary: Summary | None = None,
    progress: Callable[[ReplayOutcome], None] | None = None,
) -> tuple[ReplayOutcome, Summary]:
    """Drain `source` through `pipeline`. A batch whose processing raises a SecretwatchError (a store or sink
    outage) is left in the source and counted failed; the rest go on. Each message is processed once a run,
    even if the source delivers it again before the run ends."""
    outcome, total = ReplayOutcome(), summary or Summary()
    seen: set[str] = set()
    while batch := source.receive(BATCH):
        fresh = [message for message in batch if message.id not in seen]
        if not fresh:
            break  # only messages that failed earlier in this run: they wait for the next run
        seen.update(message.id for message in fresh)
        outcome.read += len(fresh)
        _process(source, pipeline, fresh, fmt=fmt, outcome=outcome, total=total)
        if progress is not None:
            progress(outcome)
    return outcome, total


def _process(
    source: Source, pipeline: Pipeline, batch: list[Message], *, fmt: str, outcome: ReplayOutcome, total: Summary
) -> None:
    try:
        part = pipeline.process((message.body for message in batch), fmt=fmt)
    except SecretwatchError as exc:
        outcome.failed += len(batch)
        outcome.errors.append(f"{len(batch)} message(s) left in {source.label}: {exc}")
        return
    _add(total, part)
    source.delete(batch)
    outcome.deleted += len(batch)


def _add(total: Summary, part: Summary) -> None:
    for each in fields(Summary):
        value = getattr(part, each.name)
        if isinstance(value, Counter):
            getattr(total, each.name).update(value)
        else:
            setattr(total, each.name, getattr(total, each.name) + value)
