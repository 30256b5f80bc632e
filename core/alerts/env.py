"""``env://NAME``: the sink whose whole URI is held by the environment variable NAME.

For a sink whose URI is itself the secret, such as a Slack incoming webhook (its path is the credential): the
deployment sets NAME from a secret store (Secret Manager, Key Vault) and SECRETWATCH_SINKS lists only
``env://NAME``, so the URI is in no setting, Terraform state or log. Errors follow core.uris: they never repeat
the URI, nor name the variable.
"""

from __future__ import annotations

import os
import re
from urllib.parse import SplitResult

from core.alerts.base import Sink
from core.errors import ConfigError
from core.uris import where

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class EnvReference:
    """Not a sink itself: `from_uri` opens the sink whose URI the named environment variable holds."""

    @classmethod
    def from_uri(cls, uri: SplitResult) -> Sink:
        from core.alerts.registry import open_sink  # the registry imports this module lazily

        sink = where("sink", uri.scheme)
        if uri.path or uri.query or uri.fragment or not _ENV_NAME.fullmatch(uri.netloc):
            raise ConfigError(f"{sink}: write env://NAME, NAME being the environment variable holding the sink URI")
        target = os.environ.get(uri.netloc, "").strip()
        if not target:
            raise ConfigError(f"{sink}: the environment variable it names is not set or empty; set it to the sink URI")
        if target.lower().startswith("env:"):
            raise ConfigError(f"{sink}: the environment variable it names holds another env:// URI; set the sink URI")
        try:
            return open_sink(target)
        except ConfigError as exc:
            raise ConfigError(f"{sink}: the URI in the environment variable it names is refused: {exc}") from None
