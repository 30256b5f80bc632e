"""Store and sink URIs: split, and their query parameters read, one way for both.

The policy for every configuration error about a URI: it names the kind (store or sink), the scheme once it
is a registered one, and the parameter at fault; never a value typed in the URI, which may be a secret
pasted in the wrong place (a connection string, a password in the port or the user info), and which would
then sit in cold-start logs. An unknown name is described by its position and the nearest known name.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from collections.abc import Collection, Mapping
from urllib.parse import SplitResult, parse_qsl, urlsplit

from core.errors import ConfigError

#: An AWS region name such as eu-west-1 or us-gov-west-1.
AWS_REGION = re.compile(r"[a-z]{2}(?:-[a-z]+)+-\d{1,2}")
#: A service endpoint for tests or emulators: scheme, host and optional port, nothing after.
HTTP_ENDPOINT = re.compile(r"https?://[A-Za-z0-9.-]+(?::\d{1,5})?/?")


def split_uri(text: str, *, kind: str) -> SplitResult:
    """The parts of a `kind` ("store" or "sink") URI; ConfigError, naming no part of it, if it cannot be split."""
    try:
        return urlsplit(text)
    except ValueError:  # brackets that do not hold an IPv6 address: urlsplit's message repeats the host
        raise ConfigError(
            f"{kind} URI is malformed: '[' and ']' may only enclose an IPv6 address, as in smtp://[::1]:25"
        ) from None


def where(kind: str, scheme: str) -> str:
    """How a message names a URI: by its kind and (registered) scheme alone, e.g. "sink 'smtp://'"."""
    return f"{kind} '{scheme}://'"


def unknown_scheme(kind: str, scheme: str, known: Collection[str], forms: str) -> ConfigError:
    """The error for a scheme that is not registered: suggests the nearest one, never repeats the typed one."""
    if not scheme:
        return ConfigError(f"{kind} URI has no scheme: use one of {forms}")
    return ConfigError(f"unknown {kind} scheme{_nearest(scheme.lower(), known)}: use one of {forms}")


def query_params(
    uri: SplitResult, *, where: str, required: Collection[str] = (), optional: Collection[str] = ()
) -> dict[str, str]:
    """The query's parameters: each known, given once and non-empty, and every `required` one present."""
    accepted = [*required, *optional]
    hint = f"it accepts {', '.join(accepted)}" if accepted else "it takes no parameters"
    try:
        pairs = parse_qsl(uri.query, keep_blank_values=True, strict_parsing=bool(uri.query))
    except ValueError:
        raise ConfigError(f"{where}: malformed query; write name=value pairs joined by '&'") from None
    params: dict[str, str] = {}
    for index, (name, value) in enumerate(pairs, start=1):
        if name not in accepted:
            raise ConfigError(f"{where}: query parameter {index} is unknown{_nearest(name, accepted)}; {hint}")
        if name in params:
            raise ConfigError(f"{where}: parameter {name!r} is given twice")
        if not value:
            raise ConfigError(f"{where}: parameter {name!r} needs a value")
        params[name] = value
    missing = [name for name in required if name not in params]
    if missing:
        raise ConfigError(f"{where} needs {' and '.join(f'{name}=...' for name in missing)}")
    return params


def checked(params: Mapping[str, str], name: str, shape: re.Pattern[str], *, where: str, expected: str) -> str | None:
    """Parameter `name` if it has the `shape` described by `expected` ("an AWS region like eu-west-1"), or None
    if absent; ConfigError, without the value, otherwise."""
    value = params.get(name)
    if value is not None and not shape.fullmatch(value):
        raise ConfigError(f"{where}: parameter {name!r} must be {expected}")
    return value


def _nearest(typed: str, known: Collection[str]) -> str:
    close = difflib.get_close_matches(typed, list(known), n=1, cutoff=0.75)
    return f" (did you mean {close[0]}?)" if close else ""


def is_loopback(host: str) -> bool:
    """`localhost` or a loopback address: where plain-text protocols are allowed (a test or local server)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
