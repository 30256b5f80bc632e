"""Structured logs for Cloud Logging: one JSON object per line on stdout.

Cloud Run and Cloud Functions (2nd gen) parse such a line into a log entry: "severity" and "message" become
the entry's severity and summary line, every other key lands in its jsonPayload. Pass extra keys as
``log.info("...", extra=json_fields(key=value))``, the convention of google-cloud-logging's
StructuredLogHandler.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import orjson

_FIELDS = "json_fields"


def json_fields(**values: Any) -> dict[str, Any]:
    """The `extra=` of a logging call whose values become top-level keys of the JSON line."""
    return {_FIELDS: values}


class JsonFormatter(logging.Formatter):
    """Python's level names (DEBUG .. CRITICAL) are also Cloud Logging's severity names."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {"severity": record.levelname, "message": record.getMessage()}
        entry.update(getattr(record, _FIELDS, None) or {})
        entry["logger"] = record.name
        if record.exc_info:
            entry["stack_trace"] = self.formatException(record.exc_info)  # Error Reporting reads this key
        return orjson.dumps(entry, default=str).decode()


class StdoutHandler(logging.Handler):
    """Writes to sys.stdout as it is at each record (test capture replaces it) and flushes every line."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
            sys.stdout.write(line + "\n")
            sys.stdout.flush()
        except (OSError, ValueError, TypeError):
            self.handleError(record)


def configure_json_logging(*names: str, level: int = logging.INFO) -> None:
    """Send the named loggers ("" is the root) to stdout as JSON lines, and nowhere else.

    Idempotent: running the entry module again (functions-framework loads it afresh for each app) replaces
    the handler instead of adding a second one.
    """
    handler = StdoutHandler()
    handler.setFormatter(JsonFormatter())
    for name in names:
        logger = logging.getLogger(name)
        logger.handlers = [handler]
        logger.setLevel(level)
        logger.propagate = False
