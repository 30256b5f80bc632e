"""A download's stream from any object store: its SDK's failures are one line naming the object.

No Cloud Storage server runs here, so the gs:// cases stand a stream in for the download that raises the errors
google-cloud-storage raises (a fake, said so); S3 and Azure are read from moto and Azurite in
tests/contract/test_remote_archives.py.
"""

from __future__ import annotations

from io import BytesIO

import pytest

from core.errors import SourceError
from core.remote import gcs, s3
from core.remote.objects import Guarded


class _Failing:
    """A download that fails on its first read with `error`; records whether it was closed."""

    def __init__(self, error: Exception) -> None:
        self.error = error
        self.closed = False

    def read(self, size: int = -1) -> bytes:
        raise self.error

    def close(self) -> None:
        self.closed = True


def _lookup_error() -> tuple[type[Exception], ...]:
    return (LookupError,)


def test_reads_pass_through_and_close_closes_the_download() -> None:
    body = BytesIO(b'{"kind":"Event"}\n')
    stream = Guarded(body, "s3://bucket/key", _lookup_error, str)
    assert stream.read(4) + stream.read() == b'{"kind":"Event"}\n'
    stream.close()
    assert body.closed


def test_an_sdk_error_is_one_line_naming_the_object_and_the_reason() -> None:
    stream = Guarded(_Failing(KeyError("token=abc")), "s3://bucket/key.gz", _lookup_error, lambda exc: "it broke")
    with pytest.raises(SourceError) as raised:
        stream.read(1024)
    assert str(raised.value) == "cannot read s3://bucket/key.gz: it broke"
    assert raised.value.__cause__ is None
    assert raised.value.__suppress_context__


def test_an_error_that_is_not_the_sdks_is_not_disguised() -> None:
    stream = Guarded(_Failing(MemoryError()), "s3://bucket/key", _lookup_error, str)
    with pytest.raises(MemoryError):
        stream.read()


def test_a_download_with_nothing_to_release_is_left_open() -> None:
    download = _Failing(KeyError())
    Guarded(download, "az://account/container/blob", _lookup_error, str, closes=False).close()
    assert not download.closed


def test_an_s3_body_reads_to_the_end_when_asked_for_minus_one() -> None:
    class Body(BytesIO):
        def read(self, size: int | None = None) -> bytes:  # botocore's StreamingBody: None, never -1
            assert size is None or size >= 0
            return super().read(size)

    assert s3._WholeReads(Body(b"abc\n")).read(-1) == b"abc\n"


def test_a_cloud_storage_download_that_fails_names_the_object_and_what_to_check() -> None:
    pytest.importorskip("google.cloud.storage")
    from google.api_core.exceptions import Forbidden, NotFound

    def opened(error: Exception) -> Guarded:
        explain = lambda exc: gcs._explain(exc, "audit-archive")  # noqa: E731
        return Guarded(_Failing(error), "gs://audit-archive/k8s/a.json", gcs._errors, explain)

    with pytest.raises(SourceError, match=r"^cannot read gs://audit-archive/k8s/a.json: no such bucket or object"):
        opened(NotFound("gone")).read()
    with pytest.raises(SourceError, match=r"access denied: .*storage.objects.get on 'audit-archive'"):
        opened(Forbidden("no")).read()
