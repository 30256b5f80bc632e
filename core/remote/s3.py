"""`s3://BUCKET/PREFIX`: S3 objects, through boto3 (the `aws` extra).

Credentials, region and endpoint come from the AWS environment as for the AWS CLI (a profile, AWS_ACCESS_KEY_ID,
an instance or task role; AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL for a local server such as moto). The bucket
lists in key order; each object is downloaded as a stream when its turn comes. Needs s3:ListBucket on the
bucket and s3:GetObject on the objects.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO

from core.errors import ConfigError, InputError
from core.remote.objects import Guarded, Location, RemoteObject, under

if TYPE_CHECKING:
    from botocore.exceptions import ClientError

_MISSING_SDK = "reading s3:// needs boto3: pip install 'secretwatch[aws]'"
_DENIED = ("AccessDenied", "AllAccessDisabled", "InvalidAccessKeyId", "SignatureDoesNotMatch", "403")


def list_objects(uri: str) -> list[RemoteObject]:
    location = Location.parse(uri)
    bucket, prefix = location.host, location.path
    client = _client()
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        keys = [(item["Key"], item["Size"]) for page in pages for item in page.get("Contents", ())]
    except ClientError as exc:
        raise ConfigError(f"cannot list s3://{bucket}/{prefix}: {_explain(exc, bucket)}") from None
    except BotoCoreError as exc:
        raise ConfigError(f"cannot list s3://{bucket}/{prefix}: {_explain_local(exc)}") from None
    found = under(prefix, keys)
    if not found:
        raise ConfigError(f"cannot read s3://{bucket}/{prefix}: no objects under this prefix")
    return [RemoteObject(f"s3://{bucket}/{key}", size, _opener(client, bucket, key)) for key, size in found]


def _client() -> Any:
    try:
        import boto3
        from botocore.config import Config
    except ImportError:
        raise ConfigError(_MISSING_SDK) from None
    config = Config(connect_timeout=10, read_timeout=60, retries={"mode": "standard", "max_attempts": 5})
    return boto3.session.Session().client("s3", config=config)


def _opener(client: Any, bucket: str, key: str) -> Any:
    def open_object() -> BinaryIO:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            body = client.get_object(Bucket=bucket, Key=key)["Body"]
        except ClientError as exc:
            raise InputError(f"cannot read s3://{bucket}/{key}: {_explain(exc, bucket)}") from None
        except BotoCoreError as exc:
            raise InputError(f"cannot read s3://{bucket}/{key}: {_explain_local(exc)}") from None
        return Guarded(_WholeReads(body), f"s3://{bucket}/{key}", _download_errors, _download_failed).as_binary()

    return open_object


@dataclass(frozen=True, slots=True)
class _WholeReads:
    """botocore's StreamingBody, which reads to the end with None where a file takes -1."""

    body: Any

    def read(self, size: int = -1) -> bytes:
        data: bytes = self.body.read(size if size >= 0 else None)
        return data

    def close(self) -> None:
        self.body.close()


def _download_errors() -> tuple[type[Exception], ...]:
    from botocore.exceptions import BotoCoreError

    return (BotoCoreError,)


def _download_failed(exc: Exception) -> str:
    return f"the download failed ({type(exc).__name__})"


def _explain(exc: ClientError, bucket: str) -> str:
    code = str(exc.response.get("Error", {}).get("Code", ""))
    if code in ("NoSuchBucket", "404"):
        return f"no such bucket {bucket!r}"
    if code in _DENIED:
        return f"access denied ({code}): the credentials in use need s3:ListBucket and s3:GetObject on {bucket!r}"
    if code == "NoSuchKey":
        return "the object is gone (deleted since it was listed)"
    return f"S3 answered {code or 'an error'}"


def _explain_local(exc: Exception) -> str:
    from botocore.exceptions import EndpointConnectionError, NoCredentialsError

    if isinstance(exc, NoCredentialsError):
        return "no AWS credentials found; set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
    if isinstance(exc, EndpointConnectionError):
        return "S3 cannot be reached (check the network, or AWS_ENDPOINT_URL_S3)"
    return f"the request failed before S3 answered ({type(exc).__name__})"
