"""Email over SMTP: each batch of alerts is one multipart/alternative message (plain text and HTML).

    smtp://HOST[:PORT]?from=F&to=A,B[&starttls=1][&username=U&password_env=NAME][&timeout=S]
    smtps://HOST[:PORT]?...        TLS from the first byte (implicit TLS, port 465 by default)

Parameters:
  from, to            the sender, and one or more comma-separated recipients (bare addresses)
  starttls=1          upgrade to TLS before AUTH and MAIL; the mail is never sent in clear if the server
                      does not offer it. Port 25 by default for smtp://.
  username            the AUTH user; its password comes from
  password_env=NAME   the environment variable NAME, read at each send, or
  password_file=PATH  a file (absolute path) holding only the password: a mounted secret such as a
                      Kubernetes or Cloud Run secret volume, or a Key Vault / Secret Manager secret mounted as
                      a file. One trailing newline is ignored. A password in the URI itself is refused.
  tls_ca=PATH         a PEM bundle of CA certificates to trust instead of the system's (a private relay's CA)
  tls_verify=0        do not verify the server's certificate. FOR TEST SERVERS ONLY: anyone on the network
                      path can then pose as the relay and read the password and every alert.
  timeout=S           seconds to wait for the server at each step (default 15)

AUTH without TLS is allowed only to a loopback host (a local relay), so the password never crosses a network
in clear. Transient failures (no connection, timeouts, 4xx replies) are retried; everything else, or the last
retry, raises DeliveryError with one line saying what to fix. The password never appears in a message or log.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import smtplib
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Literal
from urllib.parse import SplitResult

from core.alerts.base import uri_params
from core.alerts.render import clean_text, render_html, render_text, subject
from core.errors import ConfigError, DeliveryError
from core.model import Alert
from core.timeutil import utcnow
from core.uris import is_loopback
from core.uris import where as uri_where

log = logging.getLogger(__name__)

TlsMode = Literal["none", "starttls", "implicit"]

DEFAULT_PORTS = {"smtp": 25, "smtps": 465}
DEFAULT_TIMEOUT = 15.0
#: Tries per batch, and the wait before the second one (doubled before each later one).
ATTEMPTS = 3
BACKOFF = 1.0

_PARAMS = ("from", "to", "starttls", "username", "password_env", "password_file", "tls_ca", "tls_verify",
           "timeout")
_FLAGS = {
    "1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False,
}
# A bare ASCII address: no display name, no quoted local part, no address literal.
_ADDRESS = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
)
_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    """Where and how to send; checked for consistency when built."""

    host: str
    port: int
    sender: str
    recipients: tuple[str, ...]
    tls: TlsMode = "none"
    username: str | None = None
    password_env: str | None = None
    password_file: Path | None = None
    tls_ca: Path | None = None
    tls_verify: bool = True
    timeout: float = DEFAULT_TIMEOUT

    def __post_init__(self) -> None:
        self._check_auth()
        self._check_tls()

    @classmethod
    def from_uri(cls, uri: SplitResult) -> SmtpSettings:
        where = uri_where("sink", uri.scheme)
        params = uri_params(uri, allowed=_PARAMS)
        if uri.username is not None:
            raise ConfigError(f"{where}: put the user in username=U, not before the host")
        if uri.path not in ("", "/") or not uri.hostname:
            raise ConfigError(f"{where}: write {uri.scheme}://HOST[:PORT]?from=F&to=A,B")
        starttls = _flag(params, "starttls", default=False, where=where)
        if uri.scheme == "smtps" and starttls:
            raise ConfigError(
                f"{where}: starttls=1 does not apply to smtps://, which speaks TLS from the start; "
                "use smtp://HOST:587?starttls=1 for STARTTLS"
            )
        return cls(
            host=uri.hostname,
            port=_port(uri, where),
            sender=_address(params.get("from", ""), "from", where),
            recipients=_recipients(params.get("to", ""), where),
            tls="implicit" if uri.scheme == "smtps" else "starttls" if starttls else "none",
            username=params.get("username") or None,
            password_env=params.get("password_env") or None,
            password_file=_path(params, "password_file", where),
            tls_ca=_path(params, "tls_ca", where),
            tls_verify=_flag(params, "tls_verify", default=True, where=where),
            timeout=_timeout(params.get("timeout"), where),
        )

    @property
    def where(self) -> str:
        """How configuration messages name this sink: by scheme alone (core.uris)."""
        return uri_where("sink", "smtps" if self.tls == "implicit" else "smtp")

    @property
    def address(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def password_source(self) -> str:
        if self.password_file is not None:
            return "the file named by password_file"
        return "the environment variable named by password_env"

    def _check_auth(self) -> None:
        has_password = self.password_env is not None or self.password_file is not None
        if self.username is None and has_password:
            raise ConfigError(f"{self.where}: password_env and password_file need username=U")
        if self.username is None:
            return
        if not has_password:
            raise ConfigError(
                f"{self.where}: username= needs a password: name the environment variable that holds it "
                "with password_env=NAME, or a mounted secret file with password_file=/abs/path"
            )
        if self.password_env is not None and self.password_file is not None:
            raise ConfigError(f"{self.where}: give password_env or password_file, not both")
        if not self.username.isascii():
            raise ConfigError(f"{self.where}: username= must be ASCII (SMTP AUTH sends it as such)")
        if self.password_env is not None and not _VARIABLE.fullmatch(self.password_env):
            raise ConfigError(
                f"{self.where}: password_env must name an environment variable (letters, digits, _)"
            )
        if self.tls == "none" and not is_loopback(self.host):
            raise ConfigError(
                f"{self.where}: AUTH without TLS would send the password in clear; add starttls=1 or "
                "use smtps:// (AUTH without TLS is allowed only to a relay on this machine)"
            )

    def _check_tls(self) -> None:
        if self.tls == "none" and (self.tls_ca is not None or not self.tls_verify):
            raise ConfigError(f"{self.where}: tls_ca and tls_verify apply only with starttls=1 or smtps://")
        if self.tls_ca is not None and not self.tls_verify:
            raise ConfigError(
                f"{self.where}: give tls_ca (verify against that CA) or tls_verify=0, not both"
            )
        if self.timeout <= 0:
            raise ConfigError(f"{self.where}: timeout must be a positive number of seconds")


class SmtpSink:
    """Sends each batch as one email over a connection of its own.

    Transient failures are retried until `attempts` tries were made, waiting `backoff` seconds before the
    second, then twice as long before each next one. Recipients refused for good (5xx) do not stop delivery to
    the others, but make send() raise at the end, so the batch is retried and the refusal is seen.
    """

    def __init__(self, settings: SmtpSettings, *, attempts: int = ATTEMPTS, backoff: float = BACKOFF) -> None:
        if attempts < 1 or backoff < 0:
            raise ConfigError(f"{settings.where}: attempts must be at least 1 and backoff not negative")
        self.settings = settings
        self.label = f"{'smtps' if settings.tls == 'implicit' else 'smtp'}:{settings.address}"
        self.attempts = attempts
        self.backoff = backoff
        self._tls = tls_context(settings)
        try:
            read_password(settings)  # fail at start, not at the first alert; it is read again at each send
        except PasswordUnavailableError as exc:
            raise ConfigError(f"{settings.where}: {exc}") from None
        if settings.tls != "none" and not settings.tls_verify:
            log.warning("%s: tls_verify=0, the server's certificate is NOT verified (test servers only)",
                        self.label)

    @classmethod
    def from_uri(cls, uri: SplitResult, *, attempts: int = ATTEMPTS, backoff: float = BACKOFF) -> SmtpSink:
        return cls(SmtpSettings.from_uri(uri), attempts=attempts, backoff=backoff)

    def send(self, alerts: Sequence[Alert]) -> None:
        if not alerts:
            return
        try:
            password = read_password(self.settings)
        except PasswordUnavailableError as exc:
            raise DeliveryError(self.label, str(exc)) from None
        message = compose(alerts, sender=self.settings.sender, recipients=self.settings.recipients,
                          sent_at=utcnow())
        self._deliver(message, password)

    def close(self) -> None:
        """Nothing to release: each batch opens and closes its own connection."""

    def _deliver(self, message: EmailMessage, password: str | None) -> None:
        pending = self.settings.recipients
        rejected: dict[str, str] = {}
        for attempt in range(1, self.attempts + 1):
            try:
                refusals = self._transmit(message, pending, password)
            except OSError as exc:  # smtplib.SMTPException and ssl.SSLError are OSErrors
                failure = classify(exc, self.settings)
                if not failure.transient or attempt == self.attempts:
                    raise DeliveryError(self.label, failure.describe(attempt)) from exc
                self._back_off(attempt, failure.reason)
                continue
            rejected.update({rcpt: _reply(*reply) for rcpt, reply in refusals.items() if reply[0] >= 500})
            pending = tuple(rcpt for rcpt, reply in refusals.items() if reply[0] < 500)
            if not pending or attempt == self.attempts:
                break
            self._back_off(attempt, f"recipients deferred: {_listing(refusals)}")
        if rejected or pending:
            raise DeliveryError(self.label, self._refusal_message(rejected, pending, attempt))

    def _transmit(self, message: EmailMessage, recipients: Sequence[str],
                  password: str | None) -> dict[str, tuple[int, bytes]]:
        """One connection: TLS, AUTH, one message. Returns the recipients refused, with the server's reply."""
        settings = self.settings
        client: smtplib.SMTP
        if settings.tls == "implicit":
            client = smtplib.SMTP_SSL(settings.host, settings.port, timeout=settings.timeout,
                                      context=self._tls)
        else:
            client = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
        try:
            if settings.tls == "starttls":
                client.starttls(context=self._tls)
            if settings.username is not None and password is not None:
                client.login(settings.username, password)
            try:
                return client.send_message(message, from_addr=settings.sender, to_addrs=list(recipients))
            except smtplib.SMTPRecipientsRefused as exc:
                return dict(exc.recipients)
        finally:
            _hang_up(client)

    def _back_off(self, attempt: int, reason: str) -> None:
        delay = self.backoff * 2 ** (attempt - 1)
        log.warning("%s: attempt %d of %d failed (%s); retrying in %.3g s",
                    self.label, attempt, self.attempts, reason, delay)
        time.sleep(delay)

    def _refusal_message(self, rejected: dict[str, str], deferred: Sequence[str], attempts: int) -> str:
        parts = []
        if rejected:
            listing = ", ".join(f"{rcpt} ({reply})" for rcpt, reply in rejected.items())
            parts.append(f"recipient refused: {listing}")
        if deferred:
            parts.append(f"recipient still deferred after {attempts} attempts: {', '.join(deferred)}")
        delivered = len(self.settings.recipients) - len(rejected) - len(deferred)
        tail = f" (delivered to the other {delivered})" if delivered else ""
        return f"{'; '.join(parts)}{tail}: check to= and the relay's rules for these addresses"


@dataclass(frozen=True, slots=True)
class Failure:
    """What went wrong in one attempt, and whether trying again may help."""

    reason: str
    transient: bool
    hint: str = ""

    def describe(self, attempts: int) -> str:
        tried = f" after {attempts} attempts" if attempts > 1 else ""
        return f"{self.reason}{tried}: {self.hint}" if self.hint else f"{self.reason}{tried}"


class PasswordUnavailableError(Exception):
    """The password source is missing or unreadable; the message names it, never its content."""


def compose(alerts: Sequence[Alert], *, sender: str, recipients: Sequence[str],
            sent_at: datetime) -> EmailMessage:
    """The email for a batch. Every header is built by EmailMessage, which refuses CR or LF in a value."""
    message = EmailMessage()
    message["Subject"] = subject(alerts)
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = format_datetime(sent_at.astimezone(UTC), usegmt=True)
    message["Message-ID"] = message_id(alerts, sender)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no out-of-office replies to alerts
    message.set_content(render_text(alerts))
    message.add_alternative(render_html(alerts), subtype="html")
    return message


def message_id(alerts: Sequence[Alert], sender: str) -> str:
    """Derived from the set of alert ids, so a redelivered batch is recognisably the same message."""
    digest = hashlib.sha256("\n".join(sorted({alert.alert_id for alert in alerts})).encode()).hexdigest()
    return f"<secretwatch.{digest[:32]}@{sender.rpartition('@')[2]}>"


def read_password(settings: SmtpSettings) -> str | None:
    """The password as it is now (None without AUTH), read each time so a rotated secret is picked up."""
    if settings.password_file is not None:
        try:
            text = settings.password_file.read_text(encoding="utf-8")
        except (OSError, UnicodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8"
            raise PasswordUnavailableError(f"cannot read {settings.password_source}: {reason}") from None
        password = text.removesuffix("\n").removesuffix("\r")
        if not password:
            raise PasswordUnavailableError(f"{settings.password_source} is empty")
    elif settings.password_env is not None:
        password = os.environ.get(settings.password_env, "")
        if not password:
            raise PasswordUnavailableError(
                f"{settings.password_source} is not set or empty: set it to the SMTP password of the "
                "username= user"
            )
    else:
        return None
    if not password.isascii():
        # smtplib sends AUTH PLAIN and LOGIN credentials as ASCII only.
        raise PasswordUnavailableError(f"{settings.password_source} holds non-ASCII characters, "
                                       "which SMTP AUTH cannot send")
    return password


def tls_context(settings: SmtpSettings) -> ssl.SSLContext | None:
    """Certificate and host name verification on, unless tls_verify=0; None without TLS."""
    if settings.tls == "none":
        return None
    try:
        context = ssl.create_default_context(cafile=settings.tls_ca)
    except OSError as exc:
        raise ConfigError(
            f"{settings.where}: cannot load the file named by tls_ca ({exc.strerror or type(exc).__name__}); "
            "give a PEM file of CA certificates"
        ) from None
    if not settings.tls_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def classify(exc: OSError, settings: SmtpSettings) -> Failure:
    """The one-line reason for a failed attempt, with what to do about it."""
    match exc:
        case ssl.SSLCertVerificationError():
            return Failure(f"TLS failure: the server's certificate did not verify ({exc.verify_message})",
                           False, "if the relay uses a private CA, add tls_ca=/abs/path/ca.pem")
        case ssl.SSLError():
            return Failure(f"TLS failure ({exc.reason or exc})", False,
                           "smtps:// is for ports speaking TLS at once (usually 465), starttls=1 for others")
        case smtplib.SMTPAuthenticationError():
            return Failure(f"authentication failed for user {settings.username!r} ({_response(exc)})",
                           _is_transient(exc), f"check the password in {settings.password_source}")
        case smtplib.SMTPSenderRefused():
            return Failure(f"the sender {settings.sender} was refused ({_response(exc)})", _is_transient(exc),
                           "the relay must accept this from= address (for this username, if any)")
        case smtplib.SMTPResponseException():
            return Failure(f"the server answered {_response(exc)}", _is_transient(exc))
        case smtplib.SMTPNotSupportedError():
            return _unsupported(str(exc))
        case smtplib.SMTPServerDisconnected():
            return Failure(f"the server closed the connection ({exc})", True)
        case smtplib.SMTPException():
            return Failure(f"SMTP failure ({exc})", False)
        case TimeoutError():
            return Failure(f"no answer from {settings.address} within {settings.timeout:g} s", True,
                           "check that this network can reach the relay, or raise timeout=")
    return Failure(f"cannot connect to {settings.address} ({exc.strerror or exc})", True,
                   "check the host and port, and that this network can reach the relay")


def _unsupported(text: str) -> Failure:
    if "STARTTLS" in text:
        return Failure("the server does not offer STARTTLS, so nothing was sent", False,
                       "use smtps:// if the port speaks TLS at once (usually 465); mail never goes in clear")
    if "AUTH" in text:
        return Failure("the server does not offer AUTH on this connection", False,
                       "add starttls=1 if it offers AUTH only over TLS, or drop username= if it needs none")
    return Failure(f"SMTP failure ({text})", False)


def _is_transient(exc: smtplib.SMTPResponseException) -> bool:
    return 400 <= exc.smtp_code < 500


def _response(exc: smtplib.SMTPResponseException) -> str:
    return _reply(exc.smtp_code, exc.smtp_error)


def _reply(code: int, text: bytes | str) -> str:
    """An SMTP reply as one short clean line: the server's text is not trusted either."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return clean_text(f"{code} {text}", limit=200)


def _listing(refusals: dict[str, tuple[int, bytes]]) -> str:
    return ", ".join(f"{rcpt} ({_reply(*reply)})" for rcpt, reply in refusals.items())


def _hang_up(client: smtplib.SMTP) -> None:
    # QUIT is a courtesy: the message is already accepted, or the error that matters is already being raised.
    try:
        client.quit()
    except (smtplib.SMTPException, OSError):
        client.close()



def _port(uri: SplitResult, where: str) -> int:
    try:
        port = uri.port
    except ValueError:
        raise ConfigError(f"{where}: the port must be a number from 1 to 65535") from None
    return port or DEFAULT_PORTS[uri.scheme]


def _address(value: str, name: str, where: str) -> str:
    address = value.strip()
    if not address:
        raise ConfigError(f"{where}: {name}= is required (an address like alerts@example.com)")
    if not _ADDRESS.fullmatch(address):
        raise ConfigError(
            f"{where}: {name}= must be a bare ASCII address like alerts@example.com (no display name)"
        )
    return address


def _recipients(value: str, where: str) -> tuple[str, ...]:
    addresses = [_address(item, "to", where) for item in value.split(",") if item.strip()]
    if not addresses:
        raise ConfigError(f"{where}: to= is required (one or more addresses, comma-separated)")
    return tuple(dict.fromkeys(addresses))


def _flag(params: dict[str, str], name: str, *, default: bool, where: str) -> bool:
    if name not in params:
        return default
    value = _FLAGS.get(params[name].strip().lower())
    if value is None:
        raise ConfigError(f"{where}: {name}= must be 1 or 0")
    return value


def _path(params: dict[str, str], name: str, where: str) -> Path | None:
    if not params.get(name):
        return None
    path = Path(params[name])
    if not path.is_absolute():
        raise ConfigError(f"{where}: {name}= must be an absolute path")
    return path


def _timeout(value: str | None, where: str) -> float:
    if value is None:
        return DEFAULT_TIMEOUT
    try:
        seconds = float(value)
    except ValueError:
        seconds = 0.0
    if not 0 < seconds < float("inf"):
        raise ConfigError(f"{where}: timeout= must be a positive number of seconds")
    return seconds
