"""How an alert looks: the JSON shape every sink shares, the email subject and bodies, and clean_text.

Everything that came from a log (user agent, username, namespace, name, request URI, and titles or dedup
keys built from them) is chosen by whoever made the request. Text output passes it through clean_text (no
terminal escapes, no header injection, no bidi reordering); HTML output escapes it as well.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Sequence
from typing import Any

import orjson

from core.model import Alert, AlertContext
from core.timeutil import isoformat

#: SNS refuses a subject of 100 characters or more, or with anything but printable ASCII.
SUBJECT_LIMIT = 99
#: Longest link shown: links are built by core.links and URL-encoded, so cleaning leaves them whole.
LINK_LIMIT = 16384
#: Most audit ids listed in an email; the JSON always carries all of them.
AUDIT_IDS_SHOWN = 20
SEVERITY_RANK = {"info": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}

# Terminal escape sequences, dropped whole: CSI (ESC [ or C1 0x9b ... final byte), string sequences
# (OSC, DCS, SOS, PM, APC) with their terminator, then any other ESC sequence (ESC c, ESC ( B, a lone ESC [).
_ESCAPE_SEQUENCE = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)"
    r"|\x1b[ -/]*[0-~]"
)
# Everything str.splitlines() breaks on, and tabs.
_LINE_BREAKS = re.compile(r"[\t\n\v\f\r\x1c-\x1e\x85\u2028\u2029]+")
# C0, DEL, C1, and the bidi controls that make text display in another order than it is stored.
_INVISIBLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# Characters that show as nothing: every format character (Unicode category Cf: zero-width space and joiners,
# word joiner, BOM, soft hyphen, invisible operators, the tag block that can spell a hidden message), and the
# rest of Unicode's default-ignorable code points (variation selectors, Hangul fillers). The bidi controls among
# them are matched by _INVISIBLE first; a test checks this covers every Cf the running Python knows.
_IGNORABLE = re.compile(
    "[\u00ad\u034f\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u115f\u1160\u17b4\u17b5\u180b-\u180f"
    "\u200b-\u200f\u202a-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufffb\U000110bd\U000110cd"
    "\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0000-\U000e0fff]"
)
# The same characters as orjson writes them, in UTF-8 (it already escapes C0): DEL, C1, bidi controls and
# U+2028/U+2029, which some JavaScript parsers take for line breaks.
_JSON_UNSAFE = re.compile(rb"\x7f|\xc2[\x80-\x9f]|\xd8\x9c|\xe2\x80[\x8e\x8f\xa8-\xae]|\xe2\x81[\xa6-\xa9]")
_SEVERITY_COLOUR = {
    "critical": "#6f1d95", "high": "#b42318", "medium": "#b54708", "low": "#175cd3", "info": "#475467",
}


def clean_text(value: object, *, limit: int = 1024) -> str:
    """`value` as one line of text that is safe on a terminal, in a mail header and (escaped) in HTML.

    None becomes "". Terminal escape sequences are dropped, line breaks and tabs become one space, any
    other control or bidi character becomes U+FFFD, so a reader can see that something was there, and
    characters that show as nothing (zero-width, tag and other format characters) are removed. The result
    has at most `limit` characters and ends with "…" when it was cut.
    """
    if value is None:
        return ""
    text = str(value)[: limit * 4]  # bounds the regex work on hostile input
    text = _ESCAPE_SEQUENCE.sub("", text)
    text = _LINE_BREAKS.sub(" ", text)
    text = _INVISIBLE.sub("\ufffd", text)
    text = _IGNORABLE.sub("", text).strip()
    return truncate(text, limit)


def truncate(text: str, width: int, *, marker: str = "…") -> str:
    """`text` cut to at most `width` characters, the last of them `marker` when anything was cut."""
    if len(text) <= width:
        return text
    if width <= len(marker):
        return text[:width]
    return text[: width - len(marker)] + marker


def alert_to_dict(alert: Alert) -> dict[str, Any]:
    """The documented JSON shape of an alert (design.md, "Sinks"), keys in a stable order."""
    context = alert.context
    return {
        "alert_id": alert.alert_id,
        "rule_id": alert.rule_id,
        "title": alert.title,
        "severity": alert.severity,
        "risk_score": alert.risk_score,
        "dedup_key": alert.dedup_key,
        "event_count": alert.event_count,
        "first_seen": isoformat(alert.first_seen),
        "last_seen": isoformat(alert.last_seen),
        "cloud": alert.cloud,
        "cluster": alert.cluster,
        "context": {
            "username": context.username,
            "namespace": context.namespace,
            "source_ip": context.source_ip,
            "source_ips": list(context.source_ips),
            "user_agent": context.user_agent,
            "verb": context.verb,
            "resource": context.resource,
            "name": context.name,
            "request_uri": context.request_uri,
            "response_code": context.response_code,
            "pod_name": context.pod_name,
            "node_name": context.node_name,
        },
        "audit_ids": list(alert.audit_ids),
        "mitre": list(alert.mitre),
        "runbook": alert.runbook,
        "links": [{"name": link.name, "url": link.url} for link in alert.links],
    }


def alert_json(alert: Alert) -> bytes:
    """The alert as one line of UTF-8 JSON, without a newline.

    C1 controls, bidi controls and line/paragraph separators are written as \\uXXXX escapes: the value
    is the same once parsed, but printing the line cannot drive a terminal or reorder what it shows.
    """
    return safe_json(alert_to_dict(alert))


def safe_json(value: object) -> bytes:
    """`value` as one line of UTF-8 JSON, with the escaping alert_json describes."""
    return _JSON_UNSAFE.sub(_json_escape, orjson.dumps(value))


def _json_escape(found: re.Match[bytes]) -> bytes:
    return b"\\u%04x" % ord(found.group().decode())


def highest(alerts: Sequence[Alert]) -> Alert:
    """The alert to headline a batch: highest severity, then highest risk score, then first."""
    return max(alerts, key=lambda alert: (SEVERITY_RANK.get(alert.severity.lower(), -1), alert.risk_score))


def subject(alerts: Sequence[Alert]) -> str:
    """The email/SNS subject: one line of printable ASCII (SNS requires it), at most SUBJECT_LIMIT long."""
    if not alerts:
        text = "no alerts"
    elif len(alerts) == 1:
        text = _headline(alerts[0])
    else:
        text = f"{len(alerts)} alerts (highest: {_headline(highest(alerts))})"
    return truncate(_ascii(f"[secretwatch] {text}"), SUBJECT_LIMIT, marker="...")


def _headline(alert: Alert) -> str:
    return f"{clean_text(alert.severity).upper()} {clean_text(alert.title)}"


def _ascii(text: str) -> str:
    """Accents dropped (é -> e), then any other non-ASCII character shown as "?"."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    return bare.encode("ascii", "replace").decode("ascii")


def facts(alert: Alert) -> list[tuple[str, str]]:
    """(label, value) pairs shown for one alert in every human format, cleaned; "-" where absent."""
    context = alert.context
    raw: list[tuple[str, object]] = [
        ("Severity", f"{alert.severity} (risk score {alert.risk_score})"),
        ("Rule", alert.rule_id),
        ("First seen", isoformat(alert.first_seen)),
        ("Last seen", isoformat(alert.last_seen)),
        ("Events", alert.event_count),
        ("Cloud", alert.cloud),
        ("Cluster", alert.cluster),
        ("User", context.username),
        ("Source IPs", ", ".join(context.source_ips) or context.source_ip),
        ("User agent", context.user_agent),
        ("Request", " ".join(part for part in (context.verb, context.resource) if part)),
        ("Namespace", context.namespace),
        ("Name", context.name),
        ("Request URI", context.request_uri),
        ("Response code", context.response_code),
        *_workload(context),
        ("MITRE ATT&CK", ", ".join(alert.mitre)),
        ("Audit ids", _audit_ids(alert.audit_ids)),
        ("Dedup key", alert.dedup_key),
        ("Alert id", alert.alert_id),
    ]
    return [(label, clean_text(value) or "-") for label, value in raw]


def _workload(context: AlertContext) -> list[tuple[str, object]]:
    """The pod and node a bound service-account token was issued for, shown only when the log named them."""
    rows: list[tuple[str, object]] = []
    if context.pod_name is not None:
        rows.append(("Pod", context.pod_name))
    if context.node_name is not None:
        rows.append(("Node", context.node_name))
    return rows


def _audit_ids(audit_ids: Sequence[str]) -> str:
    shown = ", ".join(audit_ids[:AUDIT_IDS_SHOWN])
    hidden = len(audit_ids) - AUDIT_IDS_SHOWN
    return f"{shown} (and {hidden} more)" if hidden > 0 else shown


def links(alert: Alert) -> list[tuple[str, str]]:
    """(name, url) of each console link, cleaned like any other value."""
    return [(clean_text(link.name), clean_text(link.url, limit=LINK_LIMIT)) for link in alert.links]


def runbook_lines(alert: Alert) -> list[str]:
    """The runbook line by line, each line cleaned like any other value."""
    return [clean_text(line, limit=4000) for line in alert.runbook.splitlines()] or ["-"]


def render_text(alerts: Sequence[Alert]) -> str:
    """Plain-text email body: a count, then each alert's headline, facts and runbook."""
    blocks = [f"secretwatch raised {_count(alerts)}."]
    blocks.extend(_text_block(alert) for alert in alerts)
    return "\n\n".join(blocks) + "\n"


def _count(alerts: Sequence[Alert]) -> str:
    return "1 alert" if len(alerts) == 1 else f"{len(alerts)} alerts"


def _text_block(alert: Alert) -> str:
    rows = facts(alert)
    width = max(len(label) for label, _ in rows)
    lines = [_headline_text(alert), ""]
    lines.extend(f"  {label:<{width}}  {value}" for label, value in rows)
    if alert.links:
        lines.extend(["", "  Logs:"])
        lines.extend(f"    {name}: {url}" for name, url in links(alert))
    lines.extend(["", "  Runbook:"])
    lines.extend(f"    {line}".rstrip() for line in runbook_lines(alert))
    return "\n".join(lines)


def _headline_text(alert: Alert) -> str:
    return f"[{clean_text(alert.severity).upper()}] {clean_text(alert.title)}"


def render_html(alerts: Sequence[Alert]) -> str:
    """HTML email body with the same facts and runbook as render_text; inline CSS, every value escaped."""
    blocks = "".join(_html_block(alert) for alert in alerts)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f"<title>{_escape(subject(alerts))}</title></head>\n"
        '<body style="margin:0;padding:16px;background:#ffffff;color:#101828;'
        'font-family:Arial,Helvetica,sans-serif;font-size:14px">\n'
        f'<p style="margin:0 0 16px 0">secretwatch raised {_count(alerts)}.</p>\n'
        f"{blocks}</body></html>\n"
    )


def _html_block(alert: Alert) -> str:
    colour = _SEVERITY_COLOUR.get(alert.severity.lower(), "#475467")
    rows = "".join(
        '<tr><th style="padding:4px 12px;text-align:left;vertical-align:top;white-space:nowrap">'
        f'{_escape(label)}</th><td style="padding:4px 12px;font-family:Consolas,Menlo,monospace;'
        f'word-break:break-all">{_escape(value)}</td></tr>\n'
        for label, value in facts(alert)
    )
    runbook = "<br>\n".join(_escape(line) for line in runbook_lines(alert))
    anchors = " | ".join(
        f'<a href="{_escape(url)}" style="color:#175cd3">{_escape(name)}</a>' for name, url in links(alert)
    )
    logs = f'<p style="margin:12px 12px 0 12px">Logs: {anchors}</p>\n' if anchors else ""
    return (
        '<div style="margin:0 0 24px 0;border:1px solid #d0d5dd;border-radius:6px">\n'
        f'<h2 style="margin:0;padding:8px 12px;font-size:16px;color:#ffffff;background:{colour}">'
        f"{_escape(_headline_text(alert))}</h2>\n"
        f'<table role="presentation" style="border-collapse:collapse;width:100%">\n{rows}</table>\n'
        f"{logs}"
        '<h3 style="margin:12px 12px 4px 12px;font-size:14px">Runbook</h3>\n'
        f'<p style="margin:0 12px 12px 12px;line-height:1.5">{runbook}</p>\n'
        "</div>\n"
    )


def _escape(text: str) -> str:
    return html.escape(text, quote=True)
