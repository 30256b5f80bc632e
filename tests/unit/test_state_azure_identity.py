"""azuretables://TABLE?endpoint=...: the store authenticates with DefaultAzureCredential, as it does in Azure.

On Azure Functions the managed identity reaches code through two settings the platform sets, IDENTITY_ENDPOINT
and IDENTITY_HEADER (the App Service managed identity protocol). Here a local HTTP server plays that endpoint
and hands out a token, and Azurite, speaking HTTPS with a throwaway certificate, checks the bearer token it is
sent (issuer, audience and lifetime; Azurite never checks signatures). So the real DefaultAzureCredential
fetches the token, the real TableClient sends it, and the store works with no connection string anywhere.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

pytest.importorskip("azure.identity", reason="azure-identity is missing: pip install -e '.[azure]'")
pytest.importorskip("cryptography", reason="cryptography makes the test certificate")

from azure.data.tables import TableServiceClient
from azure.identity import DefaultAzureCredential
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from core.errors import StateError
from core.state.azure_access import connect
from core.state.base import get_one
from core.state.registry import open_store
from tests.azurite import Azurite, azurite_binary, running_azurite, unused_table_name

STORAGE = "https://storage.azure.com"
HEADER = "x-identity-header-for-tests"
LATER = datetime(2100, 1, 1, tzinfo=UTC)
#: Settings that would make DefaultAzureCredential try something other than the managed identity here.
OTHER_CREDENTIALS = (
    "AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH",
    "AZURE_FEDERATED_TOKEN_FILE", "AZURE_USERNAME", "MSI_ENDPOINT", "MSI_SECRET", "IDENTITY_SERVER_THUMBPRINT",
)


class IdentityEndpoint(ThreadingHTTPServer):
    """The App Service managed identity endpoint: a token for the resource asked, with `audience` inside."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _TokenHandler)
        self.audience = STORAGE
        self.requests: list[dict[str, list[str]]] = []
        self.headers_seen: list[str | None] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/msi/token"


class _TokenHandler(BaseHTTPRequestHandler):
    server: IdentityEndpoint

    def do_GET(self) -> None:
        self.server.requests.append(parse_qs(urlsplit(self.path).query))
        self.server.headers_seen.append(self.headers.get("X-IDENTITY-HEADER"))
        now = int(time.time())
        claims = {
            "aud": self.server.audience, "iss": "https://sts.windows.net/00000000-0000-0000-0000-00000000cafe/",
            "iat": now - 60, "nbf": now - 60, "exp": now + 3600, "oid": "function-app-identity",
            "tid": "00000000-0000-0000-0000-00000000cafe",
        }
        token = ".".join([_b64({"alg": "RS256", "typ": "JWT"}), _b64(claims), "bm90LXNpZ25lZA"])
        body = json.dumps(
            {"access_token": token, "expires_on": str(now + 3600), "resource": STORAGE, "token_type": "Bearer"}
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


def _b64(document: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(document).encode()).rstrip(b"=").decode()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key, as PEM files."""
    folder = tmp_path_factory.mktemp("tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return folder / "cert.pem", folder / "key.pem"


@pytest.fixture(scope="module")
def server(certificate: tuple[Path, Path]) -> Iterator[Azurite]:
    binary = azurite_binary()
    if binary is None:
        pytest.skip("azurite-table is not installed: run scripts/install-azurite.sh (needs Node.js and npm)")
    with running_azurite(binary, tls=certificate) as azurite:
        yield azurite


@pytest.fixture
def identity(monkeypatch: pytest.MonkeyPatch, certificate: tuple[Path, Path]) -> Iterator[IdentityEndpoint]:
    """The managed identity as the Functions host exposes it, and trust in the test certificate."""
    for name in OTHER_CREDENTIALS:
        monkeypatch.delenv(name, raising=False)
    endpoint = IdentityEndpoint()
    threading.Thread(target=endpoint.serve_forever, daemon=True).start()
    monkeypatch.setenv("IDENTITY_ENDPOINT", endpoint.url)
    monkeypatch.setenv("IDENTITY_HEADER", HEADER)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(certificate[0]))
    yield endpoint
    endpoint.shutdown()
    endpoint.server_close()


@pytest.fixture
def table(server: Azurite, identity: IdentityEndpoint) -> str:
    """A new table, created with the account key (the deployment's job, not the function's)."""
    name = unused_table_name()
    with TableServiceClient.from_connection_string(server.connection_string) as service:
        service.create_table(name)
    return name


def test_the_endpoint_form_reads_and_writes_with_the_managed_identitys_token(
    server: Azurite, identity: IdentityEndpoint, table: str
) -> None:
    store = open_store(f"azuretables://{table}?endpoint={server.endpoint}")
    store.put("k", {"n": 1}, expires_at=LATER, version=None)

    item = get_one(store, "k")
    store.close()

    assert item is not None
    assert item.value == {"n": 1}
    assert identity.requests, "the store never asked the managed identity for a token"
    assert {request["resource"][0] for request in identity.requests} == {STORAGE}
    assert set(identity.headers_seen) == {HEADER}


def test_a_token_the_table_service_refuses_is_a_state_error_naming_the_role_to_grant(
    server: Azurite, identity: IdentityEndpoint, table: str
) -> None:
    identity.audience = "https://vault.azure.net"  # a token for another service
    store = open_store(f"azuretables://{table}?endpoint={server.endpoint}")

    with pytest.raises(StateError, match=r"refused access .* Storage Table Data Contributor role") as raised:
        store.get_many(["k"])
    store.close()

    assert "eyJ" not in str(raised.value)  # no part of the token


def test_the_uri_builds_a_table_client_on_the_endpoint_with_a_default_azure_credential() -> None:
    connection = connect(urlsplit("azuretables://secretwatchstate?endpoint=https://stsw.table.core.windows.net/"))

    assert isinstance(connection.credential, DefaultAzureCredential)
    assert connection.table.credential is connection.credential
    assert (connection.table.url, connection.table.account_name, connection.table.table_name) == (
        "https://stsw.table.core.windows.net",
        "stsw",
        "secretwatchstate",
    )
    connection.table.close()
    connection.credential.close()
