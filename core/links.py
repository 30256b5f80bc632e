"""Console links: for each alert, pages that open its cloud's logs around it (first_seen - 15 min to last_seen
+ 15 min), filtered to the user and the cluster.

- GKE: a Logs Explorer query in the entry's project (AuditEvent.account).
- EKS: a CloudWatch Logs Insights query on the log group /aws/eks/CLUSTER/cluster, in the function's region
  (AWS_REGION); none where the region is unknown.
- AKS: a Log Analytics query on the AKSAudit table, only where SECRETWATCH_AZURE_WORKSPACE names the workspace.

A link names only the cloud account, cluster, user and times, never a secret or its name. Every value is
URL-encoded, and quoted as a string literal inside each query language.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from core.errors import ConfigError
from core.model import Alert, Link

#: How far before the first event and after the last the logs are shown.
MARGIN = timedelta(minutes=15)
WORKSPACE_SETTING = "SECRETWATCH_AZURE_WORKSPACE"
_REGION = re.compile(r"[a-z]{2}(?:-[a-z]+)+-\d{1,2}")
_WORKSPACE = re.compile(
    r"/subscriptions/[0-9A-Fa-f-]{36}/resourceGroups/[\w().-]{1,90}"
    r"/providers/Microsoft\.OperationalInsights/workspaces/[A-Za-z0-9-]{4,63}",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Consoles:
    """Where the consoles are: the AWS region (None: no EKS link) and the Log Analytics workspace's resource id
    ("" : no AKS link)."""

    aws_region: str | None = None
    azure_workspace: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Consoles:
        """AWS_REGION (a malformed one is taken as unknown) and SECRETWATCH_AZURE_WORKSPACE (checked)."""
        env = os.environ if env is None else env
        region = env.get("AWS_REGION", "").strip()
        workspace = env.get(WORKSPACE_SETTING, "").strip().rstrip("/")
        if workspace and not _WORKSPACE.fullmatch(workspace):
            raise ConfigError(
                f"{WORKSPACE_SETTING} is not a Log Analytics workspace resource id: use /subscriptions/SUBSCRIPTION_ID"
                "/resourceGroups/GROUP/providers/Microsoft.OperationalInsights/workspaces/NAME"
            )
        return cls(aws_region=region if _REGION.fullmatch(region) else None, azure_workspace=workspace)


#: No region and no workspace: GKE links only.
NO_CONSOLES = Consoles()


def with_links(alert: Alert, consoles: Consoles) -> Alert:
    """`alert` with its console links (id and everything else unchanged); itself when it has them already."""
    links = console_links(alert, consoles)
    return alert if links == alert.links else replace(alert, links=links)


def console_links(alert: Alert, consoles: Consoles) -> tuple[Link, ...]:
    """The links for `alert`'s cloud; none when what a link needs (cluster, user, project, region, workspace)
    is unknown."""
    user, cluster = alert.context.username, alert.cluster
    if not user or not cluster:
        return ()
    start, end = alert.first_seen - MARGIN, alert.last_seen + MARGIN
    if alert.cloud == "gcp" and alert.context.account:
        return (Link("Cloud Logging", logs_explorer(alert.context.account, cluster, user, start, end)),)
    if alert.cloud == "aws" and consoles.aws_region:
        return (Link("CloudWatch Logs Insights", logs_insights(consoles.aws_region, cluster, user, start, end)),)
    if alert.cloud == "azure" and consoles.azure_workspace:
        return (Link("Log Analytics", log_analytics(consoles.azure_workspace, cluster, user, start, end)),)
    return ()


def logs_explorer(project: str, cluster: str, user: str, start: datetime, end: datetime) -> str:
    """A Logs Explorer URL: the k8s_cluster entries of `cluster` whose principal is `user`, from start to end."""
    query = "\n".join(
        (
            'resource.type="k8s_cluster"',
            f"resource.labels.cluster_name={_quoted(cluster)}",
            # the user is the entry's principalEmail, or its principalSubject under workforce identity federation
            f"(protoPayload.authenticationInfo.principalEmail={_quoted(user)} OR "
            f"protoPayload.authenticationInfo.principalSubject={_quoted(user)})",
        )
    )
    time_range = f"{_iso(start)}/{_iso(end)}"
    return (
        f"https://console.cloud.google.com/logs/query;query={_encode(query)};timeRange={_encode(time_range)}"
        f"?project={_encode(project)}"
    )


def logs_insights(region: str, cluster: str, user: str, start: datetime, end: datetime) -> str:
    """A CloudWatch Logs Insights URL: `user`'s requests in /aws/eks/CLUSTER/cluster, from start to end.

    The console reads its state from the fragment: a rison-like `~(key~'value...)` whose values are
    URL-encoded with % written as *, the whole then URL-encoded with % written as $.
    """
    query = "\n".join(
        (
            "fields @timestamp, verb, objectRef.resource, objectRef.namespace, objectRef.name, "
            "responseStatus.code, sourceIPs.0, userAgent",
            f"| filter user.username = {_quoted(user)}",
            "| sort @timestamp asc",
            "| limit 10000",
        )
    )
    detail = (
        f"~(end~'{_rison(_iso(end))}~start~'{_rison(_iso(start))}~timeType~'ABSOLUTE~tz~'UTC"
        f"~editorString~'{_rison(query)}~source~(~'{_rison(f'/aws/eks/{cluster}/cluster')}))"
    )
    fragment = quote(f"?queryDetail={detail}", safe="-_.!~*'()").replace("%", "$")
    return f"https://{_aws_console(region)}/cloudwatch/home?region={region}#logsV2:logs-insights{fragment}"


def log_analytics(workspace: str, cluster: str, user: str, start: datetime, end: datetime) -> str:
    """An Azure portal Logs URL on `workspace`: `user`'s requests to `cluster` in AKSAudit, from start to end."""
    query = "\n".join(
        (
            "AKSAudit",
            f"| where _ResourceId endswith {_quoted('/managedclusters/' + cluster)}",
            f"| where tostring(User.username) == {_quoted(user)}",
            "| project TimeGenerated, Verb, ObjectRef, SourceIps, UserAgent, ResponseStatus",
            "| order by TimeGenerated asc",
        )
    )
    timespan = f"{_iso(start)}/{_iso(end)}"
    return (
        "https://portal.azure.com/#blade/Microsoft_Azure_Monitoring_Logs/LogsBlade"
        f"/resourceId/{_encode(workspace)}/source/LogsBlade.AnalyticsShareLinkToQuery"
        f"/query/{_encode(query)}/timespan/{_encode(timespan)}"
    )


def _aws_console(region: str) -> str:
    if region.startswith("cn-"):
        return f"{region}.console.amazonaws.cn"
    if region.startswith("us-gov-"):
        return "console.amazonaws-us-gov.com"
    return f"{region}.console.aws.amazon.com"


def _quoted(value: str) -> str:
    """`value` as a double-quoted string literal in the Logging query language, Logs Insights and KQL alike."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return f'"{escaped}"'


def _encode(value: str) -> str:
    return quote(value, safe="")


def _rison(value: str) -> str:
    return quote(value, safe="-_.").replace("%", "*")


def _iso(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
