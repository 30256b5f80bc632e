"""EKS audit logs exported from CloudWatch Logs to S3 (CreateExportTask), read as CloudWatch delivers them live.

An export task writes `<prefix>/<task id>/<log stream>/000000.gz` (then 000001.gz, ...), gzip, one line per log
event: `<time> <message>`, the time ISO 8601 in UTC with milliseconds, e.g.
`2024-05-14T09:12:44.121Z {"kind":"Event","apiVersion":"audit.k8s.io/v1",...}`. It also leaves an object
`<prefix>/aws-logs-write-test` ("Permission Check Successful") from its permission check; a folder or bucket
walk leaves that object out (EXPORT_PROBE).

Each such line becomes a CloudWatch DATA_MESSAGE holding that one event, with the log stream named by the
object's folder, so core.sources.eks reads it exactly as a subscription's: the events count as `aws`, a message
CloudWatch cut (`[Truncated...]`) is one `truncated_message` skip naming its auditID, and the lines of other
control-plane streams (kube-apiserver klog, authenticator) are ignored by their stream's name rather than
counted as malformed. An export does not name its log group, so events carry no cluster name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from itertools import chain

import msgspec

from core.sources.eks import AUDIT_STREAM
from core.sources.skim import Piece

#: The object CloudWatch writes at the export prefix to check it may write there (not a log).
EXPORT_PROBE = "aws-logs-write-test"
#: `<time> <message>`: the time as an export writes it (milliseconds, `Z`), then one space.
_LINE = re.compile(rb"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?Z) ")
#: An export object's name: six digits, gzip (`.gz` dropped by some copies).
_OBJECT = re.compile(r"\d{6}(?:\.gz)?")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)


def log_stream(name: str) -> str | None:
    """The log stream an export object holds, from its path `.../<log stream>/000000.gz`; None for other names."""
    *folders, file = re.split(r"[/\\]", name)
    return folders[-1] if folders and folders[-1] and _OBJECT.fullmatch(file) else None


def is_audit_export(name: str) -> bool:
    """Whether input `name` is an export object of an EKS audit stream (`.../kube-apiserver-audit-.../000000.gz`)."""
    stream = log_stream(name)
    return stream is not None and stream.startswith(AUDIT_STREAM)


def as_data_messages(pieces: Iterable[Piece], name: str) -> Iterator[Piece]:
    """Each (line number, document) of input `name`, a `<time> <message>` line made a DATA_MESSAGE; other
    documents as they are (a JSON document never starts with a digit and a dash), and skimmed runs too. An export
    starts with such a line: a file whose first document is JSON is passed on unchanged."""
    head = _head(log_stream(name))
    pieces = iter(pieces)
    first = next(pieces, None)
    if first is None:
        return
    if not isinstance(first, tuple) or not first[1][:1].isdigit():
        yield first
        yield from pieces  # the first document is JSON: the file is no export, so it is passed on as read
        return
    for piece in chain((first,), pieces):
        if not isinstance(piece, tuple):
            yield piece
            continue
        number, document = piece
        found = _LINE.match(document) if document[:1].isdigit() else None
        yield number, document if found is None else _data_message(head, found[1], document[found.end() :])


def _head(stream: str | None) -> bytes:
    if stream is None:
        return b'{"messageType":"DATA_MESSAGE","logEvents":[{"timestamp":'
    return b'{"messageType":"DATA_MESSAGE","logStream":' + msgspec.json.encode(stream) + b',"logEvents":[{"timestamp":'


def _data_message(head: bytes, time: bytes, message: bytes) -> bytes:
    milliseconds = (datetime.fromisoformat(time.decode()) - _EPOCH) // _MILLISECOND
    text = msgspec.json.encode(message.decode(errors="replace"))
    return b"".join((head, str(milliseconds).encode(), b',"message":', text, b"}]}"))
