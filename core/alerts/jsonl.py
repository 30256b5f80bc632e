"""JSON lines: one alert per line on stdout (``jsonl://-``) or appended to a file (``jsonl:///abs/path.jsonl``).

``?format=ocsf`` writes each alert as an OCSF Detection Finding (core.alerts.ocsf) instead of its own JSON.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import SplitResult, unquote

from core.alerts.base import alert_format, encode, uri_params
from core.errors import ConfigError, DeliveryError
from core.model import Alert
from core.uris import where


class JsonlSink:
    """Writes each batch with one write and one flush; `path` None means standard output.

    A local write either works or fails for a reason a retry will not fix, so there is no retry loop:
    an OSError becomes a DeliveryError at once.
    """

    def __init__(self, path: Path | None = None, *, fmt: str = "json") -> None:
        if path is not None and not path.is_absolute():
            raise ConfigError(f"jsonl sink path {str(path)!r} must be absolute (jsonl:///abs/path.jsonl)")
        self.path = path
        self.fmt = fmt
        self.label = f"jsonl:{path}" if path else "jsonl:-"

    @classmethod
    def stdout(cls, *, fmt: str = "json") -> JsonlSink:
        return cls(fmt=fmt)

    @classmethod
    def from_uri(cls, uri: SplitResult) -> JsonlSink:
        fmt = alert_format(uri_params(uri, allowed=("format",)), "jsonl")
        if uri.netloc == "-" and not uri.path:
            return cls.stdout(fmt=fmt)
        if not uri.netloc and uri.path.startswith("/"):
            return cls(Path(unquote(uri.path)), fmt=fmt)
        raise ConfigError(
            f"{where('sink', 'jsonl')}: use jsonl://- for standard output, jsonl:///abs/path.jsonl for a file"
        )

    def send(self, alerts: Sequence[Alert]) -> None:
        if not alerts:
            return
        data = b"".join(encode(alert, self.fmt) + b"\n" for alert in alerts)
        try:
            if self.path is None:
                _write_stdout(data)
            else:
                _append(self.path, data)
        except OSError as exc:
            raise DeliveryError(self.label, f"cannot write a batch of {len(alerts)} alerts: {exc}") from exc

    def close(self) -> None:
        """Nothing to release: the file is opened per batch."""


def _write_stdout(data: bytes) -> None:
    # Looked up on each call so redirection (and pytest's capsys) is honoured; bytes go to the binary
    # buffer so a non-UTF-8 locale cannot fail on a non-ASCII user agent.
    stream = sys.stdout
    buffer = getattr(stream, "buffer", None)
    stream.flush()
    if buffer is None:
        stream.write(data.decode())
        stream.flush()
    else:
        buffer.write(data)
        buffer.flush()


def _append(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("ab") as file:
        file.write(data)
