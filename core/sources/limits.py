"""Every bound the sources put on their input, in one place, each with the reason for its size.

Memory is what they protect: one delivery at any entry (Lambda, Cloud Function, Azure Function, one document
of a CLI scan) stays under 256 MB of peak RSS whatever it holds. Each refusal is a counted malformed Skip.
"""

from __future__ import annotations

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
