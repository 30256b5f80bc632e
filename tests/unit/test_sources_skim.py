"""Skimming raw audit JSON Lines (core.sources.skim) changes speed, never what a scan finds or counts.

Each property writes a file of real-shaped lines in random stretches (so blocks come dense with lines that can
match, sparse, or with either of the built-in pack's two shared clauses the rarer), scans it through the CLI with
the skimmer and without it, with blocks small enough that runs, hits and lines straddle block boundaries, and
compares the alerts, the summary and the `-v` listing; with the built-in pack, and with a pack whose rules share
no clause. Another property pins the pieces themselves, whichever way a block is skimmed. One case pins the
single documented difference.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.cli import main
from core.inputs import Input, read_documents
from core.model import AuditEvent
from core.prefilter import Prefilter
from core.rules.loader import load_pack
from core.rules.schema import Rule, parse_rule
from core.sources import Prefiltered, decode, documents, skim
from core.sources.skim import RAW_EVENT_START, Piece, SkimmedRun, Skimmer
from tests.unit.sources_wire import RECEIVED_AT


def skimmer_for(rules: list[Rule]) -> Skimmer:
    found = Skimmer.for_prefilter(Prefilter.for_rules(rules), "auto")
    assert found is not None
    return found


SKIMMER = skimmer_for([rule for rule in load_pack([]) if rule.enabled])

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
    "configmap delete": lambda n: event(n, verb="delete", resource="configmaps", agent="kubectl/v1.30"),
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


#: Kinds in stretches of up to 12 lines: a small block may be all one kind (dense, sparse, one clause rarer).
STRETCHES = st.lists(st.tuples(st.sampled_from(sorted(KINDS)), st.integers(1, 12)), min_size=1, max_size=12).map(
    lambda stretches: [kind for kind, times in stretches for _ in range(times)]
)

RULE = {
    "title": "t", "description": "d", "severity": "low", "risk_score": 1, "type": "new_terms",
    "mitre": ["TA0006:T1552.007"], "runbook": "r", "alert_title": "{username} is new",
    "new_terms": {"fields": ["username", "user_agent"], "history_window": "1d"},
}  # fmt: skip
#: Two rules with no clause in common: a line that can match holds configmaps and delete, or secrets and watch.
UNSHARED = {
    "configmap-deleted.yml": {**RULE, "id": "configmap-deleted", "match": {"all": [
        {"field": "resource", "equals": "configmaps"}, {"field": "verb", "in": ["delete", "deletecollection"]}]}},
    "secret-watched.yml": {**RULE, "id": "secret-watched", "match": {"all": [
        {"field": "resource", "equals": "secrets"}, {"field": "verb", "equals": "watch"}]}},
}  # fmt: skip


def write_unshared_pack(folder: Path) -> Path:
    folder.mkdir(exist_ok=True)
    for name, rule in UNSHARED.items():
        (folder / name).write_bytes(orjson.dumps(rule))  # JSON is YAML
    return folder


def scan(path: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str, str]:
    code = main(["scan", "--state", "memory", "--output", "jsonl", "-v", *extra, str(path)])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(documents, "_CHUNK", 4096)  # about six lines a block: every boundary case happens


def scanned_both_ways(
    path: Path, capsys: pytest.CaptureFixture[str], *extra: str
) -> tuple[tuple[int, str, str], tuple[int, str, str]]:
    """`scan` as it runs, skimming, and again with skimming turned off."""
    skimmed = scan(path, capsys, *extra)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Skimmer, "for_prefilter", classmethod(lambda cls, prefilter, fmt: None))
        return skimmed, scan(path, capsys, *extra)


def write_kinds(path: Path, kinds: list[str], newline: bytes = b"\n") -> None:
    """One line of each kind (KINDS), numbered in order."""
    path.write_bytes(b"".join(KINDS[kind](n) + newline for n, kind in enumerate(kinds)))


@pytest.mark.usefixtures("small_blocks")
@pytest.mark.parametrize("newline", [b"\n", b"\r\n"], ids=["LF", "CRLF"])
@pytest.mark.parametrize("typed", [0.0, skim._TYPED, float("inf")], ids=["typed", "measured", "never typed"])
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kinds=STRETCHES)
def test_a_scan_finds_and_counts_the_same_with_and_without_skimming(
    *, kinds: list[str], typed: float, newline: bytes, tmp_path_factory: pytest.TempPathFactory,
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Whether each dense block is read in one typed pass, or as measured, or never; with Unix or Windows line
    ends."""
    monkeypatch.setattr(skim, "_TYPED", typed)
    path = tmp_path_factory.mktemp("skim") / "audit.log"
    write_kinds(path, kinds, newline)

    skimmed, plain = scanned_both_ways(path, capsys)

    assert skimmed == plain


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kinds=STRETCHES)
def test_rules_sharing_no_clause_find_and_count_the_same_with_and_without_skimming(
    kinds: list[str], tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str],
    small_blocks: None,
) -> None:
    """Each block hunts one clause of each rule: configmaps or delete, with secrets or watch."""
    folder = tmp_path_factory.mktemp("unshared")
    pack = write_unshared_pack(folder / "rules")
    path = folder / "audit.log"
    write_kinds(path, kinds)

    skimmed, plain = scanned_both_ways(path, capsys, "--no-builtin-rules", "--rules", str(pack))

    assert skimmed == plain


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kinds=STRETCHES)
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

    skimmed, plain = scanned_both_ways(path, capsys)

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
    # the file's first line is read alone (it decides how the file is read): every other line is skimmed
    assert pieces[1:] == [SkimmedRun(29, sum(map(len, lines[1:])) + 29, "aws")]


@pytest.mark.parametrize("export", [False, True], ids=["raw", "export"])
def test_lines_with_windows_line_ends_are_skimmed_as_unix_ones_are(
    export: bool, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A carriage return before each newline (a log copied through Windows) changes no count and no alert, and
    the lines no rule can match are still counted in runs, never decoded."""
    folder = tmp_path / "task" / "kube-apiserver-audit-5f4e3d2c1b0a" if export else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    kinds = ["pod watch"] * 30 + ["secret get, new client"] + ["secret watch"] * 30 + ["secret get, denied"] * 25
    prefix = [b"2026-11-20T09:00:%02d.000Z " % (n % 60) if export else b"" for n in range(len(kinds))]
    lines = [prefix[n] + KINDS[kind](n) for n, kind in enumerate(kinds)]
    results = {}
    for name, newline in (("000000", b"\n"), ("000001", b"\r\n")):
        (folder / name).write_bytes(b"".join(line + newline for line in lines))
        code, out, err = scan(folder / name, capsys)
        with (folder / name).open("rb", buffering=1 << 20) as file:
            pieces = list(read_documents(Input(str(folder / name), file, 0), SKIMMER))
        results[newline] = code, out, err, pieces

    assert results[b"\r\n"][:3] == results[b"\n"][:3]
    assert results[b"\n"][1].count("\n") >= 2  # alerts, one a line
    assert "prefiltered: 60 of the events" in results[b"\n"][2]
    unix, windows = results[b"\n"][3], results[b"\r\n"][3]
    assert [type(piece) for piece in windows] == [type(piece) for piece in unix]
    assert SkimmedRun(29, sum(len(line) + 2 for line in lines[1:30]), "aws" if export else "k8s") in windows


def test_most_lines_of_realistic_traffic_are_skimmed_and_the_rest_decoded() -> None:
    lines = [KINDS["pod watch"](n) for n in range(40)] + [KINDS["secret get, new client"](40)]
    lines += [KINDS["secret watch"](n) for n in range(41, 60)] + [KINDS["configmap get"](60)]
    block = b"\n" + b"\n".join(lines) + b"\n"

    pieces = list(SKIMMER.pieces(block, 1, len(block), number=2))

    assert pieces == [SkimmedRun(40, sum(map(len, lines[:40])) + 40), (42, lines[40]),
                      SkimmedRun(20, sum(map(len, lines[41:])) + 20)]  # fmt: skip


# --- which strings a block is searched for ----------------------------------------------------------------


def block_of(*stretches: tuple[int, bytes | str]) -> bytes:
    """A block of whole lines (after the newline that ends the line before it): `times` of each line or kind."""
    lines = [KINDS[kind](n) if isinstance(kind, str) else kind for times, kind in stretches for n in range(times)]
    return b"\n" + b"\n".join(lines) + b"\n"


def hunt(skimmer: Skimmer, block: bytes) -> tuple[bytes, ...] | None:
    """What the block is searched for; None when it is so dense that each line is tested."""
    needles, share = skimmer.hunt(block, 1, len(block))
    return None if share > skim._DENSE else needles


def unshared_rules() -> list[Rule]:
    return [parse_rule(rule, name) for name, rule in UNSHARED.items()]


def unshared_skimmer() -> Skimmer:
    return skimmer_for(unshared_rules())


def test_where_every_line_names_secrets_the_block_is_searched_for_get_and_list() -> None:
    """Watches of secrets hold the one shared clause but not the other: searching for it would hit every line."""
    block = block_of((30, "secret watch"), (2, "secret list"), (10, "pod watch"))

    assert hunt(SKIMMER, block) == (b"get", b"list")


def test_where_gets_are_common_and_secrets_rare_the_block_is_searched_for_secrets() -> None:
    block = block_of((30, "configmap get"), (1, "secret get, denied"), (10, "pod watch"))

    assert hunt(SKIMMER, block) == (b"secrets",)


def test_a_clause_of_two_strings_must_hit_clearly_fewer_lines_to_be_searched_for() -> None:
    """Each string searched for costs a pass over the whole block: on realistic traffic, where about as few lines
    name secrets as hold get or list, one pass for secrets costs less than two for get and list."""
    block = block_of((16, "pod watch"), (2, "secret watch"), (1, "secret get, denied"), (1, "configmap get"))

    assert hunt(SKIMMER, block) == (b"secrets",)  # 3 lines name secrets, 2 hold get


def test_a_block_where_most_lines_can_match_is_tested_a_line_at_a_time() -> None:
    block = block_of((20, "secret get, new client"), (5, "secret list"), (10, "pod watch"))

    assert hunt(SKIMMER, block) is None


def test_a_block_where_fewer_than_half_the_lines_can_match_is_searched() -> None:
    block = block_of((8, "secret get, new client"), (12, "pod watch"))

    assert hunt(SKIMMER, block) is not None


def test_without_a_shared_clause_each_rules_rarest_clause_is_searched_for() -> None:
    """A line that can match holds configmaps and delete, or secrets and watch: one clause of each rule will do."""
    skimmer = unshared_skimmer()
    deletes = [event(n, verb="delete", resource="pods") for n in range(20)]
    watches = [KINDS["pod watch"](n) for n in range(20)]
    rare_clauses = block_of((1, "configmap delete"), (1, "secret watch"), (20, "configmap get"), (20, "secret list"))
    rare_resources = block_of((1, "configmap delete"), (1, "secret watch"), *((1, line) for line in deletes + watches))

    assert hunt(skimmer, rare_clauses) == (b"delete", b"deletecollection", b"watch")
    assert hunt(skimmer, rare_resources) == (b"configmaps", b"secrets")


def test_the_first_lines_of_a_block_choose_what_it_is_searched_for() -> None:
    """Counting in the whole block costs as much as searching it; its first 16 KiB of lines decide."""
    lines = [KINDS["secret watch"](n) for n in range(60)] + [KINDS["configmap get"](n) for n in range(60, 400)]
    block = b"\n" + b"\n".join(lines) + b"\n"

    assert sum(map(len, lines[:60])) > skim._SAMPLE
    assert hunt(SKIMMER, block) == (b"get", b"list")


# --- the pieces, whichever way a block is skimmed -----------------------------------------------------------

EVENTS = sorted(kind for kind in KINDS if KINDS[kind](0).startswith(RAW_EVENT_START) and KINDS[kind](0).endswith(b"}"))


def one_at_a_time(
    events: list[bytes], prefix: bytes, number: int, admits: Callable[[bytes], bool], newline: bytes = b"\n"
) -> list[Piece]:
    """The pieces as the module defines them for lines that are all Events, each ending with `newline`: each one
    no rule can match is skimmed, and skimmed lines next to each other come as one run of their lines and bytes."""
    pieces: list[Piece] = []
    run: list[bytes] = []
    cloud = "aws" if prefix else "k8s"
    for line_number, line in enumerate(events, number):
        if not admits(line + newline[:-1]):
            run.append(prefix + line + newline)
            continue
        if run:
            pieces.append(SkimmedRun(len(run), sum(map(len, run)), cloud))
            run = []
        pieces.append((line_number, prefix + line))
    if run:
        pieces.append(SkimmedRun(len(run), sum(map(len, run)), cloud))
    return pieces


def pieces_and_number(
    skimmer: Skimmer, block: bytes, number: int, *, start: int = 1, end: int | None = None
) -> tuple[list[Piece], int]:
    pieces: list[Piece] = []
    generator = skimmer.pieces(block, start, len(block) if end is None else end, number)
    while True:
        try:
            pieces.append(next(generator))
        except StopIteration as stop:
            return pieces, stop.value


@pytest.mark.parametrize("newline", [b"\n", b"\r\n"], ids=["LF", "CRLF"])
@pytest.mark.parametrize("dense", [0.0, skim._DENSE, float("inf")], ids=["each line", "measured", "searched"])
@pytest.mark.parametrize("pack", ["built-in", "unshared"])
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    kinds=st.lists(st.tuples(st.sampled_from(EVENTS), st.integers(1, 15)), min_size=1, max_size=8),
    export=st.booleans(),
)
def test_a_block_of_events_comes_in_the_same_pieces_however_it_is_skimmed(
    *,
    kinds: list[tuple[str, int]],
    export: bool,
    pack: str,
    dense: float,
    newline: bytes,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Testing each line, searching for the rarest clause, or as measured, with Unix or Windows line ends: the
    same documents with the same numbers, the same runs with the same sizes, and the number after the block."""
    monkeypatch.setattr(skim, "_DENSE", dense)
    skimmer = (SKIMMER if pack == "built-in" else unshared_skimmer()).without_reading()
    events = [KINDS[kind](n) for kind, times in kinds for n in range(times)]
    prefix = b"2026-11-20T09:00:00.000Z " if export else b""
    block = b"\n" + newline.join(prefix + line for line in events) + newline

    pieces, after = pieces_and_number(skimmer.for_export() if export else skimmer, block, 5)

    assert pieces == one_at_a_time(events, prefix, 5, skimmer.admits, newline)
    assert after == 5 + len(events)


def decoded_one_at_a_time(lines: list[bytes], number: int, prefilter: Prefilter) -> tuple[list[Any], int]:
    """What the pipeline evaluates of each line decoded alone, numbered, and how many it counts as prefiltered
    (by their text, or by their fields once decoded)."""
    kept, counted = [], 0
    for line_number, line in enumerate(lines, number):
        items = list(decode(line, received_at=RECEIVED_AT, prefilter=prefilter))
        assert len(items) == 1
        if isinstance(items[0], AuditEvent) and prefilter.fields.test(items[0]):
            kept.append((line_number, items[0]))
        else:
            assert isinstance(items[0], (AuditEvent, Prefiltered))
            counted += 1
    return kept, counted


#: What a read block holds around its whole lines: nothing, or the ends of lines cut at its edges, in UTF-8.
AROUND = {"nothing": (b"", b""), "cut lines, not ASCII": ("…a line cut".encode(), 'cut at "é'.encode())}


@pytest.mark.parametrize("newline", [b"\n", b"\r\n"], ids=["LF", "CRLF"])
@pytest.mark.parametrize("around", AROUND)
@pytest.mark.parametrize("pack", ["built-in", "unshared"])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kinds=STRETCHES)
def test_a_block_read_in_one_typed_pass_gives_what_each_line_decoded_alone_gives(
    kinds: list[str], pack: str, around: str, newline: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Read typed (tried on every block here), a block of Events gives the events each line decoded alone gives
    the pipeline, with their numbers, and counts the rest; any other block is skimmed as without reading. What
    the block holds beyond its whole lines changes nothing (they are read in place when it is all ASCII), nor
    do Windows line ends."""
    monkeypatch.setattr(skim, "_TYPED", 0.0)
    rules = [rule for rule in load_pack([]) if rule.enabled] if pack == "built-in" else unshared_rules()
    prefilter = Prefilter.for_rules(rules)
    assert prefilter is not None
    skimmer = skimmer_for(rules)
    lines = [KINDS[kind](n) for n, kind in enumerate(kinds)]
    before, after_end = AROUND[around]
    block = before + b"\n" + newline.join(lines) + newline + after_end
    edges = {"start": len(before) + 1, "end": len(block) - len(after_end)}

    pieces, after = pieces_and_number(skimmer, block, 5, **edges)

    assert after == 5 + len(lines)
    if not any(isinstance(piece, skim.ReadLines) for piece in pieces):
        assert pieces == pieces_and_number(skimmer.without_reading(), block, 5, **edges)[0]
        assert not all(kind in EVENTS for kind in kinds)
        return
    *counted, read = pieces
    assert isinstance(read, skim.ReadLines)
    kept, _ = decoded_one_at_a_time(lines, 5, prefilter)
    assert [(number, event) for number, event in read.events if prefilter.fields.test(event)] == kept
    assert read.skimmed + len(read.events) == len(lines)
    assert counted == ([SkimmedRun(read.skimmed, 0)] if read.skimmed else [])
    assert read.size == edges["end"] - edges["start"]


def test_an_event_read_typed_and_refused_later_is_listed_at_its_own_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The pipeline refuses an event dated before Kubernetes; read in a typed pass, -v still names its line."""
    lines = [KINDS["secret get, denied"](n) for n in range(30)]
    lines[17] = lines[17].replace(b"2026-11-20T", b"1999-11-20T")
    path = tmp_path / "audit.log"
    path.write_bytes(b"\n".join(lines) + b"\n")
    pieces, _ = pieces_and_number(SKIMMER, b"\n" + path.read_bytes(), 1)
    assert any(isinstance(piece, skim.ReadLines) for piece in pieces)

    skimmed, plain = scanned_both_ways(path, capsys)

    assert skimmed == plain
    assert f"{path}:18: implausible_timestamp" in skimmed[2]


def test_a_cut_line_shaped_like_an_event_is_counted_prefiltered_when_skimmed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The documented difference, as for EKS messages and AKS logs: a broken line no rule can match is not parsed."""
    broken = RAW_EVENT_START + b'"verb":"watch","objectRef":{"resource":"pods"},"auditID":"x", "oops"}'
    path = tmp_path / "audit.log"
    lines = [KINDS["pod watch"](1), KINDS["pod watch"](2), broken, KINDS["pod watch"](3), KINDS["pod watch"](4)]
    path.write_bytes(b"\n".join(lines) + b"\n")

    (_, _, skimmed), (_, _, plain) = scanned_both_ways(path, capsys)

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
