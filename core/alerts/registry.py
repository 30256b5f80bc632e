"""Sinks by URI scheme. A sink's module, and the SDK it needs, are imported only when its scheme is used."""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from urllib.parse import SplitResult, parse_qsl

from core.alerts.base import Sink
from core.errors import ConfigError
from core.uris import split_uri, unknown_scheme, where


@dataclass(frozen=True, slots=True)
class SinkEntry:
    #: "module:Class"; the class has `from_uri(cls, uri: SplitResult) -> Sink`.
    target: str
    #: The pip extra that installs the sink's SDK, if it needs one.
    extra: str | None = None


SINKS: dict[str, SinkEntry] = {
    "jsonl": SinkEntry("core.alerts.jsonl:JsonlSink"),
    "sns": SinkEntry("core.alerts.sns:SnsSink", extra="aws"),
    "ses": SinkEntry("core.alerts.ses:SesSink", extra="aws"),
    "smtp": SinkEntry("core.alerts.smtp:SmtpSink"),
    "smtps": SinkEntry("core.alerts.smtp:SmtpSink"),
    "https": SinkEntry("core.alerts.webhook:WebhookSink"),
    "http": SinkEntry("core.alerts.webhook:WebhookSink"),
    "env": SinkEntry("core.alerts.env:EnvReference"),
}

#: Query parameters that would put a secret into a URI (and so into shell history, env dumps and logs).
_SECRET_PARAMS = frozenset({"password", "passwd", "pass"})
# A comma followed by this starts the next URI; any other comma belongs to a value such as `to=A,B`.
_URI_START = re.compile(r"\s*[A-Za-z][A-Za-z0-9+.-]*://")


def open_sink(uri: str) -> Sink:
    """The sink for `uri` (jsonl://-, jsonl:///abs/path.jsonl, sns://, ses://, smtp://, https://, env://NAME for a
    URI held whole by the environment variable NAME; see design.md).

    Every failure is a ConfigError with one line saying what to change, naming the scheme and the parameter
    but no value from the URI (core.uris), so a secret written there by mistake is not repeated.
    """
    parts = split_uri(uri.strip(), kind="sink")
    _refuse_secrets(parts)
    entry = SINKS.get(parts.scheme)
    if entry is None:
        forms = f"{', '.join(f'{scheme}://' for scheme in SINKS)} (e.g. jsonl://-)"
        raise unknown_scheme("sink", parts.scheme, SINKS, forms)
    module_name, _, class_name = entry.target.partition(":")
    try:
        factory = getattr(importlib.import_module(module_name), class_name)
    except ImportError as exc:
        raise ConfigError(_missing(parts.scheme, entry, module_name, exc)) from exc
    try:
        sink: Sink = factory.from_uri(parts)
    except ValueError:  # an SDK refusing a value; its message would repeat it
        raise ConfigError(f"{where('sink', parts.scheme)}: the URI is malformed") from None
    return sink


def open_sinks(uris: str) -> list[Sink]:
    """One sink per URI in a comma-separated list (SECRETWATCH_SINKS); blank means none.

    Commas inside a URI (``ses://FROM?to=A,B``) stay with it: a new URI starts only at ``scheme://``.
    """
    return [open_sink(uri) for uri in split_uris(uris)]


def split_uris(uris: str) -> list[str]:
    """The URIs of a comma-separated list, blanks dropped, commas inside a URI's query kept."""
    pieces: list[str] = []
    for piece in (piece.strip() for piece in uris.split(",")):
        if not piece:
            continue
        if pieces and not _URI_START.match(piece):
            pieces[-1] = f"{pieces[-1]},{piece}"
        else:
            pieces.append(piece)
    return pieces


def _refuse_secrets(parts: SplitResult) -> None:
    sink = where("sink", parts.scheme) if parts.scheme in SINKS else "sink URI"
    names = {name.lower() for name, _ in parse_qsl(parts.query, keep_blank_values=True)}
    named = sorted(names & _SECRET_PARAMS)
    if named:
        raise ConfigError(
            f"{sink}: a {named[0]}= parameter is refused, so the password never sits in "
            "a URI; put it in an environment variable and name that variable with password_env=NAME"
        )
    if parts.password is not None:
        raise ConfigError(
            f"{sink}: a password in the URI (user:password@host) is refused; use "
            "username=U and put the password in an environment variable named with password_env=NAME"
        )


def _missing(scheme: str, entry: SinkEntry, module_name: str, exc: ImportError) -> str:
    if exc.name == module_name:
        return f"sink scheme {scheme!r} is not available in this installation of secretwatch ({module_name})"
    if entry.extra:
        return (
            f"sink scheme {scheme!r} needs the {entry.extra!r} extra: "
            f"pip install 'secretwatch[{entry.extra}]' (missing module {exc.name or exc})"
        )
    return f"sink scheme {scheme!r} cannot be loaded: missing module {exc.name or exc}"
