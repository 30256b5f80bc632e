"""open_store: store URIs from the CLI and the functions' environment, and the errors a user can act on."""

from __future__ import annotations

import importlib
import importlib.util
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from core.errors import ConfigError
from core.state.base import get_one
from core.state.memory import MemoryStore
from core.state.registry import BACKENDS, Backend, open_store, uri_params
from core.state.sqlite import SqliteStore

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"
PAST = datetime(2001, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("uri", ["memory", "memory://", " MEMORY ", "Memory://"])
def test_memory_uri_and_its_shortcut_open_a_memory_store(uri: str) -> None:
    assert isinstance(open_store(uri), MemoryStore)


def test_sqlite_uri_with_three_slashes_opens_the_absolute_path(tmp_path: Path) -> None:
    store = open_store(f"sqlite://{tmp_path}/state/secretwatch.db")

    assert isinstance(store, SqliteStore)
    assert store.path == tmp_path / "state" / "secretwatch.db"
    assert store.path.is_file()
    store.close()


def test_sqlite_shortcut_takes_a_path_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    open_store("sqlite:.secretwatch/state.db").close()

    assert (tmp_path / ".secretwatch" / "state.db").is_file()


@pytest.mark.parametrize("scheme", ["memory://", "sqlite:"])
def test_the_given_clock_decides_expiry_in_the_opened_store(scheme: str, tmp_path: Path) -> None:
    uri = "memory://" if scheme == "memory://" else f"sqlite:{tmp_path}/state.db"
    store = open_store(uri, clock=lambda: PAST)

    store.put("k", {"n": 1}, expires_at=PAST + timedelta(seconds=1), version=None)

    assert get_one(store, "k") is not None  # long expired by the wall clock, live by the given one
    store.close()


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("", "store URI has no scheme: use one of memory://, sqlite:///abs/path.db"),
        ("/var/lib/state.db", "store URI has no scheme"),
        ("redis://cache:6379", "unknown store scheme: use one of memory://, sqlite:///abs/path.db"),
        ("sqlit:state.db", "unknown store scheme (did you mean sqlite?): use one of memory://"),
        ("dynamodb://[x", "store URI is malformed: '[' and ']' may only enclose an IPv6 address"),
        ("memory://somewhere", "store 'memory://' takes nothing after the scheme"),
        ("memory://?shared=1", "store 'memory://' takes nothing after the scheme"),
        ("sqlite:", "store 'sqlite:' takes a file path and nothing else"),
        ("sqlite://", "store 'sqlite:' takes a file path and nothing else"),
        ("sqlite://host/state.db", "no host"),
        ("sqlite:///tmp/state.db?mode=ro", "no '?' or '#' in the path"),
        ("sqlite:///tmp/state#1.db", "no '?' or '#' in the path"),
    ],
)
def test_unusable_uris_raise_config_error_saying_what_to_write(uri: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=r"^[^\n]+$") as raised:
        open_store(uri)

    assert expected in str(raised.value)


def test_unknown_scheme_error_lists_every_known_uri_form() -> None:
    with pytest.raises(ConfigError) as raised:
        open_store("postgres://db/state")

    for form in (
        "memory://",
        "sqlite:///abs/path.db (or sqlite:PATH)",
        "dynamodb://TABLE?region=R",
        "firestore://COLLECTION?project=P&database=D",
        "azuretables://TABLE?endpoint=https://ACCOUNT.table.core.windows.net (or ?connection_setting=NAME)",
    ):
        assert form in str(raised.value)


def test_a_backend_whose_sdk_is_missing_names_the_extra_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "cloudy_store.py").write_text(
        "import secretwatch_tests_sdk_that_is_not_installed\n\nclass CloudyStore: ...\n"
    )
    monkeypatch.syspath_prepend(tmp_path)
    monkeypatch.setitem(BACKENDS, "cloudy", Backend("cloudy_store:CloudyStore", "aws", "cloudy://T"))

    with pytest.raises(ConfigError) as raised:
        open_store("cloudy://table")

    assert str(raised.value) == "store 'cloudy://' needs the aws extra: pip install 'secretwatch[aws]'"


def test_a_backend_whose_own_module_is_missing_says_to_reinstall(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(BACKENDS, "ghost", Backend("core.state.ghost:GhostStore", "aws", "ghost://T"))

    with pytest.raises(ConfigError) as raised:
        open_store("ghost://table")

    assert str(raised.value) == (
        "store 'ghost://' is not available: module core.state.ghost is missing; reinstall secretwatch"
    )


def test_every_backend_extra_is_an_extra_of_the_distribution() -> None:
    extras = tomllib.loads(PYPROJECT.read_text())["project"]["optional-dependencies"]

    assert {backend.extra for backend in BACKENDS.values()} - {None} <= set(extras)


@pytest.mark.parametrize("scheme", sorted(BACKENDS))
def test_every_installed_backend_class_opens_from_a_uri(scheme: str) -> None:
    module_name, _, class_name = BACKENDS[scheme].target.partition(":")
    if importlib.util.find_spec(module_name) is None:
        pytest.skip(f"{module_name} is not written yet")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as missing:
        pytest.skip(f"{module_name} needs {missing.name}")

    assert callable(getattr(getattr(module, class_name), "from_uri", None))


def test_no_part_of_a_misplaced_connection_string_is_echoed() -> None:
    with pytest.raises(ConfigError) as raised:
        open_store("DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=c2VjcmV0a2V5==")

    assert "c2VjcmV0a2V5" not in str(raised.value)
    assert "acct" not in str(raised.value)


# --- uri_params: the query-string rules every backend's from_uri uses ----------------------------------


def test_uri_params_returns_the_decoded_parameters() -> None:
    uri = urlsplit("firestore://terms?project=my%2Dproject&database=%28default%29")

    assert uri_params(uri, required=["project"], optional=["database"]) == {
        "project": "my-project",
        "database": "(default)",
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", "store 'dynamodb://' needs region=..."),
        (
            "regoin=eu-west-1",
            "store 'dynamodb://': query parameter 1 is unknown (did you mean region?); it accepts region, endpoint",
        ),
        (
            "region=eu-west-1&Hunter2=x",
            "store 'dynamodb://': query parameter 2 is unknown; it accepts region, endpoint",
        ),
        ("region=eu-west-1&region=us-east-1", "store 'dynamodb://': parameter 'region' is given twice"),
        ("region=", "store 'dynamodb://': parameter 'region' needs a value"),
        ("region", "store 'dynamodb://': malformed query; write name=value pairs joined by '&'"),
    ],
)
def test_uri_params_rejects_bad_queries_with_one_actionable_line(query: str, expected: str) -> None:
    with pytest.raises(ConfigError) as raised:
        uri_params(urlsplit(f"dynamodb://table?{query}"), required=["region"], optional=["endpoint"])

    assert str(raised.value) == expected


def test_uri_params_never_echoes_a_parameter_name_or_value_it_does_not_know() -> None:
    uri = urlsplit("azuretables://terms?connection_string=AccountKey%3Ds3cr3t")

    with pytest.raises(ConfigError) as raised:
        uri_params(uri, required=["connection_setting"])

    assert "s3cr3t" not in str(raised.value)
    assert "connection_string" not in str(raised.value)
    assert str(raised.value) == (
        "store 'azuretables://': query parameter 1 is unknown (did you mean connection_setting?); "
        "it accepts connection_setting"
    )
