"""The demo day through the real pipeline: the two planted attacks are detected and nothing else fires."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest

from core.alerts.memory import MemorySink
from core.demo.run import LEARNING_HOURS, demo_rules, run_demo
from core.demo.traffic import generate_day
from core.pipeline import Pipeline
from core.rules.loader import load_rules
from core.state.memory import MemoryStore


@pytest.mark.parametrize("seed", [7, 11])
def test_a_demo_day_raises_exactly_the_planted_alerts(seed: int) -> None:
    traffic = generate_day(events=30_000, seed=seed, learning_hours=LEARNING_HOURS)
    sink = MemorySink()
    pipeline = Pipeline(demo_rules(), MemoryStore(), [sink], learning_period=timedelta(hours=LEARNING_HOURS))
    summary = pipeline.process(document for _, document in traffic.documents)
    raised = sorted((a.rule_id, a.context.username) for a in sink.alerts)
    planted = sorted((rule_id, a.username) for a in traffic.attacks for rule_id in a.rule_ids)
    assert raised == planted
    assert summary.event_total == traffic.event_count
    assert not summary.malformed
    assert summary.matches["secret-access-unusual-user-agent"] > 100  # benign reads were seen, and stayed quiet


def test_secretwatch_demo_reports_both_attacks_detected(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_demo(events=8_000, seed=7, state_path=tmp_path / "demo.db") == 0
    out = capsys.readouterr().out
    assert out.count("-> DETECTED as") == 2
    assert "MISSED" not in out
    assert (tmp_path / "demo.db").exists()


def test_without_the_demo_tuning_the_pack_also_names_the_benign_readers_it_excepts() -> None:
    traffic = generate_day(events=30_000, seed=7, learning_hours=LEARNING_HOURS)
    sink = MemorySink()
    pipeline = Pipeline(load_rules(), MemoryStore(), [sink], learning_period=timedelta(hours=LEARNING_HOURS))
    pipeline.process(document for _, document in traffic.documents)
    attackers = {(attack.username, attack.user_agent) for attack in traffic.attacks}
    benign = Counter(a.rule_id for a in sink.alerts if (a.context.username, a.context.user_agent) not in attackers)

    assert benign == {"secret-access-by-node-or-pod-sa": 24, "secret-get-burst": 1, "secrets-list-cluster-wide": 1}
