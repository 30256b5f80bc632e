"""Splitting input files into JSON documents: JSON Lines streamed line by line, or one whole document."""

from __future__ import annotations

from io import BytesIO

import pytest

from core.sources import documents
from core.sources.documents import iter_documents
from tests.unit.sources_wire import fixture_bytes


class NoWholeRead(BytesIO):
    """A stream that fails the test if anything reads it to the end in one call."""

    def read(self, size: int | None = -1) -> bytes:
        assert size is not None, "a JSON Lines stream was read into memory at once"
        assert size >= 0, "a JSON Lines stream was read into memory at once"
        return super().read(size)


def test_json_lines_are_yielded_one_per_line_without_reading_everything() -> None:
    stream = NoWholeRead(b'{"a": 1}\n\n  \n{"b": 2}\r\n[3]\n')

    assert list(iter_documents(stream)) == [b'{"a": 1}', b'{"b": 2}', b"[3]"]


def test_a_bad_line_is_still_yielded_for_decode_to_count() -> None:
    stream = BytesIO(b'{"a": 1}\n{"b": \n{"c": 3}\n')

    assert list(iter_documents(stream)) == [b'{"a": 1}', b'{"b":', b'{"c": 3}']


def test_a_pretty_printed_document_is_yielded_whole() -> None:
    text = fixture_bytes("eks/data_message_audit.json")

    (document,) = iter_documents(BytesIO(b"\n\n" + text))

    assert document.strip() == text.strip()


def test_leading_blank_lines_and_a_byte_order_mark_are_ignored() -> None:
    stream = BytesIO(b'\xef\xbb\xbf\n\n{"a": 1}\n{"b": 2}')

    assert list(iter_documents(stream)) == [b'{"a": 1}', b'{"b": 2}']


def test_an_empty_or_blank_stream_has_no_documents() -> None:
    assert list(iter_documents(BytesIO(b""))) == []
    assert list(iter_documents(BytesIO(b"\n \n\t\n"))) == []


def test_a_bad_first_line_is_one_bad_document_and_the_lines_after_it_are_read() -> None:
    stream = BytesIO(b"garbage\n{}\n\n[1]\n")

    assert list(iter_documents(stream)) == [b"garbage", b"{}", b"[1]"]


def test_a_first_line_nested_past_any_parser_is_one_bad_line() -> None:
    deep = b"[" * 100_000 + b"]" * 100_000

    assert list(iter_documents(BytesIO(deep + b'\n{"a": 1}\n'))) == [deep, b'{"a": 1}']


def test_a_pretty_printed_document_broken_anywhere_is_still_one_document() -> None:
    text = fixture_bytes("k8s/webhook_eventlist.json")[:-40]

    assert list(iter_documents(BytesIO(text))) == [text]


def test_a_document_spread_over_lines_whatever_its_first_line_is_read_whole() -> None:
    text = b'{"kind": "EventList",\n "items": [\n  {"verb": "get", "auditID": "a"}\n ]}\n'

    assert list(iter_documents(BytesIO(text))) == [text]


def test_lines_after_a_bad_first_line_are_read_past_what_was_held_to_look_for_a_document(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(documents, "MAX_DOCUMENT_BYTES", 64)
    lines = [b"[Truncated...]", *(b'{"n": %d}' % index for index in range(40))]

    assert list(iter_documents(NoWholeRead(b"\n".join(lines)))) == lines


def test_a_line_longer_than_a_document_may_be_is_cut_for_decode_to_refuse_and_the_next_lines_are_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(documents, "MAX_DOCUMENT_BYTES", 64)
    long_line = b'{"a": "' + b"x" * 500 + b'"}'

    found = list(iter_documents(NoWholeRead(b'{"first": 1}\n' + long_line + b'\n{"b": 2}\n')))

    assert found == [b'{"first": 1}', long_line[:65], b'{"b": 2}']


def test_a_first_line_longer_than_a_document_may_be_is_cut_and_the_next_lines_are_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(documents, "MAX_DOCUMENT_BYTES", 64)
    long_line = b"I0514 " + b"x" * 500

    found = list(iter_documents(NoWholeRead(long_line + b'\n{"a": 1}\n{"b": 2}')))

    assert found == [long_line[:65], b'{"a": 1}', b'{"b": 2}']


def test_a_pretty_printed_document_longer_than_a_document_may_be_is_cut_and_the_rest_skipped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(documents, "MAX_DOCUMENT_BYTES", 64)
    text = fixture_bytes("k8s/webhook_eventlist.json")

    assert list(iter_documents(NoWholeRead(text))) == [text[:65]]
