"""`pubsub://projects/P/subscriptions/S`: a Pub/Sub subscription, such as the one on the GKE dead-letter topic.

Each pulled message is given to the pipeline as the pulled message's JSON (base64 `data`, `attributes`,
`messageId`, `publishTime`), which decode() reads like a push body. `PUBSUB_EMULATOR_HOST` points the client at
an emulator, as for every Google client.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from google.api_core import exceptions as google_errors
from google.cloud import pubsub_v1  # type: ignore[attr-defined]

from core.errors import ConfigError, SourceError
from core.replay.base import Message
from core.uris import where

_SUBSCRIPTION = re.compile(r"projects/[a-z][a-z0-9-]{4,28}[a-z0-9]/subscriptions/[A-Za-z][A-Za-z0-9._~%+-]{2,254}")
#: How long one pull waits for messages before the subscription counts as drained.
_PULL_TIMEOUT_S = 3.0


class Subscription:
    def __init__(self, path: str) -> None:
        self.label = f"pubsub://{path}"
        self._path = path
        self._client: Any = pubsub_v1.SubscriberClient()

    def receive(self, limit: int) -> Sequence[Message]:
        request = {"subscription": self._path, "max_messages": max(1, limit)}
        try:
            answer = self._client.pull(request=request, timeout=_PULL_TIMEOUT_S)
        except google_errors.DeadlineExceeded:
            return []
        except google_errors.GoogleAPIError as exc:
            raise SourceError(f"{self.label}: could not pull from the subscription: {type(exc).__name__}") from None
        return [
            Message(pubsub_v1.types.PubsubMessage.to_json(item.message).encode(), item.ack_id, item.message.message_id)
            for item in answer.received_messages
        ]

    def delete(self, messages: Sequence[Message]) -> None:
        if not messages:
            return
        request = {"subscription": self._path, "ack_ids": [message.receipt for message in messages]}
        try:
            self._client.acknowledge(request=request)
        except google_errors.GoogleAPIError as exc:
            raise SourceError(f"{self.label}: could not acknowledge messages: {type(exc).__name__}") from None

    def close(self) -> None:
        self._client.close()


def open_subscription(uri: str) -> Subscription:
    path = uri.removeprefix("pubsub://")
    if not _SUBSCRIPTION.fullmatch(path):
        raise ConfigError(f"{where('source', 'pubsub')}: write pubsub://projects/P/subscriptions/S")
    return Subscription(path)
