"""What a decoding step yields: a Skip, a Nested payload to decode again, and the Origin it came from."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, TypeAlias

from core.model import AuditEvent, Cloud

Format = Literal["auto", "k8s", "eks", "gke", "aks"]


@dataclass(frozen=True, slots=True)
class Skip:
    """One record that produced no event, and why.

    `malformed` separates bad input (counted as an error) from expected non-audit input such as a
    CloudWatch CONTROL_MESSAGE or another AKS log category. `detail` is short and never holds log
    text beyond an id: request and response objects can carry secret values.
    """

    reason: str
    malformed: bool
    cloud: str | None = None
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Origin:
    """What the envelope knows about a record that the record itself may not."""

    received_at: datetime
    cloud: Cloud | None = None
    cluster: str | None = None
    #: The envelope's timestamp: the event's time when the record carries none.
    time: datetime | None = None


@dataclass(frozen=True, slots=True)
class Nested:
    """An already parsed payload found inside an envelope, to be decoded as `fmt`.

    `fmt` None keeps the format the enclosing document is decoded with ("auto" stays "auto").
    """

    document: Any
    origin: Origin
    fmt: Format | None = None


Output: TypeAlias = AuditEvent | Skip | Nested
