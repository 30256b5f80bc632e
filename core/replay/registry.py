"""Open a dead-letter source by URI; its SDK is imported only for the scheme used."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from core.errors import ConfigError
from core.replay.base import Source
from core.uris import split_uri, unknown_scheme, where


@dataclass(frozen=True, slots=True)
class Kind:
    target: str  # "module:function" taking the URI text
    extra: str  # the pip extra that installs its SDK
    example: str


SOURCES: dict[str, Kind] = {
    "sqs": Kind("core.replay.sqs:open_queue", "aws", "sqs://QUEUE_NAME?region=R"),
    "pubsub": Kind("core.replay.pubsub:open_subscription", "gcp", "pubsub://projects/P/subscriptions/S"),
}


def open_source(uri: str) -> Source:
    """The source `uri` names; ConfigError (one line, saying what to write instead) when it cannot be opened."""
    parts = split_uri(uri.strip(), kind="source")
    kind = SOURCES.get(parts.scheme)
    if kind is None:
        forms = ", ".join(each.example for each in SOURCES.values())
        raise unknown_scheme("source", parts.scheme, SOURCES, forms)
    module_name, _, function = kind.target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        ours = exc.name is not None and module_name.startswith(exc.name)
        if ours:
            raise ConfigError(f"{where('source', parts.scheme)} is not available; reinstall secretwatch") from exc
        extra = kind.extra
        needs = f"{where('source', parts.scheme)} needs the {extra} extra"
        raise ConfigError(f"{needs}: pip install 'secretwatch[{extra}]'") from exc
    return cast(Callable[[str], Source], getattr(module, function))(uri.strip())
