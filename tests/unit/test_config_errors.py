"""No configuration error repeats what the user typed in a store or sink URI.

A store or sink URI may hold a secret pasted by mistake (a connection string, a password in the port or user
info, a key as a table name), and its error lands in cold-start logs. The property, over every registered
store and sink scheme: put a marker in each position of a working URI (host, user info, port, path, each
parameter's value, an unknown parameter's name and value, a fragment, unbalanced brackets, the scheme
itself); opening it either works or raises ConfigError, and neither the error, nor any exception chained to
it, nor the line core.bootstrap reports, contains the marker. Settings named by a URI (password_env,
connection_setting) holding a wrong value are checked the same way.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pytest

from core import bootstrap
from core.alerts.registry import SINKS, open_sink
from core.errors import ConfigError
from core.rules.loader import load_rules
from core.state.registry import BACKENDS, open_store

#: What must never appear in an error, compared case-insensitively (host names come back lowercased).
PROBES = ("sw0rdfish42", "c3cr3tk3y")
#: The same secret in the shapes it takes when pasted into a URI.
MARKERS = (
    "Sw0rdFish42",  # a valid host, table name, variable name and flag-like word
    "sw0rdfish42@example.com",  # a valid address
    "https://sw0rdfish42.example",
    "DefaultEndpointsProtocol=https;AccountName=sw0rdfish42;AccountKey=c3cr3tk3y+/Zm9v==",
    "%53w0rdFish42",  # percent-encoded: decoded, it is the first marker again
    "c3cr3tk3y!$'()*,;:~ sw0rdfish42",
)
SETTING = "SW_TEST_SETTING"  # the variable the templates below name with password_env / connection_setting
SINK_SETTING = "SW_TEST_SINK"  # the variable the env:// template names; it holds a working sink URI
VALID_CONNECTION_STRING = (
    "DefaultEndpointsProtocol=https;AccountName=stsecretwatch;AccountKey=a2V5;EndpointSuffix=core.windows.net"
)


@dataclass(frozen=True, slots=True)
class Form:
    """A working URI of one scheme, in parts, so that any one part can be replaced."""

    scheme: str
    kind: str  # "store" or "sink"
    netloc: str
    path: str = ""
    params: dict[str, str] = field(default_factory=dict)
    needs: str = ""  # a module the scheme needs; the form is skipped without it

    def uri(self, *, netloc: str | None = None, path: str | None = None, query: str | None = None) -> str:
        joined = "&".join(f"{name}={value}" for name, value in self.params.items())
        query = joined if query is None else query
        return (
            f"{self.scheme}://{self.netloc if netloc is None else netloc}{self.path if path is None else path}"
            + (f"?{query}" if query else "")
        )

    def with_param(self, name: str, value: str) -> str:
        params = {**self.params, name: value}
        return self.uri(query="&".join(f"{key}={item}" for key, item in params.items()))


FORM_NAMES = (
    "memory", "sqlite", "dynamodb", "firestore", "azuretables connection", "azuretables identity", "jsonl stdout",
    "jsonl file", "sns", "ses", "smtp with password_env", "smtp with password_file", "smtps", "https webhook",
    "http webhook", "env reference",
)


def forms(tmp: Path) -> dict[str, Form]:
    """A working URI of each registered scheme (several where it has alternative parameters)."""
    password_file = tmp / "smtp-password"
    password_file.write_text("hunter2\n")
    ca = Path(pytest.importorskip("certifi").where())
    return dict(zip(FORM_NAMES, [
        Form("memory", "store", ""),
        Form("sqlite", "store", "", f"{tmp}/state.db"),
        Form("dynamodb", "store", "secretwatch-state", params={"region": "eu-west-1",
                                                                "endpoint_url": "http://127.0.0.1:9"},
             needs="boto3"),
        Form("firestore", "store", "secretwatch-state", params={"project": "acme-sec", "database": "audit"},
             needs="google.cloud.firestore"),
        Form("azuretables", "store", "secretwatchstate", params={"connection_setting": SETTING},
             needs="azure.data.tables"),
        Form("azuretables", "store", "secretwatchstate",
             params={"endpoint": "https://stsecretwatch.table.core.windows.net"}, needs="azure.identity"),
        Form("jsonl", "sink", "-"),
        Form("jsonl", "sink", "", f"{tmp}/alerts.jsonl"),
        Form("sns", "sink", "arn:aws:sns:eu-west-1:123456789012:alerts",
             params={"region": "eu-west-1", "endpoint_url": "http://127.0.0.1:9"}, needs="boto3"),
        Form("ses", "sink", "secretwatch@example.com",
             params={"to": "a@example.com,b@example.com", "region": "eu-west-1",
                     "endpoint_url": "http://127.0.0.1:9"}, needs="boto3"),
        Form("smtp", "sink", "127.0.0.1:2525",
             params={"from": "sw@example.com", "to": "a@example.com,b@example.com", "timeout": "5",
                     "username": "sw", "password_env": SETTING}),
        Form("smtp", "sink", "mail.example.com:587",
             params={"from": "sw@example.com", "to": "a@example.com", "starttls": "1", "username": "sw",
                     "password_file": str(password_file), "tls_ca": str(ca), "tls_verify": "1"}),
        Form("smtps", "sink", "mail.example.com", params={"from": "sw@example.com", "to": "a@example.com"}),
        Form("https", "sink", "hooks.example.com", "/services/T0/B0",
             params={"format": "slack", "secret_env": SETTING}),
        Form("http", "sink", "127.0.0.1:8080", "/alerts", params={"format": "ocsf"}),
        Form("env", "sink", SINK_SETTING),
    ], strict=True))


def positions(form: Form, marker: str) -> Iterator[tuple[str, str]]:
    """(where the marker is, the URI) for every position of `form`."""
    host = form.netloc.rpartition(":")[0] if form.scheme in ("smtp", "smtps") else form.netloc
    host = host or "localhost"
    yield "host", form.uri(netloc=marker)
    yield "user", form.uri(netloc=f"{marker}@{host}")
    yield "password", form.uri(netloc=f"user:{marker}@{host}")
    yield "port", form.uri(netloc=f"{host}:{marker}")
    folder, _, name = form.path.rpartition("/")
    yield "path", form.uri(path=f"{folder}/{marker}/{name}" if name else f"/{marker}")
    yield "fragment", f"{form.uri()}#{marker}"
    yield "open bracket", form.uri(netloc=f"[{marker}")
    yield "closed bracket", form.uri(netloc=f"[{marker}]")
    yield "stray bracket", form.uri(netloc=f"{marker}]")
    yield "bare query", form.uri(query=marker)
    yield "unknown name", form.with_param(marker, "x")
    yield "unknown value", form.with_param("colour", marker)
    yield "password parameter", form.with_param("password", marker)
    for name in form.params:
        yield f"{name}=", form.with_param(name, marker)
        yield f"{name}= twice", form.uri(query=f"{form.uri().partition('?')[2]}&{name}={marker}")
    yield "scheme", form.uri().replace(f"{form.scheme}://", f"{form.scheme}x{marker}://", 1)
    yield "opaque", f"{form.scheme}:{marker}"


WHOLE = [("whole", marker) for marker in MARKERS] + [("whole", f"{marker}://x") for marker in MARKERS[:1]]


def printed(exc: BaseException) -> Iterator[str]:
    """Every line a traceback of `exc` would print about the exceptions themselves."""
    current: BaseException | None = exc
    while current is not None:
        yield f"{type(current).__name__}: {current}"
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)


def leaks(text: str) -> bool:
    lowered = text.lower()
    return any(probe in lowered for probe in PROBES)


def check(open_uri: Callable[[str], object], uri: str) -> str | None:
    """None if opening `uri` works or fails safely; else what went wrong."""
    try:
        opened = open_uri(uri)
    except ConfigError as exc:
        shown = [line for line in printed(exc) if leaks(line)]
        return f"echoed: {shown[0]}" if shown else None
    except Exception as exc:
        return f"raised {type(exc).__name__}, not ConfigError: {exc}"
    close = getattr(opened, "close", None)
    if close is not None:
        close()
    return None


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")  # a relative sqlite: path lands here
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv(SETTING, VALID_CONNECTION_STRING)
    monkeypatch.setenv(SINK_SETTING, "jsonl://-")
    return monkeypatch


def opener(kind: str) -> Callable[[str], object]:
    return open_store if kind == "store" else open_sink


def installed(form: Form) -> bool:
    if not form.needs:
        return True
    try:
        return importlib.util.find_spec(form.needs) is not None
    except ModuleNotFoundError:  # its parent package is missing
        return False


def test_every_registered_scheme_has_a_form_here(tmp_path: Path) -> None:
    covered = {(form.kind, form.scheme) for form in forms(tmp_path).values()}

    assert covered == {("store", scheme) for scheme in BACKENDS} | {("sink", scheme) for scheme in SINKS}


@pytest.mark.parametrize("name", FORM_NAMES)
def test_no_marker_placed_anywhere_in_a_uri_reaches_an_error(
    name: str, env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    form = forms(tmp_path)[name]
    if not installed(form):
        pytest.skip(f"{form.needs} is not installed")
    assert check(opener(form.kind), form.uri()) is None, f"the form itself must open: {form.uri()}"

    failures = [
        f"{where} ({marker!r}): {problem}"
        for marker in MARKERS
        for where, uri in positions(form, marker)
        if (problem := check(opener(form.kind), uri)) is not None
    ]

    assert not failures, f"{name}:\n" + "\n".join(failures)


@pytest.mark.parametrize("kind", ["store", "sink"])
def test_no_marker_given_as_a_whole_uri_reaches_an_error(kind: str, env: pytest.MonkeyPatch) -> None:
    failures = [f"{uri!r}: {problem}" for _, uri in WHOLE if (problem := check(opener(kind), uri)) is not None]

    assert not failures, "\n".join(failures)


def test_a_uri_never_reaches_the_line_bootstrap_reports(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    rules = load_rules()
    env.setattr(bootstrap, "load_rules", lambda: rules)  # the same rules each time, parsed once
    reported: list[str] = []
    failures: list[str] = []
    for name, form in forms(tmp_path).items():
        if not installed(form):
            continue
        setting = "SECRETWATCH_STORE" if form.kind == "store" else "SECRETWATCH_SINKS"
        for marker in MARKERS:
            for where, uri in positions(form, marker):
                env.setenv("SECRETWATCH_STORE", "memory://")
                env.setenv("SECRETWATCH_SINKS", "jsonl://-")
                env.setenv(setting, uri)
                problem = check(lambda _: bootstrap.pipeline_from_env(reported.append).store, uri)
                if problem is not None:
                    failures.append(f"{name} {where}: {problem}")

    assert not failures, "\n".join(failures)
    assert reported, "some of these URIs must be refused"
    assert not [line for line in reported if leaks(line)]
    assert all(line.startswith("secretwatch is misconfigured: ") and "\n" not in line for line in reported)


# --- a setting named by the URI holds a wrong value -----------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "",
        "Sw0rdFish42",
        "AccountName=sw0rdfish42;AccountKey=c3cr3tk3y==",
        "DefaultEndpointsProtocol=https;AccountName=sw0rdfish42;AccountKey=c3cr3tk3y;TableEndpoint=sw0rdfish42:x",
        "UseDevelopmentStorage=sw0rdfish42",
    ],
)
def test_a_wrong_connection_string_in_the_named_setting_is_never_echoed(value: str, env: pytest.MonkeyPatch) -> None:
    pytest.importorskip("azure.data.tables")
    env.setenv(SETTING, value)

    assert check(open_store, f"azuretables://secretwatchstate?connection_setting={SETTING}") is None


@pytest.mark.parametrize("value", ["", "sw0rdfish42é", "c3cr3tk3y\u2028sw0rdfish42"])
def test_a_wrong_password_in_the_named_variable_is_never_echoed(value: str, env: pytest.MonkeyPatch) -> None:
    env.setenv(SETTING, value)
    uri = f"smtp://127.0.0.1:2525?from=sw@example.com&to=a@example.com&username=sw&password_env={SETTING}"

    assert check(open_sink, uri) is None


WRONG_SINKS = ["", *MARKERS, *(f"https://hooks.example.com/{marker}?format=x" for marker in MARKERS)]


@pytest.mark.parametrize("value", WRONG_SINKS)
def test_a_wrong_sink_uri_in_the_variable_an_env_reference_names_is_never_echoed(
    value: str, env: pytest.MonkeyPatch
) -> None:
    env.setenv(SINK_SETTING, value)

    assert check(open_sink, f"env://{SINK_SETTING}") is None


def test_a_pasted_connection_string_as_the_setting_name_is_refused_without_echo(env: pytest.MonkeyPatch) -> None:
    pytest.importorskip("azure.data.tables")
    pasted = quote("DefaultEndpointsProtocol=https;AccountName=sw0rdfish42;AccountKey=c3cr3tk3y==", safe="")

    with pytest.raises(ConfigError) as raised:
        open_store(f"azuretables://secretwatchstate?connection_setting={pasted}")

    assert "connection_setting" in str(raised.value)
    assert not leaks(str(raised.value))


@pytest.mark.parametrize(
    ("uri", "says"),
    [
        ("smtp://mail.example.com:Sw0rdFish42?from=a@example.com&to=b@example.com", "port"),
        ("ses://Sw0rdFish42?to=a@example.com", "sender"),
        ("smtp://sw:Sw0rdFish42@mail.example.com?from=a@example.com&to=b@example.com", "password"),
        ("sns://Sw0rdFish42", "topic ARN"),
    ],
)
def test_the_issues_examples_name_the_part_to_fix(uri: str, says: str, env: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError) as raised:
        open_sink(uri)

    assert says in str(raised.value)
    assert str(raised.value).startswith(f"sink '{uri.partition(':')[0]}://'")
    assert not leaks(str(raised.value))


@pytest.mark.parametrize("uri", ["dynamodb://[x", "dynamodb://x]", "firestore://[::1", "memory://[", "sqlite://[x"])
def test_a_malformed_store_uri_is_one_line_naming_no_part_of_it(uri: str) -> None:
    with pytest.raises(ConfigError, match=r"^store URI is malformed[^\n]*$"):
        open_store(uri)


def test_an_unknown_parameter_is_not_named_but_a_near_known_one_is_suggested() -> None:
    with pytest.raises(ConfigError) as raised:
        open_store("dynamodb://secretwatch-state?regoin=eu-west-1")

    assert str(raised.value) == (
        "store 'dynamodb://': query parameter 1 is unknown (did you mean region?); it accepts region, endpoint_url"
    )
