"""`secretwatch demo`: a generated day of EKS, GKE and AKS traffic with two attacks, through the real pipeline."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as datetime_time
from pathlib import Path

from core.alerts.memory import MemorySink
from core.alerts.table import format_table
from core.demo.traffic import PlantedAttack, generate_day
from core.model import Alert
from core.pipeline import Pipeline
from core.report import format_summary
from core.rules.loader import load_rules
from core.rules.schema import Rule
from core.rules.tuning import load_tuning
from core.state.registry import open_store
from core.terminal import table_width

LEARNING_HOURS = 6
#: The demo clusters' tuning file: exceptions for the readers their operators checked, each with a reason.
TUNING = Path(__file__).with_name("tuning.yml")
DAY = date(2026, 11, 2)


def demo_rules() -> list[Rule]:
    """The built-in pack tuned for the demo clusters, its exceptions' expiry judged on the demo's day."""
    rules = load_rules()
    on_the_day = datetime.combine(DAY, datetime_time(12), tzinfo=UTC)
    return load_tuning(TUNING, rules).apply(rules, clock=lambda: on_the_day)


def run_demo(*, events: int, seed: int, state_path: Path) -> int:
    started = time.perf_counter()
    traffic = generate_day(day=DAY, events=events, seed=seed, learning_hours=LEARNING_HOURS)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{state_path}{suffix}").unlink(missing_ok=True)
    store = open_store(f"sqlite:{state_path}")
    sink = MemorySink()
    pipeline = Pipeline(demo_rules(), store, [sink], learning_period=timedelta(hours=LEARNING_HOURS))
    print(
        f"Generated one day of audit traffic: {traffic.event_count:,} events, {traffic.secret_event_count:,} "
        f"touching secrets, on one EKS, one GKE and one AKS cluster, in {len(traffic.documents):,} wire documents "
        "(CloudWatch Logs Lambda events, Pub/Sub push bodies, Event Hub bodies)."
    )
    print(f"The first {LEARNING_HOURS} hours are a learning period: new clients are recorded, not alerted.")
    print(f"The rule pack runs tuned for these clusters ({TUNING.name}: exceptions for checked readers).\n")
    try:
        summary = pipeline.process(document for _, document in traffic.documents)
    finally:
        store.close()
    print(format_table(sink.alerts, width=table_width()) if sink.alerts else "No alerts.")
    print()
    print(format_summary(summary, store_label=store.label))
    print()
    for attack in traffic.attacks:
        found = _detected(attack, sink.alerts)
        missed = [rule_id for rule_id in attack.rule_ids if rule_id not in found]
        print(f"  planted: {attack.description}")
        print(f"    -> {'MISSED by ' + ', '.join(missed) if missed else 'DETECTED'}"
              f"{' as ' + ', '.join(found) if found else ''}")
    print(f"\nDone in {time.perf_counter() - started:.1f} s. State kept in {state_path}.")
    return 0


def _detected(attack: PlantedAttack, alerts: list[Alert]) -> list[str]:
    """The rules, among those the attack was planted for, that alerted on its user."""
    return [
        rule_id for rule_id in attack.rule_ids
        if any(a.rule_id == rule_id and a.context.username == attack.username for a in alerts)
    ]
