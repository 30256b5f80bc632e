"""One delivery at one entry, in this process: the memory bench's child, `python -m bench.entries ENTRY PAYLOAD RESULT`.

The entry starts as its platform starts it (the variable each one reads to build its pipeline at start-up is
set), with a memory store and a sink writing to /dev/null, and is handed the payload file as its platform
would: the Lambda runtime's parsed event, functions-framework's HTTP request, the Azure worker's EventHubEvent,
the CLI's file argument. RESULT receives JSON: the resident set before the delivery and at its peak (the
kernel's VmHWM for this process image), what the entry did, and what the pipeline counted.
"""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SETTINGS = {
    "SECRETWATCH_STORE": "memory://",
    "SECRETWATCH_SINKS": "jsonl:///dev/null",
    "SECRETWATCH_LEARNING_PERIOD": "0s",
}
Deliver = Callable[[Path], str]


def main(argv: list[str]) -> None:
    entry, payload, result = argv
    os.environ.update(SETTINGS)
    summaries = _recorded_summaries()
    deliver = ENTRIES[entry]()
    baseline = status_mb("VmRSS")
    try:
        outcome = deliver(Path(payload))
    except Exception as exc:  # the figure still counts; the table says what happened
        outcome = f"raised {type(exc).__name__}: {str(exc)[:120]}"
    found = {"baseline_mb": baseline, "peak_mb": status_mb("VmHWM"), "outcome": outcome, **_counted(summaries)}
    Path(result).write_text(json.dumps(found))


def lambda_entry() -> Deliver:
    os.environ["AWS_LAMBDA_FUNCTION_NAME"] = "secretwatch"  # handler.py builds its pipeline at import, as in Lambda
    import orjson

    from functions.aws import handler

    def deliver(payload: Path) -> str:
        handler.handler(orjson.loads(payload.read_bytes()), None)  # type: ignore[arg-type]
        return "returned"

    return deliver


def gcp_entry() -> Deliver:
    os.environ.update(K_SERVICE="secretwatch", FUNCTION_TARGET="handle_pubsub", FUNCTION_SIGNATURE_TYPE="cloudevent")
    import functions_framework

    source = REPO / "functions" / "gcp" / "main.py"
    client = functions_framework.create_app("handle_pubsub", str(source), "cloudevent").test_client()

    def deliver(payload: Path) -> str:
        response = client.post("/", data=payload.read_bytes(), content_type="application/json")
        return f"HTTP {response.status_code}"

    return deliver


def azure_entry() -> Deliver:
    os.environ["FUNCTIONS_WORKER_RUNTIME"] = "python"
    import azure.functions as func

    from functions.azure import function_app

    (function,) = function_app.app.get_functions()
    user_function = function.get_user_function()

    def deliver(payload: Path) -> str:
        event = func.EventHubEvent(
            body=payload.read_bytes(), enqueued_time=datetime.now(UTC), sequence_number=1, offset="0"
        )
        user_function([event])
        return "returned"

    return deliver


def cli_entry() -> Deliver:
    from core import cli, commands, pipeline, sources  # noqa: F401 - imported before the baseline is taken

    def deliver(payload: Path) -> str:
        return f"exit {cli.main(['scan', '--state', 'memory', '--output', 'jsonl', str(payload)])}"

    return deliver


ENTRIES: dict[str, Callable[[], Deliver]] = {
    "lambda": lambda_entry,
    "gcp": gcp_entry,
    "azure": azure_entry,
    "cli": cli_entry,
}


def status_mb(key: str) -> float:
    """A memory figure of this process from /proc/self/status (VmRSS now, VmHWM its peak), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1]) / 1024
    raise LookupError(f"{key} is not in /proc/self/status (the memory bench needs Linux)")


def _recorded_summaries() -> list[Any]:
    """Every Summary the pipeline returns from now on (the entries log theirs in different ways)."""
    from core.pipeline import Pipeline

    seen: list[Any] = []
    original = Pipeline.process

    def process(self: Pipeline, *args: Any, **kwargs: Any) -> Any:
        summary = original(self, *args, **kwargs)
        seen.append(summary)
        return summary

    Pipeline.process = process  # type: ignore[method-assign]
    return seen


def _counted(summaries: list[Any]) -> dict[str, Any]:
    skipped: Counter[str] = Counter()
    for summary in summaries:
        skipped.update(summary.malformed)
        skipped.update(summary.ignored)
    return {
        "events": sum(summary.event_total for summary in summaries),
        "alerts": sum(sum(summary.alerts.values()) for summary in summaries),
        "skipped": dict(skipped.most_common()),
    }


if __name__ == "__main__":
    main(sys.argv[1:])
