"""The CLI's terminal table of alerts: one row per alert, every cell cleaned and cut to fit."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC

from core.alerts.render import clean_text, truncate
from core.model import Alert

_GAP = "  "


@dataclass(frozen=True, slots=True)
class Column:
    header: str
    cell: Callable[[Alert], object]
    #: Narrowest width the column is shrunk to when the table is too wide.
    minimum: int
    right: bool = False


def _time(alert: Alert) -> str:
    return alert.last_seen.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _target(alert: Alert) -> str:
    return "/".join(part for part in (alert.context.namespace, alert.context.name) if part)


COLUMNS = (
    Column("TIME", _time, 20),
    Column("SEVERITY", lambda alert: alert.severity, 8),
    Column("RULE", lambda alert: alert.rule_id, 10),
    Column("CLUSTER", lambda alert: alert.cluster, 7),
    Column("USER", lambda alert: alert.context.username, 8),
    Column("SOURCE IP", lambda alert: alert.context.source_ip, 9),
    Column("USER AGENT", lambda alert: alert.context.user_agent, 10),
    Column("NAMESPACE/NAME", _target, 10),
    Column("EVENTS", lambda alert: alert.event_count, 6, right=True),
)


def format_table(alerts: Sequence[Alert], *, width: int = 120) -> str:
    """A header, a rule and one row per alert, at most `width` characters wide.

    Wide columns are narrowed first, each down to its minimum; the table never gets narrower than the
    minimums (104 characters with the gaps). With no alerts, only the header and rule are returned.
    """
    rows = [[clean_text(column.cell(alert), limit=width) or "-" for column in COLUMNS] for alert in alerts]
    header = [column.header for column in COLUMNS]
    widths = _fit([max(len(cell) for cell in cells) for cells in zip(header, *rows, strict=True)], width)
    rule = ["-" * size for size in widths]
    return "\n".join(_line(cells, widths) for cells in [header, rule, *rows])


def _fit(natural: list[int], width: int) -> list[int]:
    """Column widths: the natural ones, the widest shrinkable column narrowed one step at a time."""
    widths = list(natural)
    floors = [min(size, column.minimum) for size, column in zip(natural, COLUMNS, strict=True)]
    excess = sum(widths) + len(_GAP) * (len(widths) - 1) - width
    while excess > 0:
        index = max(range(len(widths)), key=lambda column: widths[column] - floors[column])
        if widths[index] == floors[index]:
            break
        widths[index] -= 1
        excess -= 1
    return widths


def _line(cells: Sequence[str], widths: Sequence[int]) -> str:
    parts = []
    for cell, size, column in zip(cells, widths, COLUMNS, strict=True):
        text = truncate(cell, size)
        parts.append(text.rjust(size) if column.right else text.ljust(size))
    return _GAP.join(parts).rstrip()
