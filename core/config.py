"""Settings for the cloud functions, read from the environment and validated at cold start."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from core.errors import ConfigError
from core.links import NO_CONSOLES, Consoles
from core.timeutil import parse_duration

DEFAULT_STORE = "sqlite:.secretwatch/state.db"


@dataclass(frozen=True, slots=True)
class Settings:
    store: str
    sinks: str
    learning_period: timedelta
    #: how late an event may arrive and still count in its own window (core.engine.windows)
    lateness: timedelta = timedelta(days=7)
    #: a tuning file (core.rules.tuning), relative to the deployed package's root; "" for none
    tuning: str = ""
    #: where alerts' console links lead: AWS_REGION and SECRETWATCH_AZURE_WORKSPACE (core.links)
    consoles: Consoles = NO_CONSOLES

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *, default_store: str = "memory://") -> Settings:
        env = os.environ if env is None else env
        return cls(
            store=env.get("SECRETWATCH_STORE", "").strip() or default_store,
            sinks=env.get("SECRETWATCH_SINKS", "").strip(),
            learning_period=_duration(env, "SECRETWATCH_LEARNING_PERIOD", "0s"),
            lateness=_duration(env, "SECRETWATCH_ALLOWED_LATENESS", "7d"),
            tuning=env.get("SECRETWATCH_TUNING", "").strip(),
            consoles=Consoles.from_env(env),
        )


def _duration(env: Mapping[str, str], name: str, default: str) -> timedelta:
    try:
        return parse_duration(env.get(name, default).strip() or default)
    except ValueError:  # its message repeats the value; settings are never echoed (core.uris)
        raise ConfigError(
            f"{name} is not a duration: use numbers with units ms, s, m, h, d, w (e.g. 7d, 12h, 0s)"
        ) from None
