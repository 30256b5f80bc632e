"""The `secretwatch` command: scan, replay, test, demo, rules; the top layer, which core.commands serves.

Exit 0 when it ran, 1 on failed tests or outages (replay: a message left in its source), 2 on usage, 3 when scan
read input holding no audit event.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import NoReturn

from core.errors import ConfigError, DeliveryError, RuleError, SecretwatchError, StateError
from core.timeutil import parse_duration

DEFAULT_STATE = "sqlite:.secretwatch/state.db"
#: how many skipped records `scan -v` lists
MAX_LISTED = 20


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="secretwatch", description="Catch Kubernetes secret abuse in EKS, GKE and AKS audit logs.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    scan = commands.add_parser("scan", help="run the rules over audit logs in files or stdin")
    scan.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="files or folders (read recursively, sorted, rotated logs before the live one; gzip decompressed as "
        "read, known by its .gz name or its magic bytes), or s3://BUCKET/PREFIX, gs://BUCKET/PREFIX, "
        "az://ACCOUNT/CONTAINER/PREFIX[?connection_setting=NAME] read in place; - or nothing reads stdin",
    )
    scan.add_argument(
        "--format",
        default="auto",
        choices=["auto", "k8s", "eks", "gke", "aks"],
        help="the input's layout (default auto: detected per record)",
    )
    scan.add_argument(
        "--state", default=DEFAULT_STATE, help=f"store URI (default {DEFAULT_STATE}; memory for one-shot)"
    )
    scan.add_argument(
        "--output",
        default="table",
        choices=["table", "jsonl", "ocsf"],
        help="alerts on stdout as a table (default), one JSON object per line, or one OCSF Detection Finding per line",
    )
    scan.add_argument(
        "--learning-period",
        default="0s",
        type=_duration,
        help="record new terms without alerting for this long (e.g. 7d); default 0s here, while the deployed "
        "functions get 7d from their stacks' learning_period",
    )
    scan.add_argument(
        "--allowed-lateness",
        default="7d",
        type=_duration,
        help="how far behind its group's newest event an event still counts in its own window (default 7d)",
    )
    scan.add_argument("--sink", action="append", default=[], metavar="URI", help="also send alerts here (repeatable)")
    scan.add_argument(
        "--prime",
        action="store_true",
        help="build the new-terms baselines from history into --state: record every sighting, alert on nothing, "
        "run no other rule, and report the terms learned per rule (run it over the last 7 days of archives "
        "before a deployment starts)",
    )
    scan.add_argument(
        "--jobs",
        default=1,
        type=_jobs,
        metavar="N",
        help="decode in N worker processes while this one evaluates, for the same alerts and counts (default 1; "
        "0 or auto: one per CPU); pays off on inputs of tens of MB or more",
    )
    scan.add_argument(
        "-v",
        "--verbose",
        action="store_const",
        const=MAX_LISTED,
        default=0,
        help=f"after the summary, list the first {MAX_LISTED} skipped records with their file and line",
    )
    _rule_options(scan)
    _replay_command(commands)
    test = commands.add_parser("test", help="run every rule's tests and scenarios")
    test.add_argument("rule_ids", nargs="*", metavar="RULE_ID", help="only these rules (default: all)")
    _rule_options(test)
    rules = commands.add_parser("rules", help="list the loaded rules, with the tuning applied")
    _rule_options(rules)
    rules.add_argument("--schema", action="store_true", help="print the rule files' JSON Schema, for editors")
    demo = commands.add_parser("demo", help="generate a day of traffic with two attacks and detect them")
    demo.add_argument("--events", type=int, default=30_000, help="audit events to generate (default 30000)")
    demo.add_argument("--seed", type=int, default=7, help="the traffic generator's seed (default 7)")
    return parser


def _replay_command(commands: argparse._SubParsersAction[_Parser]) -> None:
    replay = commands.add_parser(
        "replay", help="drain a dead-letter queue or subscription through the rules, deleting what was processed"
    )
    replay.add_argument(
        "source", metavar="SOURCE", help="sqs://QUEUE_NAME?region=R or pubsub://projects/P/subscriptions/S"
    )
    replay.add_argument(
        "--state", required=True, metavar="URI", help="the deployed function's store, so nothing alerts twice"
    )
    replay.add_argument("--sink", action="append", default=[], metavar="URI", help="send alerts here (repeatable)")
    replay.add_argument(
        "--format", default="auto", choices=["auto", "k8s", "eks", "gke", "aks"], help="the messages' layout"
    )
    replay.add_argument(
        "--learning-period", default="0s", type=_duration, help="as the deployed function's (e.g. 7d); default 0s"
    )
    replay.add_argument(
        "--allowed-lateness", default="7d", type=_duration, help="as the deployed function's (default 7d)"
    )
    _rule_options(replay)


def _version() -> str:
    try:
        return version("secretwatch")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "(not installed)"


def _rule_options(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--rules",
        action="append",
        default=[],
        type=Path,
        metavar="PATH",
        help="also load these rule files or folders (repeatable)",
    )
    command.add_argument("--no-builtin-rules", action="store_true", help="load only the --rules files")
    command.add_argument(
        "--tuning", type=Path, metavar="PATH", help="enable, disable, re-parameterise and except rules (YAML)"
    )


def _duration(text: str) -> object:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _jobs(text: str) -> int:
    """--jobs: a number of worker processes; 0 or auto, one per CPU this process may run on."""
    if text != "auto" and not (text.isascii() and text.isdigit()):
        raise argparse.ArgumentTypeError(f"expected a number of processes or auto, not {text!r}")
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (0 if text == "auto" else int(text)) or cpus or 1


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from core import commands

    handlers: dict[str, Callable[[argparse.Namespace], int]] = {
        "scan": commands.scan,
        "replay": commands.replay,
        "test": commands.test,
        "rules": commands.rules,
        "demo": commands.demo,
    }
    try:
        return handlers[args.command](args)
    except (ConfigError, RuleError) as exc:
        print(f"secretwatch: {exc}", file=sys.stderr)
        return 2
    except (StateError, DeliveryError) as exc:
        print(f"secretwatch: stopped, nothing was lost but the run is incomplete: {exc}", file=sys.stderr)
        return 1
    except SecretwatchError as exc:
        print(f"secretwatch: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("secretwatch: interrupted; the input was not read to its end", file=sys.stderr)
        return 130
    except BrokenPipeError:
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
