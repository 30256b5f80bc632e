"""What a dead-letter source gives and takes: messages as the pipeline's documents, and their deletion."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Message:
    """One message: `body` is the document decode() reads, `receipt` what the source needs to delete it, `id`
    the same on each delivery of the message."""

    body: bytes
    receipt: str
    id: str


class Source(Protocol):
    label: str  # the URI, safe to print

    def receive(self, limit: int) -> Sequence[Message]:
        """Up to `limit` messages; none when the source is drained (a message not deleted may come again)."""
        ...

    def delete(self, messages: Sequence[Message]) -> None: ...

    def close(self) -> None: ...


@dataclass(slots=True)
class ReplayOutcome:
    """Messages read, deleted after they were processed, and left in the source because processing failed."""

    read: int = 0
    deleted: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)  # one line per failed batch, for stderr
