"""Every bound the sources put on their input, in one place, each with the reason for its size.

Memory is what they protect: one delivery at any entry (Lambda, Cloud Function, Azure Function, one document
of a CLI scan) stays under 256 MB of peak RSS whatever it holds. Each refusal is a counted malformed Skip.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from core.model import AuditEvent
from core.sources.items import Skip

_MIB = 1024 * 1024

#: Records read from one envelope: EKS logEvents, AKS records, EventList items, the items of a JSON array. The
#: rest are one `too_many_records` Skip saying how many were refused. CloudWatch sends at most 10,000 log
#: events per delivery (its PutLogEvents maximum); an Event Hub event is at most 1 MB, and a diagnostic record
#: is some hundreds of bytes even with an empty log, so an AKS body holds a few thousand at most; the API
#: server's webhook batches hold 400 events by default. An export of more belongs in JSON Lines, which the CLI
#: streams line by line.
MAX_RECORDS = 10_000

#: JSON text parsed whole into Python objects. orjson builds up to ~43 bytes of objects per byte of text (for
#: `[{"":[]},...]`), so 4 MiB costs at most ~172 MB. The largest real record is below it: the API server takes
#: request bodies of at most 3 MiB, and EKS messages and GKE entries are cut at 256 KB, AKS logs at 16 KiB.
#: Larger text is read by core.sources.lazy, one msgspec.Raw per record, if it is an envelope of records.
MAX_PARSED_BYTES = 4 * _MIB

#: The largest document read at all: a CLI line or whole file, and an EKS payload once inflated. A Lambda event
#: is at most 1 MB, so a DATA_MESSAGE is at most ~770 KB of gzip; audit JSON compresses about 11 times
#: (measured on the demo's traffic), so a real one inflates to ~9 MB. 32 MiB leaves room for three times that,
#: and a decompression bomb is refused as soon as its output passes it.
MAX_DOCUMENT_BYTES = 32 * _MIB

#: The most records of a large envelope that are split into msgspec.Raw views (56 bytes each, so ~168 MB),
#: counted from above by the commas of its records array. A real 10,000-event DATA_MESSAGE of 1 KB events has
#: ~500,000; only an envelope built to exhaust memory has more, and it is refused unread.
MAX_SPLIT_VALUES = 3_000_000


def too_many_records(total: int, what: str, cloud: str | None) -> Skip:
    """The one Skip for the records of an envelope beyond MAX_RECORDS."""
    detail = f"{total - MAX_RECORDS:,} of {total:,} {what} refused: at most {MAX_RECORDS:,} are read per envelope"
    return Skip("too_many_records", malformed=True, cloud=cloud, detail=detail)


def too_large(detail: str, cloud: str | None) -> Skip:
    return Skip("too_large", malformed=True, cloud=cloud, detail=detail)


# --- The values of an AuditEvent: what is stored (DynamoDB refuses items over 400 KB, Azure Tables properties
# over 64 KiB) and alerted. A longer value is cut to its limit, the end of it a marker `…[truncated N chars]`.

#: Ids: UUIDs are 36 characters, GKE insertIds and operation ids under 100, fingerprints 71.
ID_CHARS = 256
#: Kubernetes names and words: a name is at most 253 characters (a DNS subdomain), a namespace 63; stage, verb
#: and decision are single words. Twice the longest leaves room for what the clouds add.
NAME_CHARS = 512
#: Principals: IAM role ARNs (a few hundred characters even with a path), OIDC subjects, emails (at most 254).
PRINCIPAL_CHARS = 1024
#: Free text: user agents (a browser's is ~150 characters), request URIs with their selectors, status messages.
TEXT_CHARS = 4096
#: groups: Azure AD puts up to 200 group ids in a token before it switches to an overage claim.
MAX_GROUPS = 256
#: source_ips: the client and the proxies of its X-Forwarded-For; an IPv6 address is at most 45 characters.
MAX_SOURCE_IPS = 32
ADDRESS_CHARS = 64

FIELD_LIMITS: dict[str, int] = {
    "audit_id": ID_CHARS,
    "stage": NAME_CHARS,
    "cluster": NAME_CHARS,
    "verb": NAME_CHARS,
    "resource": NAME_CHARS,
    "subresource": NAME_CHARS,
    "namespace": NAME_CHARS,
    "name": NAME_CHARS,
    "api_group": NAME_CHARS,
    "api_version": NAME_CHARS,
    "username": PRINCIPAL_CHARS,
    "impersonated_user": PRINCIPAL_CHARS,
    "user_agent": TEXT_CHARS,
    "request_uri": TEXT_CHARS,
    "response_message": TEXT_CHARS,
    "decision": NAME_CHARS,
    "pod_name": NAME_CHARS,
    "node_name": NAME_CHARS,
    "account": NAME_CHARS,
}
#: (most values, longest value) of the tuple fields.
TUPLE_LIMITS: dict[str, tuple[int, int]] = {
    "groups": (MAX_GROUPS, NAME_CHARS),
    "source_ips": (MAX_SOURCE_IPS, ADDRESS_CHARS),
}

# The same limits as msgspec constraints, for the typed readers: a longer value fails their decoding, so they
# step aside and the general way cuts it (checked in C while decoding, so within limits they cost nothing).
IdText = Annotated[str, msgspec.Meta(max_length=ID_CHARS)]
NameText = Annotated[str, msgspec.Meta(max_length=NAME_CHARS)]
PrincipalText = Annotated[str, msgspec.Meta(max_length=PRINCIPAL_CHARS)]
FreeText = Annotated[str, msgspec.Meta(max_length=TEXT_CHARS)]
AddressText = Annotated[str, msgspec.Meta(max_length=ADDRESS_CHARS)]
Groups = Annotated[tuple[NameText, ...], msgspec.Meta(max_length=MAX_GROUPS)]
Addresses = Annotated[tuple[AddressText, ...], msgspec.Meta(max_length=MAX_SOURCE_IPS)]

_MARKER_CHARS = len("…[truncated  chars]")


def cut(value: str, limit: int) -> str:
    """`value` if it has at most `limit` characters, else its start and `…[truncated N chars]`, `limit` in all
    (one less when no start makes N's digits fit exactly)."""
    if len(value) <= limit:
        return value
    most = len(str(len(value)))
    for digits in range(most, 0, -1):  # N has at most as many digits as the whole length
        kept = limit - _MARKER_CHARS - digits
        if kept >= 0 and len(str(len(value) - kept)) == digits:
            break
    else:
        kept = max(limit - _MARKER_CHARS - most, 0)
    return (value[:kept] + f"…[truncated {len(value) - kept} chars]")[:limit]


def cut_name(value: str | None) -> str | None:
    """A name an envelope gives (a cluster), cut to NAME_CHARS."""
    return value if value is None or len(value) <= NAME_CHARS else cut(value, NAME_CHARS)


def bounded(event: AuditEvent) -> AuditEvent:
    """`event` with every value cut to its limit: the general way's last step (the typed readers step aside)."""
    changes: dict[str, Any] = {
        name: cut(value, limit)
        for name, limit in FIELD_LIMITS.items()
        if (value := getattr(event, name)) is not None and len(value) > limit
    }
    for name, (most, longest) in TUPLE_LIMITS.items():
        values: tuple[str, ...] = getattr(event, name)
        if len(values) > most or any(len(value) > longest for value in values):
            changes[name] = _bounded_tuple(values, most, longest)
    return msgspec.structs.replace(event, **changes) if changes else event


def _bounded_tuple(values: tuple[str, ...], most: int, longest: int) -> tuple[str, ...]:
    kept = tuple(cut(value, longest) for value in values[: most if len(values) <= most else most - 1])
    return kept if len(values) <= most else (*kept, f"…[truncated {len(values) - len(kept)} more]")
