"""What a decoding step yields: a Skip, a Prefiltered count, a Nested payload to decode again, and the Origin."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

import msgspec

from core.model import AuditEvent, Cloud

if TYPE_CHECKING:
    from core.prefilter import Prefilter

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
class Prefiltered:
    """Audit records skipped unparsed: their text shows that no rule can match them (see core.prefilter).

    They are counted as events of `cloud` (the envelope's, else what the record says); a broken record
    skipped this way is therefore never counted as malformed.
    """

    cloud: str
    count: int = 1


class Origin(msgspec.Struct, frozen=True, gc=False):
    """What the envelope knows about a record that the record itself may not (a Struct: quick to build)."""

    received_at: datetime
    cloud: Cloud | None = None
    cluster: str | None = None
    #: The envelope's timestamp: the event's time when the record carries none.
    time: datetime | None = None
    #: Set when records no rule can match may be skipped before they are parsed.
    prefilter: Prefilter | None = None


@dataclass(frozen=True, slots=True)
class Nested:
    """An already parsed payload found inside an envelope, to be decoded as `fmt`.

    `fmt` None keeps the format the enclosing document is decoded with ("auto" stays "auto").
    """

    document: Any
    origin: Origin
    fmt: Format | None = None


Output: TypeAlias = AuditEvent | Skip | Prefiltered | Nested


def internal_error(error: Exception, cloud: str | None) -> Skip:
    """The Skip for an exception no decoding step expected: a bug, counted like bad input and never raised.

    Caught per record by every envelope that holds several, so one record never takes its neighbours along.
    """
    detail = f"{type(error).__name__} while decoding; please report this input shape"
    return Skip("internal_error", malformed=True, cloud=cloud, detail=detail)
