"""Archives read in place from object storage: `scan s3://BUCKET/PREFIX`, `gs://BUCKET/PREFIX`,
`az://ACCOUNT/CONTAINER/PREFIX`.

The objects under the prefix (the prefix as a folder, or one object named in full) are listed, sorted by key
(core.archives.order), and each is streamed in turn through the same reader as a file, gunzipped when it is
gzip. Each scheme's SDK is imported only when a URI of that scheme is read; without it, one ConfigError names
the pip extra. Credentials and endpoints come from each SDK's usual environment (core.remote.s3, .gcs,
.azure_blob). Listing failures (no such bucket, access denied, no credentials) are one ConfigError naming the
bucket, and a download that fails half-way one InputError naming the object; never a credential.
"""

from __future__ import annotations

import importlib
from typing import Protocol

from core.remote.objects import RemoteObject

__all__ = ["RemoteObject", "is_remote", "list_objects"]

#: scheme -> the module that lists and opens its objects
_ADAPTERS = {"s3": "core.remote.s3", "gs": "core.remote.gcs", "az": "core.remote.azure_blob"}


class _Adapter(Protocol):
    def list_objects(self, uri: str) -> list[RemoteObject]: ...


def is_remote(name: str) -> bool:
    """Whether `name` is an object storage URI rather than a path."""
    scheme, separator, _ = name.partition("://")
    return bool(separator) and scheme in _ADAPTERS


def list_objects(uri: str) -> list[RemoteObject]:
    """The objects under `uri`, sorted by key; ConfigError (one line, naming the bucket) when none can be listed."""
    adapter: _Adapter = importlib.import_module(_ADAPTERS[uri.partition("://")[0]])
    return adapter.list_objects(uri)
