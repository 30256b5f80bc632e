"""Webhooks: one HTTPS POST per alert (``https://HOST/PATH``; ``http://`` only to a loopback host).

The body is the alert's JSON (``?format=json``, the default), its OCSF Detection Finding (``?format=ocsf``)
or a Slack message (``?format=slack``: ``text`` and ``blocks``, every log value cleaned and shown as plain
text, so a secret name cannot mention @channel or plant a link). ``?secret_env=NAME`` signs each body with
HMAC-SHA256 under the key held by that environment variable, in the header
``X-Secretwatch-Signature-256: sha256=<hex>``.

429 and 5xx answers and connection failures are retried with exponential backoff (a Retry-After header is
honoured up to RETRY_AFTER_LIMIT seconds), at most ATTEMPTS times per alert. Redirects are not followed: the
body, and its signature, go only to the configured host. The label and errors name the host, never the path,
which for many services (Slack among them) is itself the secret.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import SplitResult

from core.alerts import render
from core.alerts.base import FORMATS, alert_format, encode, uri_params
from core.errors import ConfigError, DeliveryError
from core.model import Alert
from core.uris import is_loopback, where

SIGNATURE_HEADER = "X-Secretwatch-Signature-256"
#: Tries per alert, the first included.
ATTEMPTS = 4
#: Longest wait a Retry-After header can ask for; a longer one is cut to this.
RETRY_AFTER_LIMIT = 30.0
BACKOFF = 0.5
TIMEOUT = 10.0
#: Seconds one batch may spend posting and waiting to retry; past it, what is left is a DeliveryError, retried by
#: the platform with the rest of the batch, so a slow or failing receiver cannot hold an invocation to its timeout
#: (Lambda's is 60 s in the stacks).
BATCH_BUDGET = 40.0

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# A DNS name, an IPv4 address, or an IPv6 address (urlsplit gives it without brackets).
_HOST = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*")
# Slack's limits: a header's text, and a section's.
_SLACK_HEADER = 150
_SLACK_SECTION = 3000
# ... a button's text, its URL, and the buttons in one actions block.
_SLACK_BUTTON = 75
_SLACK_URL = 3000
_SLACK_BUTTONS = 25
_SLACK_EMOJI = {"critical": ":red_circle:", "high": ":large_orange_circle:", "medium": ":large_yellow_circle:"}


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # urllib then raises HTTPError with the 3xx status


class WebhookSink:
    """POSTs each alert to `url`; `key` signs the bodies when given; `sleep` waits between tries."""

    def __init__(
        self,
        url: str,
        *,
        fmt: str = "json",
        key: bytes | None = None,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self.fmt = fmt
        self._key = key
        self._sleep = _wait if sleep is None else sleep
        self._clock = clock
        host = urllib.parse.urlsplit(url).hostname or ""
        self.label = f"webhook:{host}"
        handlers: list[urllib.request.BaseHandler] = [_NoRedirect()]
        if is_loopback(host):
            handlers.append(urllib.request.ProxyHandler({}))
        self._opener = urllib.request.build_opener(*handlers)

    @classmethod
    def from_uri(cls, uri: SplitResult) -> WebhookSink:
        params = uri_params(uri, allowed=("format", "secret_env"))
        sink = where("sink", uri.scheme)
        uri.port  # noqa: B018 (a malformed port raises ValueError here, which open_sink reports without it)
        if not uri.hostname or not _HOST.fullmatch(uri.hostname):
            raise ConfigError(f"{sink}: the host is missing or not a host name or IP address; use https://HOST/PATH")
        if uri.scheme == "http" and not is_loopback(uri.hostname):
            raise ConfigError(
                f"{sink}: plain http is only for a loopback host (127.0.0.1, ::1, localhost); use https://"
            )
        fmt = alert_format(params, uri.scheme, choices=(*FORMATS, "slack"))
        key = _key(params.get("secret_env"), sink)
        return cls(uri._replace(query="", fragment="").geturl(), fmt=fmt, key=key)

    def send(self, alerts: Sequence[Alert]) -> None:
        """One POST per alert, within BATCH_BUDGET; on failure the DeliveryError names the alerts already posted."""
        posted: set[str] = set()
        deadline = self._clock() + BATCH_BUDGET
        for alert in alerts:
            try:
                if self._clock() >= deadline:
                    raise DeliveryError(self.label, f"the batch's {BATCH_BUDGET:.0f} s were spent; retried later")
                self._post(self._body(alert), deadline)
            except DeliveryError as exc:
                raise DeliveryError(self.label, exc.reason, delivered=frozenset(posted)) from exc
            posted.add(alert.alert_id)

    def close(self) -> None:
        """Nothing to release: each POST opens its own connection."""

    def _body(self, alert: Alert) -> bytes:
        return render.safe_json(slack_message(alert)) if self.fmt == "slack" else encode(alert, self.fmt)

    def _post(self, body: bytes, deadline: float) -> None:
        headers = {"Content-Type": "application/json", "User-Agent": "secretwatch"}
        if self._key is not None:
            headers[SIGNATURE_HEADER] = signature(self._key, body)
        for attempt in range(1, ATTEMPTS + 1):
            request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
            try:
                with self._opener.open(request, timeout=TIMEOUT) as response:
                    response.read()
                return
            except urllib.error.HTTPError as exc:
                status, wait = exc.code, _retry_after(exc.headers.get("Retry-After"))
                exc.close()
                if status != 429 and status < 500:
                    raise DeliveryError(self.label, _refused(status)) from None
                failure = f"HTTP {status}"
            except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
                reason = getattr(exc, "reason", exc)
                failure, wait = f"{type(reason).__name__}: {render.clean_text(reason, limit=200)}", None
            if attempt == ATTEMPTS:
                raise DeliveryError(self.label, f"still failing after {ATTEMPTS} attempts ({failure}); retried later")
            pause = wait if wait is not None else BACKOFF * 2 ** (attempt - 1)
            if self._clock() + pause >= deadline:
                raise DeliveryError(self.label, f"still failing ({failure}) as the batch's time ran out; retried later")
            self._sleep(pause)


def signature(key: bytes, body: bytes) -> str:
    """The X-Secretwatch-Signature-256 value of `body`: "sha256=" and the hex HMAC-SHA256 under `key`."""
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


def slack_message(alert: Alert) -> dict[str, Any]:
    """A Slack incoming-webhook message: `text` for notifications, `blocks` with the facts and the runbook.

    Values are cleaned (render.clean_text) and shown as plain_text, which Slack never parses for mentions or
    links; `text` is mrkdwn, so &, < and > are escaped there as Slack asks. The alert's console links
    (core.links, built and URL-encoded by secretwatch) are link buttons; one longer than Slack takes is left out.
    """
    severity = render.clean_text(alert.severity).lower()
    headline = f"{severity.upper()}: {render.clean_text(alert.title)}"
    facts = "\n".join(f"{label}: {value}" for label, value in render.facts(alert))
    runbook = "\n".join(render.runbook_lines(alert))
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": _plain(render.truncate(headline, _SLACK_HEADER))},
        {"type": "section", "text": _plain(render.truncate(facts, _SLACK_SECTION))},
    ]
    buttons = [
        {"type": "button", "text": _plain(render.truncate(name, _SLACK_BUTTON)), "url": url}
        for name, url in render.links(alert)
        if len(url) <= _SLACK_URL
    ]
    if buttons:
        blocks.append({"type": "actions", "elements": buttons[:_SLACK_BUTTONS]})
    blocks.append({"type": "section", "text": _plain(render.truncate(f"Runbook:\n{runbook}", _SLACK_SECTION))})
    return {"text": f"{_SLACK_EMOJI.get(severity, ':white_circle:')} {_slack_escape(headline)}", "blocks": blocks}


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": False}


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _key(name: str | None, sink: str) -> bytes | None:
    if name is None:
        return None
    if not _ENV_NAME.fullmatch(name):
        raise ConfigError(f"{sink}: parameter 'secret_env' must be an environment variable name")
    value = os.environ.get(name)
    if not value:
        raise ConfigError(
            f"{sink}: the environment variable named by secret_env is not set or empty; set it to the signing key"
        )
    return value.encode()


def _wait(seconds: float) -> None:
    time.sleep(seconds)



def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (its delta-seconds form), bounded; None if absent or a date."""
    if value is None or not value.strip().isdigit():
        return None
    return min(float(value.strip()), RETRY_AFTER_LIMIT)


def _refused(status: int) -> str:
    if status in {401, 403}:
        return f"the receiver refused the request (HTTP {status}); check its credentials or the signing key"
    if 300 <= status < 400:
        return f"the receiver answered with a redirect (HTTP {status}); configure the final URL"
    return f"the receiver refused the alert (HTTP {status}); check the URL and the format"
