"""Splitting input files into JSON documents: JSON Lines streamed line by line, or one whole document."""

from __future__ import annotations

from io import BytesIO

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


def test_a_file_whose_first_line_is_not_json_is_read_as_one_document() -> None:
    stream = BytesIO(b"garbage\n{}\n")

    assert list(iter_documents(stream)) == [b"garbage\n{}\n"]
