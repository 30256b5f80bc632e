"""What the command line shows on a terminal: a progress meter on stderr and the alert table's width."""

from __future__ import annotations

import shutil
import sys
import time


def table_width() -> int:
    """The terminal's width, or a wide table when stdout goes to a file or a pipe."""
    return shutil.get_terminal_size().columns if sys.stdout.isatty() else 160


class Progress:
    """A one-line progress meter on stderr, shown only when stderr is a terminal; a share when the total is known."""

    def __init__(self, total_bytes: int) -> None:
        self.enabled = sys.stderr.isatty()
        self.total = total_bytes
        self.done = 0
        self._last = 0.0

    def advance(self, size: int) -> None:
        self.done += size
        now = time.monotonic()
        if self.enabled and now - self._last > 0.2:
            self._last = now
            share = f" {100 * self.done / self.total:5.1f}%" if self.total else ""
            print(f"\r  reading {self.done / 1e6:8.1f} MB{share}", end="", file=sys.stderr, flush=True)

    def finish(self) -> None:
        if self.enabled:
            print("\r" + " " * 40 + "\r", end="", file=sys.stderr, flush=True)
