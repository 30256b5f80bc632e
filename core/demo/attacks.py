"""The two attacks the demo plants in a day of benign traffic, and the rules of the pack that must catch each."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from core.demo.cast import CLUSTER_WIDE, Activity, act, each, named
from core.demo.clusters import eks, gke
from core.demo.draw import Draw
from core.demo.events import audit_event

#: A scheduled audit event: (stageTimestamp in µs since the epoch, cloud, event).
Timed = tuple[int, str, dict[str, Any]]

THIEF_IP = "203.0.113.77"
THIEF_AGENT = "curl/8.5.0"
#: Names someone guessing would try; `airflow-db` and `airflow-fernet-key` exist.
GUESSED_NAMES = (
    "airflow-db", "airflow-fernet-key", "airflow-webserver-secret-key", "airflow-connections",
    "airflow-variables", "postgres", "postgres-password", "postgresql", "redis", "redis-password",
    "aws-credentials", "aws-access-key", "gcp-sa-key", "gcs-credentials", "bigquery-sa", "smtp-credentials",
    "slack-webhook", "admin", "admin-password", "admin-token", "api-key", "api-keys", "db-credentials",
    "db-password", "database-url", "default-token", "docker-registry", "regcred", "git-credentials",
    "github-token", "jwt-secret", "ldap-bind", "mysql", "oauth-client", "s3-credentials",
    "service-account-key", "snowflake-credentials", "ssh-key", "tls", "vault-token",
)


@dataclass(frozen=True, slots=True)
class PlantedAttack:
    """An attack hidden in the demo traffic and the alerts it should raise.

    `rule_id` is the rule it was planted for; `also` the other rules of the pack that catch it too. `start` is the
    time of the attack's first event that `rule_id` matches.
    """

    rule_id: str
    cloud: str
    cluster: str
    username: str
    namespace: str | None
    source_ip: str
    user_agent: str
    start: datetime
    description: str
    also: tuple[str, ...] = ()

    @property
    def rule_ids(self) -> tuple[str, ...]:
        return (self.rule_id, *self.also)


def stolen_token(draw: Draw, at_us: int) -> tuple[PlantedAttack, list[Timed]]:
    """A workload's service-account token replayed with curl from an address never seen before (EKS)."""
    thief = replace(eks.PAYMENTS_API, source_ips=(THIEF_IP,), user_agent=THIEF_AGENT)
    steps = [
        act(thief, "list", "secrets", each(["payments"])),
        *(act(thief, "get", "secrets", named("payments", name))
          for name in ("payments-db", "stripe-api-key", "payments-api-tls")),
        act(thief, "get", "secrets", named("payments", "payments-admin"), code=404),
        act(thief, "list", "secrets", CLUSTER_WIDE, code=403),
        act(thief, "list", "secrets", each(["checkout"]), code=403),
    ]
    events = _play(draw, "aws", steps, at_us, (4, 25))
    description = (
        f"The token of service account payments/payments-api is replayed with {THIEF_AGENT} from {THIEF_IP}, "
        "an address it never used: it lists and reads the payments secrets, then tries to list secrets "
        "cluster-wide and in checkout."
    )
    attack = PlantedAttack(
        rule_id="secret-access-unusual-user-agent", cloud="aws", cluster=eks.NAME, username=thief.username,
        namespace="payments", source_ip=THIEF_IP, user_agent=THIEF_AGENT, start=_time(events[0][0]),
        description=description,
        # curl is a scripting client, a pod's token used outside its pod, and three secrets read in a minute
        also=("secret-access-suspicious-user-agent", "secret-access-by-node-or-pod-sa", "secret-get-burst"),
    )
    return attack, events


def enumeration(draw: Draw, at_us: int) -> tuple[PlantedAttack, list[Timed]]:
    """A developer's account guessing secret names in a namespace it cannot read, every get denied (GKE)."""
    user = gke.RILEY
    steps = [act(user, "get", "secrets", named("airflow", name), code=403) for name in GUESSED_NAMES]
    events = _play(draw, "gcp", steps, at_us, (3, 10))
    minutes = (events[-1][0] - events[0][0]) / 60_000_000
    description = (
        f"{user.username} tries {len(steps)} guessed secret names in namespace airflow within "
        f"{minutes:.1f} minutes, from the usual laptop; every get is forbidden."
    )
    attack = PlantedAttack(
        rule_id="secret-access-denied", cloud="gcp", cluster=gke.NAME, username=user.username,
        namespace="airflow", source_ip=user.source_ips[0], user_agent=user.user_agent,
        start=_time(events[0][0]), description=description,
        also=("secret-get-burst",),  # many distinct names by get within five minutes, denied or not
    )
    return attack, events


def _play(draw: Draw, cloud: str, steps: list[Activity], at_us: int, gaps: tuple[int, int]) -> list[Timed]:
    """Run the steps one after another, `gaps` seconds apart, as a person at a terminal would."""
    events: list[Timed] = []
    now = at_us
    for activity in steps:
        events.append((now, cloud, audit_event(draw.request(activity, now))))
        now += draw.between(gaps[0] * 1_000_000, gaps[1] * 1_000_000)
    return events


def _time(epoch_us: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=epoch_us)
