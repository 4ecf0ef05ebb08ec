"""Engine objects as Slack messages: the headline, stages, results, approvals, lists and help."""

from __future__ import annotations

from datetime import datetime

from slack_sdk.models.blocks import Block

from bot.adapters.slack.actions import COMMANDER, RESOLVE, STATUS_MODAL, ButtonValue
from bot.adapters.slack.rendering.escape import (
    channel,
    escape,
    inline_code,
    mention,
    shorten,
    truncate,
)
from bot.adapters.slack.rendering.flag_blocks import flag_buttons
from bot.adapters.slack.rendering.message import Message
from bot.adapters.slack.rendering.parts import (
    SEVERITY,
    actions,
    button,
    context,
    fields,
    fit,
    header,
    section,
)
from bot.adapters.slack.rendering.role_blocks import role_pickers, roles_line, severity_menu
from bot.adapters.slack.rendering.run_blocks import (
    approval_message,
    output_is_long,
    results_message,
)
from bot.adapters.slack.rendering.stage_blocks import stage_messages
from bot.engine.headline import Headline
from bot.engine.incident import Incident
from bot.engine.pins import full_timeline
from bot.engine.severity import severity_label
from bot.playbooks.duration import humanize
from bot.playbooks.models import Playbook
from bot.redact import redact

__all__ = [
    "Message",
    "announcement_message",
    "approval_message",
    "headline_message",
    "help_message",
    "incident_list_message",
    "output_is_long",
    "results_message",
    "stage_messages",
    "timeline_text",
]

USAGE = (
    "`/incident PLAYBOOK [SERVICE] [--sev N] [SUMMARY]` open an incident (severity 1 to 4)\n"
    "`/incident drill PLAYBOOK [--scenario S]` a game day against a sandbox, scored at the end\n"
    "`/incident list` open incidents\n"
    "`/incident stats [7d|30d|90d]` response times and fix outcomes (medians, p90)\n"
    "`/incident status` this incident's headline and current stage\n"
    "`/incident resolve` resolve this incident\n"
    "`/incident timeline` everything that happened, as a file\n"
    "`/incident help` this help"
)
_SUMMARY = 200


def headline_message(h: Headline, *, resolved: bool = False, read_only: bool = False) -> Message:
    """The pinned message, edited in place; its buttons go once the incident is resolved, and
    are left off where they would not act (outside its room)."""
    icon = SEVERITY.get(h.severity, ":red_circle:")
    pairs = [
        ("Status", escape(h.status)),
        ("Severity", f"{icon} {escape(severity_label(h.severity))}"),
        ("Commander", "unclaimed" if h.commander == "unclaimed" else mention(h.commander)),
        ("Open for", escape(h.elapsed)),
        (f"Stage {h.stage_number}/{h.stage_count}", escape(h.stage)),
        ("Next escalation", escape(h.next_escalation)),
        ("Last status update", escape(h.last_status_update)),
        ("Approvals waiting", str(h.pending_approvals)),
    ]
    if h.fixes:
        pairs.append(("Fixes", shorten(h.fixes, 1500)))
    blocks: list[Block] = [header(f"{h.incident_id} · {h.title} · {h.service}"), fields(pairs)]
    if not resolved and not read_only and h.status == "open":
        value = ButtonValue(h.incident_id)
        blocks += actions(
            button("Status update", STATUS_MODAL, value, "primary"),
            button("Claim commander", COMMANDER, value),
            button("Resolve", RESOLVE, value),
            severity_menu(h),
        )
        blocks += flag_buttons(h.incident_id, h.flags)
        blocks += role_pickers(h)
    else:
        blocks += roles_line(h)
    text = (
        f"{escape(h.incident_id)} {escape(h.title)} ({escape(h.service)}): {escape(h.status)}, "
        f"severity {escape(h.severity)}, stage {h.stage_number}/{h.stage_count}"
    )
    return Message(text, blocks)


def help_message(playbooks: dict[str, Playbook], services: list[str]) -> Message:
    """Usage of `/incident` with the playbooks and services it accepts."""
    listed = "\n".join(
        f"• {inline_code(pid)} {escape(p.title)}" for pid, p in sorted(playbooks.items())
    )
    blocks: list[Block] = [
        section(f"*Usage*\n{USAGE}"),
        section(f"*Playbooks*\n{listed or '_none loaded_'}"),
        section("*Services*\n" + (", ".join(inline_code(s) for s in services) or "_none bound_")),
    ]
    return Message("Usage: /incident PLAYBOOK [SERVICE] [SUMMARY], or list, status, help", blocks)


def incident_list_message(
    incidents: list[Incident],
    playbooks: dict[str, Playbook],
    now: datetime,
    notes: dict[str, str] | None = None,
) -> Message:
    """One line per incident: id, title, service, severity, age, stage and commander, and a
    note (such as "room pending") where `notes` has one for it."""
    if not incidents:
        return Message("No open incidents.", [section("No open incidents. :tada:")])
    blocks: list[Block] = [header(f"Incidents ({len(incidents)})")]
    blocks += [
        section(_incident_line(incident, playbooks, now) + _note((notes or {}).get(incident.id)))
        for incident in incidents
    ]
    text = f"{len(incidents)} incidents: " + ", ".join(escape(i.id) for i in incidents[:50])
    return Message(truncate(text, 1000), fit(blocks, "incidents"))


def _note(note: str | None) -> str:
    return f" · :hourglass: {escape(note)}" if note else ""


def _incident_line(incident: Incident, playbooks: dict[str, Playbook], now: datetime) -> str:
    playbook = playbooks.get(incident.playbook_id)
    title = playbook.title if playbook else incident.playbook_id
    if incident.drill is not None:
        title = f"DRILL: {title}"
    stages = f"/{len(playbook.stages)}" if playbook else ""
    commander = mention(incident.commander) if incident.commander else "no commander"
    age = humanize((incident.resolved_at or now) - incident.opened_at)
    line = (
        f"{SEVERITY.get(incident.severity, '')} *{escape(incident.id)}* {escape(title)} "
        f"({inline_code(incident.service)}) · {escape(incident.status)} · {age} · "
        f"stage {incident.stage_index + 1}{stages} · {commander}"
    )
    if incident.summary:
        line += f"\n{shorten(incident.summary, _SUMMARY)}"
    return line


def announcement_message(incident: Incident, playbook: Playbook, room: str) -> Message:
    """For the incidents channel: what broke, who opened it, and where to join."""
    icon = SEVERITY.get(incident.severity, ":red_circle:")
    summary = f": {shorten(incident.summary, 1000)}" if incident.summary else ""
    text = (
        f"{icon} *{escape(severity_label(incident.severity))}* *{escape(incident.id)}* "
        f"{escape(playbook.title)} "
        f"({inline_code(incident.service)}) opened by {mention(incident.opened_by)}{summary} "
        f"— join {channel(room)}"
    )
    blocks: list[Block] = [section(text)]
    if playbook.impact:
        blocks.append(context(f"Impact: {escape(playbook.impact)}"))
    fallback = (
        f"{escape(incident.severity)} {escape(incident.id)} {escape(playbook.title)} "
        f"({escape(incident.service)}) opened — join {channel(room)}"
    )
    return Message(fallback, blocks)


def timeline_text(incident: Incident) -> str:
    """The timeline as plain text for a file upload (files are not mrkdwn, so only redacted)."""
    head = (
        f"{incident.id} · {incident.playbook_id} · {incident.service} · {incident.status}\n"
        f"opened {incident.opened_at.isoformat()} by {incident.opened_by}\n"
    )
    rows = [
        f"{e.at.isoformat(timespec='seconds')}  {e.actor:<16} {e.event:<16} {e.text}"
        for e in full_timeline(incident)
    ]
    return redact(head + "\n".join(rows) + "\n")
