"""What every object storage adapter gives: the objects under a prefix, and where a URI points."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, BinaryIO, cast

from core.archives.cloudwatch import EXPORT_PROBE
from core.archives.order import archive_order
from core.errors import ConfigError, InputError
from core.uris import query_params, split_uri


@dataclass(frozen=True, slots=True)
class RemoteObject:
    #: the object's URI, e.g. s3://bucket/key: how messages and `scan -v` name it
    name: str
    #: its size in the listing (compressed, for a gzip object)
    size: int
    #: opens a stream over its content (a download: call it when its turn comes)
    open: Callable[[], BinaryIO] = field(repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class Location:
    """`scheme://host/bucket-or-path...?params` split: `host` is the bucket (s3, gs) or the account (az)."""

    scheme: str
    host: str
    path: str
    params: dict[str, str]

    @classmethod
    def parse(cls, uri: str, *, optional: Iterable[str] = ()) -> Location:
        parts = split_uri(uri, kind="input")
        where = f"input '{parts.scheme}://'"
        if not parts.netloc:
            raise ConfigError(f"{where} names no bucket: write {parts.scheme}://BUCKET/PREFIX")
        params = query_params(parts, where=where, optional=tuple(optional))
        return cls(parts.scheme, parts.netloc, parts.path.lstrip("/"), params)


@dataclass(frozen=True, slots=True)
class Guarded:
    """A download's stream whose failures are one InputError naming the object: `errors` (called at the first
    failure, so the SDK is imported by the adapter) are the SDK's, and `explain` says what went wrong."""

    stream: Any
    name: str
    errors: Callable[[], tuple[type[Exception], ...]]
    explain: Callable[[Exception], str]
    #: whether `close` closes the SDK's stream (Azure's download has nothing to release)
    closes: bool = True

    def read(self, size: int = -1) -> bytes:
        try:
            data: bytes = self.stream.read(size)
        except Exception as exc:
            if isinstance(exc, self.errors()):
                raise InputError(f"cannot read {self.name}: {self.explain(exc)}") from None
            raise
        return data

    def close(self) -> None:
        if self.closes:
            self.stream.close()

    def as_binary(self) -> BinaryIO:
        return cast(BinaryIO, self)


def under(prefix: str, keys: Iterable[tuple[str, int]]) -> list[tuple[str, int]]:
    """The (key, size) pairs that are the object `prefix` names or lie in the folder it names (so `logs` takes
    `logs/x` and not `logs-old/x`), sorted as archives are read; folder markers and CloudWatch's export probe
    left out."""
    folder = prefix if not prefix or prefix.endswith("/") else f"{prefix}/"
    kept = [
        (key, size)
        for key, size in keys
        if (key == prefix or key.startswith(folder)) and not key.endswith("/") and _file(key) != EXPORT_PROBE
    ]
    return sorted(kept, key=lambda item: archive_order(item[0].split("/")))


def _file(key: str) -> str:
    return key.rpartition("/")[2]
