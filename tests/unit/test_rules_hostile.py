"""A hostile rule file is refused at load, cheaply, in one line naming the file and the key; the CLI exits 2.

A rule file is code-adjacent input: an operator may load one from a pull request. Anchors and aliases stay
legal (the built-in scenarios reuse one log as `log: *denied`); only excessive expansion is refused.
"""

from __future__ import annotations

import signal
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

import pytest

from core.cli import main
from core.errors import RuleError
from core.rules import bounded_yaml
from core.rules.loader import BUILTIN_DIR, MAX_FILE_BYTES, load_rules

GOOD = (BUILTIN_DIR / "secret_access_denied.yml").read_text()
MATCH = GOOD[GOOD.index("match:\n") : GOOD.index("threshold:\n")]


def with_match(lines: list[str]) -> str:
    """The good rule with its `match` block replaced."""
    return GOOD.replace(MATCH, "match:\n" + "\n".join(lines) + "\n")


def laughs(levels: int = 8, fan_out: int = 10) -> str:
    """Anchors nested `levels` deep inside match, each a list of `fan_out` aliases of the one before."""
    lines = ["  all:", "    - &l0 {field: verb, equals: get}"]
    lines += [f"    - &l{i} {{any: [{', '.join([f'*l{i - 1}'] * fan_out)}]}}" for i in range(1, levels + 1)]
    return with_match(lines)


@contextmanager
def bounded(seconds: int, megabytes: int) -> Iterator[None]:
    """Fail (not hang) past `seconds`; afterwards, assert Python allocated at most `megabytes` at its peak."""

    def expire(signum: int, frame: FrameType | None) -> None:
        raise AssertionError(f"still loading after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    tracemalloc.start()
    try:
        yield
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert peak <= megabytes * 1024 * 1024, f"peak {peak / 1e6:.0f} MB"


def refusal(path: Path) -> str:
    with pytest.raises(RuleError) as caught:
        load_rules([path])
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    assert "\n" not in message
    return message


def write(tmp_path: Path, text: str | bytes, name: str = "hostile.yml") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def test_a_billion_laughs_in_match_is_refused_quickly_naming_match(tmp_path: Path) -> None:
    path = write(tmp_path, laughs())
    with bounded(seconds=10, megabytes=16):
        message = refusal(path)
    assert f"{path}: match: expands to more than 100,000 YAML nodes" in message


def test_a_merge_key_bomb_is_refused_before_merging(tmp_path: Path) -> None:
    lines = ["  all:", "    - {field: verb, equals: get}", "x0: &m0 {a: 1}"]
    lines += [f"x{i}: &m{i} {{<<: [{', '.join(f'*m{i - 1}' for _ in range(10))}], b{i}: 1}}" for i in range(1, 9)]
    path = write(tmp_path, with_match(lines))
    with bounded(seconds=10, megabytes=16):
        message = refusal(path)
    assert "expands to more than" in message


@pytest.mark.parametrize(
    ("command", "extra"),
    [("rules", []), ("test", []), ("scan", ["--state", "memory://"])],
)
def test_the_cli_refuses_a_bomb_with_exit_2_and_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str, extra: list[str]
) -> None:
    path = write(tmp_path, laughs())
    inputs = [str(write(tmp_path, "", "empty.jsonl"))] if command == "scan" else []
    with bounded(seconds=10, megabytes=32):
        code = main([command, "--rules", str(path), *extra, *inputs])
    assert code == 2
    assert capsys.readouterr().err == f"secretwatch: {path}: match: {_expansion_message()}\n"


def _expansion_message() -> str:
    return (
        f"expands to more than {bounded_yaml.MAX_NODES:,} YAML nodes "
        "(each alias counts as a copy of its anchor); use fewer aliases"
    )


def test_an_alias_inside_its_own_anchor_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, with_match(["  all: &loop", "    - {not: {all: *loop}}"]))
    assert "match: an alias refers to a node that contains it" in refusal(path)


def test_nesting_too_deep_to_compose_is_refused_without_composing_it(tmp_path: Path) -> None:
    path = write(tmp_path, "id: " + "[" * 200_000)
    with bounded(seconds=10, megabytes=16):
        message = refusal(path)
    assert f"{path}: id: nested more than 64 levels deep (line 1)" in message


@pytest.mark.parametrize(
    "lines",
    [
        ["  " + "{not: " * 70 + "{failed: true}" + "}" * 70],
        ["  all:", "    - &d0 {failed: true}", *(f"    - &d{i} {{not: *d{i - 1}}}" for i in range(1, 70))],
    ],
    ids=["written", "through-aliases"],
)
def test_nesting_past_the_depth_bound_names_its_key(tmp_path: Path, lines: list[str]) -> None:
    path = write(tmp_path, with_match(lines))
    assert f"{path}: match: nested more than 64 levels deep" in refusal(path)


def test_a_file_over_the_size_bound_is_refused_unread(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD + "#" * MAX_FILE_BYTES)
    assert "larger than 256 KiB" in refusal(path)


def test_a_file_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.encode() + b"\n# \xff\xfe\n")
    assert "not UTF-8 text" in refusal(path)


def test_a_number_too_long_to_convert_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("risk_score: 47", "risk_score: " + "4" * 5000))
    assert "not valid YAML: Exceeds the limit (4300 digits)" in refusal(path)


def test_the_built_in_rules_and_a_legitimately_aliased_log_still_load(tmp_path: Path) -> None:
    assert {rule.id for rule in load_rules()} == {"secret-access-denied", "secret-access-unusual-user-agent"}
    step = "      - {log: *denied, count: 1}"
    anchor = GOOD.index("      - {log: *denied, count: 20, every: 30s}")
    path = write(tmp_path, GOOD[:anchor] + "\n".join([step] * 2_000) + "\n" + GOOD[anchor:])
    (rule,) = load_rules([path])
    assert sum(len(scenario.steps) for scenario in rule.scenarios) > 2_000
