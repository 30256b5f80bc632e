"""Query parameters of store and sink URIs, parsed one way for both.

Messages name the URI's safe part and parameter names, never values: a value may be a secret pasted by mistake.
"""

from __future__ import annotations

from collections.abc import Collection
from urllib.parse import SplitResult, parse_qsl

from core.errors import ConfigError


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
    for name, value in pairs:
        if name not in accepted:
            raise ConfigError(f"{where}: unknown parameter {name!r}; {hint}")
        if name in params:
            raise ConfigError(f"{where}: parameter {name!r} is given twice")
        if not value:
            raise ConfigError(f"{where}: parameter {name!r} needs a value")
        params[name] = value
    missing = [name for name in required if name not in params]
    if missing:
        raise ConfigError(f"{where} needs {' and '.join(f'{name}=...' for name in missing)}")
    return params
