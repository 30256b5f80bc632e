"""The `secretwatch` command: scan, test, demo, rules. Exit 0 when it ran, 1 on failed tests or outages, 2 on usage."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import BinaryIO, NoReturn

from core.errors import ConfigError, DeliveryError, RuleError, SecretwatchError, StateError
from core.timeutil import parse_duration

DEFAULT_STATE = "sqlite:.secretwatch/state.db"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="secretwatch", description="Catch Kubernetes secret abuse in EKS, GKE and AKS audit logs.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    scan = commands.add_parser("scan", help="run the rules over audit logs in files or stdin")
    scan.add_argument("paths", nargs="*", metavar="PATH", help="files to read; - or nothing reads stdin")
    scan.add_argument("--format", default="auto", choices=["auto", "k8s", "eks", "gke", "aks"])
    scan.add_argument(
        "--state", default=DEFAULT_STATE, help=f"store URI (default {DEFAULT_STATE}; memory for one-shot)"
    )
    scan.add_argument("--output", default="table", choices=["table", "jsonl"])
    scan.add_argument("--learning-period", default="0s", type=_duration, help="record terms without alerting (e.g. 7d)")
    scan.add_argument(
        "--allowed-lateness",
        default="7d",
        type=_duration,
        help="how far behind its group's newest event an event still counts in its own window (default 7d)",
    )
    scan.add_argument("--sink", action="append", default=[], metavar="URI", help="also send alerts here (repeatable)")
    _rule_options(scan)
    test = commands.add_parser("test", help="run every rule's tests and scenarios")
    test.add_argument("rule_ids", nargs="*", metavar="RULE_ID")
    _rule_options(test)
    rules = commands.add_parser("rules", help="list the loaded rules, with the tuning applied")
    _rule_options(rules)
    rules.add_argument("--schema", action="store_true", help="print the rule files' JSON Schema, for editors")
    demo = commands.add_parser("demo", help="generate a day of traffic with two attacks and detect them")
    demo.add_argument("--events", type=int, default=30_000, help="audit events to generate (default 30000)")
    demo.add_argument("--seed", type=int, default=7)
    return parser


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


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from core import commands

    handlers: dict[str, Callable[[argparse.Namespace], int]] = {
        "scan": commands.scan,
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
        return 130
    except BrokenPipeError:
        sys.stderr.close()
        return 0


def open_inputs(paths: Sequence[str], stack: ExitStack) -> Iterator[tuple[str, BinaryIO, int]]:
    """(name, binary stream, size in bytes or 0) for each input; missing files are a usage error."""
    for name in list(paths) or ["-"]:
        if name == "-":
            yield "<stdin>", sys.stdin.buffer, 0
            continue
        path = Path(name)
        if not path.is_file():
            raise ConfigError(f"cannot read {name}: no such file")
        yield name, stack.enter_context(path.open("rb")), path.stat().st_size


class Progress:
    """A one-line progress meter on stderr, shown only when stderr is a terminal."""

    def __init__(self, total_bytes: int) -> None:
        self.enabled = sys.stderr.isatty()
        self.total = total_bytes
        self.done = 0
        self._last = 0.0

    def advance(self, size: int) -> None:
        self.done += size
        now = time.monotonic()
        if self.enabled and now - self._last > 0.2:
            self._last = now
            share = f" {100 * self.done / self.total:5.1f}%" if self.total else ""
            print(f"\r  reading {self.done / 1e6:8.1f} MB{share}", end="", file=sys.stderr, flush=True)

    def finish(self) -> None:
        if self.enabled:
            print("\r" + " " * 40 + "\r", end="", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
