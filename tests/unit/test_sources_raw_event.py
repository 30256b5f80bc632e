"""A document that is one audit Event (a line of the API server's log) decodes the fast way exactly as the general way.

The fast way asks the pre-filter first, on the bytes; a skipped line is only checked to be one Event
(k8s_text.event_cloud), an admitted one is read by k8s_text.read_document. The general way parses, detects and
normalizes (core.sources._walk). Every document below is decoded both ways, in every format, with and without
the pre-filter, and the outputs must be equal.
"""

from __future__ import annotations

import base64
from dataclasses import replace
from datetime import UTC, datetime
from io import BytesIO
from typing import Any, cast

import orjson
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from core.demo.traffic import audit_events
from core.model import AuditEvent
from core.prefilter import Prefilter
from core.rules.loader import load_rules
from core.sources import FORMATS, Format, Prefiltered, Skip, _walk, decode, documents, k8s_text
from core.sources.documents import iter_numbered_documents
from core.sources.items import Origin
from tests.unit.sources_wire import RECEIVED_AT, fixture, pubsub_push_body
from tests.unit.test_sources_fuzz import JSON_VALUES, SHAPED
from tests.unit.test_sources_k8s_text import records

PREFILTER = Prefilter.for_rules([replace(rule, enabled=True) for rule in load_rules()])
SECRET_GET = fixture("k8s/secret_get_denied.json")
CONFIGMAP_GET = orjson.loads(orjson.dumps(SECRET_GET).replace(b"secrets", b"configmaps"))

Output = AuditEvent | Skip | Prefiltered


def both_ways(document: bytes, fmt: Format, prefilter: Prefilter | None) -> tuple[list[Output], list[Output]]:
    fast = list(decode(document, fmt=fmt, received_at=RECEIVED_AT, prefilter=prefilter))
    general = list(_walk(document, fmt, Origin(RECEIVED_AT, prefilter=prefilter), depth=0))
    return fast, general


def assert_same_every_way(document: bytes) -> None:
    for fmt in FORMATS:
        for prefilter in (None, PREFILTER):
            fast, general = both_ways(document, cast(Format, fmt), prefilter)
            assert fast == general, (fmt, prefilter is not None, document[:300])


def is_fast(document: bytes, fmt: Format = "auto", prefilter: Prefilter | None = PREFILTER) -> bool:
    """Whether decode took the fast way: it then returns a tuple, the general way a generator."""
    return isinstance(decode(document, fmt=fmt, received_at=RECEIVED_AT, prefilter=prefilter), tuple)


# --- real lines ---------------------------------------------------------------------------------------------


def test_a_day_of_generated_api_server_lines_decodes_the_same_and_the_fast_way() -> None:
    start = datetime(2026, 11, 2, tzinfo=UTC)
    for _, event in audit_events(start=start, hours=24, events=600, seed=11, secret_share=0.3):
        line = orjson.dumps(event)
        assert_same_every_way(line)
        assert is_fast(line)
        assert is_fast(line, prefilter=None)
        assert is_fast(line, "k8s")


def test_a_secret_read_is_read_and_a_configmap_read_is_skipped_unparsed() -> None:
    secret, configmap = orjson.dumps(SECRET_GET), orjson.dumps(CONFIGMAP_GET)

    (event,) = decode(secret, received_at=RECEIVED_AT, prefilter=PREFILTER)
    (skipped,) = decode(configmap, received_at=RECEIVED_AT, prefilter=PREFILTER)

    assert isinstance(event, AuditEvent)
    assert event.resource == "secrets"
    assert skipped == Prefiltered("k8s")


def test_an_event_in_any_key_order_is_read_the_fast_way_and_an_envelope_is_left_to_the_general_way() -> None:
    """The fast way is tried on a document whose first key is an Event's (or Panther's p_*), or that starts
    unusually; an envelope (AKS `records`, EKS `awslogs`) goes straight the general way. Results are equal."""
    reordered = orjson.dumps({"verb": SECRET_GET["verb"], **SECRET_GET})
    panther = orjson.dumps({"p_log_type": "Amazon.EKS.Audit", **SECRET_GET})
    spaced = b'  {  "auditID" : "x-1", ' + orjson.dumps(SECRET_GET)[1:]
    unknown_first = orjson.dumps({"cluster_note": "prod", **SECRET_GET})
    aks_body = orjson.dumps(
        {"records": [{"category": "kube-audit", "properties": {"log": orjson.dumps(SECRET_GET).decode()}}]}
    )

    for document in (reordered, panther, spaced, unknown_first, aks_body):
        assert_same_every_way(document)
    assert [is_fast(document) for document in (reordered, panther, spaced)] == [True, True, True]
    assert [is_fast(document) for document in (unknown_first, aks_body)] == [False, False]
    assert sum(1 for item in decode(unknown_first, received_at=RECEIVED_AT) if isinstance(item, AuditEvent)) == 1


def test_a_panther_sample_is_counted_as_its_cloud_when_skipped() -> None:
    line = orjson.dumps({**CONFIGMAP_GET, "p_log_type": "Amazon.EKS.Audit"})

    assert list(decode(line, received_at=RECEIVED_AT, prefilter=PREFILTER)) == [Prefiltered("aws")]
    assert_same_every_way(line)


# --- what must not be taken for one raw Event ---------------------------------------------------------------


def _envelopes(event: dict[str, Any]) -> list[Any]:
    text = orjson.dumps(event).decode()
    return [
        {
            "version": "1.0",
            "requestContext": {"requestId": "r", "condition": "RetriesExhausted"},
            "requestPayload": event,
            "responseContext": {"statusCode": 200},
        },
        {"version": "1.0", "requestContext": {"requestId": "r"}, "requestPayload": text},
        {"specversion": "1.0", "id": "1", "source": "s", "type": "t", "data": text},
        {"specversion": "1.0", "id": "1", "source": "s", "type": "t", "data": event},
        {
            "messageType": "DATA_MESSAGE",
            "logGroup": "/aws/eks/prod/cluster",
            "logStream": "kube-apiserver-audit-1",
            "logEvents": [{"id": "1", "timestamp": 0, "message": text}],
        },
        {"records": [{"category": "kube-audit", "properties": {"log": text}, "resourceId": "/X/PROD"}]},
        {"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "items": [event, event]},
        {**event, "kind": "EventList", "items": [event]},
        pubsub_push_body(fixture("gke/secret_get_denied.json")),
        {"message": {"data": base64.b64encode(text.encode()).decode(), "messageId": "1"}, **event},
        [event, event],
        {"kind": "Event", "apiVersion": "v1", "involvedObject": {"kind": "Pod"}, "reason": "Pulled"},
        {"kind": "Event", "apiVersion": "v1", "verb": "get", "auditID": "a", "stageTimestamp": "2024-05-14T09:12:44Z"},
        {"kind": "Event", "apiVersion": 1, "verb": "get", "auditID": "a"},
        {"kind": 3, "verb": "get", "auditID": "a", "stageTimestamp": "2024-05-14T09:12:44Z"},
        {"verb": "get"},
        {"verb": None, "auditID": "a", "stageTimestamp": "2024-05-14T09:12:44Z"},
        {"verb": "get", "stage": "ResponseComplete"},
        {"kind": "Event", "apiVersion": None, "auditID": "", "verb": "get"},
        {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "p_log_type": 7, "verb": "get", "auditID": "a"},
        {**event, "auditID": None},
        {**event, "stageTimestamp": None, "requestReceivedTimestamp": None},
        {**event, "userAgent": "ü-agent"},
    ]


@pytest.mark.parametrize("event", [SECRET_GET, CONFIGMAP_GET], ids=["secret", "configmap"])
def test_envelopes_around_an_event_lists_and_lookalikes_decode_the_same(event: dict[str, Any]) -> None:
    for document in _envelopes(event):
        assert_same_every_way(orjson.dumps(document))


def test_a_lambda_failure_record_holding_an_event_is_decoded_as_the_envelope() -> None:
    record = orjson.dumps(_envelopes(CONFIGMAP_GET)[0])

    assert not is_fast(record)
    (event,) = decode(record, received_at=RECEIVED_AT, prefilter=PREFILTER)  # the payload's text is not skipped
    assert isinstance(event, AuditEvent)
    assert event.resource == "configmaps"


@pytest.mark.parametrize(
    "text",
    [
        b'{"kind":"Event","apiVersion":"audit.k8s.io/v1","verb":"get","auditID":"a","kind":"EventList","items":[]}',
        b'{"kind":"EventList","kind":"Event","apiVersion":"audit.k8s.io/v1","verb":"list","auditID":"a"}',
        b'{"verb":"get","auditID":"a","stageTimestamp":"2024-05-14T09:12:44Z","verb":"list","objectRef":{}}',
        b'{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"a","verb":"get"',  # cut off
        b'{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"a","verb":"get"} trailing',
        b'{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"a","verb":"get","x":"\\ud800"}',
        b'{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"a","verb":"get","x":"\xff"}',
        b'{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"a","verb":"g\\u0065t","objectRef":{}}',
        b'{"kind":"Ev\\u0065nt","apiVersion":"audit.k8s.io\\/v1","auditID":"a","verb":"get"}',
        b'{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"a","verb":"get","deep":'
        + b"[" * 2000
        + b"]" * 2000
        + b"}",
        b"\xef\xbb\xbf" + orjson.dumps(CONFIGMAP_GET),
        b" " + orjson.dumps(CONFIGMAP_GET) + b"\n",
        b"I0514 09:12:44.123 audit.go:1] secrets get",
        b"[]",
        b"null",
        b"",
    ],
)
def test_duplicate_keys_broken_escaped_deep_and_odd_text_decode_the_same(text: bytes) -> None:
    assert_same_every_way(text)


def test_a_document_too_large_to_parse_whole_takes_the_general_way(monkeypatch: pytest.MonkeyPatch) -> None:
    line = orjson.dumps(CONFIGMAP_GET)
    monkeypatch.setattr("core.sources.MAX_PARSED_BYTES", len(line) - 1)
    monkeypatch.setattr("core.sources.values.MAX_PARSED_BYTES", len(line) - 1)

    assert not is_fast(line)
    assert_same_every_way(line)


def test_bytes_like_documents_and_parsed_ones_take_the_general_way() -> None:
    line = orjson.dumps(SECRET_GET)
    for document in (bytearray(line), memoryview(line), line.decode(), SECRET_GET):
        assert not isinstance(decode(document, received_at=RECEIVED_AT, prefilter=PREFILTER), tuple)  # type: ignore[arg-type]


def test_forced_cloud_formats_still_refuse_a_raw_event_and_k8s_still_reads_any_object() -> None:
    line, lookalike = orjson.dumps(CONFIGMAP_GET), orjson.dumps({"verb": "get", "auditID": "a", "x": 1})
    for fmt in ("eks", "gke", "aks"):
        (skip,) = decode(line, fmt=fmt, received_at=RECEIVED_AT, prefilter=PREFILTER)
        assert isinstance(skip, Skip)
        assert skip.reason == "unknown_format"
    assert list(decode(lookalike, fmt="k8s", received_at=RECEIVED_AT, prefilter=PREFILTER)) == [
        *_walk(lookalike, "k8s", Origin(RECEIVED_AT, prefilter=PREFILTER), 0)
    ]


def test_an_exception_inside_the_fast_way_falls_back_to_the_general_way(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_: object, **__: object) -> None:
        raise KeyError("bug")

    monkeypatch.setattr(k8s_text, "read_document", broken)
    monkeypatch.setattr(k8s_text, "event_cloud", broken)
    for event in (SECRET_GET, CONFIGMAP_GET):
        line = orjson.dumps(event)
        assert list(decode(line, received_at=RECEIVED_AT, prefilter=PREFILTER)) == list(
            _walk(line, "auto", Origin(RECEIVED_AT, prefilter=PREFILTER), 0)
        )


# --- generated documents ------------------------------------------------------------------------------------

FUZZ = settings(max_examples=300, deadline=None)
NEEDLES = st.sampled_from(["secrets", "configmaps", "get", "list", "watch", "audit.k8s.io/v1", "Event", "EventList"])


@FUZZ
@given(record=records(), api_version=st.none() | NEEDLES, resource=st.none() | NEEDLES)
def test_any_event_shaped_record_decodes_the_same(
    record: dict[str, Any], api_version: str | None, resource: str | None
) -> None:
    if api_version is not None:
        record["apiVersion"] = api_version
    if resource is not None:
        record["objectRef"] = {"resource": resource}
    assert_same_every_way(orjson.dumps(record))


@FUZZ
@given(document=SHAPED | JSON_VALUES)
def test_any_document_built_from_the_keys_decoders_read_decodes_the_same(document: Any) -> None:
    try:
        text = orjson.dumps(document)
    except TypeError:  # an integer orjson cannot write, so no producer's JSON either
        assume(False)
    assert_same_every_way(text)


@FUZZ
@given(data=st.data())
def test_real_lines_cut_or_with_random_bytes_decode_the_same(data: st.DataObject) -> None:
    text = orjson.dumps(data.draw(st.sampled_from([SECRET_GET, CONFIGMAP_GET])))
    cut = data.draw(st.integers(0, len(text)))
    noise = data.draw(st.binary(max_size=8))
    assert_same_every_way(text[:cut] + noise + text[cut + len(noise) :])


# --- the reader of JSON Lines, a block at a time ------------------------------------------------------------

LINES = st.lists(st.binary(max_size=40).map(lambda data: data.replace(b"\n", b" ")) | st.sampled_from(
    [b"", b"  ", b"\r", b'{"a": 1}', b"x" * 90]
), max_size=30)  # fmt: skip


@FUZZ
@given(lines=LINES, final_newline=st.booleans(), chunk=st.integers(1, 64))
def test_lines_read_in_blocks_are_the_lines_read_one_by_one(
    lines: list[bytes], final_newline: bool, chunk: int
) -> None:
    text = b"\n".join(lines) + (b"\n" if final_newline else b"")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(documents, "MAX_DOCUMENT_BYTES", 48)
        patch.setattr(documents, "_CHUNK", chunk)
        by_blocks = list(documents._block_lines(BytesIO(text), start=3))
        one_by_one = list(documents._lines(BytesIO(text), start=3))
    assert by_blocks == one_by_one


def test_a_json_lines_file_is_numbered_by_line_in_blocks() -> None:
    stream = BytesIO(b'{"a": 1}\n\n{"b": 2}\r\n  \n[3]')

    assert list(iter_numbered_documents(stream)) == [(1, b'{"a": 1}'), (3, b'{"b": 2}'), (5, b"[3]")]
