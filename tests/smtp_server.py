"""A real SMTP server on 127.0.0.1 for tests: aiosmtpd in a thread, keeping every mail it accepts.

Fixtures (register with ``pytest_plugins = ["tests.smtp_server"]`` in tests/conftest.py):
  smtp_server           plain SMTP, no AUTH
  smtp_auth_server      plain SMTP with AUTH as USERNAME / PASSWORD, offered without TLS (a local relay)
  smtp_starttls_server  STARTTLS required before MAIL and AUTH; AUTH as USERNAME / PASSWORD
  smtps_server          implicit TLS from the first byte (like port 465); AUTH as USERNAME / PASSWORD
  tls_certificate       a self-signed certificate for 127.0.0.1 and localhost (one per session)
  unused_port           a port of 127.0.0.1 where nothing listens (a server that is down)
Tests using them skip, saying why, when aiosmtpd (or, for TLS, cryptography) is not installed.
Without pytest: ``with running_smtp_server(...) as server: ...``. ``server.uri()`` is a sink URI for it
(with tls_ca= for the TLS servers, so the client verifies the certificate) and ``server.mails`` what arrived.
"""

from __future__ import annotations

import datetime as dt
import email
import ipaddress
import socket
import ssl
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlencode

import pytest

_NO_AIOSMTPD = "the SMTP tests need aiosmtpd (pip install aiosmtpd)"

HOST = "127.0.0.1"
SENDER = "secretwatch@example.com"
RECIPIENT = "security@example.com"
USERNAME = "alerts"
PASSWORD = "s3cret-Pa55word-for-tests"

Tls = Literal["none", "starttls", "implicit"]


@dataclass(frozen=True, slots=True)
class Certificate:
    cert: Path
    key: Path


@dataclass(frozen=True, slots=True)
class ReceivedMail:
    """One accepted mail: the SMTP envelope, the message as parsed, and how the session was secured."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes
    message: EmailMessage
    tls: bool
    username: str | None


@dataclass
class Recorder:
    """The aiosmtpd handler. Tests can make it refuse recipients, or answer the next DATAs with errors."""

    mails: list[ReceivedMail] = field(default_factory=list)
    #: address -> reply, e.g. {"nobody@example.com": "550 5.1.1 No such user"}
    refused_recipients: dict[str, str] = field(default_factory=dict)
    #: replies given to the next DATA commands instead of accepting, e.g. "451 4.3.0 Try again later"
    data_replies: deque[str] = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        refusal = self.refused_recipients.get(address)
        if refusal:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.data_replies:
            return self.data_replies.popleft()
        raw = bytes(envelope.original_content or envelope.content)
        parsed = email.message_from_bytes(raw, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        mail = ReceivedMail(
            mail_from=envelope.mail_from,
            rcpt_tos=tuple(envelope.rcpt_tos),
            raw=raw,
            message=parsed,
            tls=server.transport.get_extra_info("ssl_object") is not None,  # STARTTLS or implicit TLS
            username=session.auth_data if session.authenticated else None,
        )
        with self._lock:
            self.mails.append(mail)
        return "250 2.0.0 Message accepted"


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    tls: Tls
    recorder: Recorder
    #: The certificate to trust (tls_ca=) for a TLS server.
    ca_file: Path | None = None
    #: The only credentials AUTH accepts, when the server offers AUTH.
    username: str | None = None
    password: str | None = None
    #: The defaults of uri().
    sender: str = SENDER
    recipient: str = RECIPIENT

    @property
    def mails(self) -> list[ReceivedMail]:
        return self.recorder.mails

    def uri(self, *, to: tuple[str, ...] = (), **params: str) -> str:
        """A sink URI from `sender` to `to` (default: `recipient`); `params` add to or replace the query."""
        query: dict[str, str] = {"from": self.sender, "to": ",".join(to or (self.recipient,))}
        if self.tls == "starttls":
            query["starttls"] = "1"
        if self.tls != "none" and self.ca_file is not None:
            query["tls_ca"] = str(self.ca_file)
        query.update(params)
        scheme = "smtps" if self.tls == "implicit" else "smtp"
        return f"{scheme}://{self.host}:{self.port}?{urlencode(query, safe='@,/')}"


def free_port() -> int:
    """A TCP port nothing listens on at the moment (also what a test of a server that is down connects to)."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def authenticator(username: str, password: str) -> Any:
    """An aiosmtpd authenticator accepting exactly this user and password (LOGIN or PLAIN)."""
    aiosmtpd_smtp = pytest.importorskip("aiosmtpd.smtp", reason=_NO_AIOSMTPD)

    def check(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> Any:
        accepted = (
            isinstance(auth_data, aiosmtpd_smtp.LoginPassword)
            and auth_data.login == username.encode()
            and auth_data.password == password.encode()
        )
        # handled=False: aiosmtpd itself then answers 535 to a wrong password
        return aiosmtpd_smtp.AuthResult(success=accepted, handled=False,
                                        auth_data=username if accepted else None)

    return check


@contextmanager
def running_smtp_server(*, tls: Tls = "none", certificate: Certificate | None = None,
                        credentials: tuple[str, str] | None = None) -> Iterator[SmtpServer]:
    """An SMTP server on a free port of 127.0.0.1 until the block ends.

    With `credentials`, AUTH is offered and accepts only them; without TLS it is offered in clear. With
    tls="starttls" the server offers AUTH only after STARTTLS and refuses MAIL before it.
    """
    aiosmtpd_controller = pytest.importorskip("aiosmtpd.controller", reason=_NO_AIOSMTPD)
    if tls != "none" and certificate is None:
        raise ValueError("a TLS server needs a certificate (the tls_certificate fixture)")
    recorder = Recorder()
    options: dict[str, Any] = {"ready_timeout": 5.0}
    if credentials is not None:
        options.update(authenticator=authenticator(*credentials), auth_require_tls=tls == "starttls")
    if certificate is not None and tls != "none":
        context = _server_context(certificate)
        if tls == "implicit":
            options["ssl_context"] = context
        else:
            options.update(tls_context=context, require_starttls=True)
    controller = aiosmtpd_controller.Controller(recorder, hostname=HOST, port=free_port(), **options)
    controller.start()
    try:
        username, password = credentials or (None, None)
        yield SmtpServer(HOST, controller.port, tls, recorder, certificate.cert if certificate else None,
                         username, password)
    finally:
        controller.stop()


def make_certificate(directory: Path) -> Certificate:
    """A self-signed certificate for 127.0.0.1 and localhost, valid for a day, written as PEM files."""
    pytest.importorskip("cryptography", reason="the TLS tests need cryptography to make a certificate")
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "secretwatch test SMTP server")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(HOST))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return Certificate(cert_path, key_path)


def _server_context(certificate: Certificate) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate.cert, certificate.key)
    return context


@pytest.fixture(scope="session")
def tls_certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    return make_certificate(tmp_path_factory.mktemp("smtp-tls"))


@pytest.fixture
def unused_port() -> int:
    """A port of 127.0.0.1 where no server listens: for tests of a server that is down."""
    return free_port()


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    with running_smtp_server() as server:
        yield server


@pytest.fixture
def smtp_auth_server() -> Iterator[SmtpServer]:
    with running_smtp_server(credentials=(USERNAME, PASSWORD)) as server:
        yield server


@pytest.fixture
def smtp_starttls_server(tls_certificate: Certificate) -> Iterator[SmtpServer]:
    with running_smtp_server(tls="starttls", certificate=tls_certificate,
                             credentials=(USERNAME, PASSWORD)) as server:
        yield server


@pytest.fixture
def smtps_server(tls_certificate: Certificate) -> Iterator[SmtpServer]:
    with running_smtp_server(tls="implicit", certificate=tls_certificate,
                             credentials=(USERNAME, PASSWORD)) as server:
        yield server
