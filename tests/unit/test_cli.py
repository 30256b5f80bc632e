"""The secretwatch command as a user meets it: exit codes, stdout for alerts only, one-line errors."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from core.cli import main
from core.scenarios import build_documents
from tests.unit.engine_helpers import DENIED

ENUMERATION = build_documents(DENIED.scenarios[1])  # 20 denied gets within 15 minutes


@pytest.fixture
def burst_file(tmp_path: Path) -> Path:
    path = tmp_path / "audit.jsonl"
    path.write_bytes(b"".join(orjson.dumps(doc) + b"\n" for doc in ENUMERATION) + b"{not json\n")
    return path


def test_scan_jsonl_prints_one_alert_per_line_and_nothing_else(
    burst_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["scan", str(burst_file), "--state", "memory", "--output", "jsonl"]) == 0
    out, err = capsys.readouterr()
    alerts = {a["rule_id"]: a for a in map(orjson.loads, out.splitlines())}
    assert sorted(alerts) == [
        "secret-access-denied",
        "secret-access-unusual-user-agent",
    ]  # kubectl is new too
    assert alerts["secret-access-denied"]["event_count"] == 20
    assert "invalid_json 1" in err
    assert "21 documents" in err


def test_scan_ocsf_prints_one_detection_finding_per_alert(
    burst_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["scan", str(burst_file), "--state", "memory", "--output", "ocsf"]) == 0
    findings = [orjson.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {finding["class_uid"] for finding in findings} == {2004}
    assert sorted(finding["finding_info"]["analytic"]["uid"] for finding in findings) == [
        "secret-access-denied",
        "secret-access-unusual-user-agent",
    ]


def test_scan_table_is_the_default_output(burst_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", str(burst_file), "--state", "memory"]) == 0
    out, _ = capsys.readouterr()
    assert "secret-access-denied" in out
    assert "mallory@example.com" in out


def test_scan_state_persists_between_runs_in_sqlite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = f"sqlite:{tmp_path / 'state.db'}"
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    first.write_bytes(b"".join(orjson.dumps(doc) + b"\n" for doc in ENUMERATION[:10]))
    second.write_bytes(b"".join(orjson.dumps(doc) + b"\n" for doc in ENUMERATION[10:]))
    assert main(["scan", str(first), "--state", state, "--output", "jsonl"]) == 0
    assert _rule_ids(capsys.readouterr().out) == ["secret-access-unusual-user-agent"]
    assert main(["scan", str(second), "--state", state, "--output", "jsonl"]) == 0
    assert _rule_ids(capsys.readouterr().out) == ["secret-access-denied"]


def _rule_ids(out: str) -> list[str]:
    return [orjson.loads(line)["rule_id"] for line in out.splitlines()]


def test_scan_reads_stdin(
    burst_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(burst_file.read_bytes())))
    assert main(["scan", "-", "--state", "memory", "--output", "jsonl"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["scan", "/no/such/file.jsonl", "--state", "memory"],
            "cannot read /no/such/file.jsonl: no such file",
        ),
        (["scan", "--learning-period", "a week"], "bad duration 'a week'"),
        (["scan", "--state", "postgres://db"], "unknown store scheme: use one of memory://"),
        (["scan", "--output", "xml"], "invalid choice: 'xml'"),
        (["test", "no-such-rule"], "unknown rule id(s) no-such-rule"),
        (
            ["scan", "--sink", "smtp://h:25?from=a@b.c&to=d@e.f&password=hunter2", "--state", "memory"],
            "password",
        ),
    ],
)
def test_usage_errors_exit_2_with_one_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _exit_code(argv) == 2
    err = capsys.readouterr().err
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err
    assert "hunter2" not in err


def _exit_code(argv: list[str]) -> int:
    """main's return value, or the code argparse exits with."""
    try:
        return main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)


def test_rule_tests_pass_and_report_a_closing_count(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["test"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[-1].endswith(" passed, 0 failed")
    assert "PASS secret-access-denied test: GKE failed secret get" in out


def test_a_failing_rule_test_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = Path(DENIED.path).read_text().replace("ExpectedResult: false", "ExpectedResult: true", 1)
    (tmp_path / "rule.yml").write_text(text)
    assert main(["test", "--no-builtin-rules", "--rules", str(tmp_path)]) == 1
    assert "FAIL secret-access-denied test: Successful secret get" in capsys.readouterr().out


def test_rules_lists_both_detections(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules"]) == 0
    out = capsys.readouterr().out
    assert "alert at 20 events per (namespace, username) within 15m, fixed window" in out
    assert "new (source_ip, username, user_agent) not seen in 7d" in out


def test_the_console_script_reports_errors_without_a_traceback(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "core.cli", "scan", str(tmp_path / "missing.json")],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == f"secretwatch: cannot read {tmp_path / 'missing.json'}: no such file or folder"


def test_progress_shows_on_a_terminal_and_stays_silent_otherwise(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from core.terminal import Progress

    monkeypatch.setattr(sys.stderr, "isatty", lambda: False)
    quiet = Progress(total_bytes=2_000_000)
    quiet.advance(1_000_000)
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    shown = Progress(total_bytes=2_000_000)
    shown.advance(1_000_000)
    shown.finish()
    assert "reading      1.0 MB  50.0%" in capsys.readouterr().err
