"""Console links: each cloud's URL, decoded back, asks for the alert's user and cluster from 15 minutes before
its first event to 15 minutes after its last; a link is left out where what it needs is unknown."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import orjson
import pytest

from core.alerts.memory import MemorySink
from core.cli import main
from core.config import Settings
from core.errors import ConfigError
from core.links import Consoles, console_links
from core.model import Alert
from core.pipeline import Pipeline
from core.rules.loader import load_rules
from core.state.memory import MemoryStore
from tests.unit.alerts_factory import make_alert, make_context

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
RECEIVED_AT = datetime(2024, 5, 14, 10, 0, tzinfo=UTC)
WORKSPACE = (
    "/subscriptions/6f1c2a3b-4d5e-4f60-8a9b-0c1d2e3f4a5b/resourceGroups/rg-secops"
    "/providers/Microsoft.OperationalInsights/workspaces/law-secops"
)
CONSOLES = Consoles(aws_region="eu-west-1", azure_workspace=WORKSPACE)
# The first alert of each fixture: mallory's read at 09:12:44.121.
START, END = "2024-05-14T08:57:44.121Z", "2024-05-14T09:27:44.121Z"


def first_alert(fixture: str, consoles: Consoles = CONSOLES) -> Alert:
    sink = MemorySink()
    pipeline = Pipeline(load_rules(), MemoryStore(), [sink], consoles=consoles, clock=lambda: RECEIVED_AT)
    pipeline.process([(FIXTURES / fixture).read_bytes()])
    return sink.alerts[0]


def test_a_gke_alert_links_a_logs_explorer_query_in_the_entrys_project() -> None:
    alert = first_alert("gke/secret_get_denied.json")

    (link,) = alert.links
    parts = urlsplit(link.url)
    assert (link.name, parts.netloc, parse_qs(parts.query)) == (
        "Cloud Logging",
        "console.cloud.google.com",
        {"project": ["acme-prod"]},
    )
    page, *params = parts.path.split(";")
    matrix = dict(param.split("=", 1) for param in params)
    assert page == "/logs/query"
    assert unquote(matrix["query"]).splitlines() == [
        'resource.type="k8s_cluster"',
        'resource.labels.cluster_name="prod-payments"',
        '(protoPayload.authenticationInfo.principalEmail="mallory@example.com" OR '
        'protoPayload.authenticationInfo.principalSubject="mallory@example.com")',
    ]
    assert unquote(matrix["timeRange"]) == f"{START}/{END}"


def insights_detail(url: str) -> dict[str, str]:
    """The Logs Insights console state in `url`'s fragment, its values decoded."""
    fragment = unquote(urlsplit(url).fragment.replace("$", "%"))
    assert fragment.startswith("logsV2:logs-insights?queryDetail=~(")
    values = dict(re.findall(r"[~(](\w+)~'([^~()]*)", fragment))
    (values["source"],) = re.findall(r"~source~\(~'([^~()]*)\)", fragment)
    return {key: unquote(value.replace("*", "%")) for key, value in values.items()}


def test_an_eks_alert_links_a_logs_insights_query_on_the_clusters_log_group_in_the_functions_region() -> None:
    alert = first_alert("eks/data_message_audit.json")

    (link,) = alert.links
    parts = urlsplit(link.url)
    assert (link.name, parts.netloc, parts.path, parts.query) == (
        "CloudWatch Logs Insights",
        "eu-west-1.console.aws.amazon.com",
        "/cloudwatch/home",
        "region=eu-west-1",
    )
    detail = insights_detail(link.url)
    assert detail["source"] == "/aws/eks/prod-payments/cluster"
    assert (detail["start"], detail["end"], detail["timeType"], detail["tz"]) == (START, END, "ABSOLUTE", "UTC")
    assert '| filter user.username = "arn:aws:sts::111122223333:assumed-role/eks-readonly/mallory"' in (
        detail["editorString"].splitlines()
    )


def test_an_aks_alert_links_a_log_analytics_query_on_the_configured_workspace() -> None:
    alert = first_alert("aks/eventhub_body.json")

    (link,) = alert.links
    parts = urlsplit(link.url)
    assert (link.name, parts.netloc) == ("Log Analytics", "portal.azure.com")
    segments = parts.fragment.split("/")
    assert segments[:3] == ["blade", "Microsoft_Azure_Monitoring_Logs", "LogsBlade"]
    blade = {segments[i]: unquote(segments[i + 1]) for i in range(3, len(segments), 2)}
    assert blade["resourceId"] == WORKSPACE
    assert blade["timespan"] == f"{START}/{END}"
    query = blade["query"].splitlines()
    assert query[0] == "AKSAudit"
    assert '| where _ResourceId endswith "/managedclusters/prod-payments"' in query
    assert '| where tostring(User.username) == "mallory@contoso.com"' in query


def test_links_are_left_out_without_a_region_a_workspace_a_project_a_cluster_or_a_user() -> None:
    aws = make_alert(cloud="aws", cluster="prod-eks")
    azure = make_alert(cloud="azure", cluster="prod-aks")
    gcp = make_alert(cloud="gcp", cluster="prod-gke", context=make_context(account="acme-prod"))
    assert all(console_links(alert, CONSOLES) for alert in (aws, azure, gcp))

    assert console_links(aws, Consoles(azure_workspace=WORKSPACE)) == ()
    assert console_links(azure, Consoles(aws_region="eu-west-1")) == ()
    assert console_links(make_alert(cloud="gcp", cluster="prod-gke"), CONSOLES) == ()
    assert console_links(replace(aws, cluster=None), CONSOLES) == ()
    assert console_links(make_alert(make_context(username=None)), CONSOLES) == ()
    assert console_links(make_alert(cloud="k8s", cluster="kind"), CONSOLES) == ()


def test_the_cli_without_aws_region_gives_an_eks_alert_no_link() -> None:
    assert first_alert("eks/data_message_audit.json", Consoles.from_env({})).links == ()


def test_a_quote_in_a_value_stays_inside_its_string_literal() -> None:
    alert = make_alert(make_context(username='eve" or user.username != "', account="p"), cloud="aws")

    (link,) = console_links(alert, CONSOLES)

    assert '| filter user.username = "eve\\" or user.username != \\""' in insights_detail(link.url)["editorString"]


def test_settings_read_the_region_and_the_workspace_and_refuse_a_workspace_that_is_not_a_resource_id() -> None:
    settings = Settings.from_env({"AWS_REGION": "ap-southeast-2", "SECRETWATCH_AZURE_WORKSPACE": WORKSPACE + "/"})
    assert settings.consoles == Consoles(aws_region="ap-southeast-2", azure_workspace=WORKSPACE)
    assert Settings.from_env({"AWS_REGION": "not a region"}).consoles == Consoles()

    with pytest.raises(ConfigError, match=r"^SECRETWATCH_AZURE_WORKSPACE is not a Log Analytics workspace resource id"):
        Settings.from_env({"SECRETWATCH_AZURE_WORKSPACE": "law-secops"})


@pytest.mark.parametrize(("region", "expected"), [("eu-west-1", ["CloudWatch Logs Insights"]), (None, [])])
def test_scan_links_eks_logs_only_where_aws_region_is_set(
    region: str | None, expected: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("AWS_REGION", raising=False)
    if region is not None:
        monkeypatch.setenv("AWS_REGION", region)

    path = str(FIXTURES / "eks/data_message_audit.json")
    assert main(["scan", path, "--state", "memory", "--output", "jsonl", "--learning-period", "0s"]) == 0

    alerts = [orjson.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert alerts
    assert all([link["name"] for link in alert["links"]] == expected for alert in alerts)
