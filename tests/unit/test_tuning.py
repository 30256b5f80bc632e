"""Tuning without forking: overrides key by key, expiring exceptions on the wall clock, and the CLI around them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core import bootstrap
from core.cli import main
from core.config import Settings
from core.errors import ConfigError
from core.rules.loader import BUILTIN_DIR, load_pack
from core.rules.tuning import load_tuning
from tests.unit.engine_helpers import denied, read

EXAMPLE = """\
rules:
  secret-bulk-access: {enabled: true}
  secret-access-denied: {threshold: {count: 10}}      # any parameter block, overridden key by key
exceptions:
  - rule: secret-access-unusual-user-agent           # a rule id, or "*" for every rule
    reason: the backup job reads secrets with its own client
    expires: 2027-01-31                              # a UTC date, inclusive; after it the entry no longer applies
    when:
      all: [{field: username, equals: "system:serviceaccount:backup:velero"}, {field: user_agent, prefix: "velero/"}]
"""
VELERO = "system:serviceaccount:backup:velero"
MALLORY = "reason: pentest, expires: 2999-01-01, when: {field: username, equals: mallory@example.com}"


def write(tmp_path: Path, text: str, name: str = "tuning.yml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def test_the_issue_example_overrides_key_by_key_and_enables_a_rule(tmp_path: Path) -> None:
    rules = load_pack()
    tuned = {rule.id: rule for rule in load_tuning(write(tmp_path, EXAMPLE), rules).apply(rules)}
    threshold = tuned["secret-access-denied"].threshold
    assert threshold is not None
    assert (threshold.count, threshold.group_by, threshold.window) == (
        10,
        ("namespace", "username"),
        timedelta(minutes=15),
    )
    assert tuned["secret-bulk-access"].enabled is True
    assert {rule.id: rule.enabled for rule in rules}["secret-bulk-access"] is False  # the loaded rule is unchanged


def test_an_excepted_event_does_not_match_until_its_expiry_passes_in_the_same_process(tmp_path: Path) -> None:
    rules = load_pack()
    clock = Clock(datetime(2027, 1, 31, 23, 59, 59, tzinfo=UTC))
    tuned = {rule.id: rule for rule in load_tuning(write(tmp_path, EXAMPLE), rules).apply(rules, clock)}
    unusual = tuned["secret-access-unusual-user-agent"].condition.predicate
    backup = read(1, agent="velero/1.13", user=VELERO)
    assert unusual(backup) is False
    assert unusual(read(2, agent="curl/8.5.0", user=VELERO)) is True  # the exception needs both conditions
    assert unusual(read(3)) is True
    clock.now += timedelta(seconds=1)  # 2027-02-01T00:00:00Z: the last day has ended
    assert unusual(backup) is True


def test_an_exception_for_every_rule_applies_to_each(tmp_path: Path) -> None:
    text = f"exceptions:\n  - {{rule: '*', {MALLORY}}}\n"
    rules = load_pack()
    tuned = {rule.id: rule for rule in load_tuning(write(tmp_path, text), rules).apply(rules)}
    assert tuned["secret-access-denied"].condition.predicate(denied(1)) is False
    assert tuned["secret-access-denied"].condition.predicate(denied(1, user="eve@example.com")) is True


MALFORMED = {
    "unknown rule": ("rules:\n  secret-acces-denied: {enabled: false}\n", "rules.secret-acces-denied: unknown rule id"),
    "bad override value": (
        "rules:\n  secret-access-denied: {threshold: {count: 0}}\n",
        "rules.secret-access-denied.threshold.count: expected int >= 1",
    ),
    "unknown override key": (
        "rules:\n  secret-access-denied: {threshold: {windw: 1m}}\n",
        "rules.secret-access-denied.threshold: unknown keys ['windw']",
    ),
    "block of another type": (
        "rules:\n  secret-access-denied: {new_terms: {history_window: 1d}}\n",
        "rules.secret-access-denied.new_terms: secret-access-denied is a threshold rule; it has no new_terms block",
    ),
    "missing expiry": (
        "exceptions:\n  - {rule: '*', reason: r, when: {failed: true}}\n",
        "exceptions[0].expires: required",
    ),
    "bad condition": (
        "exceptions:\n  - {rule: '*', reason: r, expires: 2027-01-01, when: {field: verbb, equals: get}}\n",
        "exceptions[0].when.field: unknown field 'verbb'",
    ),
    "exception for an unknown rule": (
        "exceptions:\n  - {rule: nope, reason: r, expires: 2027-01-01, when: {failed: true}}\n",
        "exceptions[0].rule: unknown rule id 'nope'",
    ),
    "unknown section": ("rule:\n  secret-access-denied: {enabled: false}\n", "unknown keys ['rule']"),
}


@pytest.mark.parametrize(("text", "message"), MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_tuning_file_is_refused_at_start_with_file_entry_and_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match="^" + str(path)):
        load_tuning(path, load_pack())
    assert main(["rules", "--tuning", str(path)]) == 2
    assert f"secretwatch: {path}: {message}" in capsys.readouterr().err


def test_every_malformed_entry_is_reported_at_once(tmp_path: Path) -> None:
    text = "".join(text for text, _ in MALFORMED.values() if text.startswith("exceptions"))
    text = "exceptions:\n" + "".join(line for line in text.splitlines(keepends=True) if line.startswith("  -"))
    with pytest.raises(ConfigError) as caught:
        load_tuning(write(tmp_path, text), load_pack())
    assert [line.split(": ", 2)[1] for line in str(caught.value).splitlines()] == [
        "exceptions[0].expires",
        "exceptions[1].when.field",
        "exceptions[2].rule",
    ]


def test_rules_tuning_shows_what_is_enabled_every_override_and_exception_and_flags_lapsed_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = EXAMPLE + "  - {rule: '*', reason: last year's pentest, expires: 2020-06-30, when: {failed: true}}\n"
    path = write(tmp_path, text)
    assert main(["rules", "--tuning", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"tuned by {path}: threshold: count=10" in out
    assert f"tuned by {path}: enabled: true" in out
    assert "except (until 2027-01-31, secret-access-unusual-user-agent): the backup job reads secrets" in out
    assert "except (LAPSED on 2020-06-30, *): last year's pentest" in out
    assert "DISABLED" not in out.split("secret-bulk-access")[1].splitlines()[0]


DENIED_LOG = {
    "kind": "Event",
    "apiVersion": "audit.k8s.io/v1",
    "stage": "ResponseComplete",
    "verb": "get",
    "user": {"username": "mallory@example.com"},
    "sourceIPs": ["203.0.113.7"],
    "objectRef": {"resource": "secrets", "namespace": "payments", "name": "db", "apiVersion": "v1"},
    "responseStatus": {"code": 403},
}


@pytest.mark.parametrize(("tuning", "alerts"), [(None, 1), ("pentest", 0)])
def test_scan_with_tuning_drops_excepted_events(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], tuning: str | None, alerts: int
) -> None:
    lines = [
        json.dumps({**DENIED_LOG, "auditID": f"a-{i}", "requestReceivedTimestamp": f"2026-01-05T10:00:{i:02d}Z"})
        for i in range(20)
    ]
    logs = write(tmp_path, "\n".join(lines) + "\n", "audit.jsonl")
    text = f"exceptions:\n  - {{rule: secret-access-denied, {MALLORY}}}\n"
    extra = ["--tuning", str(write(tmp_path, text))] if tuning else []
    assert main(["scan", "--state", "memory", "--output", "jsonl", *extra, str(logs)]) == 0
    assert len(capsys.readouterr().out.splitlines()) == alerts


# --- where rules come from -----------------------------------------------------------------------------------


def test_rules_adds_files_to_the_built_in_pack_and_no_builtin_rules_drops_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (BUILTIN_DIR / "secret_access_denied.yml").read_text().replace("id: secret-access-denied", "id: my-rule")
    write(tmp_path, text, "mine.yml")
    builtin = {rule.id for rule in load_pack()}
    assert {rule.id for rule in load_pack([tmp_path])} == builtin | {"my-rule"}
    assert {rule.id for rule in load_pack([tmp_path], builtin=False)} == {"my-rule"}
    assert main(["rules", "--no-builtin-rules", "--rules", str(tmp_path)]) == 0
    assert capsys.readouterr().out.startswith("my-rule  [threshold")


def test_no_builtin_rules_without_rules_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "--no-builtin-rules"]) == 2
    assert "--no-builtin-rules needs at least one --rules PATH" in capsys.readouterr().err


# --- the functions: SECRETWATCH_TUNING -----------------------------------------------------------------------


def test_the_functions_read_the_tuning_file_the_setting_names_inside_the_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, EXAMPLE, "tuning.yml")
    monkeypatch.setattr(bootstrap, "PACKAGE_ROOT", tmp_path)
    settings = Settings.from_env({"SECRETWATCH_TUNING": " tuning.yml ", "SECRETWATCH_SINKS": "jsonl://-"})
    assert settings.tuning == "tuning.yml"
    rules = {rule.id: rule for rule in bootstrap.tuned_rules(settings.tuning)}
    assert rules["secret-bulk-access"].enabled is True
    assert [(rule.id, rule.enabled) for rule in bootstrap.tuned_rules("")] == [(r.id, r.enabled) for r in load_pack()]


def test_a_tuning_setting_naming_no_bundled_file_stops_the_cold_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bootstrap, "PACKAGE_ROOT", tmp_path)
    with pytest.raises(ConfigError, match=r"SECRETWATCH_TUNING names tuning\.yml, which is not a file"):
        bootstrap.tuned_rules("tuning.yml")
    write(tmp_path, "rules: {nope: {enabled: false}}\n", "tuning.yml")
    with pytest.raises(ConfigError, match=r"tuning\.yml: rules\.nope: unknown rule id"):
        bootstrap.tuned_rules("tuning.yml")
