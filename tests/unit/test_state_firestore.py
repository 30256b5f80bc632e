"""FirestoreStore specifics the shared contract cannot see: document ids, the document layout and its TTL
field, expired documents left in place, writes whose answer was lost, the URI, and error messages.

Its Store behaviour (versions, expiry, keys, concurrency) is specified in tests/contract/. Tests that
need Firestore run against the emulator from the machine's Cloud SDK, and skip when it cannot start.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import ConfigError, StateError
from core.state.base import Item, get_one
from core.state.registry import open_store
from tests.emulators import emulator_in_environment

firestore = pytest.importorskip(
    "google.cloud.firestore", reason="the gcp extra (google-cloud-firestore) is not installed"
)

from core.state import firestore as firestore_module  # noqa: E402
from core.state.firestore import TTL_FIELD, FirestoreStore, document_id  # noqa: E402

PROJECT = "secretwatch-unit"
NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)


def assert_valid_document_id(doc_id: str) -> None:
    assert doc_id
    assert "/" not in doc_id
    assert doc_id not in {".", ".."}
    assert not re.fullmatch(r"__.*__", doc_id)
    assert len(doc_id.encode()) <= 1500


@pytest.fixture(scope="module")
def emulator() -> Iterator[None]:
    with emulator_in_environment("firestore"):
        yield


@pytest.fixture
def client(emulator: None) -> Iterator[Any]:
    raw = firestore.Client(project=PROJECT)
    yield raw
    raw.close()


@pytest.fixture
def collection() -> str:
    return f"unit-{uuid.uuid4().hex}"


# --- document ids ---------------------------------------------------------------------------------


def test_a_key_of_printable_ascii_stays_readable_in_its_document_id() -> None:
    assert document_id("thr|restricted-secret-read|system:serviceaccount:prod:api") == (
        "k:thr|restricted-secret-read|system:serviceaccount:prod:api"
    )


def test_slash_percent_space_and_non_ascii_are_percent_encoded() -> None:
    assert document_id("a/b%c d\u00e9\n") == "k:a%2Fb%25c%20d%C3%A9%0A"


@pytest.mark.parametrize("key", ["", ".", "..", "__reserved__", "__", "/", "%2F"])
def test_keys_firestore_would_reject_as_ids_get_valid_ones(key: str) -> None:
    assert_valid_document_id(document_id(key))


def test_keys_differing_only_by_case_or_unicode_normalisation_get_different_ids() -> None:
    composed, decomposed = "\u00e9", unicodedata.normalize("NFD", "\u00e9")

    assert document_id("Key") != document_id("key")
    assert document_id(composed) != document_id(decomposed)


def test_a_key_too_long_to_spell_out_is_named_by_its_sha256() -> None:
    longest_readable = "k" * 1498

    assert document_id(longest_readable) == "k:" + longest_readable
    assert re.fullmatch(r"h:[0-9a-f]{64}", document_id(longest_readable + "k"))
    assert document_id("🔑" * 256) != document_id("🔑" * 255 + "🗝")


@given(st.lists(st.text(max_size=600), min_size=2, max_size=2, unique=True))
def test_every_key_gets_a_valid_document_id_of_its_own(keys: list[str]) -> None:
    first, second = (document_id(key) for key in keys)

    assert_valid_document_id(first)
    assert first != second


# --- the URI --------------------------------------------------------------------------------------


def test_the_uri_names_collection_project_and_database() -> None:
    store = open_store("firestore://secretwatch-state?project=acme-sec&database=audit")

    assert isinstance(store, FirestoreStore)
    assert (store.collection, store.project, store.database) == ("secretwatch-state", "acme-sec", "audit")
    assert store.label == "firestore://secretwatch-state?project=acme-sec&database=audit"


def test_the_database_defaults_to_the_default_database() -> None:
    store = open_store("firestore://secretwatch-state?project=acme-sec")

    assert isinstance(store, FirestoreStore)
    assert store.database == "(default)"
    assert store.label == "firestore://secretwatch-state?project=acme-sec"


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("firestore://state", "needs project=..."),
        ("firestore://state?project=p&region=eu", "query parameter 2 is unknown; it accepts project, database"),
        ("firestore://state/sub?project=p", "no path"),
        ("firestore://?project=p", "needs a collection name"),
        ("firestore://..?project=p", "needs a collection name"),
        ("firestore://__state__?project=p", "needs a collection name"),
    ],
)
def test_a_malformed_uri_is_a_config_error_saying_what_to_write(uri: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        open_store(uri)


# --- documents in Firestore -----------------------------------------------------------------------


def test_a_document_holds_the_value_as_json_text_an_integer_version_and_the_ttl_timestamp(
    client: Any, collection: str
) -> None:
    store = FirestoreStore(collection, project=PROJECT, clock=lambda: NOW)
    store.put("nt|rule|abc", {"first_seen": "2024-05-01T12:00:00Z", "n": 3.0}, expires_at=LATER, version=None)

    fields = client.collection(collection).document("k:nt|rule|abc").get().to_dict()

    assert TTL_FIELD == "exp"
    assert (fields["v"], fields["ver"], fields["exp"]) == (
        '{"first_seen":"2024-05-01T12:00:00Z","n":3.0}',
        1,
        LATER,
    )
    assert set(fields) == {"v", "ver", "exp", "w"}


def test_an_expired_document_stays_in_firestore_but_is_invisible_and_can_be_created_afresh(
    client: Any, collection: str
) -> None:
    now = NOW
    store = FirestoreStore(collection, project=PROJECT, clock=lambda: now)
    store.put("k", {"n": 1}, expires_at=NOW + timedelta(seconds=1), version=None)
    now = NOW + timedelta(minutes=1)

    assert store.get_many(["k"]) == {}
    assert client.collection(collection).document(document_id("k")).get().exists

    assert store.put("k", {"n": 2}, expires_at=LATER, version=None) is True
    assert get_one(store, "k") == Item({"n": 2}, 1, LATER)


def test_a_put_based_on_a_read_another_store_has_since_overtaken_is_refused(
    collection: str, emulator: None
) -> None:
    mine = FirestoreStore(collection, project=PROJECT, clock=lambda: NOW)
    theirs = FirestoreStore(collection, project=PROJECT, clock=lambda: NOW)
    mine.put("k", {"n": 1}, expires_at=LATER, version=None)
    assert get_one(mine, "k") == Item({"n": 1}, 1, LATER)

    assert theirs.put("k", {"n": 2}, expires_at=LATER, version=1) is True
    assert mine.put("k", {"n": 99}, expires_at=LATER, version=1) is False

    assert get_one(theirs, "k") == Item({"n": 2}, 2, LATER)


def test_a_create_whose_answer_was_lost_but_which_landed_reports_success(
    client: Any, collection: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What the client's automatic retry of a commit meets when its first attempt did land.
    landed = {"v": '{"n":1}', "ver": 1, "exp": LATER, "w": "first-attempt"}
    client.collection(collection).document(document_id("k")).create(landed)
    store = FirestoreStore(collection, project=PROJECT, clock=lambda: NOW)

    monkeypatch.setattr(firestore_module, "_new_token", lambda: "first-attempt")
    assert store.put("k", {"n": 1}, expires_at=LATER, version=None) is True
    monkeypatch.setattr(firestore_module, "_new_token", lambda: "another-writer")
    assert store.put("k", {"n": 1}, expires_at=LATER, version=None) is False


def test_an_update_whose_answer_was_lost_but_which_landed_reports_success(
    client: Any, collection: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = FirestoreStore(collection, project=PROJECT, clock=lambda: NOW)
    store.put("k", {"n": 1}, expires_at=LATER, version=None)
    landed = {"v": '{"n":2}', "ver": 2, "exp": LATER, "w": "first-attempt"}
    client.collection(collection).document(document_id("k")).update(landed)

    monkeypatch.setattr(firestore_module, "_new_token", lambda: "first-attempt")

    assert store.put("k", {"n": 2}, expires_at=LATER, version=1) is True
    assert get_one(store, "k") == Item({"n": 2}, 2, LATER)


def test_an_injected_client_is_used_and_left_open_for_its_owner(client: Any, collection: str) -> None:
    store = FirestoreStore(collection, client=client, clock=lambda: NOW)
    store.put("k", {"n": 1}, expires_at=LATER, version=None)
    store.close()

    assert store.label == f"firestore://{collection}?project={PROJECT}"
    assert client.collection(collection).document(document_id("k")).get().exists


# --- errors ---------------------------------------------------------------------------------------


def test_a_document_secretwatch_did_not_write_is_a_state_error_naming_it(
    client: Any, collection: str
) -> None:
    client.collection(collection).document(document_id("k")).create({"hello": "world"})
    store = FirestoreStore(collection, project=PROJECT, clock=lambda: NOW)

    with pytest.raises(StateError, match=r"'k:k' was not written by secretwatch.*collection of its own"):
        store.get_many(["k"])


def test_a_value_over_firestores_size_limit_is_a_one_line_state_error(
    collection: str, emulator: None
) -> None:
    store = FirestoreStore(collection, project=PROJECT, clock=lambda: NOW)

    with pytest.raises(StateError) as raised:
        store.put("k", {"blob": "x" * 1_100_000}, expires_at=LATER, version=None)

    message = str(raised.value)
    assert message.startswith(
        f"Firestore store firestore://{collection}?project={PROJECT}: InvalidArgument ("
    )
    assert "limited to 1 MiB" in message
    assert "\n" not in message
    assert "xxxx" not in message


def test_a_database_firestore_rejects_is_a_state_error_naming_the_store_uri_parameters(
    emulator: None,
) -> None:
    store = open_store(f"firestore://state?project={PROJECT}&database=no/such/database")

    with pytest.raises(StateError, match=r"InvalidArgument .*check project=, database="):
        store.get_many(["k"])


def test_missing_credentials_are_a_state_error_saying_how_to_provide_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "no-such-key.json"
    monkeypatch.delenv("FIRESTORE_EMULATOR_HOST", raising=False)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(missing))
    store = FirestoreStore("state", project=PROJECT, clock=lambda: NOW)

    with pytest.raises(
        StateError, match=r"no usable Google credentials.*GOOGLE_APPLICATION_CREDENTIALS"
    ) as raised:
        store.put("k", {"n": 1}, expires_at=LATER, version=None)

    assert str(missing) not in str(raised.value)
