"""The summary posted when an incident is resolved: how long, how fast, what was done."""

from __future__ import annotations

from datetime import datetime

from slack_sdk.models.blocks import Block

from bot.adapters.slack.rendering.escape import escape, mention, shorten
from bot.adapters.slack.rendering.message import Message
from bot.adapters.slack.rendering.parts import context, fields, section
from bot.engine.incident import Approval, Incident
from bot.engine.outcome import fix_outcome
from bot.playbooks.duration import humanize


def _since_open(incident: Incident, moment: datetime | None) -> str:
    return humanize(moment - incident.opened_at) if moment else "n/a"


def resolution_message(incident: Incident, resolved_by: str) -> Message:
    """Duration, time to acknowledge and to mitigate, fixes with who asked and who approved."""
    facts = [
        ("Duration", _since_open(incident, incident.resolved_at)),
        ("Time to acknowledge", _since_open(incident, incident.acknowledged_at)),
        ("Time to mitigate", _since_open(incident, incident.mitigated_at)),
        ("Status updates posted", str(len(incident.status_updates))),
        ("Root cause", shorten(incident.root_cause or "not given", 1500)),
        ("Resolution", shorten(incident.resolution or "not given", 1500)),
    ]
    blocks: list[Block] = [
        section(f":white_check_mark: {mention(resolved_by)} resolved *{escape(incident.id)}*."),
        fields(facts),
    ]
    fixes = [_fix_line(a) for a in incident.approvals.values()]
    blocks.append(section("*Fixes*\n" + ("\n".join(fixes[:20]) if fixes else "none")))
    blocks.append(context("The post-incident document is attached below."))
    return Message(text=f"{escape(incident.id)} resolved", blocks=blocks)


def _fix_line(approval: Approval) -> str:
    line = f"• {escape(approval.title)}: {escape(fix_outcome(approval))}"
    if approval.result:
        line += f" ({shorten(approval.result.summary, 200)})"
    line += f", requested by {mention(approval.requested_by.id)}"
    if approval.decided_by and approval.state != "denied":
        line += f", approved by {mention(approval.decided_by.id)}"
    return line
