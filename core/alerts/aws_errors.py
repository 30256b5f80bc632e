"""What went wrong before an AWS service answered, in one line a user can act on (shared by SNS and SES)."""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, HTTPClientError, NoCredentialsError
from botocore.exceptions import ConnectionError as BotoConnectionError

from core.alerts import render


def explain_local(exc: BotoCoreError, *, service: str, attempts: int) -> str:
    """Credentials, the network, or the request itself: the failures botocore raises without a reply."""
    said = render.clean_text(exc, limit=300)
    if isinstance(exc, NoCredentialsError):
        return "no AWS credentials found; use an IAM role or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
    if isinstance(exc, (BotoConnectionError, HTTPClientError)):
        return f"{service} cannot be reached after {attempts} attempts ({said}); the batch will be retried"
    return f"the {service} request failed before it was sent ({type(exc).__name__}: {said})"
