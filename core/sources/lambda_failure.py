"""A Lambda on-failure destination record: what an SQS on-failure destination holds once the function gave up.

    {"version": "1.0", "timestamp": ..., "requestContext": {"requestId", "functionArn", "condition",
     "approximateInvokeCount"}, "requestPayload": <the original event>, "responseContext": {...},
     "responsePayload": {...}}

Only `requestPayload`, the event the function failed on (here `{"awslogs": {"data": ...}}`), is decoded again.
"""

from __future__ import annotations

from typing import Any

from core.sources.items import Nested, Origin, Output, Skip


def record(document: dict[str, Any], origin: Origin) -> tuple[Output]:
    payload = document.get("requestPayload")
    if isinstance(payload, dict | list):
        return (Nested(payload, origin),)
    detail = "Lambda on-failure record without a JSON requestPayload (the original event)"
    return (Skip("missing_fields", malformed=True, cloud="aws", detail=detail),)
