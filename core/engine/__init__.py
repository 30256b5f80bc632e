"""Evaluate rules over a batch of events, by event time, with state kept in a Store."""

from core.engine.evaluate import Engine, Evaluation

__all__ = ["Engine", "Evaluation"]
