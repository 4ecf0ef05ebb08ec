"""The headline's role pickers and severity menu: hand a role over, change the severity."""

from __future__ import annotations

from typing import Any

from bot.adapters.slack.actions import ButtonValue
from bot.adapters.slack.context import SlackContext, markup_message
from bot.adapters.slack.rendering.escape import escape, mention
from bot.adapters.slack.rendering.parts import SEVERITY
from bot.adapters.slack.rooms import CHANNEL, ORIGIN
from bot.engine.incident import Actor, Incident
from bot.engine.roles import holder
from bot.engine.severity import severity_label
from bot.errors import InvalidRequest


async def assign(
    ctx: SlackContext, incident: Incident, value: ButtonValue, actor: Actor, body: dict[str, Any]
) -> None:
    """A user picked for a role: record the handover, say it in the room."""
    picked = str(((body.get("actions") or [{}])[0]).get("selected_user") or "")
    if not picked:
        raise InvalidRequest("pick someone for the role")
    handed = holder(incident, value.role)
    incident = await ctx.engine.assign_role(incident.id, value.role, picked, actor)
    title = ctx.engine.playbook_for(incident).role_titles()[value.role]
    before = f" (handed over from {mention(handed)})" if handed else ""
    await ctx.rooms.post(
        incident,
        markup_message(
            f"{mention(holder(incident, value.role))} is now {escape(title)}{before}, "
            f"set by <@{actor.id}>"
        ),
    )
    ctx.rooms.refresh_headline(incident.id)


async def severity(
    ctx: SlackContext, incident: Incident, value: ButtonValue, actor: Actor, body: dict[str, Any]
) -> None:
    """A new severity: recorded, said in the room and the incidents channel, its people invited."""
    before = incident.severity
    incident = await ctx.engine.set_severity(incident.id, value.level, actor)
    icon = SEVERITY.get(incident.severity, "")
    change = (
        f"from {escape(severity_label(before))} to *{escape(severity_label(incident.severity))}*"
    )
    await ctx.rooms.post(
        incident, markup_message(f"{icon} <@{actor.id}> changed the severity: {change}")
    )
    announce_to = ctx.config.channels.incidents or incident.links.get(ORIGIN, "")
    if ctx.config.channels.mode == "channel" and announce_to and incident.drill is None:
        await ctx.rooms.post_to(
            announce_to,
            markup_message(
                f"{icon} *{escape(incident.id)}* severity {change} "
                f"by <@{actor.id}> — <#{incident.links[CHANNEL]}>"
            ),
        )
    await ctx.rooms.invite_for_severity(incident)
    ctx.rooms.refresh_headline(incident.id)
