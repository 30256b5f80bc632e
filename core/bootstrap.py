"""The composition root the cloud functions share: settings -> store, sinks, rules -> Pipeline."""

from __future__ import annotations

from collections.abc import Callable

from core.alerts.registry import open_sinks
from core.config import Settings
from core.errors import ConfigError
from core.pipeline import Pipeline
from core.rules.loader import load_rules
from core.state.registry import open_store


def build_pipeline(settings: Settings) -> Pipeline:
    """Open everything once (per warm container); ConfigError names what to fix."""
    sinks = open_sinks(settings.sinks)
    if not sinks:
        raise ConfigError(
            "SECRETWATCH_SINKS is empty: name at least one sink, e.g. sns://TOPIC_ARN or jsonl://-"
        )
    return Pipeline(
        load_rules(),
        open_store(settings.store),
        sinks,
        learning_period=settings.learning_period,
        lateness=settings.lateness,
    )


def pipeline_from_env(report: Callable[[str], object]) -> Pipeline:
    """The pipeline the environment describes; a ConfigError is first reported in one line, then raised."""
    try:
        return build_pipeline(Settings.from_env())
    except ConfigError as exc:
        report(f"secretwatch is misconfigured: {exc}")
        raise
