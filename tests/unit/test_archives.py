"""`secretwatch scan` reads each cloud's log archive as the cloud lays it out, folder and all.

EKS: a CloudWatch Logs export to S3; GKE: a Cloud Logging sink to Cloud Storage; AKS: diagnostic settings
archived to a storage account; self-managed: the API server's audit log and its rotated backups. Each tree
under tests/fixtures/archives is scanned end to end through the CLI (see that folder's README).
"""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from core.archives.cloudwatch import as_data_messages, log_stream
from core.archives.order import archive_order
from core.cli import main
from core.inputs import input_files
from tests.fixtures.archives.make_archives import archives

ARCHIVES = Path(__file__).resolve().parents[1] / "fixtures" / "archives"
REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO.parent / "shared" / "corpus"
EXPORT_TASK = ARCHIVES / "eks_export" / "exportedlogs" / "4b1c7d2e-8f3a-4e6b-9c0d-1a2b3c4d5e6f"
AUDIT_STREAM = "kube-apiserver-audit-71976ca11bea5d3083393f7d32dab75b"
#: What the GKE sink fixture raises, read from a folder or from a bucket.
GKE_SINK_ALERTS = {
    "secret-access-unusual-user-agent": 2,
    "secret-access-suspicious-user-agent": 1,
    "secrets-list-cluster-wide": 1,
    "secret-access-by-node-or-pod-sa": 1,
}


def scan(capsys: pytest.CaptureFixture[str], *paths: Path | str) -> tuple[Counter[str], str]:
    """The alerts raised per rule, and the run's summary."""
    assert main(["scan", *map(str, paths), "--state", "memory", "--output", "jsonl"]) == 0
    out, err = capsys.readouterr()
    return Counter(json.loads(line)["rule_id"] for line in out.splitlines()), err


def test_the_fixtures_are_what_make_archives_builds_from_the_wire_fixtures() -> None:
    built = archives()
    on_disk = {
        str(path.relative_to(ARCHIVES)): path.read_bytes()
        for path in ARCHIVES.rglob("*")
        if path.is_file() and path.suffix not in (".py", ".md")
    }

    def content(data: bytes) -> bytes:
        return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data

    assert sorted(on_disk) == sorted(built)
    assert {name: content(data) for name, data in on_disk.items()} == {
        name: content(data) for name, data in built.items()
    }


def test_an_eks_export_to_s3_reads_as_aws_events_other_streams_ignored_and_the_cut_event_named(
    capsys: pytest.CaptureFixture[str],
) -> None:
    alerts, summary = scan(capsys, ARCHIVES / "eks_export")

    assert alerts == {
        "secret-access-unusual-user-agent": 2,
        "secret-access-suspicious-user-agent": 1,
        "secret-access-by-node-or-pod-sa": 1,
    }
    # 4 audit lines, 1 klog line, 2 authenticator lines; the permission probe is not read
    assert "7 documents, 3 events (aws 3)" in summary
    assert "skipped, malformed input: truncated_message 1\n" in summary
    assert "ignored, not audit events: other_log_stream 3\n" in summary


def test_an_export_object_copied_without_its_gz_extension_is_still_gunzipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "exportedlogs" / "4b1c7d2e" / AUDIT_STREAM / "000000"
    copy.parent.mkdir(parents=True)
    shutil.copyfile(EXPORT_TASK / AUDIT_STREAM / "000000.gz", copy)

    alerts, summary = scan(capsys, copy)

    assert sum(alerts.values()) == 4
    assert "4 documents, 3 events (aws 3)" in summary
    assert "truncated_message 1" in summary


def test_a_gke_sink_to_cloud_storage_reads_as_gcp_events(capsys: pytest.CaptureFixture[str]) -> None:
    alerts, summary = scan(capsys, ARCHIVES / "gke_sink")

    assert alerts == GKE_SINK_ALERTS
    assert "4 documents, 4 events (gcp 4)" in summary
    assert "skipped" not in summary


def test_aks_diagnostic_logs_archived_to_storage_read_as_azure_events(capsys: pytest.CaptureFixture[str]) -> None:
    alerts, summary = scan(capsys, ARCHIVES / "aks_storage")

    assert alerts == {"secret-access-unusual-user-agent": 2, "secret-access-suspicious-user-agent": 1}
    # the admin patch is archived twice (log as a string, and as an object); no rule reads a patch, so each copy
    # is counted as prefiltered, and those are not deduplicated
    assert "6 documents, 4 events (azure 4), 0 duplicates dropped" in summary
    assert "prefiltered: 2 of the events" in summary
    assert "ignored, not audit events: other_category 1" in summary
    assert "skipped, malformed input: invalid_json 1\n" in summary  # klog text under kube-audit


def test_the_apiserver_log_folder_reads_its_rotated_backups_oldest_first_then_the_live_log(
    capsys: pytest.CaptureFixture[str],
) -> None:
    folder = ARCHIVES / "apiserver" / "var" / "log" / "kubernetes" / "audit"

    assert [Path(name).name for name in input_files([str(ARCHIVES / "apiserver")])] == [
        "audit-2024-05-14T09-13-30.000.log.gz",
        "audit-2024-05-14T09-20-00.000.log",
        "audit.log",
    ]
    alerts, summary = scan(capsys, folder)
    assert "4 documents, 4 events (k8s 4)" in summary
    assert alerts["secret-access-by-node-or-pod-sa"] == 2


@pytest.mark.parametrize(
    ("names", "ordered"),
    [
        # an --audit-log-path without an extension: plain text order would put the live log first
        (["audit", "audit-2024-05-14T09-20-00.000.gz", "audit-2024-05-14T09-13-30.000"], [2, 1, 0]),
        (["audit.log", "audit-2024-05-14T09-20-00.000.log", "audit-2023-12-31T23-59-59.999.log.gz"], [2, 1, 0]),
        # other logs in the folder keep their plain order around them
        (["b.json", "audit.log", "a.json", "audit-2024-05-14T09-20-00.000.log"], [2, 3, 1, 0]),
    ],
)
def test_rotated_backups_sort_oldest_first_just_before_their_log(names: list[str], ordered: list[int]) -> None:
    assert sorted(names, key=lambda name: archive_order(["var", "log", name])) == [names[i] for i in ordered]


def test_cloud_archive_paths_sort_in_time_order() -> None:
    gke = ["logs/2024/05/14/10:00:00_10:59:59_S0.json", "logs/2024/05/14/09:00:00_09:59:59_S1.json"]
    aks = ["y=2024/m=05/d=14/h=10/m=00/PT1H.json", "y=2024/m=05/d=13/h=23/m=00/PT1H.json"]
    for paths in (gke, aks):
        assert sorted(paths, key=lambda path: archive_order(path.split("/"))) == paths[::-1]


def test_an_export_line_becomes_a_data_message_with_its_time_and_log_stream() -> None:
    line = b'2024-05-14T09:12:44.121Z {"kind":"Event","auditID":"x"}'
    name = f"s3://b/exportedlogs/task/{AUDIT_STREAM}/000001.gz"

    [(number, document)] = as_data_messages([(7, line)], name)

    assert number == 7
    assert json.loads(document) == {
        "messageType": "DATA_MESSAGE",
        "logStream": AUDIT_STREAM,
        "logEvents": [{"timestamp": 1715677964121, "message": '{"kind":"Event","auditID":"x"}'}],
    }


@pytest.mark.parametrize(
    "document",
    [b'{"kind":"Event"}', b"[1,2]", b"2024", b"I0514 09:15:31.300112 10 httplog.go:132]", b"2024-05-14 not an export"],
)
def test_documents_that_are_not_export_lines_pass_unchanged(document: bytes) -> None:
    assert list(as_data_messages([(1, document)], "000000.gz")) == [(1, document)]


@pytest.mark.parametrize(
    ("name", "stream"),
    [
        (f"exportedlogs/task/{AUDIT_STREAM}/000000.gz", AUDIT_STREAM),
        (f"C:\\exports\\task\\{AUDIT_STREAM}\\000012", AUDIT_STREAM),
        ("000000.gz", None),
        (f"exportedlogs/task/{AUDIT_STREAM}/audit.log", None),
    ],
)
def test_the_log_stream_is_the_export_objects_folder(name: str, stream: str | None) -> None:
    assert log_stream(name) == stream


@pytest.mark.parametrize("suffix", [".log", ".log.gz"])
def test_a_folder_of_more_files_than_open_file_slots_is_read_one_file_at_a_time(tmp_path: Path, suffix: str) -> None:
    event = (ARCHIVES / "apiserver" / "var" / "log" / "kubernetes" / "audit" / "audit.log").read_bytes()
    for index in range(300):
        (tmp_path / f"audit-{index:03d}{suffix}").write_bytes(gzip.compress(event) if suffix.endswith(".gz") else event)
    program = (
        "import resource, sys\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (128, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))\n"
        "from core.cli import main\n"
        f"sys.exit(main(['scan', {str(tmp_path)!r}, '--state', 'memory', '--output', 'jsonl']))\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", program], cwd=REPO, capture_output=True, text=True, timeout=120, check=False
    )

    assert run.returncode == 0, run.stderr
    assert "300 documents, 1 events (k8s 1), 299 duplicates dropped" in run.stderr


@pytest.mark.skipif(not CORPUS.is_dir(), reason="the shared corpus (../shared/corpus) is absent")
def test_every_published_raw_event_reads_the_same_framed_as_an_eks_export(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Published audit events (corpus/raw, with provenance), one per line as a kube-apiserver-audit export holds
    them: each reads as an aws event, as many events as the bare events give."""
    events = [json.loads(path.read_text()) for path in sorted((CORPUS / "raw").glob("*.json"))]
    events = [event for event in events if isinstance(event, dict)]
    plain = tmp_path / "plain.jsonl"
    plain.write_text("".join(json.dumps(event) + "\n" for event in events))
    export = tmp_path / "exportedlogs" / "task" / AUDIT_STREAM / "000000.gz"
    export.parent.mkdir(parents=True)
    lines = "".join(
        f"2024-05-14T09:{i // 60:02d}:{i % 60:02d}.000Z {json.dumps(event)}\n" for i, event in enumerate(events)
    )
    export.write_bytes(gzip.compress(lines.encode()))

    main(["scan", str(plain), "--state", "memory", "--output", "jsonl"])
    bare = capsys.readouterr().err
    main(["scan", str(export), "--state", "memory", "--output", "jsonl"])
    framed = capsys.readouterr().err

    read = bare.split(" events (")[0].rsplit(", ", 1)[1]
    assert f"{len(events)} documents, {read} events (aws {read})" in framed
