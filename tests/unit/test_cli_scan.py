"""`secretwatch scan` as a user meets it: folders, .gz files, input with no audit event, help, version, hints."""

from __future__ import annotations

import gzip
import importlib.util
from pathlib import Path

import orjson
import pytest

from core.cli import build_parser, main
from core.scenarios import build_documents
from tests.unit.engine_helpers import DENIED
from tests.unit.sources_wire import FIXTURES

ENUMERATION = build_documents(DENIED.scenarios[1])  # 20 denied gets within 15 minutes
LINES = b"".join(orjson.dumps(doc) + b"\n" for doc in ENUMERATION)


def exit_code(argv: list[str]) -> int:
    """main's return value, or the code argparse exits with."""
    try:
        return main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)


def scan_jsonl(paths: list[str], capsys: pytest.CaptureFixture[str], code: int = 0) -> tuple[list[str], str]:
    assert main(["scan", *paths, "--state", "memory", "--output", "jsonl"]) == code
    out, err = capsys.readouterr()
    return sorted(orjson.loads(line)["rule_id"] for line in out.splitlines()), err


def test_a_folder_is_read_recursively_files_only_in_sorted_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "b" / "deeper").mkdir(parents=True)
    lines = LINES.splitlines(keepends=True)
    (tmp_path / "a.jsonl").write_bytes(b"".join(lines[:10]))
    (tmp_path / "b" / "deeper" / "c.jsonl").write_bytes(b"".join(lines[10:]))
    (tmp_path / "b" / "empty").mkdir()

    rule_ids, err = scan_jsonl([str(tmp_path)], capsys)

    assert "secret-access-denied" in rule_ids
    assert "20 documents, 20 events" in err


def test_a_gz_file_is_read_as_its_text(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "audit.jsonl.gz"
    path.write_bytes(gzip.compress(LINES + b"{not json\n"))

    rule_ids, err = scan_jsonl([str(path)], capsys)

    assert "secret-access-denied" in rule_ids
    assert "21 documents, 20 events" in err
    assert "invalid_json 1" in err


def test_a_gz_file_keeps_the_line_cap(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bomb.jsonl.gz"
    with gzip.open(path, "wb") as out:
        out.write(b'{"a": "' + b"x" * (33 * 1024 * 1024) + b'"}\n')
        out.write(LINES)

    rule_ids, err = scan_jsonl([str(path)], capsys)

    assert "secret-access-denied" in rule_ids
    assert "too_large 1" in err


def test_a_corrupt_gz_file_is_one_line_naming_it_after_the_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "audit.jsonl.gz"
    path.write_bytes(b"plain text, not gzip\n")

    assert main(["scan", str(path), "--state", "memory"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "secretwatch: 0 documents, 0 events (none), 0 duplicates dropped"
    assert err[-1] == (
        f"secretwatch: cannot read {path}: not a gzip file, though its name ends in .gz; its records before that "
        "were scanned, and every other input"
    )


def test_an_unreadable_file_among_others_costs_that_file_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The threshold (20 denials) is reached only with the file read after the corrupt one: every other input is
    read, the alert raised and the summary printed, and the run still exits 1, naming the file it left."""
    lines = LINES.splitlines(keepends=True)
    (tmp_path / "a.jsonl").write_bytes(b"".join(lines[:10]))
    (tmp_path / "c.jsonl").write_bytes(b"".join(lines[10:]))
    readable, _ = scan_jsonl([str(tmp_path)], capsys)
    (tmp_path / "b.jsonl.gz").write_bytes(b"\x1f\x8b not gzip after its magic bytes")

    rule_ids, err = scan_jsonl([str(tmp_path)], capsys, code=1)

    assert "secret-access-denied" in rule_ids
    assert rule_ids == readable
    assert "20 documents, 20 events" in err
    assert err.splitlines()[-1].startswith(f"secretwatch: cannot read {tmp_path / 'b.jsonl.gz'}: ")


def test_a_truncated_gz_file_is_scanned_up_to_the_cut(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "audit.jsonl.gz"
    path.write_bytes(gzip.compress(LINES * 50)[:-40])  # copies of the denials: the cut falls in the last ones

    rule_ids, err = scan_jsonl([str(path)], capsys, code=1)

    assert "secret-access-denied" in rule_ids
    assert "the gzip stream ends early (a truncated download?); its records before that were scanned" in err


def test_an_input_left_at_a_fault_outranks_input_with_no_audit_event(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "app.jsonl").write_bytes(b'{"level": "info", "msg": "started"}\n')
    (tmp_path / "cut.jsonl.gz").write_bytes(gzip.compress(LINES)[:-40])

    assert main(["scan", str(tmp_path / "app.jsonl"), "--state", "memory"]) == 3
    capsys.readouterr()
    assert main(["scan", str(tmp_path), "--state", "memory"]) == 1
    assert "the gzip stream ends early" in capsys.readouterr().err


def test_input_in_another_format_prints_no_alerts_and_exits_3(capsys: pytest.CaptureFixture[str]) -> None:
    gke = FIXTURES / "gke"

    assert main(["scan", str(gke), "--format", "aks", "--state", "memory"]) == 3
    out, err = capsys.readouterr()
    assert out.strip() == "No alerts."
    assert "held an audit event in the --format aks layout: check --format" in err.splitlines()[-1]


def test_input_that_is_no_audit_log_exits_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "app.jsonl"
    path.write_bytes(b'{"level": "info", "msg": "started"}\n')

    assert exit_code(["scan", str(path), "--state", "memory"]) == 3
    assert "are these Kubernetes audit logs" in capsys.readouterr().err


def test_empty_input_is_not_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty.jsonl").write_bytes(b"")

    assert main(["scan", str(tmp_path), "--state", "memory"]) == 0
    assert capsys.readouterr().out.strip() == "No alerts."


def test_version_prints_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert exit_code(["--version"]) == 0
    out = capsys.readouterr().out.strip()
    assert out.startswith("secretwatch ")
    assert out.split()[1][0].isdigit() or out.endswith("(not installed)")


def test_every_option_of_every_command_has_help() -> None:
    parser = build_parser()
    commands = next(action for action in parser._actions if action.choices and "scan" in action.choices)
    assert isinstance(commands.choices, dict)
    for name, command in commands.choices.items():
        for action in command._actions:
            assert action.help, f"{name} {action.dest} has no help text"


def test_learning_period_help_states_both_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    assert exit_code(["scan", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "default 0s here, while the deployed functions get 7d" in text


@pytest.mark.skipif(importlib.util.find_spec("boto3") is None, reason="not installed: boto3")
def test_a_dynamodb_store_without_a_region_names_the_flag_and_aws_region(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    path = tmp_path / "audit.jsonl"
    path.write_bytes(LINES)

    assert main(["scan", str(path), "--state", "dynamodb://secretwatch-state"]) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "scan --state" in err
    assert "AWS_REGION" in err


def test_verbose_lists_the_first_20_skipped_records_with_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = tmp_path / "a.jsonl"
    first.write_bytes(b"{not json\n\n" + LINES[:200].split(b"\n")[0][:50] + b"\n" + LINES)
    second = tmp_path / "b.jsonl.gz"
    second.write_bytes(gzip.compress(b'{"kind": "Event"}\n' * 30))

    assert main(["scan", str(tmp_path), "--state", "memory", "--output", "jsonl", "-v"]) == 0
    err = capsys.readouterr().err
    listing = err[err.index("  skipped records"):].splitlines()
    assert listing[0] == "  skipped records (the first 20 of 32):"
    assert listing[1] == f"    {first}:1: invalid_json"
    assert listing[2] == f"    {first}:3: invalid_json"
    assert listing[3].startswith(f"    {second}:1: ")
    assert listing[20].startswith(f"    {second}:18: ")
    assert len(listing) == 21


def test_without_verbose_no_record_is_listed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "a.jsonl"
    path.write_bytes(b"{not json\n" + LINES)

    assert main(["scan", str(path), "--state", "memory", "--output", "jsonl"]) == 0
    assert "skipped records" not in capsys.readouterr().err
