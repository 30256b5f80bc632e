"""Amazon SES: one email per batch through SESv2 SendEmail (``ses://FROM?to=A,B[&region=R]``).

FROM is an identity verified in SES (the address or its domain). The email has render.subject as its
subject and both render_text and render_html bodies, all UTF-8. Without ``region`` the client uses the
environment's region (AWS_REGION in Lambda); ``endpoint_url`` is for local testing only.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Protocol
from urllib.parse import SplitResult, unquote

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoRegionError

from core.alerts import render
from core.alerts.aws_errors import explain_local
from core.alerts.base import uri_params
from core.errors import ConfigError, DeliveryError
from core.model import Alert
from core.uris import AWS_REGION, HTTP_ENDPOINT, checked, where

#: Most recipients of one SES email.
RECIPIENT_LIMIT = 50
#: Attempts per API call (botocore standard retry mode: throttling, 5xx and connection errors).
MAX_ATTEMPTS = 5

# An addr-spec without quoting or comments, on a domain with a top-level label: what SES sends to.
_ADDRESS = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z][A-Za-z0-9-]{0,62}"
)
_SINK = where("sink", "ses")
_ENDPOINT = "an http:// or https:// URL of a host and port, like http://127.0.0.1:4566"
_CLIENT_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": MAX_ATTEMPTS}, connect_timeout=5, read_timeout=20
)
_ACCESS_DENIED = frozenset({"AccessDeniedException", "AccessDenied"})
_BAD_CREDENTIALS = frozenset(
    {"InvalidClientTokenId", "UnrecognizedClientException", "ExpiredToken", "ExpiredTokenException",
     "SignatureDoesNotMatch", "InvalidSignatureException"}
)
_PAUSED = frozenset({"AccountSuspendedException", "SendingPausedException"})
_THROTTLED = frozenset({"TooManyRequestsException", "LimitExceededException", "Throttling"})


class SesClient(Protocol):
    """The part of boto3's SESv2 client this sink uses."""

    def send_email(
        self, *, FromEmailAddress: str, Destination: dict[str, list[str]], Content: dict[str, Any]
    ) -> dict[str, Any]: ...

    def close(self) -> None: ...


class SesSink:
    """Sends each batch as one email from `sender` to `recipients`; `client` (boto3 sesv2) is made if None."""

    def __init__(
        self,
        sender: str,
        recipients: Sequence[str],
        *,
        region: str | None = None,
        endpoint_url: str | None = None,
        client: SesClient | None = None,
    ) -> None:
        _check_addresses(sender, recipients)
        self.sender = sender
        self.recipients = tuple(recipients)
        self.label = f"ses:{sender}"
        self._owns_client = client is None
        self.client: SesClient = client or _client(region, endpoint_url)

    @classmethod
    def from_uri(cls, uri: SplitResult) -> SesSink:
        params = uri_params(uri, allowed=("to", "region", "endpoint_url"))
        recipients = _split_addresses(params.get("to", ""))
        if not recipients:
            raise ConfigError(f"{_SINK}: parameter 'to' is required, e.g. ses://FROM?to=a@example.com,b@example.com")
        region = checked(params, "region", AWS_REGION, where=_SINK, expected="an AWS region like eu-west-1")
        endpoint_url = checked(params, "endpoint_url", HTTP_ENDPOINT, where=_SINK, expected=_ENDPOINT)
        sender = unquote(uri.netloc + uri.path)
        return cls(sender, recipients, region=region, endpoint_url=endpoint_url)

    def send(self, alerts: Sequence[Alert]) -> None:
        if not alerts:
            return
        try:
            self.client.send_email(
                FromEmailAddress=self.sender,
                Destination={"ToAddresses": list(self.recipients)},
                Content={"Simple": _content(alerts)},
            )
        except ClientError as exc:
            raise DeliveryError(self.label, self._explain(exc)) from exc
        except BotoCoreError as exc:
            raise DeliveryError(self.label, explain_local(exc, service="SES", attempts=MAX_ATTEMPTS)) from exc

    def close(self) -> None:
        if self._owns_client:
            self.client.close()

    def _explain(self, exc: ClientError) -> str:
        """What went wrong and what to change, in one line."""
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "unknown"))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        said = f"{code}: {render.clean_text(error.get('Message'), limit=300)}"
        if code == "MessageRejected":
            return (
                f"SES rejected the email ({said}); verify the sender identity {self.sender} (or its domain) "
                "in SES in this region, and while the account is in the SES sandbox verify each recipient too"
            )
        if code == "MailFromDomainNotVerifiedException":
            return f"the MAIL FROM domain of {self.sender} is not verified ({said}); verify it in SES"
        if code in _PAUSED:
            return f"SES is not sending for this account ({said}); see its sending status in the SES console"
        if code in _BAD_CREDENTIALS:
            return f"AWS rejected the credentials ({said}); check the role or the AWS_* environment variables"
        if code in _ACCESS_DENIED or status == 403:
            return (
                f"access denied ({said}); allow ses:SendEmail on the identity {self.sender} (or its domain) "
                "to the role secretwatch runs as"
            )
        if code in _THROTTLED or status in {429, 500, 502, 503, 504}:
            return f"SES still failed after {MAX_ATTEMPTS} attempts ({said}); the batch will be retried"
        return f"SES refused the email ({said})"


def _check_addresses(sender: str, recipients: Sequence[str]) -> None:
    """ConfigError naming the first address that is not one, by its place: an address typed in the wrong
    place may be a secret (core.uris)."""
    if not _ADDRESS.fullmatch(sender):
        raise ConfigError(
            f"{_SINK}: the sender (what follows ses://) is not an email address; use ses://alerts@example.com?to=..."
        )
    if not recipients:
        raise ConfigError(f"{_SINK}: parameter 'to' names no recipient")
    if len(recipients) > RECIPIENT_LIMIT:
        raise ConfigError(f"{_SINK}: parameter 'to' names {len(recipients)} recipients; SES allows {RECIPIENT_LIMIT}")
    for place, address in enumerate(recipients, start=1):
        if not _ADDRESS.fullmatch(address):
            raise ConfigError(f"{_SINK}: parameter 'to': recipient {place} is not an email address")


def _split_addresses(value: str) -> list[str]:
    """The comma-separated addresses in `value`, blanks and repeats dropped, in order."""
    return list(dict.fromkeys(part.strip() for part in value.split(",") if part.strip()))


def _client(region: str | None, endpoint_url: str | None) -> SesClient:
    try:
        client: SesClient = boto3.client(
            "sesv2", region_name=region, endpoint_url=endpoint_url, config=_CLIENT_CONFIG
        )
    except NoRegionError as exc:
        raise ConfigError(f"{_SINK}: no AWS region; add region=R to the URI or set AWS_REGION") from exc
    return client


def _content(alerts: Sequence[Alert]) -> dict[str, Any]:
    """SESv2 Simple content: the subject and the text and HTML bodies, all UTF-8."""
    return {
        "Subject": {"Data": render.subject(alerts), "Charset": "UTF-8"},
        "Body": {
            "Text": {"Data": render.render_text(alerts), "Charset": "UTF-8"},
            "Html": {"Data": render.render_html(alerts), "Charset": "UTF-8"},
        },
    }
