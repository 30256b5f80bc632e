"""The composition root the cloud functions share: settings -> store, sinks, rules -> Pipeline."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from core.alerts.registry import open_sinks
from core.config import Settings
from core.errors import ConfigError
from core.pipeline import Pipeline
from core.rules.loader import load_rules
from core.rules.schema import Rule
from core.rules.tuning import load_tuning
from core.state.registry import open_store

#: The deployed package's root (the folder holding core/), where a bundled tuning file is looked up.
PACKAGE_ROOT = Path(__file__).resolve().parents[1]


def build_pipeline(settings: Settings) -> Pipeline:
    """Open everything once (per warm container); ConfigError names what to fix."""
    sinks = open_sinks(settings.sinks)
    if not sinks:
        raise ConfigError(
            "SECRETWATCH_SINKS is empty: name at least one sink, e.g. sns://TOPIC_ARN or jsonl://-"
        )
    return Pipeline(
        tuned_rules(settings.tuning),
        open_store(settings.store),
        sinks,
        learning_period=settings.learning_period,
        lateness=settings.lateness,
        consoles=settings.consoles,
    )


def tuned_rules(tuning: str) -> list[Rule]:
    """The built-in rules, with the tuning file at `tuning` (relative to the package root) applied."""
    rules = load_rules()
    if not tuning:
        return rules
    path = PACKAGE_ROOT / tuning
    if not path.is_file():
        raise ConfigError(f"SECRETWATCH_TUNING names {tuning}, which is not a file in the deployed package")
    return load_tuning(path, rules).apply(rules)


def pipeline_from_env(report: Callable[[str], object]) -> Pipeline:
    """The pipeline the environment describes; a ConfigError is first reported in one line, then raised."""
    try:
        return build_pipeline(Settings.from_env())
    except ConfigError as exc:
        report(f"secretwatch is misconfigured: {exc}")
        raise
