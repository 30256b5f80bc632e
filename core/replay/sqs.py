"""`sqs://QUEUE_NAME?region=R`: an SQS queue, such as the EKS function's on-failure destination.

The queue is named, not given by URL (a URL inside a URI reads badly); its URL is looked up in `region` (default:
the AWS environment's) and the caller's account. `endpoint_url` is for local test servers.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import partial
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from core.errors import ConfigError, SourceError
from core.replay.base import Message
from core.uris import AWS_REGION, HTTP_ENDPOINT, checked, query_params, split_uri, where

_QUEUE_NAME = re.compile(r"[A-Za-z0-9_-]{1,80}")
#: SQS gives at most 10 messages a call; a wait of 1 s lets a nearly empty queue answer with what it holds.
_BATCH = 10
_WAIT_S = 1


class SqsQueue:
    def __init__(self, name: str, *, region: str | None = None, endpoint_url: str | None = None) -> None:
        self.label = f"sqs://{name}?region={region}" if region else f"sqs://{name}"
        client: Any = boto3.session.Session().client("sqs", region_name=region, endpoint_url=endpoint_url)
        self._client = client
        self._url = self._call("find", lambda: client.get_queue_url(QueueName=name)["QueueUrl"])

    def receive(self, limit: int) -> Sequence[Message]:
        count = max(1, min(limit, _BATCH))
        answer = self._call(
            "receive from",
            lambda: self._client.receive_message(
                QueueUrl=self._url, MaxNumberOfMessages=count, WaitTimeSeconds=_WAIT_S
            ),
        )
        return [
            Message(item["Body"].encode(), item["ReceiptHandle"], item["MessageId"])
            for item in answer.get("Messages", [])
        ]

    def delete(self, messages: Sequence[Message]) -> None:
        for start in range(0, len(messages), _BATCH):
            entries: Any = [
                {"Id": str(index), "ReceiptHandle": message.receipt}
                for index, message in enumerate(messages[start : start + _BATCH])
            ]
            answer = self._call(
                "delete from", partial(self._client.delete_message_batch, QueueUrl=self._url, Entries=entries)
            )
            if failed := answer.get("Failed"):
                raise SourceError(f"{self.label}: SQS refused to delete {len(failed)} message(s); they will return")

    def close(self) -> None:
        self._client.close()

    def _call(self, action: str, call: Any) -> Any:
        try:
            return call()
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "error")
            raise SourceError(f"{self.label}: could not {action} the queue: {code}") from None
        except BotoCoreError as exc:
            raise SourceError(f"{self.label}: could not {action} the queue: {type(exc).__name__}") from None


def open_queue(uri: str) -> SqsQueue:
    parts = split_uri(uri, kind="source")
    at = where("source", "sqs")
    params = query_params(parts, where=at, optional=("region", "endpoint_url"))
    if not _QUEUE_NAME.fullmatch(parts.netloc) or parts.path not in ("", "/"):
        raise ConfigError(f"{at}: give the queue's name (not its URL) before the '?': write sqs://QUEUE_NAME?region=R")
    region = checked(params, "region", AWS_REGION, where=at, expected="an AWS region like eu-west-1")
    endpoint = checked(params, "endpoint_url", HTTP_ENDPOINT, where=at, expected="an http:// or https:// URL")
    return SqsQueue(parts.netloc, region=region, endpoint_url=endpoint)
