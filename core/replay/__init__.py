"""Replay what failed: drain a dead-letter source into the pipeline, deleting each message once it was processed.

    source = open_source("sqs://secretwatch-eks-failed?region=eu-west-1")
    outcome = replay(source, pipeline)

A message is deleted (acknowledged) only after the pipeline.process call that read it returned; one whose batch
raised stays in the source for the next run. Counting and alerting are idempotent, so a message processed before
and replayed again raises nothing twice.
"""

from __future__ import annotations

from core.replay.base import Message, ReplayOutcome, Source
from core.replay.registry import SOURCES, open_source
from core.replay.run import replay

__all__ = ["SOURCES", "Message", "ReplayOutcome", "Source", "open_source", "replay"]
