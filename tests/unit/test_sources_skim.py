"""Skimming raw audit JSON Lines (core.sources.skim) changes speed, never what a scan finds or counts.

Each property writes a file of real-shaped lines in a random order, scans it through the CLI with the skimmer and
without it, with blocks small enough that runs, hits and lines straddle block boundaries, and compares the alerts,
the summary and the `-v` listing. One case pins the single documented difference.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core import commands
from core.cli import main
from core.inputs import Input, read_documents
from core.prefilter import Prefilter
from core.rules.loader import load_pack
from core.sources import documents
from core.sources.skim import RAW_EVENT_START, SkimmedRun, Skimmer

SKIMMER = Skimmer.for_prefilter(Prefilter.for_rules([rule for rule in load_pack([]) if rule.enabled]), "auto")

BASE = {
    "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata", "stage": "ResponseComplete",
    "user": {"username": "system:serviceaccount:kube-system:replicaset-controller", "groups": ["system:authenticated"]},
    "sourceIPs": ["10.0.3.7"], "userAgent": "kube-controller-manager/v1.30.2 (linux/amd64) kubernetes/$Format",
    "responseStatus": {"metadata": {}, "code": 200},
}  # fmt: skip


def event(n: int, *, verb: str, resource: str, agent: str | None = None, code: int = 200) -> bytes:
    when = f"2026-11-20T09:{n // 60 % 60:02d}:{n % 60:02d}.000000Z"
    record: dict[str, Any] = {
        **BASE, "auditID": f"9a1b{n:06d}-skim", "verb": verb, "requestURI": f"/api/v1/namespaces/ns/{resource}/x{n}",
        "objectRef": {"resource": resource, "namespace": "ns", "name": f"x{n}", "apiVersion": "v1"},
        "responseStatus": {"metadata": {}, "code": code}, "requestReceivedTimestamp": when, "stageTimestamp": when,
    }  # fmt: skip
    if agent is not None:
        record["userAgent"] = agent
    return orjson.dumps(record)


def log_entry(n: int) -> bytes:
    return orjson.dumps({
        "protoPayload": {"@type": "type.googleapis.com/google.cloud.audit.AuditLog", "serviceName": "k8s.io",
                         "methodName": "io.k8s.core.v1.pods.get", "resourceName": "core/v1/namespaces/ns/pods/p"},
        "insertId": f"i{n}", "resource": {"type": "k8s_cluster", "labels": {"cluster_name": "c"}},
        "timestamp": "2026-11-20T09:00:00Z", "logName": "projects/p/logs/cloudaudit.googleapis.com%2Fdata_access",
    })  # fmt: skip

KINDS = {
    "pod watch": lambda n: event(n, verb="watch", resource="pods"),
    "configmap get": lambda n: event(n, verb="get", resource="configmaps"),
    "secret watch": lambda n: event(n, verb="watch", resource="secrets"),  # holds the needle, skipped by the rest
    "secret get, new client": lambda n: event(n, verb="get", resource="secrets", agent=f"curl/8.{n % 3}.0"),
    "secret get, denied": lambda n: event(n, verb="get", resource="secrets", agent="kubectl/v1.30", code=403),
    "secret list": lambda n: event(n, verb="list", resource="secrets", agent="python-requests/2.31"),
    "blank": lambda n: b"",
    "not json": lambda n: b"E1120 09:00:00.000000 1 reflector.go:147] watch of *v1.Secret ended",
    "CRLF event": lambda n: event(n, verb="watch", resource="pods") + b"\r",
    "core/v1 Event": lambda n: b'{"kind":"Event","apiVersion":"v1","reason":"Pulled","message":"pulled"}',
    "EventList": lambda n: b'{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":['
    + event(n, verb="get", resource="secrets")
    + b"]}",
    "GKE LogEntry": log_entry,
}



def scan(path: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str, str]:
    code = main(["scan", "--state", "memory", "--output", "jsonl", "-v", *extra, str(path)])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(documents, "_CHUNK", 4096)  # about six lines a block: every boundary case happens


def without_skimming(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(commands.Skimmer, "for_prefilter", classmethod(lambda cls, prefilter, fmt: None))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kinds=st.lists(st.sampled_from(sorted(KINDS)), min_size=1, max_size=80))
def test_a_scan_finds_and_counts_the_same_with_and_without_skimming(
    kinds: list[str], tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str],
    small_blocks: None,
) -> None:
    path = tmp_path_factory.mktemp("skim") / "audit.log"
    path.write_bytes(b"".join(KINDS[kind](n) + b"\n" for n, kind in enumerate(kinds)))

    skimmed = scan(path, capsys)
    with pytest.MonkeyPatch.context() as patch:
        without_skimming(patch)
        plain = scan(path, capsys)

    assert skimmed == plain


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kinds=st.lists(st.sampled_from(sorted(KINDS)), min_size=1, max_size=80))
def test_a_cloudwatch_export_of_an_audit_stream_is_found_and_counted_the_same_with_and_without_skimming(
    kinds: list[str], tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str],
    small_blocks: None,
) -> None:
    """Each line `<time> <message>` as CreateExportTask writes it, in the audit stream's folder."""
    stream = tmp_path_factory.mktemp("export") / "0f1e2d3c-task" / "kube-apiserver-audit-5f4e3d2c1b0a"
    stream.mkdir(parents=True)
    path = stream / "000000"
    path.write_bytes(b"".join(
        (b"" if kind == "blank" else f"2026-11-20T09:{n // 60 % 60:02d}:{n % 60:02d}.000Z ".encode()) + KINDS[kind](n)
        + b"\n" for n, kind in enumerate(kinds)
    ))  # fmt: skip

    skimmed = scan(path, capsys)
    with pytest.MonkeyPatch.context() as patch:
        without_skimming(patch)
        plain = scan(path, capsys)

    assert skimmed == plain


def test_an_exported_audit_stream_counts_its_skimmed_events_as_aws(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stream = tmp_path / "task" / "kube-apiserver-audit-5f4e3d2c1b0a"
    stream.mkdir(parents=True)
    lines = [b"2026-11-20T09:00:%02d.000Z " % n + KINDS["pod watch"](n) for n in range(30)]
    (stream / "000000").write_bytes(b"\n".join(lines) + b"\n")

    _, _, err = scan(stream / "000000", capsys)
    with (stream / "000000").open("rb", buffering=1 << 20) as file:
        pieces = list(read_documents(Input(str(stream / "000000"), file, 0), SKIMMER))

    assert "30 events (aws 30)" in err
    assert "prefiltered: 30 of the events" in err
    # the file's first line, and the first of each block read, are read alone: the rest are skimmed
    assert pieces[2:] == [SkimmedRun(28, sum(map(len, lines[2:])) + 28, "aws")]


def test_most_lines_of_realistic_traffic_are_skimmed_and_the_rest_decoded(small_blocks: None) -> None:
    lines = [KINDS["pod watch"](n) for n in range(40)] + [KINDS["secret get, new client"](40)]
    lines += [KINDS["secret watch"](n) for n in range(41, 60)] + [KINDS["configmap get"](60)]
    skimmer = Skimmer((b"secrets",), admits=lambda line: b'"get"' in line)
    block = b"\n" + b"\n".join(lines) + b"\n"

    pieces = list(skimmer.pieces(block, 1, len(block), number=2))

    assert pieces == [SkimmedRun(40, sum(map(len, lines[:40])) + 40), (42, lines[40]),
                      SkimmedRun(20, sum(map(len, lines[41:])) + 20)]  # fmt: skip


def test_a_cut_line_shaped_like_an_event_is_counted_prefiltered_when_skimmed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The documented difference, as for EKS messages and AKS logs: a broken line no rule can match is not parsed."""
    broken = RAW_EVENT_START + b'"verb":"watch","objectRef":{"resource":"pods"},"auditID":"x", "oops"}'
    path = tmp_path / "audit.log"
    lines = [KINDS["pod watch"](1), KINDS["pod watch"](2), broken, KINDS["pod watch"](3), KINDS["pod watch"](4)]
    path.write_bytes(b"\n".join(lines) + b"\n")

    _, _, skimmed = scan(path, capsys)
    with pytest.MonkeyPatch.context() as patch:
        without_skimming(patch)
        _, _, plain = scan(path, capsys)

    assert "5 events (k8s 5)" in skimmed
    assert "4 events (k8s 4)" in plain
    assert "invalid_json 1" in plain


def test_a_panther_export_is_not_skimmed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Its records name their cloud (p_log_type), which only decoding reads."""
    record = orjson.loads(KINDS["pod watch"](1))
    lines = [orjson.dumps({**record, "auditID": f"p{n}", "p_log_type": "Amazon.EKS.Audit"}) for n in range(20)]
    path = tmp_path / "panther.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")

    _, _, err = scan(path, capsys)

    assert "20 events (aws 20)" in err


def test_a_forced_cloud_format_is_not_skimmed() -> None:
    prefilter = Prefilter.for_rules([rule for rule in load_pack([], builtin=True) if rule.enabled])

    assert Skimmer.for_prefilter(prefilter, "auto") is not None
    assert Skimmer.for_prefilter(prefilter, "k8s") is not None
    assert [Skimmer.for_prefilter(prefilter, fmt) for fmt in ("eks", "gke", "aks")] == [None, None, None]
    assert Skimmer.for_prefilter(None, "auto") is None
