"""The CLI's commands; each builds the pieces from core and prints. Parsing lives in core/cli.py, above this."""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import ExitStack, closing
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING

from core.alerts.base import Sink
from core.alerts.jsonl import JsonlSink
from core.alerts.memory import MemorySink
from core.alerts.registry import open_sink
from core.alerts.table import format_table
from core.errors import ConfigError, InputError
from core.inputs import Input, open_inputs, read_documents
from core.links import Consoles
from core.pipeline import Decoder, Item, Pipeline, Skimmed, Summary
from core.ranges import file_ranges, ranged_head
from core.report import SkippedRecords, format_learned, format_summary
from core.rules.loader import load_pack
from core.rules.schema import Rule, rule_json_schema
from core.rules.tuning import RuleTuning, Tuning, load_tuning, utc_now
from core.scenarios import run_rule_tests
from core.sources.skim import Piece, ReadLines, SkimmedRun, Skimmer
from core.state.base import Store
from core.state.registry import open_store
from core.terminal import Progress, table_width
from core.timeutil import format_duration

if TYPE_CHECKING:
    from core.parallel import Decoded, Work

#: What each --output other than table writes on stdout, as a jsonl sink format.
_FORMATS = {"jsonl": "json", "ocsf": "ocsf"}


def scan(args: argparse.Namespace) -> int:
    rules = _rules(args)
    if args.prime:
        _check_prime(args, rules)
    collected = MemorySink()
    sinks: list[Sink] = [collected if args.output == "table" else JsonlSink.stdout(fmt=_FORMATS[args.output])]
    sinks.extend(open_sink(uri) for uri in args.sink)
    store = open_store(_store_uri(args.state))
    skipped = SkippedRecords(limit=args.verbose)
    with ExitStack() as stack:
        inputs = list(open_inputs(args.paths, stack))
        sizes = [source.size for source in inputs]
        progress = Progress(0 if 0 in sizes else sum(sizes))
        pipeline = _pipeline(args, rules, store, sinks)
        try:
            summary = _run(pipeline, inputs, args, progress, skipped)
        finally:
            progress.finish()
            store.close()
            for sink in sinks:
                sink.close()
    if args.prime:
        print(format_learned(summary, rules, store_label=store.label))
    elif args.output == "table":
        print(format_table(collected.alerts, width=table_width()) if collected.alerts else "No alerts.")
    print(format_summary(summary, store_label=store.label), file=sys.stderr)
    if listed := skipped.format(summary):
        print(listed, file=sys.stderr)
    no_events = summary.documents and not summary.event_total
    if no_events:
        print(f"secretwatch: {_no_events_hint(summary, args.format)}", file=sys.stderr)
    if skipped.unreadable:
        print(skipped.format_unreadable([source.name for source in inputs]), file=sys.stderr)
        return INCOMPLETE
    return NO_AUDIT_EVENTS if no_events else 0


#: scan's exit code when it read records and none was an audit event: a wrong --format, or not audit logs
NO_AUDIT_EVENTS = 3
#: scan's exit code when an input could not be read to its end (the rest was scanned), as when a store failed
INCOMPLETE = 1


def _no_events_hint(summary: Summary, fmt: str) -> str:
    read = f"none of the {summary.documents:,} documents read held an audit event"
    if fmt != "auto":
        return f"{read} in the --format {fmt} layout: check --format, or leave it out to detect each record's"
    return f"{read}: are these Kubernetes audit logs (EKS, GKE, AKS or the API server's own)?"


def _check_prime(args: argparse.Namespace, rules: Sequence[Rule]) -> None:
    """Priming sends nothing and needs a new_terms rule and a store that outlives the run."""
    if args.sink:
        raise ConfigError("--prime raises no alerts, so it takes no --sink: leave the --sink options out")
    if not any(rule.enabled and rule.type == "new_terms" for rule in rules):
        raise ConfigError("--prime builds new_terms baselines, and no new_terms rule is enabled")
    if _store_uri(args.state) == "memory://":
        raise ConfigError("--prime with --state memory learns into a store that ends with the run: name the "
                          "deployment's store, e.g. --state dynamodb://TABLE?region=REGION")


def _pipeline(args: argparse.Namespace, rules: Sequence[Rule], store: Store, sinks: Sequence[Sink]) -> Pipeline:
    """The pipeline scan and replay run: the command line's windows, and console links from the environment."""
    return Pipeline(
        rules,
        store,
        sinks,
        learning_period=args.learning_period,
        lateness=args.allowed_lateness,
        consoles=Consoles.from_env(),  # links to EKS logs only with AWS_REGION set (core.links)
        prime=getattr(args, "prime", False),  # replay has no --prime
    )


def _store_uri(value: str) -> str:
    return "memory://" if value == "memory" else value


def _run(
    pipeline: Pipeline,
    inputs: Sequence[Input],
    args: argparse.Namespace,
    progress: Progress,
    skipped: SkippedRecords,
    *,
    range_bytes: int | None = None,
) -> Summary:
    """Decode here, or in args.jobs worker processes (core.parallel) with the same alerts and counts; there, plain
    local files of raw audit lines are read by the workers too, in ranges of `range_bytes` (core.ranges)."""
    decoder = pipeline.decoder(args.format)
    reader = _Reader(inputs, Skimmer.for_prefilter(pipeline.prefilter, args.format), progress, skipped)
    if args.jobs == 1:
        decoded = reader.decoded(decoder)
        return pipeline.consume(decoded, received_at=decoder.received_at, on_skip=skipped.skipped)
    from core.parallel import RANGE_BYTES, decoded_in_workers

    work = reader.work(range_bytes or RANGE_BYTES)
    with closing(decoded_in_workers(work, decoder, jobs=args.jobs)) as chunks:
        decoded = chain(_in_order(chunks, progress, skipped), reader.skimmed())
        return pipeline.consume(decoded, received_at=decoder.received_at, on_skip=skipped.skipped)


@dataclass(frozen=True, slots=True)
class _Chunk:
    """Where a chunk's documents came from: their file, the line each starts on, and their bytes with newlines."""

    name: str
    lines: list[int]
    size: int


@dataclass(frozen=True, slots=True)
class _Span:
    """A range of a file read by a worker (core.ranges): the number of its first line (0: the line after the
    previous range of the file) and its bytes."""

    name: str
    first: int
    size: int


@dataclass(slots=True)
class _Reader:
    """The inputs' documents, read here; runs of raw audit lines no rule can match come skimmed (core.sources.skim)
    and counted, never decoded. With workers, files they may read themselves are only cut into ranges here."""

    inputs: Sequence[Input]
    skimmer: Skimmer | None
    progress: Progress
    skipped: SkippedRecords
    #: lines skimmed per cloud, handed to the pipeline after the rest (order does not matter for them)
    _runs: Counter[str] = field(default_factory=Counter)

    def documents(self, source: Input) -> Iterator[tuple[int, bytes]]:
        """(line, document) for each document of `source`; its skimmed runs are counted, not given. The skimmer
        reads no lines itself here (see `work`)."""
        for piece in self._pieces(source, self.skimmer and self.skimmer.without_reading()):
            assert not isinstance(piece, ReadLines)
            if isinstance(piece, SkimmedRun):
                self._count(piece)
                continue
            yield piece

    def decoded(self, decoder: Decoder) -> Iterator[Iterable[Item] | Skimmed]:
        """Each document's items, decoded here (dense runs of raw audit lines by the skimmer, in one typed pass),
        then the skimmed runs counted."""
        for source in self.inputs:
            for piece in self._pieces(source, self.skimmer):
                if isinstance(piece, tuple):
                    line, document = piece
                    self.skipped.at(source.name, line)
                    self.progress.advance(len(document) + 1)
                    yield decoder(document)
                elif isinstance(piece, SkimmedRun):
                    self._count(piece)
                else:
                    self.progress.advance(piece.size)
                    for line, event in piece.events:
                        self.skipped.at(source.name, line)
                        yield (event,)
        yield from self.skimmed()

    def _pieces(self, source: Input, skimmer: Skimmer | None) -> Iterator[Piece]:
        """The pieces of `source` (core.inputs.read_documents); one that cannot be read to its end is reported and
        left at the fault, its pieces before it given, so that the run reads every other input."""
        try:
            yield from read_documents(source, skimmer)
        except InputError as exc:
            self.skipped.unread(source.name, str(exc))

    def _count(self, run: SkimmedRun) -> None:
        self.progress.advance(run.size)
        self._runs[run.cloud] += run.lines

    def work(self, range_bytes: int) -> Iterator[tuple[_Chunk | _Span, Work]]:
        """What the workers decode, in order: each file's documents in chunks of about core.parallel.CHUNK_BYTES,
        or, for a file they may read themselves, its first line and then its ranges of about `range_bytes`."""
        for source in self.inputs:
            head = ranged_head(source.name, source.size, self.skimmer)
            if head is None:
                yield from self.chunks(source)
                continue
            yield _Chunk(source.name, [head.number], head.end), [head.document]
            first = head.number + 1
            try:
                for span in file_ranges(source.name, head.end, source.size, range_bytes):
                    yield _Span(source.name, first, span.size), span
                    first = 0
            except InputError as exc:  # gone since its first line was read
                self.skipped.unread(source.name, str(exc))

    def chunks(self, source: Input) -> Iterator[tuple[_Chunk, Work]]:
        """The documents of `source` in chunks of about core.parallel.CHUNK_BYTES, with where they came from."""
        from core.parallel import CHUNK_BYTES

        lines: list[int] = []
        chunk: list[bytes] = []
        size = 0
        for line, document in self.documents(source):
            lines.append(line)
            chunk.append(document)
            size += len(document) + 1
            if size >= CHUNK_BYTES:
                yield _Chunk(source.name, lines, size), chunk
                lines, chunk, size = [], [], 0
        if chunk:
            yield _Chunk(source.name, lines, size), chunk

    def skimmed(self) -> Iterator[Skimmed]:
        """The lines skimmed here, counted once the reading is done."""
        for cloud, lines in self._runs.items():
            yield Skimmed(cloud, lines, lines)


def _in_order(
    chunks: Iterable[tuple[_Chunk | _Span, Decoded]], progress: Progress, skipped: SkippedRecords
) -> Iterator[Sequence[Item] | Skimmed]:
    """Each chunk's or range's documents for the pipeline, telling -v where each came from (a range's lines
    counted on from those before it); those that were only prefiltered records, which can report no skipped
    record, come counted together. A range a worker could not read to its end gives its documents before the
    fault, and its file's later ranges are left, as reading it here would leave them."""
    first = 0  # the number of the current range's first line
    left: set[str] = set()  # files a range of which could not be read
    for place, decoded in chunks:
        progress.advance(place.size)
        if place.name in left:
            continue
        yield from decoded.skimmed
        if isinstance(place, _Span):
            first = place.first or first
            last = decoded.indexes[-1] if decoded.unread is not None and decoded.indexes else decoded.lines
            lines: Sequence[int] = range(first, first + last + 1)
            first += decoded.lines
        else:
            lines = place.lines
        for index, items in zip(decoded.indexes, decoded.items, strict=True):
            skipped.at(place.name, lines[index])
            yield items
        if decoded.unread is not None:
            skipped.unread(place.name, decoded.unread)
            left.add(place.name)


def replay(args: argparse.Namespace) -> int:
    from core.replay import ReplayOutcome, open_source
    from core.replay import replay as drain

    rules = _rules(args)
    collected = MemorySink()
    sinks: list[Sink] = [collected, *(open_sink(uri) for uri in args.sink)]
    store = open_store(_store_uri(args.state))
    source = open_source(args.source)

    def progress(outcome: ReplayOutcome) -> None:
        print(f"secretwatch: {outcome.read:,} messages read from {source.label}", file=sys.stderr)

    try:
        pipeline = _pipeline(args, rules, store, sinks)
        outcome, summary = drain(source, pipeline, fmt=args.format, progress=progress)
    finally:
        source.close()
        store.close()
        for sink in sinks:
            sink.close()
    print(format_table(collected.alerts, width=table_width()) if collected.alerts else "No alerts.")
    for error in outcome.errors:
        print(f"secretwatch: {error}", file=sys.stderr)
    print(
        f"secretwatch: replay of {source.label}: {outcome.read:,} messages read, {outcome.deleted:,} deleted, "
        f"{outcome.failed:,} failed (left for the next run)",
        file=sys.stderr,
    )
    print(format_summary(summary, store_label=store.label), file=sys.stderr)
    return 1 if outcome.failed else 0


def test(args: argparse.Namespace) -> int:
    rules = _select(_rules(args), args.rule_ids)
    passed = failed = 0
    for rule in rules:
        for outcome in run_rule_tests(rule):
            mark = "PASS" if outcome.passed else "FAIL"
            print(f"{mark} {outcome.rule_id} {outcome.kind}: {outcome.name}")
            for problem in outcome.problems:
                print(f"     {problem}")
            passed, failed = passed + outcome.passed, failed + (not outcome.passed)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


def _select(rules: list[Rule], ids: Sequence[str]) -> list[Rule]:
    if not ids:
        return rules
    known = {rule.id: rule for rule in rules}
    unknown = [rule_id for rule_id in ids if rule_id not in known]
    if unknown:
        raise ConfigError(f"unknown rule id(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    return [known[rule_id] for rule_id in ids]


def _rules(args: argparse.Namespace) -> list[Rule]:
    return _tuned(args)[0]


def _tuned(args: argparse.Namespace) -> tuple[list[Rule], Tuning | None]:
    rules = load_pack(args.rules, builtin=not args.no_builtin_rules)
    if args.tuning is None:
        return rules, None
    tuning = load_tuning(args.tuning, rules)
    return tuning.apply(rules), tuning


def rules(args: argparse.Namespace) -> int:
    if args.schema:
        print(json.dumps(rule_json_schema(), indent=2))
        return 0
    loaded, tuning = _tuned(args)
    now = utc_now()
    for rule in loaded:
        state = "" if rule.enabled else "  DISABLED"
        print(f"{rule.id}  [{rule.type}, {rule.severity}, risk {rule.risk_score}]  {rule.title}{state}")
        print(
            f"    {_parameters(rule)}; {len(rule.tests)} tests, {len(rule.scenarios)} scenarios; {rule.path}"
        )
        if tuning is None:
            continue
        if (override := tuning.overrides.get(rule.id)) is not None:
            print(f"    tuned by {tuning.path}: {_override_text(override)}")
        for entry in tuning.for_rule(rule.id):
            status = "LAPSED on" if entry.lapsed(now) else "until"
            print(f"    except ({status} {entry.expires.isoformat()}, {entry.rule}): {entry.reason}")
    return 0


def _override_text(override: RuleTuning) -> str:
    parts = [] if override.enabled is None else [f"enabled: {str(override.enabled).lower()}"]
    for block in ("threshold", "cardinality", "dedup", "new_terms"):
        if (keys := getattr(override, block)) is not None:
            parts.append(f"{block}: " + ", ".join(f"{key}={value}" for key, value in keys.items()))
    return "; ".join(parts) or "nothing"


def _parameters(rule: Rule) -> str:
    if rule.threshold:
        spec = rule.threshold
        return (
            f"alert at {spec.count} events per ({', '.join(spec.group_by)}) within "
            f"{format_duration(spec.window)}, {spec.mode} window"
        )
    if rule.cardinality:
        card = rule.cardinality
        return (
            f"alert at {card.count} distinct {card.distinct} per ({', '.join(card.group_by)}) within "
            f"{format_duration(card.window)}"
        )
    if rule.new_terms:
        terms = rule.new_terms
        return f"new ({', '.join(terms.fields)}) not seen in {format_duration(terms.history_window)}"
    if rule.dedup:
        return f"one alert per ({', '.join(rule.dedup.group_by)}) per {format_duration(rule.dedup.window)}"
    return "one alert per matching event"


def demo(args: argparse.Namespace) -> int:
    from core.demo.run import run_demo

    return run_demo(events=args.events, seed=args.seed, state_path=Path(".secretwatch/demo.db"))
