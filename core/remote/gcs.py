"""`gs://BUCKET/PREFIX`: Cloud Storage objects, through google-cloud-storage (the `gcs` extra).

Credentials come from Application Default Credentials (GOOGLE_APPLICATION_CREDENTIALS, `gcloud auth
application-default login`, or the runtime's service account); STORAGE_EMULATOR_HOST points the client at an
emulator. Needs storage.objects.list and storage.objects.get on the bucket (roles/storage.objectViewer).
Each object is read in ranged chunks of CHUNK_BYTES. Tested against gcp-storage-emulator (a local peer speaking
the JSON API; not Google's own service).
"""

from __future__ import annotations

from functools import partial
from typing import Any, BinaryIO

from core.errors import ConfigError
from core.remote.objects import Guarded, Location, RemoteObject, under

CHUNK_BYTES = 8 * 1024 * 1024
_MISSING_SDK = "reading gs:// needs google-cloud-storage: pip install 'secretwatch[gcs]'"


def list_objects(uri: str) -> list[RemoteObject]:
    location = Location.parse(uri)
    bucket, prefix = location.host, location.path
    client = _client(bucket)
    try:
        blobs = {blob.name: blob for blob in client.list_blobs(bucket, prefix=prefix)}
    except _errors() as exc:
        raise ConfigError(f"cannot list gs://{bucket}/{prefix}: {_explain(exc, bucket)}") from None
    found = under(prefix, ((name, int(blob.size or 0)) for name, blob in blobs.items()))
    if not found:
        raise ConfigError(f"cannot read gs://{bucket}/{prefix}: no objects under this prefix")
    return [RemoteObject(f"gs://{bucket}/{name}", size, _opener(blobs[name], bucket)) for name, size in found]


def _client(bucket: str) -> Any:
    try:
        from google.cloud import storage  # type: ignore[attr-defined]
    except ImportError:
        raise ConfigError(_MISSING_SDK) from None
    try:
        return storage.Client()
    except _errors() as exc:
        raise ConfigError(f"cannot list gs://{bucket}: {_explain(exc, bucket)}") from None


def _opener(blob: Any, bucket: str) -> Any:
    def open_object() -> BinaryIO:
        stream = blob.open("rb", chunk_size=CHUNK_BYTES)
        return Guarded(stream, f"gs://{bucket}/{blob.name}", _errors, partial(_explain, bucket=bucket)).as_binary()

    return open_object


def _errors() -> tuple[type[Exception], ...]:
    """What the client raises: API errors (google-api-core), credential errors (google-auth), network errors."""
    from google.api_core.exceptions import GoogleAPIError
    from google.auth.exceptions import GoogleAuthError
    from requests.exceptions import RequestException

    return (GoogleAPIError, GoogleAuthError, RequestException)


def _explain(exc: Exception, bucket: str) -> str:
    kind = type(exc).__name__
    if kind == "NotFound":
        return f"no such bucket or object in {bucket!r}"
    if kind in ("Forbidden", "Unauthorized"):
        return f"access denied: the credentials in use need storage.objects.list and storage.objects.get on {bucket!r}"
    if kind in ("DefaultCredentialsError", "RefreshError"):
        return (
            "no usable Google credentials; run gcloud auth application-default login or set "
            "GOOGLE_APPLICATION_CREDENTIALS"
        )
    if kind in ("ConnectionError", "Timeout", "ReadTimeout", "ConnectTimeout"):
        return "Cloud Storage cannot be reached (check the network, or STORAGE_EMULATOR_HOST)"
    return f"the request failed ({kind})"
