"""The dynamodb backend's StoreFactory: a fresh table per store in one moto server, spoken to over real HTTP.

The server is moto's DynamoDB WSGI app, which `moto.server.ThreadedMotoServer` serves behind a
dispatcher that finds the service for each request, with three changes for the contract:

- It handles one request at a time. moto checks a ConditionExpression and then writes, with no lock
  between the two, so two concurrent PutItems can both pass the same version check (seen here as a
  lost increment, 399 of 400); DynamoDB applies each conditional write atomically. Serialising the
  requests restores that guarantee in the fake, at no cost: moto is bound by one GIL anyway.
- It runs in a process of its own, started once per session, so its CPU time per request does not
  compete for the GIL with the eight client threads of the concurrency test.
- It serves DynamoDB only, without the dispatcher, which costs more per request than DynamoDB itself.

Spawned processes reach it through the endpoint in the URI and inherit the fake credentials the
fixture puts in the environment for the duration of each test.
"""

from __future__ import annotations

import functools
import multiprocessing
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    # Imported at run time inside the fixture: the server process imports this module on its own,
    # and conftest imports this module, so a module-level import would be circular there.
    from .conftest import StoreFactory

REGION = "us-east-1"
FAKE_AWS_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_EC2_METADATA_DISABLED": "true",
}
SERVER_START_TIMEOUT_S = 60


def serve_moto_one_request_at_a_time(port_out: Connection) -> None:
    """In the server process: serve moto on a free port of 127.0.0.1, sent back through `port_out`."""
    import logging

    from moto.moto_server.werkzeug_app import create_backend_app
    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
    moto_app = create_backend_app("dynamodb")
    one_at_a_time = threading.Lock()

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        with one_at_a_time:
            return list(moto_app(environ, start_response))

    server = make_server("127.0.0.1", 0, app, threaded=True)
    port_out.send(server.server_port)
    server.serve_forever()


@functools.cache
def moto_endpoint(config: pytest.Config) -> str:
    """The URL of the session's moto server, started on first use and stopped when the session ends.

    A cached function rather than a session fixture: the contract conftest imports only
    `dynamodb_backend` from this module.
    """
    pytest.importorskip("moto.server", reason="moto[server] is not installed")
    context = multiprocessing.get_context("spawn")
    port_in, port_out = context.Pipe(duplex=False)
    server = context.Process(target=serve_moto_one_request_at_a_time, args=(port_out,), daemon=True)
    server.start()
    config.add_cleanup(functools.partial(stop, server))
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while not port_in.poll(0.1):
        if not server.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(
                f"the moto server process did not start (exit code {server.exitcode}): see its stderr"
            )
    return f"http://127.0.0.1:{port_in.recv()}"


def stop(process: multiprocessing.process.BaseProcess) -> None:
    process.terminate()
    process.join(timeout=10)


@pytest.fixture
def dynamodb_backend(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[StoreFactory]:
    boto3 = pytest.importorskip("boto3", reason="boto3 is not installed (pip install 'secretwatch[aws]')")
    endpoint = moto_endpoint(request.config)
    for name, value in FAKE_AWS_ENVIRONMENT.items():  # inherited by the processes a test spawns
        monkeypatch.setenv(name, value)

    from core.state.dynamodb import create_table

    from .conftest import StoreFactory

    client = boto3.client("dynamodb", region_name=REGION, endpoint_url=endpoint)

    def uri(table: str) -> str:
        return f"dynamodb://{table}?region={REGION}&endpoint_url={endpoint}"

    def fresh_uri() -> str:
        table = f"secretwatch-{uuid.uuid4().hex}"
        create_table(client, table)
        return uri(table)

    yield StoreFactory(
        fresh_uri=fresh_uri,
        shared_across_processes=True,
        broken_uri=lambda: uri("no-such-table"),
    )
    client.close()
