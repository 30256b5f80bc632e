"""The order archives are read in: sorted by path, a log's rotated backups before the log itself.

The API server rotates its --audit-log-path file with lumberjack, which renames `audit.log` to
`audit-2024-05-01T12-00-00.000.log` (the rotation time, UTC; `.gz` added under --audit-log-compress) and starts
a new `audit.log`. Sorted as plain text the backups already come first (`-` sorts before `.`), and among
themselves oldest first; but a log named without an extension (`audit`) sorts before its own backups. The key
below puts every backup just before its log, oldest first, whatever the name. The clouds' archives need
nothing more: their paths sort chronologically (`YYYY/MM/DD/HH:00:00_...`, `y=YYYY/m=MM/d=DD/h=HH`), except that
CloudWatch does not order the events within an export (the engine's allowed lateness absorbs that).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

#: lumberjack's backup name: `<name>-<YYYY-MM-DDTHH-MM-SS.mmm><ext>` (and `.gz` when compressed, taken off first).
_BACKUP = re.compile(r"(?P<stem>.+)-(?P<time>\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d\.\d{3})(?P<ext>\.[^.]+)?")


def archive_order(parts: Sequence[str]) -> tuple[str, ...]:
    """A sort key for a path given as its parts (folders, then the file name)."""
    *folders, name = parts
    return (*folders, _name_key(name))


def _name_key(name: str) -> str:
    """`<log name> NUL <time>` for a backup and `<name> SOH` for any other file: a backup sorts just before its
    log, and other names keep their plain order."""
    backup = _BACKUP.fullmatch(name.removesuffix(".gz"))
    if backup is None:
        return f"{name}\x01"
    return f"{backup['stem']}{backup['ext'] or ''}\x00{backup['time']}"
