"""Alerts: the Sink protocol, the alert's JSON and email rendering, and sinks chosen by URI."""

from __future__ import annotations

from core.alerts.base import Sink
from core.alerts.registry import open_sink, open_sinks
from core.alerts.render import alert_json, alert_to_dict

__all__ = ["Sink", "alert_json", "alert_to_dict", "open_sink", "open_sinks"]
