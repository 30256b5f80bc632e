"""Human-readable run summaries for stderr."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from core.pipeline import Summary
from core.rules.schema import Rule


def _counts(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{name} {count:,}" for name, count in sorted(counts.items())) or "none"


def format_summary(summary: Summary, *, store_label: str) -> str:
    lines = [
        f"secretwatch: {summary.documents:,} documents, {summary.event_total:,} events "
        f"({_counts(summary.events)}), {summary.duplicates:,} duplicates dropped",
        *([f"  prefiltered: {summary.prefiltered:,} of the events left out before the rules (no rule can match them)"]
          if summary.prefiltered else []),
        f"  matches:  {_counts(summary.matches)}",
        f"  alerts:   {_counts(summary.alerts)}",
    ]
    if summary.malformed:
        lines.append(f"  skipped, malformed input: {_counts(summary.malformed)}")
    if summary.ignored:
        lines.append(f"  ignored, not audit events: {_counts(summary.ignored)}")
    if summary.without_term:
        lines.append(f"  matched but missing a field the rule keys on: {_counts(summary.without_term)}")
    if summary.too_late:
        lines.append(f"  too late to count (older than the allowed lateness): {_counts(summary.too_late)}")
    if summary.inferred_timestamps:
        lines.append(f"  events without any timestamp (ingestion time used): {summary.inferred_timestamps:,}")
    lines.append(f"  state:    {store_label}, {summary.state_reads:,} reads, {summary.state_writes:,} writes")
    return "\n".join(lines)


def format_learned(summary: Summary, rules: Sequence[Rule], *, store_label: str) -> str:
    """What `scan --prime` learned: per new_terms rule, the terms recorded as first seen, and where."""
    primed = [rule for rule in rules if rule.enabled and rule.type == "new_terms"]
    width = max(len(rule.id) for rule in primed)
    lines = [f"Primed {store_label} with new-terms baselines:"]
    for rule in primed:
        fields = ", ".join(rule.new_terms.fields) if rule.new_terms else ""
        lines.append(f"  {rule.id:<{width}}  {summary.learned[rule.id]:>9,} terms learned  ({fields})")
    return "\n".join(lines)


@dataclass(slots=True)
class SkippedRecords:
    """The first `limit` records a run skipped, each with the file and line it came from (`scan -v`), and the
    inputs it could not read to their end.

    The reader says where it is (`at`) before the pipeline reads a document, and the pipeline reports each record
    it skips (`skipped`) as it reads that document. The reader reports each input it had to leave (`unread`).
    """

    limit: int = 20
    listed: list[tuple[str, int, str]] = field(default_factory=list)
    #: per input left at a fault, why (the first fault's message), in the order met
    unreadable: dict[str, str] = field(default_factory=dict)
    _where: tuple[str, int] = ("", 0)

    def at(self, name: str, line: int) -> None:
        self._where = (name, line)

    def skipped(self, reason: str) -> None:
        if len(self.listed) < self.limit:
            self.listed.append((*self._where, reason))

    def unread(self, name: str, why: str) -> None:
        """The input `name` could not be read past some point: `why` says what failed."""
        self.unreadable.setdefault(name, why)

    def format_unreadable(self, inputs: Sequence[str]) -> str:
        """One line per input left at a fault, in the order of `inputs` (the run's, whichever process met the
        fault first); empty when every input was read to its end."""
        order = {name: index for index, name in enumerate(inputs)}
        return "\n".join(
            f"secretwatch: {self.unreadable[name]}; its records before that were scanned, and every other input"
            for name in sorted(self.unreadable, key=lambda name: order.get(name, len(order)))
        )

    def format(self, summary: Summary) -> str:
        """The listed records under a heading; empty when none was skipped."""
        total = sum(summary.malformed.values()) + sum(summary.ignored.values())
        if not self.listed:
            return ""
        shown = f"the first {len(self.listed)} of {total:,}" if total > len(self.listed) else f"all {total:,}"
        lines = [f"  skipped records ({shown}):"]
        lines += [f"    {name}:{line}: {reason}" for name, line, reason in self.listed]
        return "\n".join(lines)
