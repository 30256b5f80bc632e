"""The one error tree. Each class says when it happens; every message tells the user what to do."""

from __future__ import annotations


class SecretwatchError(Exception):
    """Root of every error secretwatch raises on purpose."""


class ConfigError(SecretwatchError):
    """Bad settings, URI or CLI usage: raised at start, before any event is read."""


class RuleError(SecretwatchError):
    """A rule file is malformed; the message names the file and the offending key."""

    def __init__(self, message: str, *, path: str | None = None) -> None:
        self.path = path
        super().__init__(f"{path}: {message}" if path else message)


class RecordError(SecretwatchError):
    """One input record cannot be used. Counted by `reason` in the run summary and skipped, never raised out."""

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)


class StateError(SecretwatchError):
    """The state store failed after bounded retries: raised so the platform retries the whole batch."""


class StateConflictError(StateError):
    """Optimistic writes on one key kept losing races beyond the retry budget."""


class DeliveryError(SecretwatchError):
    """A sink could not deliver alerts after bounded retries: raised so the platform retries the batch.

    `delivered` holds the ids of the alerts the sink did deliver before it failed (a batch that failed half-way),
    so a retry sends only the rest.
    """

    def __init__(self, sink: str, message: str, *, delivered: frozenset[str] = frozenset()) -> None:
        self.sink = sink
        self.reason = message
        self.delivered = delivered
        super().__init__(f"sink {sink}: {message}")


class DeliveryInProgressError(DeliveryError):
    """Another live instance holds the claim on alerts this batch raised: retried later, when it has finished."""


class SourceError(SecretwatchError):
    """A dead-letter source (an SQS queue, a Pub/Sub subscription) could not be read or acknowledged, or an
    archive object (s3://, gs://, az://) could not be downloaded."""


class InputError(SourceError):
    """One of scan's inputs (a file, stdin, an archive object) could not be read to its end: a corrupt or cut
    gzip stream, a file or object gone since it was listed, a failed download. scan reads the others, and what
    came before the fault, names it, and exits 1."""
