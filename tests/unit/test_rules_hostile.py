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
from core.engine.alerting import TITLE_LIMIT, render_title
from core.errors import RuleError
from core.rules import bounded_yaml
from core.rules.loader import BUILTIN_DIR, MAX_FILE_BYTES, load_rules
from tests.unit.engine_helpers import DENIED, UNUSUAL, denied, read

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
    assert {rule.id for rule in load_rules()} >= {"secret-access-denied", "secret-access-unusual-user-agent"}
    step = "      - {log: *denied, count: 1}"
    anchor = GOOD.index("      - {log: *denied, count: 20, every: 30s}")
    path = write(tmp_path, GOOD[:anchor] + "\n".join([step] * 2_000) + "\n" + GOOD[anchor:])
    (rule,) = load_rules([path])
    assert sum(len(scenario.steps) for scenario in rule.scenarios) > 2_000


# --- values that become templates, patterns, keys and loops --------------------------------------------------

TITLE = 'alert_title: "{count} failed secret reads by {username} in namespace {namespace}"'
GLOB = "    - not: {field: username, in: [masterclient, aksService]}"
STEP = "        count: 19\n        every: 30s"


def globs(count: int, length: int) -> str:
    patterns = ", ".join([repr("*" + "a" * (length - 1))] * count)
    return f"    - not: {{field: user_agent, glob: [{patterns}]}}"


HOSTILE = {
    "nested format spec": (
        TITLE,
        'alert_title: "{count:{namespace}} by {username}"',
        "alert_title: {count:{namespace}} is not allowed",
    ),
    "padding format spec": (
        TITLE,
        'alert_title: "{count:>300000000}"',
        "alert_title: {count:>300000000} is not allowed",
    ),
    "conversion": (TITLE, 'alert_title: "{username!r}"', "alert_title: {username!r} is not allowed"),
    "attribute": (TITLE, 'alert_title: "{username.__class__}"', "alert_title: {username.__class__} is not allowed"),
    "index": (TITLE, 'alert_title: "{groups[0]}"', "alert_title: {groups[0]} is not allowed"),
    "positional": (TITLE, 'alert_title: "{} by {username}"', "alert_title: {} is not allowed"),
    "index by number": (TITLE, 'alert_title: "{0} by {username}"', "alert_title: {0} is not allowed"),
    "unknown field": (
        TITLE,
        'alert_title: "{term}"',
        "alert_title: unknown placeholder {term}; use {count} or an event",
    ),
    "lone brace": (TITLE, 'alert_title: "{count"', "alert_title: expected '}' before end of string"),
    "long title": (TITLE, f'alert_title: "{"x" * 201}"', "alert_title: 201 characters; at most 200"),
    "long glob": (GLOB, globs(1, 129), "match.all[4].not.glob: must be a non-empty string of at most 128"),
    "many globs": (GLOB, globs(9, 128), "match: glob patterns of 1,152 characters; a rule may have at most 1,024"),
    "long list": (
        GLOB,
        f"    - not: {{field: username, in: [{', '.join(['u'] * 1001)}]}}",
        "must be a list of 1 to 1,000",
    ),
    "long string": (GLOB, f"    - not: {{field: username, prefix: {'u' * 1025}}}", "at most 1,024 characters"),
    "many conditions": (
        GLOB,
        "\n".join(["    - {failed: true}"] * 250),
        "match: 263 conditions; a rule may have at most 256",
    ),
    "id in keys": ("id: secret-access-denied", "id: a|b", "id: 1 to 64 of a-z"),
    "empty window": ("window: 15m", "window: 0s", "threshold.window: must be longer than 0s"),
    "endless window": ("window: 15m", "window: 9999999999d", "threshold.window: '9999999999d' is longer than 366d"),
    "long window": ("window: 15m", "window: 400d", "threshold.window: '400d' is longer than 366d"),
    "step count": (
        STEP,
        "        count: 10001",
        "scenarios[0].steps[0].count: expected int <= 10000",
    ),
    "step span": (
        STEP,
        "        count: 10000\n        every: 1d",
        "scenarios[0].steps[0]: its last log would come 9,999 days in",
    ),
    "scenario size": (
        STEP,
        "        count: 10000\n" + "      - {count: 10000}\n" * 10,
        "scenarios[0].steps: 110,000 logs",
    ),
    "step set": (STEP, "        set: [1]", "scenarios[0].steps[0].set: expected mapping, got list"),
    "expected time": ("last_at: 9m30s", "last_at: soon", "scenarios[1].expect[0].last_at: bad duration 'soon'"),
}


@pytest.mark.parametrize(("old", "new", "message"), HOSTILE.values(), ids=HOSTILE.keys())
def test_a_hostile_value_is_refused_at_load_with_exit_2_naming_file_and_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], old: str, new: str, message: str
) -> None:
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new, 1))
    assert main(["rules", "--rules", str(path)]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"secretwatch: {path}: ")
    assert error.count("\n") == 1
    assert message in error


def test_good_titles_render_as_before() -> None:
    event = denied(1)
    assert render_title(DENIED, event, 20) == "20 failed secret reads by mallory@example.com in namespace payments"
    assert render_title(UNUSUAL, read(1), 1) == (
        "New client for secrets: system:serviceaccount:payments:api from 198.51.100.23 with curl/8.5.0"
    )


def test_a_title_stays_short_whatever_the_log_holds() -> None:
    title = render_title(UNUSUAL, read(1, agent="curl/8.5.0 " + "A" * 450_000), 1)
    assert len(title) == TITLE_LIMIT
    assert title.startswith("New client for secrets: system:serviceaccount:payments:api from 198.51.100.23 with curl")
    assert title.endswith("A…")
